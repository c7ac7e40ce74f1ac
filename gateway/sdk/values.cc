#include "ilpgw/sdk/values.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace ilpgw::sdk::values {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isAlpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool isBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }
char upperChar(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }
char lowerChar(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Birth dates before 1850 or visits after 2200 are typing slips ("0990",
// "20224"), and the range keeps every date well inside std::chrono's.
constexpr int kMinYear = 1850;
constexpr int kMaxYear = 2200;

int daysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)) return 29;
  return kDays[month - 1];
}

bool checkCalendar(const DateTime& v) {
  if (v.year < kMinYear || v.year > kMaxYear || v.month < 1 || v.month > 12) return false;
  if (v.day < 1 || v.day > daysInMonth(v.year, v.month)) return false;
  return v.hour >= 0 && v.hour <= 23 && v.minute >= 0 && v.minute <= 59 && v.second >= 0 && v.second <= 59;
}

// Reads between `min` and `max` digits at `pos`.
bool readNumber(std::string_view text, std::size_t& pos, std::size_t min, std::size_t max, int& out) {
  std::size_t start = pos;
  while (pos < text.size() && pos - start < max && isDigit(text[pos])) ++pos;
  if (pos - start < min) return false;
  out = 0;
  for (std::size_t i = start; i < pos; ++i) out = out * 10 + (text[i] - '0');
  return true;
}

int twoDigitsAt(std::string_view text, std::size_t pos) { return (text[pos] - '0') * 10 + (text[pos + 1] - '0'); }

std::optional<DateTime> parseIso(std::string_view text) {
  DateTime v;
  std::size_t pos = 0;
  if (!readNumber(text, pos, 4, 4, v.year) || pos >= text.size() || text[pos++] != '-') return std::nullopt;
  if (!readNumber(text, pos, 2, 2, v.month) || pos >= text.size() || text[pos++] != '-') return std::nullopt;
  if (!readNumber(text, pos, 2, 2, v.day)) return std::nullopt;
  if (pos < text.size()) {
    if (text[pos] != 'T' && text[pos] != ' ') return std::nullopt;
    ++pos;
    v.has_time = true;
    if (!readNumber(text, pos, 2, 2, v.hour) || pos >= text.size() || text[pos++] != ':') return std::nullopt;
    if (!readNumber(text, pos, 2, 2, v.minute)) return std::nullopt;
    if (pos < text.size() && text[pos] == ':') {
      ++pos;
      if (!readNumber(text, pos, 2, 2, v.second)) return std::nullopt;
      if (pos < text.size() && text[pos] == '.') {
        std::size_t start = ++pos;
        while (pos < text.size() && isDigit(text[pos]) && pos - start < 9) ++pos;
        if (pos == start) return std::nullopt;
        v.fraction = std::string(text.substr(start, pos - start));
      }
    }
    if (pos < text.size()) {
      std::string_view zone = text.substr(pos);
      if (zone == "z") zone = "Z";
      if (zone != "Z" && !isUtcOffset(zone)) return std::nullopt;
      v.offset = std::string(zone);
      pos = text.size();
    }
  }
  if (pos != text.size() || !checkCalendar(v)) return std::nullopt;
  return v;
}

}  // namespace

std::string_view trim(std::string_view text) {
  while (!text.empty() && isBlank(text.front())) text.remove_prefix(1);
  while (!text.empty() && isBlank(text.back())) text.remove_suffix(1);
  return text;
}

std::string toUpper(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = upperChar(c);
  return out;
}

std::string toLower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = lowerChar(c);
  return out;
}

std::string quotedForDiagnostic(std::string_view value) {
  constexpr std::size_t kMax = 24;
  std::string out = "'";
  out.append(value.substr(0, kMax));
  if (value.size() > kMax) out.append("...");
  out.push_back('\'');
  return out;
}

bool isDigits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!isDigit(c)) return false;
  }
  return true;
}

std::string normalizeName(std::string_view text) {
  std::string out;
  bool blank = false;
  for (char c : trim(text)) {
    if (isBlank(c)) {
      blank = true;
      continue;
    }
    if (blank && !out.empty()) out.push_back(' ');
    blank = false;
    out.push_back(upperChar(c));
  }
  return out;
}

