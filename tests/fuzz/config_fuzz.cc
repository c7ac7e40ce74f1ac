// libFuzzer target: the gateway.json parser (key table, type checks).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)ilpgw::parseConfig(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
