#include "base/log.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <atomic>
#include <cstdio>
#include <mutex>

#include "base/time_util.h"

namespace ilpgw {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};
std::atomic<LogFormat> g_format{LogFormat::kText};
std::mutex g_mutex;

const char* name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "info";
}

// Length of the valid UTF-8 sequence at text[i], 0 when it is not one.
size_t utf8Length(std::string_view text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char c = byte(i);
  size_t length = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
  if (length == 0 || i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
  }
  if (length == 2 && c < 0xc2) return 0;                                  // overlong
  if (length == 3 && c == 0xe0 && byte(i + 1) < 0xa0) return 0;           // overlong
  if (length == 3 && c == 0xed && byte(i + 1) >= 0xa0) return 0;          // surrogate
  if (length == 4 && (c > 0xf4 || (c == 0xf0 && byte(i + 1) < 0x90) || (c == 0xf4 && byte(i + 1) >= 0x90))) {
    return 0;
  }
  return length;
}

// Valid UTF-8 with every invalid byte replaced by '?': a JSON line must be
// UTF-8, whatever bytes an error message quoted.
std::string validUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t length = utf8Length(text, i);
    if (length == 0) {
      out.push_back('?');
      ++i;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  return out;
}

// Text lines: control characters written as \n, \r, \t or \xHH, so a
// message can never start a line of its own.
void appendEscaped(std::string& out, std::string_view text) {
  static const char kHex[] = "0123456789abcdef";
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    } else {
      out.push_back(ch);
    }
  }
}

}  // namespace

void setLogLevel(LogLevel level) { g_level = level; }
bool logEnabled(LogLevel level) { return level >= g_level.load(); }
void setLogFormat(LogFormat format) { g_format = format; }
LogFormat logFormat() { return g_format.load(); }

std::string formatLogLine(LogFormat format, std::string_view time, LogLevel level, std::string_view message,
                          std::initializer_list<LogField> fields) {
  std::string masked = maskIdentifiers(message);
  if (format == LogFormat::kText) {
    std::string out;
    out.reserve(time.size() + masked.size() + 16 + 24 * fields.size());
    out.append(time);
    out += ' ';
    out += name(level);
    out += ' ';
    appendEscaped(out, masked);
    for (const auto& field : fields) {
      out += ' ';
      out.append(field.name);
      out += '=';
      if (field.is_number) out += std::to_string(field.number);
      else appendEscaped(out, maskIdentifiers(field.text));
    }
    return out;
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  auto string = [&writer](std::string_view s) {
    std::string valid = validUtf8(s);
    writer.String(valid.data(), static_cast<rapidjson::SizeType>(valid.size()));
  };
  writer.StartObject();
  writer.Key("time");
  string(time);
  writer.Key("level");
  writer.String(name(level));
  writer.Key("message");
  string(masked);
  for (const auto& field : fields) {
    string(field.name);
    if (field.is_number) writer.Int64(field.number);
    else string(maskIdentifiers(field.text));
  }
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

void logLine(LogLevel level, std::string_view message, std::initializer_list<LogField> fields) {
  if (!logEnabled(level)) return;
  LogFormat format = g_format.load();
  std::string line = formatLogLine(format, nowInstant(), level, message, fields);
  line += '\n';
  FILE* out = format == LogFormat::kJson ? stdout : stderr;
  std::lock_guard lock(g_mutex);
  std::fwrite(line.data(), 1, line.size(), out);
  std::fflush(out);
}

std::string maskIdentifiers(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    size_t j = i;
    while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j;
    if (j - i >= 8) {
      out += '<';
      out += std::to_string(j - i);
      out += " digits>";
      i = j;
    } else if (j > i) {
      out.append(text.substr(i, j - i));
      i = j;
    } else {
      out.push_back(text[i++]);
    }
  }
  return out;
}

}  // namespace ilpgw
