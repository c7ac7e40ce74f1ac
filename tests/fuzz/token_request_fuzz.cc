// libFuzzer target: what POST /oauth2/token reads before any credential is
// checked (security/token_request.h): the Content-Type check, the form body
// and HTTP Basic client credentials. Input: the Content-Type line, the
// Authorization line, then the body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "security/token_request.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto line = [&input] {
    size_t end = input.find('\n');
    std::string_view first = input.substr(0, end);
    input.remove_prefix(end == std::string_view::npos ? input.size() : end + 1);
    return first;
  };
  std::string_view content_type = line();
  std::string_view authorization = line();
  (void)ilpgw::isFormContentType(content_type);
  auto form = ilpgw::parseForm(input);
  for (const auto& [name, value] : form) {
    // Decoding never grows the text.
    if (name.size() > input.size() || value.size() > input.size()) std::abort();
  }
  if (auto basic = ilpgw::parseBasicCredentials(authorization)) {
    if (basic->malformed && (!basic->id.empty() || !basic->secret.empty())) std::abort();
  }
  return 0;
}
