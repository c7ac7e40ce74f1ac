// libFuzzer target: SMART Backend Services client authentication
// (security/client_assertion.h): the client assertion (compact JWS, header
// and claims) and the client's JWKS document. The first byte picks which;
// a parsed assertion is then checked (algorithm, kid, claims) against no key.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "security/client_assertion.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) == 0) {
    auto assertion = ilpgw::parseClientAssertion(text);
    if (assertion.isOk()) {
      const ilpgw::ClientAssertion& a = assertion.value();
      std::vector<ilpgw::ClientKey> none;
      (void)ilpgw::verifyClientAssertion(a, none, a.iss, "https://gw.example.id/oauth2/token", a.exp.value_or(0) - 1);
    }
  } else {
    (void)ilpgw::parseJwks(text);
  }
  return 0;
}
