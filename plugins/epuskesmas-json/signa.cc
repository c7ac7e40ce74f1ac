#include "values.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>

namespace ilpgw::plugins::epuskesmas_json {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isUpperAlpha(char c) { return c >= 'A' && c <= 'Z'; }

// Reads exactly `width` digits at `pos`; advances `pos`.
std::optional<int> fixedDigits(std::string_view text, std::size_t& pos, std::size_t width) {
  if (pos + width > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    char c = text[pos + i];
    if (!isDigit(c)) return std::nullopt;
    value = value * 10 + (c - '0');
  }
  pos += width;
  return value;
}

bool expect(std::string_view text, std::size_t& pos, char c) {
  if (pos >= text.size() || text[pos] != c) return false;
  ++pos;
  return true;
}

bool validCalendarDate(int year, int month, int day) {
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  auto ymd = std::chrono::year{year} / std::chrono::month{static_cast<unsigned>(month)} /
             std::chrono::day{static_cast<unsigned>(day)};
  return ymd.ok();
}

std::string twoDigits(int value) {
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "%02d", value);
  return buffer;
}

}  // namespace

std::string_view trim(std::string_view text) {
  const char* kBlanks = " \t\r\n";
  auto first = text.find_first_not_of(kBlanks);
  if (first == std::string_view::npos) return {};
  auto last = text.find_last_not_of(kBlanks);
  return text.substr(first, last - first + 1);
}

std::string toLower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string toUpper(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

bool isDigits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), isDigit);
}

std::optional<std::string> normalizeDecimal(std::string_view text) {
  text = trim(text);
  std::string out;
  std::size_t pos = 0;
  if (pos < text.size() && text[pos] == '-') {
    out.push_back('-');
    ++pos;
  }
  std::size_t int_start = pos;
  while (pos < text.size() && isDigit(text[pos])) ++pos;
  std::string_view integer = text.substr(int_start, pos - int_start);
  if (integer.empty()) return std::nullopt;
  // Leading zeros are not valid JSON numbers; "007" means 7.
  auto nonzero = integer.find_first_not_of('0');
  out.append(nonzero == std::string_view::npos ? std::string_view("0") : integer.substr(nonzero));
  if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
    ++pos;
    std::size_t frac_start = pos;
    while (pos < text.size() && isDigit(text[pos])) ++pos;
    if (pos == frac_start) return std::nullopt;
    out.push_back('.');
    out.append(text.substr(frac_start, pos - frac_start));
  }
  if (pos != text.size()) return std::nullopt;
  if (out == "-0" || out.rfind("-0.", 0) == 0) {
    // "-0" and "-0.0" are legal but meaningless for measurements; keep sign off.
    if (out.find_first_not_of("-0.") == std::string::npos) out.erase(0, 1);
  }
  return out;
}

double decimalValue(std::string_view normalized) {
  double value = 0;
  std::from_chars(normalized.data(), normalized.data() + normalized.size(), value);
  return value;
}

std::optional<Date> parseDate(std::string_view text) {
  text = trim(text);
  std::size_t pos = 0;
  auto year = fixedDigits(text, pos, 4);
  if (!year || !expect(text, pos, '-')) return std::nullopt;
  auto month = fixedDigits(text, pos, 2);
  if (!month || !expect(text, pos, '-')) return std::nullopt;
  auto day = fixedDigits(text, pos, 2);
  if (!day || pos != text.size()) return std::nullopt;
  if (!validCalendarDate(*year, *month, *day)) return std::nullopt;
  return Date{*year, *month, *day};
}

std::string formatDate(const Date& date) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02d", date.year, date.month, date.day);
  return buffer;
}

bool isUtcOffset(std::string_view text) {
  if (text.size() != 6 || (text[0] != '+' && text[0] != '-') || text[3] != ':') return false;
  std::size_t pos = 1;
  auto hours = fixedDigits(text, pos, 2);
  ++pos;
  auto minutes = fixedDigits(text, pos, 2);
  return hours && minutes && *hours <= 14 && *minutes < 60;
}

