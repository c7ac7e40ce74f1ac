// Minimal structured logging to stderr. Callers never pass NIK, names, tokens
// or secrets; maskIdentifiers() is there for text that might carry them.
#pragma once

#include <string>
#include <string_view>

namespace ilpgw {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

void setLogLevel(LogLevel level);
void logLine(LogLevel level, std::string_view message);

// Replaces every run of 8 or more digits with its length, e.g. "<16 digits>",
// so a NIK or card number pasted into a message never reaches the log.
std::string maskIdentifiers(std::string_view text);

}  // namespace ilpgw
