// Value syntaxes found in clinic exports, as pure functions: decimals with a
// comma, local dates in several layouts, local date-times that need the
// facility's UTC offset, "150/95" blood pressure, NIK facts, ICD-10 shape.
// The mapping engine's field types are thin wrappers over these.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ilpgw::plugins::mapping {

std::string_view trim(std::string_view text);
std::string toUpper(std::string_view text);
std::string toLower(std::string_view text);
bool isDigits(std::string_view text);
// Upper-cases and collapses runs of blanks: "  m.  rizki " -> "M. RIZKI". Used
// where a name takes part in an identity key.
std::string normalizeName(std::string_view text);

// A FHIR decimal: optional '-', digits, optional '.' digits. A single decimal
// comma is accepted when `decimal_comma` (36,8). Trailing zeros are kept.
std::optional<std::string> normalizeDecimal(std::string_view text, bool decimal_comma);
double decimalValue(std::string_view normalized);
std::string formatDecimal(double value, int places);

struct DateTime {
  int year = 0, month = 0, day = 0;
  int hour = 0, minute = 0, second = 0;
  bool has_time = false;
  std::string offset;  // "+07:00", "Z", or empty when the text had none
};

// Parses `text` with one layout made of the tokens dd, mm, yyyy, HH, MM, SS
// and literal characters; dd, mm, HH and MM also take one digit ("5-1-1990").
// The layout "iso" accepts yyyy-mm-dd[THH:MM[:SS[.fff]][Z|+hh:mm]] (a blank
// may replace the T). Calendar-checked.
std::optional<DateTime> parseWithLayout(std::string_view text, std::string_view layout);
bool isValidLayout(std::string_view layout);
std::string formatDate(const DateTime& value);      // yyyy-mm-dd
std::string formatDateTime(const DateTime& value);  // yyyy-mm-ddTHH:MM:SS+hh:mm
bool isUtcOffset(std::string_view text);

struct BloodPressure {
  std::string systolic;
  std::string diastolic;
};
// "150/95" (blanks around the slash allowed); systolic must exceed diastolic.
std::optional<BloodPressure> parseBloodPressure(std::string_view text);

// ICD-10 shape: letter, two digits, optionally '.' and 1-4 digits/letters.
// "E119" is accepted and returned as "E11.9".
std::optional<std::string> normalizeIcd10(std::string_view text);

// What a 16-digit NIK says about its holder: DDMMYY at 6..11, DD+40 for women.
struct NikFacts {
  int day = 0, month = 0, year2 = 0;
  bool female = false;
};
std::optional<NikFacts> nikFacts(std::string_view nik);

}  // namespace ilpgw::plugins::mapping
