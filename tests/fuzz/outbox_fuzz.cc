// libFuzzer target: what the outbox sender reads from stored resources and
// from the upstream's answers (references, Retry-After, URLs).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "forward/outbox_sender.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)ilpgw::resourceReferences(text);
  (void)ilpgw::parseRetryAfterMs(text.substr(0, 64), 1700000000000);
  (void)ilpgw::splitUrl(text.substr(0, 256));
  return 0;
}
