// libFuzzer target: the ingest Content-Type check (ingest/gateway.h,
// checkContentType) against the media types the bundled adapters declare.
// The first byte picks the adapter's list; the rest is the header value.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ingest/gateway.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const ilpgw::sdk::AdapterInfo kAdapters[] = {
      {"epuskesmas-json", "1.0.0", "", {"application/json"}, {}},
      {"hl7v2-oru", "1.0.0", "", {"x-application/hl7-v2+er7", "text/plain"}, {}},
      {"simpus-csv", "1.0.0", "", {"text/csv", "text/plain", "application/json"}, {}},
      {"none", "1.0.0", "", {}, {}},
  };
  std::string_view content_type(reinterpret_cast<const char*>(data) + 1, size - 1);
  (void)ilpgw::checkContentType(kAdapters[data[0] % 4], content_type);
  return 0;
}
