// libFuzzer target: the sasaran CSV of `ilp-gateway sasaran import`
// (report/targets.h), checked against the bundled indicators; accepted rows
// become the store resources.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "report/measure.h"
#include "report/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static auto library = ilpgw::report::MeasureLibrary::load(std::string(ILPGW_MAPPINGS_DIR) + "/measures");
  if (!library.isOk()) __builtin_trap();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto file = ilpgw::report::parseSasaranCsv(text, *library.value());
  for (const auto& problem : file.problems) (void)ilpgw::report::describe(problem);
  if (file.problems.empty()) (void)ilpgw::report::sasaranResources(file.rows);
  return 0;
}
