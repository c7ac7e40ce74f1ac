#include "signa.h"

#include <charconv>

#include "ilpgw/sdk/values.h"

namespace ilpgw::plugins::epuskesmas_json {
namespace {

using sdk::values::decimalValue;
using sdk::values::normalizeDecimal;
using sdk::values::toLower;
using sdk::values::trim;

bool isDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::optional<Signa> parseSigna(std::string_view text) {
  text = trim(text);
  std::size_t pos = 0;
  while (pos < text.size() && isDigit(text[pos])) ++pos;
  if (pos == 0 || pos > 2) return std::nullopt;
  int frequency = 0;
  std::from_chars(text.data(), text.data() + pos, frequency);
  std::string_view rest = trim(text.substr(pos));
  if (!rest.empty() && (rest[0] == 'x' || rest[0] == 'X')) {
    rest.remove_prefix(1);
  } else if (rest.size() >= 2 && toLower(rest.substr(0, 2)) == "dd") {
    rest.remove_prefix(2);
  } else if (rest.rfind("\xC3\x97", 0) == 0) {  // U+00D7 multiplication sign
    rest.remove_prefix(2);
  } else {
    return std::nullopt;
  }
  rest = trim(rest);
  rest = rest.substr(0, rest.find(' '));
  std::string dose;
  if (rest == "\xC2\xBD" || rest == "1/2") {  // U+00BD one half
    dose = "0.5";
  } else if (rest == "1/4" || rest == "\xC2\xBC") {
    dose = "0.25";
  } else {
    auto normalized = normalizeDecimal(rest);
    if (!normalized) return std::nullopt;
    dose = *normalized;
  }
  if (frequency <= 0 || decimalValue(dose) <= 0) return std::nullopt;
  return Signa{frequency, dose};
}

bool isAsNeeded(std::string_view signa) {
  std::string lower = " " + toLower(signa) + " ";
  for (const char* marker : {" k/p ", " kp ", " prn ", " bila ", " jika ", " kalau perlu "}) {
    if (lower.find(marker) != std::string::npos) return true;
  }
  return false;
}

}  // namespace ilpgw::plugins::epuskesmas_json
