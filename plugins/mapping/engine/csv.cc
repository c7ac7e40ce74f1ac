#include "csv.h"

#include "ilpgw/sdk/values.h"

namespace ilpgw::plugins::mapping {

using sdk::values::toLower;
using sdk::values::trim;

namespace {

char detectSeparator(std::string_view text) {
  int commas = 0, semicolons = 0, tabs = 0;
  bool quoted = false;
  for (char c : text) {
    if (c == '"') quoted = !quoted;
    if (quoted) continue;
    if (c == '\n') break;
    if (c == ',') ++commas;
    if (c == ';') ++semicolons;
    if (c == '\t') ++tabs;
  }
  if (semicolons > commas && semicolons >= tabs) return ';';
  if (tabs > commas && tabs > semicolons) return '\t';
  return ',';
}

}  // namespace

std::optional<std::string> parseCsv(std::string_view text, char separator, CsvTable& out) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  out.separator = separator != 0 ? separator : detectSeparator(text);
  const char sep = out.separator;
  std::vector<CsvRow> rows;
  CsvRow row;
  std::string field;
  bool quoted = false;
  bool field_was_quoted = false;
  bool row_has_content = false;
  int line = 1;
  row.line = 1;
  int quote_line = 0;
  auto endField = [&] {
    row.fields.push_back(std::move(field));
    field.clear();
    field_was_quoted = false;
  };
  auto endRow = [&] {
    endField();
    if (row_has_content) rows.push_back(std::move(row));
    row = CsvRow{};
    row_has_content = false;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field.push_back('"');
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        field.push_back(c);
      }
      continue;
    }
    if (c == '"' && trim(field).empty() && !field_was_quoted) {
      field.clear();
      quoted = true;
      field_was_quoted = true;
      row_has_content = true;
      quote_line = line;
    } else if (c == sep) {
      endField();
      row_has_content = true;
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      continue;
    } else if (c == '\n' || c == '\r') {
      endRow();
      ++line;
      row.line = line;
    } else {
      field.push_back(c);
      if (c != ' ' && c != '\t') row_has_content = true;
    }
  }
  if (quoted) return "unterminated quoted field starting on line " + std::to_string(quote_line);
  endRow();
  if (rows.empty()) return std::string("the CSV has no header line");
  out.header_line = rows.front().line;
  for (auto& name : rows.front().fields) out.header.push_back(toLower(trim(name)));
  out.rows.assign(std::make_move_iterator(rows.begin() + 1), std::make_move_iterator(rows.end()));
  return std::nullopt;
}

}  // namespace ilpgw::plugins::mapping
