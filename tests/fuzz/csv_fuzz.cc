// libFuzzer target: the CSV reader of the mapping engine
// (plugins/mapping/engine/csv.h): byte-order mark, separator detection,
// quoting, line breaks inside quotes, CRLF/LF, line numbers. The first byte
// picks the separator (detected, `,`, `;` or tab); the rest is the file.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "csv.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const char kSeparators[] = {0, ',', ';', '\t'};
  char separator = kSeparators[data[0] % 4];
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  ilpgw::plugins::mapping::CsvTable table;
  auto error = ilpgw::plugins::mapping::parseCsv(text, separator, table);
  if (error) return 0;
  int last_line = table.header_line;
  for (const auto& row : table.rows) {
    // Rows come in file order, each after the header, within the file.
    if (row.line <= last_line || static_cast<std::size_t>(row.line) > text.size() + 1) std::abort();
    last_line = row.line;
  }
  return 0;
}