std::optional<DateTime> parseDateTime(std::string_view text) {
  text = trim(text);
  if (text.size() < 16) return std::nullopt;
  auto date = parseDate(text.substr(0, 10));
  if (!date) return std::nullopt;
  DateTime out;
  out.date = *date;
  std::size_t pos = 10;
  if (text[pos] != 'T' && text[pos] != ' ') return std::nullopt;
  ++pos;
  auto hour = fixedDigits(text, pos, 2);
  if (!hour || !expect(text, pos, ':')) return std::nullopt;
  auto minute = fixedDigits(text, pos, 2);
  if (!minute) return std::nullopt;
  out.hour = *hour;
  out.minute = *minute;
  if (pos < text.size() && text[pos] == ':') {
    ++pos;
    auto second = fixedDigits(text, pos, 2);
    if (!second) return std::nullopt;
    out.second = *second;
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      std::size_t start = pos;
      while (pos < text.size() && isDigit(text[pos])) ++pos;
      if (pos == start) return std::nullopt;
      out.fraction = std::string(text.substr(start, pos - start));
    }
  }
  if (out.hour > 23 || out.minute > 59 || out.second > 59) return std::nullopt;
  std::string_view rest = text.substr(pos);
  if (rest == "Z" || rest == "z") {
    out.offset = "Z";
  } else if (!rest.empty()) {
    if (!isUtcOffset(rest)) return std::nullopt;
    out.offset = std::string(rest);
  }
  return out;
}

std::string formatDateTime(const DateTime& value) {
  std::string out = formatDate(value.date);
  out.push_back('T');
  out += twoDigits(value.hour) + ":" + twoDigits(value.minute) + ":" + twoDigits(value.second);
  if (!value.fraction.empty()) out += "." + value.fraction;
  out += value.offset;
  return out;
}

DateTime addMinutes(const DateTime& value, std::int64_t minutes) {
  using namespace std::chrono;
  sys_days day = year{value.date.year} / month{static_cast<unsigned>(value.date.month)} /
                 std::chrono::day{static_cast<unsigned>(value.date.day)};
  sys_seconds instant = day + hours{value.hour} + std::chrono::minutes{value.minute} +
                        seconds{value.second} + std::chrono::minutes{minutes};
  sys_days new_day = floor<days>(instant);
  year_month_day ymd{new_day};
  hh_mm_ss clock{instant - new_day};
  DateTime out = value;
  out.date = Date{static_cast<int>(ymd.year()), static_cast<int>(static_cast<unsigned>(ymd.month())),
                  static_cast<int>(static_cast<unsigned>(ymd.day()))};
  out.hour = static_cast<int>(clock.hours().count());
  out.minute = static_cast<int>(clock.minutes().count());
  out.second = static_cast<int>(clock.seconds().count());
  return out;
}

std::optional<BloodPressure> parseBloodPressure(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto systolic = normalizeDecimal(text.substr(0, slash));
  auto diastolic = normalizeDecimal(text.substr(slash + 1));
  if (!systolic || !diastolic) return std::nullopt;
  double sys_value = decimalValue(*systolic);
  double dia_value = decimalValue(*diastolic);
  // Reversed or zero readings are typing errors, not measurements.
  if (dia_value <= 0 || sys_value <= dia_value) return std::nullopt;
  return BloodPressure{*systolic, *diastolic};
}

bool isIcd10(std::string_view text) {
  if (text.size() < 3 || !isUpperAlpha(text[0]) || !isDigit(text[1]) || !isDigit(text[2])) return false;
  if (text.size() == 3) return true;
  if (text[3] != '.' || text.size() < 5 || text.size() > 8) return false;
  return std::all_of(text.begin() + 4, text.end(), [](char c) { return isDigit(c) || isUpperAlpha(c); });
}

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
