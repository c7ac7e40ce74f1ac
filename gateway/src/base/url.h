// Percent-encoding (RFC 3986, section 2.1) of a text for a URL query or an
// application/x-www-form-urlencoded value.
#pragma once

#include <string>
#include <string_view>

namespace ilpgw {

// Every byte except the unreserved characters (A-Z a-z 0-9 - . _ ~) and those
// in `keep` becomes %XX, so the result is safe in a query string, in a form
// body and in HTTP Basic credentials (RFC 6749, section 2.3.1).
std::string percentEncode(std::string_view text, std::string_view keep = {});

}  // namespace ilpgw
