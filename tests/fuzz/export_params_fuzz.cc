// libFuzzer target: Bulk Data $export kick-off parameters (_type, _since,
// _outputFormat; fhir/bulk_export.h) as a query string, then the store
// queries they plan. The first byte picks system or Patient level.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fhir/bulk_export.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  ilpgw::ExportLevel level = (data[0] & 1) ? ilpgw::ExportLevel::kPatient : ilpgw::ExportLevel::kSystem;
  std::string_view query(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto request = ilpgw::parseExportRequest(level, ilpgw::parseQueryString(query));
  if (request.isOk()) (void)ilpgw::exportQueries(request.value());
  return 0;
}
