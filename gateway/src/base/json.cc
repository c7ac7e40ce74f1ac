#include "base/json.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>

namespace ilpgw::json {
namespace {

// Forwards SAX events to a Document, but converts numbers itself: RapidJSON
// 1.1.0's own number parser overflows on long exponents (CVE-2024-38517), so
// numbers arrive as raw text (kParseNumbersAsStringsFlag) and are converted
// here with bounded length.
class SafeNumberHandler {
 public:
  explicit SafeNumberHandler(rapidjson::Document& doc) : doc_(doc) {}

  bool Null() { return doc_.Null(); }
  bool Bool(bool b) { return doc_.Bool(b); }
  bool Int(int i) { return doc_.Int(i); }
  bool Uint(unsigned u) { return doc_.Uint(u); }
  bool Int64(int64_t i) { return doc_.Int64(i); }
  bool Uint64(uint64_t u) { return doc_.Uint64(u); }
  bool Double(double d) { return doc_.Double(d); }
  bool String(const char* s, rapidjson::SizeType n, bool copy) { return doc_.String(s, n, copy); }
  bool StartObject() { return doc_.StartObject(); }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return doc_.Key(s, n, copy); }
  bool EndObject(rapidjson::SizeType n) { return doc_.EndObject(n); }
  bool StartArray() { return doc_.StartArray(); }
  bool EndArray(rapidjson::SizeType n) { return doc_.EndArray(n); }

  bool RawNumber(const char* s, rapidjson::SizeType n, bool /*copy*/) {
    if (n > 64) return false;  // no real measurement needs more digits
    const char* end = s + n;
    bool integral = true;
    for (const char* p = s; p != end; ++p) {
      if (*p == '.' || *p == 'e' || *p == 'E') integral = false;
    }
    if (integral) {
      int64_t value = 0;
      auto [ptr, ec] = std::from_chars(s, end, value);
      if (ec == std::errc() && ptr == end) return doc_.Int64(value);
    }
    std::string text(s, n);
    errno = 0;
    char* parsed_end = nullptr;
    double value = std::strtod(text.c_str(), &parsed_end);
    if (parsed_end != text.c_str() + text.size() || errno == ERANGE) return false;
    return doc_.Double(value);
  }

 private:
  rapidjson::Document& doc_;
};

}  // namespace

std::optional<std::string> parse(std::string_view text, rapidjson::Document& doc) {
  // Skip a UTF-8 byte-order mark: clinic exports often carry one.
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  rapidjson::Reader reader;
  auto generate = [&](rapidjson::Document& target) {
    rapidjson::MemoryStream stream(text.data(), text.size());
    SafeNumberHandler handler(target);
    reader.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseNumbersAsStringsFlag |
                 rapidjson::kParseValidateEncodingFlag>(stream, handler);
    return !reader.HasParseError();
  };
  doc.Populate(generate);
  if (reader.HasParseError()) {
    const char* what = reader.GetParseErrorCode() == rapidjson::kParseErrorTermination
                           ? "Number too long or out of range"
                           : rapidjson::GetParseError_En(reader.GetParseErrorCode());
    return std::string(what) + " at byte " + std::to_string(reader.GetErrorOffset());
  }
  return std::nullopt;
}

std::string write(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

const rapidjson::Value* member(const rapidjson::Value& object, const char* name) {
  if (!object.IsObject()) return nullptr;
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

std::string_view string(const rapidjson::Value& object, const char* name) {
  const rapidjson::Value* v = member(object, name);
  if (v == nullptr || !v->IsString()) return {};
  return {v->GetString(), v->GetStringLength()};
}

}  // namespace ilpgw::json