std::optional<std::string> normalizeDecimal(std::string_view text, bool decimal_comma) {
  text = trim(text);
  std::string out;
  std::size_t pos = 0;
  if (pos < text.size() && text[pos] == '-') {
    out.push_back('-');
    ++pos;
  }
  std::string integral;
  while (pos < text.size() && isDigit(text[pos])) integral.push_back(text[pos++]);
  std::string fraction;
  bool has_point = false;
  if (pos < text.size() && (text[pos] == '.' || (decimal_comma && text[pos] == ','))) {
    has_point = true;
    ++pos;
    while (pos < text.size() && isDigit(text[pos])) fraction.push_back(text[pos++]);
  }
  if (pos != text.size() || (integral.empty() && fraction.empty()) || (has_point && fraction.empty())) {
    return std::nullopt;
  }
  if (integral.size() > 15 || fraction.size() > 15) return std::nullopt;
  std::size_t first = integral.find_first_not_of('0');
  integral = first == std::string::npos ? "0" : integral.substr(first);
  out += integral;
  if (has_point) out += "." + fraction;
  if (out[0] == '-' && integral == "0" && fraction.find_first_not_of('0') == std::string::npos) out.erase(0, 1);
  return out;
}

double decimalValue(std::string_view normalized) {
  return std::strtod(std::string(normalized).c_str(), nullptr);
}

std::string formatDecimal(double value, int places) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", places, value);
  return buffer;
}

bool isValidLayout(std::string_view layout) {
  if (layout == "iso") return true;
  bool has_day = layout.find("dd") != std::string_view::npos;
  bool has_month = layout.find("mm") != std::string_view::npos;
  bool has_year = layout.find("yyyy") != std::string_view::npos;
  return has_day && has_month && has_year;
}

std::optional<DateTime> parseDateTime(std::string_view text, std::string_view layout) {
  text = trim(text);
  if (layout == "iso") return parseIso(text);
  DateTime v;
  std::size_t pos = 0;
  std::size_t i = 0;
  while (i < layout.size()) {
    std::string_view rest = layout.substr(i);
    bool ok = true;
    if (rest.starts_with("yyyy")) {
      ok = readNumber(text, pos, 4, 4, v.year);
      i += 4;
    } else if (rest.starts_with("dd")) {
      ok = readNumber(text, pos, 1, 2, v.day);
      i += 2;
    } else if (rest.starts_with("mm")) {
      ok = readNumber(text, pos, 1, 2, v.month);
      i += 2;
    } else if (rest.starts_with("HH")) {
      ok = readNumber(text, pos, 1, 2, v.hour);
      v.has_time = true;
      i += 2;
    } else if (rest.starts_with("MM")) {
      ok = readNumber(text, pos, 1, 2, v.minute);
      i += 2;
    } else if (rest.starts_with("SS")) {
      ok = readNumber(text, pos, 1, 2, v.second);
      i += 2;
    } else {
      if (layout[i] == ' ') {
        ok = pos < text.size() && text[pos] == ' ';
        while (pos < text.size() && text[pos] == ' ') ++pos;
      } else {
        ok = pos < text.size() && text[pos] == layout[i];
        ++pos;
      }
      ++i;
    }
    if (!ok) return std::nullopt;
  }
  if (pos != text.size() || !checkCalendar(v)) return std::nullopt;
  return v;
}

bool isUtcOffset(std::string_view text) {
  if (text.size() != 6 || (text[0] != '+' && text[0] != '-') || text[3] != ':') return false;
  if (!isDigit(text[1]) || !isDigit(text[2]) || !isDigit(text[4]) || !isDigit(text[5])) return false;
  return twoDigitsAt(text, 1) <= 14 && twoDigitsAt(text, 4) <= 59;
}

bool applyFacilityOffset(DateTime& value, std::string_view facility_offset) {
  if (!value.offset.empty()) return true;
  if (!isUtcOffset(facility_offset)) return false;
  value.offset = std::string(facility_offset);
  return true;
}

std::string formatDate(const DateTime& v) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02d", v.year, v.month, v.day);
  return buffer;
}

