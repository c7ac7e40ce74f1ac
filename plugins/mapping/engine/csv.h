// CSV as clinic systems export it: optional UTF-8 byte-order mark, `,` or `;`
// (or tab) separator detected from the header, fields optionally double-quoted
// with `""` for a quote inside, line breaks inside quotes, CRLF or LF, blank
// lines skipped. Each row remembers the line it starts on, so problems can be
// reported as `row N` where N is the line number a person sees in an editor.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ilpgw::plugins::mapping {

struct CsvRow {
  int line = 0;                     // 1-based line number where the row starts
  std::vector<std::string> fields;  // unquoted, not trimmed
};

struct CsvTable {
  char separator = ',';
  std::vector<std::string> header;  // trimmed, lower-cased column names
  int header_line = 1;
  std::vector<CsvRow> rows;
};

// `separator` is 0 to detect it from the header line (the most frequent of
// `,`, `;` and tab outside quotes). Returns an error message for input that is
// not CSV at all (unterminated quote, no header).
std::optional<std::string> parseCsv(std::string_view text, char separator, CsvTable& out);

}  // namespace ilpgw::plugins::mapping
