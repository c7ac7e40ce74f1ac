// The small value syntaxes every adapter meets in clinic exports, parsed one
// way for all of them: local dates and date-times that need the facility's
// UTC offset, decimals with a comma, "150/95" blood pressure, L/P sex codes,
// the facts a NIK carries, the ICD-10 code shape. Pure functions without
// state, safe from any thread. Part of the SDK: link `IlpGateway::values`
// (in-tree: ilpgw_sdk_values), a static library built position-independent
// so it can go into an adapter's .so. Units: ilpgw/sdk/ucum.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ilpgw::sdk::values {

std::string_view trim(std::string_view text);
std::string toUpper(std::string_view text);
std::string toLower(std::string_view text);
bool isDigits(std::string_view text);
// Upper-cases and collapses runs of blanks: "  m.  rizki " -> "M. RIZKI". For
// names that take part in an identity key.
std::string normalizeName(std::string_view text);
// A value as a diagnostic may quote it: in single quotes, cut after 24
// characters ("'A09.0'", "'demam tinggi sejak dua ha...'"). Diagnostics may
// quote the short codes a clinic typed, never long free text.
std::string quotedForDiagnostic(std::string_view value);

// ---- decimals ------------------------------------------------------------

// A FHIR decimal: optional '-', digits, optional '.' digits ("0.5" for ".5").
// A decimal comma is accepted when `decimal_comma` (36,8). Trailing zeros are
// kept (they are precision), redundant leading zeros dropped, "-0" loses its
// sign. No exponent, '+' or thousands separator; at most 15 digits either
// side of the point.
std::optional<std::string> normalizeDecimal(std::string_view text, bool decimal_comma = true);
double decimalValue(std::string_view normalized);
std::string formatDecimal(double value, int places);

// ---- dates and times -----------------------------------------------------

struct DateTime {
  int year = 0, month = 0, day = 0;
  int hour = 0, minute = 0, second = 0;
  std::string fraction;  // digits after the seconds' '.', as written
  bool has_time = false;
  std::string offset;  // "+07:00", "Z", or empty when the text had none
};

// Parses `text` with one layout made of the tokens dd, mm, yyyy, HH, MM, SS
// and literal characters (a blank matches one or more blanks); dd, mm, HH and
// MM also take one digit ("5-1-1990"). The layout "iso" accepts
// yyyy-mm-dd[THH:MM[:SS[.fff]][Z|+hh:mm]] (a blank may replace the T).
// Calendar-checked; years 1850..2200 (anything else is a typing slip).
std::optional<DateTime> parseDateTime(std::string_view text, std::string_view layout);
bool isValidLayout(std::string_view layout);
// Whether `text` is `±HH:MM` with HH <= 14 (the range real zones use).
bool isUtcOffset(std::string_view text);
// Gives a local time (no offset in the text) the facility's offset. False
// when it needs one and `facility_offset` is not a valid offset.
bool applyFacilityOffset(DateTime& value, std::string_view facility_offset);
std::string formatDate(const DateTime& value);      // yyyy-mm-dd
std::string formatDateTime(const DateTime& value);  // yyyy-mm-ddTHH:MM:SS[.fff]+hh:mm
// The same wall-clock shifted by `minutes`, keeping the offset.
DateTime addMinutes(const DateTime& value, std::int64_t minutes);

// ---- blood pressure ------------------------------------------------------

// The one plausibility rule for a "systolic/diastolic" reading: both
// positive, systolic above diastolic, systolic at most kSystolicMax. Anything
// else is a typing slip (reversed, zero, an extra digit), not a measurement.
// Readings inside the rule but unusual are for per-field min/max warnings.
inline constexpr double kSystolicMax = 400;  // above the highest pressure ever recorded

struct BloodPressure {
  std::string systolic;  // normalized decimal text, mmHg
  std::string diastolic;
};
// "150/95" (blanks around the slash allowed), subject to the rule above.
std::optional<BloodPressure> parseBloodPressure(std::string_view text, bool decimal_comma = true);
bool isPlausibleBloodPressure(double systolic, double diastolic);

// ---- sex -------------------------------------------------------------------

enum class Sex { kMale, kFemale };
// `L` (laki-laki) and `P` (perempuan), either case; anything else is nullopt.
std::optional<Sex> parseSex(std::string_view code);
std::string_view fhirGender(Sex sex);  // "male" / "female"

// ---- NIK -------------------------------------------------------------------

// What a NIK says about its holder: 6 digits region, DDMMYY birth date with
// DD + 40 for women, 4 digits sequence. It has no check digit.
struct NikFacts {
  std::string region;  // province(2) regency(2) district(2)
  int day = 0;         // 1..31 once the +40 is taken off
  int month = 0;
  int year2 = 0;  // the century is not encoded
  bool female = false;
  std::string sequence;
  // false when DDMMYY is no date at all (day or month out of range): the
  // NIK is then wrong, or issued under rules we do not know.
  bool birth_date_valid = false;

  // Whether a FHIR date (yyyy, yyyy-mm or yyyy-mm-dd) agrees with DDMMYY as
  // far as it goes.
  bool agreesWithBirthDate(std::string_view fhir_date) const;
  bool agreesWithSex(Sex sex) const { return female == (sex == Sex::kFemale); }
};
bool isNik(std::string_view text);  // exactly 16 digits
// nullopt unless `nik` is 16 digits.
std::optional<NikFacts> decodeNik(std::string_view nik);

// ---- codes -----------------------------------------------------------------

// ICD-10 shape: letter, two digits, optionally '.' and 1-4 digits/letters.
// "e119" is accepted and returned as "E11.9".
std::optional<std::string> normalizeIcd10(std::string_view text);

}  // namespace ilpgw::sdk::values
