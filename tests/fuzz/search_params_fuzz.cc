// libFuzzer target: FHIR search-parameter parsing (query string -> SearchQuery),
// strict and lenient, on the resource types clinics search most.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fhir/search_params.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const char* kTypes[] = {"Patient", "Observation", "Encounter", "Condition", "MedicationRequest"};
  std::string_view type = kTypes[data[0] % 5];
  std::string_view query(reinterpret_cast<const char*>(data) + 1, size - 1);
  ilpgw::QueryParams params = ilpgw::parseQueryString(query);
  ilpgw::SearchParseOptions options;
  options.lenient = (data[0] & 0x80) != 0;
  options.allow_result_params = (data[0] & 0x40) == 0;
  (void)ilpgw::parseSearch(type, params, options);
  for (const auto& [name, value] : params) (void)ilpgw::urlEncode(value), (void)ilpgw::normalizeSearchString(name);
  return 0;
}