std::string formatDateTime(const DateTime& v) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d", v.year, v.month, v.day, v.hour, v.minute,
                v.second);
  std::string out = buffer;
  if (!v.fraction.empty()) out += "." + v.fraction;
  return out + v.offset;
}

DateTime addMinutes(const DateTime& value, std::int64_t minutes) {
  using namespace std::chrono;
  sys_days day = year{value.year} / month{static_cast<unsigned>(value.month)} /
                 std::chrono::day{static_cast<unsigned>(value.day)};
  sys_seconds instant = day + hours{value.hour} + std::chrono::minutes{value.minute} + seconds{value.second} +
                        std::chrono::minutes{minutes};
  sys_days new_day = floor<days>(instant);
  year_month_day ymd{new_day};
  hh_mm_ss clock{instant - new_day};
  DateTime out = value;
  out.year = static_cast<int>(ymd.year());
  out.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  out.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
  out.hour = static_cast<int>(clock.hours().count());
  out.minute = static_cast<int>(clock.minutes().count());
  out.second = static_cast<int>(clock.seconds().count());
  return out;
}

bool isPlausibleBloodPressure(double systolic, double diastolic) {
  return diastolic > 0 && systolic > diastolic && systolic <= kSystolicMax;
}

std::optional<BloodPressure> parseBloodPressure(std::string_view text, bool decimal_comma) {
  text = trim(text);
  std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto systolic = normalizeDecimal(text.substr(0, slash), decimal_comma);
  auto diastolic = normalizeDecimal(text.substr(slash + 1), decimal_comma);
  if (!systolic || !diastolic) return std::nullopt;
  if (!isPlausibleBloodPressure(decimalValue(*systolic), decimalValue(*diastolic))) return std::nullopt;
  return BloodPressure{*systolic, *diastolic};
}

std::optional<Sex> parseSex(std::string_view code) {
  code = trim(code);
  if (code == "L" || code == "l") return Sex::kMale;
  if (code == "P" || code == "p") return Sex::kFemale;
  return std::nullopt;
}

std::string_view fhirGender(Sex sex) { return sex == Sex::kFemale ? "female" : "male"; }

bool isNik(std::string_view text) { return text.size() == 16 && isDigits(text); }

std::optional<NikFacts> decodeNik(std::string_view nik) {
  if (!isNik(nik)) return std::nullopt;
  NikFacts facts;
  facts.region = std::string(nik.substr(0, 6));
  facts.day = twoDigitsAt(nik, 6);
  facts.month = twoDigitsAt(nik, 8);
  facts.year2 = twoDigitsAt(nik, 10);
  facts.sequence = std::string(nik.substr(12, 4));
  if (facts.day > 40) {
    facts.female = true;
    facts.day -= 40;
  }
  facts.birth_date_valid = facts.day >= 1 && facts.day <= 31 && facts.month >= 1 && facts.month <= 12;
  return facts;
}

bool NikFacts::agreesWithBirthDate(std::string_view fhir_date) const {
  auto digitsAt = [&](std::size_t pos) {
    return pos + 2 <= fhir_date.size() && isDigit(fhir_date[pos]) && isDigit(fhir_date[pos + 1]);
  };
  if (fhir_date.size() < 4 || !digitsAt(2) || twoDigitsAt(fhir_date, 2) != year2) return false;
  if (fhir_date.size() >= 7 && (!digitsAt(5) || twoDigitsAt(fhir_date, 5) != month)) return false;
  if (fhir_date.size() >= 10 && (!digitsAt(8) || twoDigitsAt(fhir_date, 8) != day)) return false;
  return true;
}

std::optional<std::string> normalizeIcd10(std::string_view text) {
  std::string code = toUpper(trim(text));
  if (code.size() < 3 || !isAlpha(code[0]) || !isDigit(code[1]) || !isDigit(code[2])) return std::nullopt;
  std::string rest = code.substr(3);
  if (rest.empty()) return code;
  if (rest[0] == '.') rest.erase(0, 1);
  if (rest.empty() || rest.size() > 4) return std::nullopt;
  for (char c : rest) {
    if (!isDigit(c) && !isAlpha(c)) return std::nullopt;
  }
  return code.substr(0, 3) + "." + rest;
}

}  // namespace ilpgw::sdk::values
