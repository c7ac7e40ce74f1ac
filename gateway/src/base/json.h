// RapidJSON helpers shared by the core: safe parsing of untrusted input and
// compact serialisation.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <optional>
#include <string>
#include <string_view>

namespace ilpgw::json {

// Iterative parsing (no recursion-depth attack), UTF-8 validated, numbers
// converted by the gateway itself (RapidJSON 1.1.0 has CVE-2024-38517).
// Decimal trailing zeros are not preserved (1.50 is stored as 1.5).
// Parses `text`; on failure returns a message with the byte offset.
std::optional<std::string> parse(std::string_view text, rapidjson::Document& doc);

std::string write(const rapidjson::Value& value);

// Member lookup that tolerates non-objects; returns nullptr when absent or null.
const rapidjson::Value* member(const rapidjson::Value& object, const char* name);

// String value of a member, or empty when absent, null or not a string.
std::string_view string(const rapidjson::Value& object, const char* name);

inline rapidjson::Value str(std::string_view s, rapidjson::Document::AllocatorType& a) {
  return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

}  // namespace ilpgw::json
