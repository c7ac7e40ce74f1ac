// The client's half of POST /oauth2/token as it arrives on the wire: the
// application/x-www-form-urlencoded body and HTTP Basic client credentials
// (RFC 6749 2.3.1 and 4.4). Parsing only: nothing here checks a credential.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace ilpgw {

// Percent-decoding with `+` as space; a `%` not followed by two hex digits
// is kept as written.
std::string formDecode(std::string_view text);

// Name/value pairs of a form body, decoded; a repeated name keeps its first value.
std::map<std::string, std::string> parseForm(std::string_view body);

// True when the Content-Type (parameters and case ignored) is a form body.
bool isFormContentType(std::string_view content_type);

struct BasicCredentials {
  bool malformed = false;  // Basic, but not base64 of `id:secret`
  std::string id;          // form-decoded, as RFC 6749 2.3.1 encodes them
  std::string secret;
};

// The credentials of an `Authorization: Basic ...` header (scheme matched
// case-insensitively); nullopt when the header is not Basic.
std::optional<BasicCredentials> parseBasicCredentials(std::string_view authorization);

}  // namespace ilpgw
