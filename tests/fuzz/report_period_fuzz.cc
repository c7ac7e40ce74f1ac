// libFuzzer target: the periodStart / periodEnd of $evaluate-measure
// (report/evaluator.h), split at the first newline.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "report/evaluator.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  size_t cut = text.find('\n');
  std::string_view start = text.substr(0, cut);
  std::string_view end = cut == std::string_view::npos ? std::string_view() : text.substr(cut + 1);
  auto period = ilpgw::report::parseReportPeriod(start, end);
  if (period.isOk()) (void)ilpgw::report::monthlyReportId("pws-k1", "pkm", period.value());
  return 0;
}
