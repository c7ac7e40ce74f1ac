// libFuzzer target: ConceptMap $translate, search and read parameters
// (http/terminology_routes.h) over the ConceptMaps in mappings/, as a query
// string. The first byte picks the instance-level map (or none).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "fhir/search_params.h"
#include "http/terminology_routes.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const ilpgw::Terminology* terminology = [] {
    auto loaded = ilpgw::Terminology::loadDirectory(ILPGW_MAPPINGS_DIR);
    if (!loaded.isOk()) {
      std::fprintf(stderr, "translate_fuzz: %s\n", loaded.status().message().c_str());
      std::abort();
    }
    return new ilpgw::Terminology(std::move(loaded.value()));  // lives for the process
  }();
  if (size == 0) return 0;
  static const char* kMaps[] = {"", "poli-klaster", "lab-loinc", "vaksin-cvx", "no-such-map", "gejala-tbc"};
  std::string map_id = kMaps[data[0] % 6];
  std::string_view query(reinterpret_cast<const char*>(data) + 1, size - 1);
  ilpgw::QueryParams parsed = ilpgw::parseQueryString(query);
  std::multimap<std::string, std::string> params(parsed.begin(), parsed.end());
  (void)ilpgw::conceptMapTranslate(*terminology, params, map_id);
  if (!parsed.empty() && !parsed.front().second.empty()) {  // an empty filter lists every map: slow, not parsing
    (void)ilpgw::conceptMapSearch(*terminology, parsed.front().second, "https://gw.example.id/fhir");
    (void)ilpgw::conceptMapRead(*terminology, parsed.front().second);
  }
  return 0;
}
