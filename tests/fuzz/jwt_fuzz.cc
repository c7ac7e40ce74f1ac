// libFuzzer target: bearer-token (JWT, ES256) verification on arbitrary
// input: structure, base64url, JSON header and claims, kid, signature.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "security/token_service.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static ilpgw::TokenService* service = [] {
    std::string dir = "/tmp/ilpgw-fuzz-keys-XXXXXX";
    if (mkdtemp(dir.data()) == nullptr) std::abort();
    auto opened = ilpgw::TokenService::open(dir + "/keys", 900);
    if (!opened.isOk()) std::abort();
    return opened.value().release();  // lives for the process
  }();
  (void)service->verify(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
