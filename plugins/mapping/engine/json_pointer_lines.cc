#include "json_pointer_lines.h"

#include <rapidjson/reader.h>

#include <vector>

namespace ilpgw::plugins::mapping {
namespace {

// Tracks the current JSON Pointer while SAX events arrive; records the line of
// each key and array element as it is met.
class LineRecorder {
 public:
  LineRecorder(std::string_view text, const rapidjson::StringStream& stream, std::map<std::string, int>& lines)
      : text_(text), stream_(stream), lines_(lines) {}

  bool Null() { return value(); }
  bool Bool(bool) { return value(); }
  bool Int(int) { return value(); }
  bool Uint(unsigned) { return value(); }
  bool Int64(int64_t) { return value(); }
  bool Uint64(uint64_t) { return value(); }
  bool Double(double) { return value(); }
  bool RawNumber(const char*, rapidjson::SizeType, bool) { return value(); }
  bool String(const char*, rapidjson::SizeType, bool) { return value(); }
  bool StartObject() {
    enter();
    frames_.push_back({false, 0, pointer_});
    return true;
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    pending_ = frames_.back().pointer + "/" + pointerToken(std::string_view(s, n));
    record(pending_);
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    frames_.pop_back();
    return true;
  }
  bool StartArray() {
    enter();
    frames_.push_back({true, 0, pointer_});
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    frames_.pop_back();
    return true;
  }

 private:
  struct Frame {
    bool array;
    int next_index;
    std::string pointer;
  };

  // The pointer of the value starting now.
  void enter() {
    if (frames_.empty()) {
      pointer_.clear();
    } else if (frames_.back().array) {
      pointer_ = frames_.back().pointer + "/" + std::to_string(frames_.back().next_index++);
      record(pointer_);
    } else {
      pointer_ = pending_;
    }
  }
  bool value() {
    enter();
    return true;
  }
  void record(const std::string& pointer) {
    lines_.emplace(pointer, JsonPointerLines::lineOfOffset(text_, stream_.Tell()));
  }

  std::string_view text_;
  const rapidjson::StringStream& stream_;
  std::map<std::string, int>& lines_;
  std::vector<Frame> frames_;
  std::string pending_;
  std::string pointer_;
};

}  // namespace

JsonPointerLines::JsonPointerLines(std::string_view text) {
  std::string copy(text);  // StringStream needs a NUL-terminated buffer
  rapidjson::StringStream stream(copy.c_str());
  LineRecorder recorder(copy, stream, lines_);
  rapidjson::Reader reader;
  reader.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseNumbersAsStringsFlag>(stream, recorder);
}

int JsonPointerLines::line(const std::string& pointer) const {
  std::string p = pointer;
  while (true) {
    auto it = lines_.find(p);
    if (it != lines_.end()) return it->second;
    std::size_t slash = p.rfind('/');
    if (slash == std::string::npos || p.empty()) return 1;
    p.erase(slash);
  }
}

int JsonPointerLines::lineOfOffset(std::string_view text, std::size_t offset) {
  int line = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') ++line;
  }
  return line;
}

std::string pointerToken(std::string_view token) {
  std::string out;
  for (char c : token) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out.push_back(c);
  }
  return out;
}

}  // namespace ilpgw::plugins::mapping
