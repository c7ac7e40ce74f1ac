// Logging: one line per event. Text (the default) goes to stderr as
// "time level message key=value ..."; JSON (`log.format: "json"`, for
// journald) goes to stdout as one object per line with time, level, message
// and the event's fields. Callers never pass NIK, names, tokens or secrets;
// maskIdentifiers() is applied to every message for text that might carry
// them, and control characters never reach a line unescaped.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace ilpgw {

enum class LogLevel { kDebug, kInfo, kWarning, kError };
enum class LogFormat { kText, kJson };

void setLogLevel(LogLevel level);
bool logEnabled(LogLevel level);
void setLogFormat(LogFormat format);
LogFormat logFormat();

// One named value of a structured line: text or a number.
struct LogField {
  LogField(std::string_view field_name, std::string_view value) : name(field_name), text(value) {}
  LogField(std::string_view field_name, std::int64_t value) : name(field_name), number(value), is_number(true) {}
  LogField(std::string_view field_name, int value) : LogField(field_name, static_cast<std::int64_t>(value)) {}
  std::string_view name;
  std::string_view text;
  std::int64_t number = 0;
  bool is_number = false;
};

void logLine(LogLevel level, std::string_view message, std::initializer_list<LogField> fields = {});

// The line logLine() writes, without the newline (for tests and for callers
// that must write it themselves). `time` is an RFC 3339 instant.
std::string formatLogLine(LogFormat format, std::string_view time, LogLevel level, std::string_view message,
                          std::initializer_list<LogField> fields = {});

// Replaces every run of 8 or more digits with its length, e.g. "<16 digits>",
// so a NIK or card number pasted into a message never reaches the log.
std::string maskIdentifiers(std::string_view text);

}  // namespace ilpgw
