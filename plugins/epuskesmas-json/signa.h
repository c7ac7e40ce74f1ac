// Parsing of the small value syntaxes ePuskesmas puts inside JSON strings:
// decimals with a comma, dates, date-times with or without an offset, blood
// pressure "150/95", ICD-10 codes, signa "3x1". Pure functions, so the mapping
// code can stay about FHIR and these can be tested on their own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ilpgw::plugins::epuskesmas_json {

std::string_view trim(std::string_view text);
std::string toLower(std::string_view text);
std::string toUpper(std::string_view text);
bool isDigits(std::string_view text);

// A decimal as FHIR wants it: optional '-', digits, optional '.' digits. Accepts
// a decimal comma and surrounding blanks; keeps trailing zeros (precision);
// drops redundant leading zeros. No exponent, no '+', no thousands separator.
std::optional<std::string> normalizeDecimal(std::string_view text);
double decimalValue(std::string_view normalized);

struct Date {
  int year = 0;
  int month = 0;
  int day = 0;
};

// `yyyy-mm-dd`, checked against the calendar.
std::optional<Date> parseDate(std::string_view text);
std::string formatDate(const Date& date);

struct DateTime {
  Date date;
  int hour = 0;
  int minute = 0;
  int second = 0;
  std::string fraction;  // digits after the '.', as written
  std::string offset;    // "+07:00", "Z", or empty when the input had none
};

// ISO 8601 `yyyy-mm-ddTHH:MM[:SS[.fff]][Z|±HH:MM]`; a space may replace the T.
std::optional<DateTime> parseDateTime(std::string_view text);
// `±HH:MM` with HH <= 14 (the range real zones use).
bool isUtcOffset(std::string_view text);
// FHIR dateTime with seconds and the given offset.
std::string formatDateTime(const DateTime& value);
// The same local wall-clock shifted by `minutes`, keeping the offset.
DateTime addMinutes(const DateTime& value, std::int64_t minutes);

struct BloodPressure {
  std::string systolic;   // normalized decimal text
  std::string diastolic;
};

// "150/95" (blanks allowed around the slash); systolic must exceed diastolic.
std::optional<BloodPressure> parseBloodPressure(std::string_view text);

// ICD-10 code shape: letter, two digits, optional '.' and 1-4 digits/letters.
bool isIcd10(std::string_view text);

struct Signa {
  int frequency = 0;       // times per day
  std::string dose;        // units per time, normalized decimal text
};

// "3x1", "3 x 1", "3X½", "3dd1", "3 dd 1/2": times per day and dose per time.
// Words after the dose ("3x1 bila demam") are allowed and ignored here.
std::optional<Signa> parseSigna(std::string_view text);

// Whether a signa says "when needed": k/p (kalau perlu), bila/jika perlu,
// bila + a symptom, prn.
bool isAsNeeded(std::string_view signa);

}  // namespace ilpgw::plugins::epuskesmas_json
