// libFuzzer target: json::parse, the gate every untrusted JSON byte passes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/json.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  rapidjson::Document doc;
  if (!ilpgw::json::parse(std::string_view(reinterpret_cast<const char*>(data), size), doc)) {
    (void)ilpgw::json::write(doc);  // what parses must serialise
  }
  return 0;
}
