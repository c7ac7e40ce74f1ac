#include "values.h"

#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>

namespace ilpgw::plugins::mapping {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }

int daysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)) return 29;
  return kDays[month - 1];
}

bool checkCalendar(const DateTime& v) {
  if (v.year < 1850 || v.year > 2200 || v.month < 1 || v.month > 12) return false;
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
        ++pos;
        int ignored = 0;
        if (!readNumber(text, pos, 1, 9, ignored)) return std::nullopt;
      }
    }
    if (pos < text.size()) {
      std::string_view zone = text.substr(pos);
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
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

std::string toUpper(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string toLower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
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
    if (std::isspace(static_cast<unsigned char>(c))) {
      blank = true;
      continue;
    }
    if (blank && !out.empty()) out.push_back(' ');
    blank = false;
    out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
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
  if (out == "-0" || out.rfind("-0.", 0) == 0) {
    bool all_zero = fraction.find_first_not_of('0') == std::string::npos;
    if (all_zero) out.erase(0, 1);
  }
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

std::optional<DateTime> parseWithLayout(std::string_view text, std::string_view layout) {
  text = trim(text);
  if (layout == "iso") return parseIso(text);
  DateTime v;
  std::size_t pos = 0;
  std::size_t i = 0;
  while (i < layout.size()) {
    std::string_view rest = layout.substr(i);
    bool ok = true;
    if (rest.rfind("yyyy", 0) == 0) {
      ok = readNumber(text, pos, 4, 4, v.year);
      i += 4;
    } else if (rest.rfind("dd", 0) == 0) {
      ok = readNumber(text, pos, 1, 2, v.day);
      i += 2;
    } else if (rest.rfind("mm", 0) == 0) {
      ok = readNumber(text, pos, 1, 2, v.month);
      i += 2;
    } else if (rest.rfind("HH", 0) == 0) {
      ok = readNumber(text, pos, 1, 2, v.hour);
      v.has_time = true;
      i += 2;
    } else if (rest.rfind("MM", 0) == 0) {
      ok = readNumber(text, pos, 1, 2, v.minute);
      i += 2;
    } else if (rest.rfind("SS", 0) == 0) {
      ok = readNumber(text, pos, 1, 2, v.second);
      i += 2;
    } else {
      // A blank in the layout matches one or more blanks in the text.
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

std::string formatDate(const DateTime& v) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02d", v.year, v.month, v.day);
  return buffer;
}

std::string formatDateTime(const DateTime& v) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d", v.year, v.month, v.day, v.hour, v.minute,
                v.second);
  return std::string(buffer) + v.offset;
}

bool isUtcOffset(std::string_view text) {
  if (text.size() != 6 || (text[0] != '+' && text[0] != '-') || text[3] != ':') return false;
  if (!isDigit(text[1]) || !isDigit(text[2]) || !isDigit(text[4]) || !isDigit(text[5])) return false;
  int hours = (text[1] - '0') * 10 + (text[2] - '0');
  int minutes = (text[4] - '0') * 10 + (text[5] - '0');
  return hours <= 14 && minutes <= 59;
}

std::optional<BloodPressure> parseBloodPressure(std::string_view text) {
  text = trim(text);
  std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto systolic = normalizeDecimal(text.substr(0, slash), false);
  auto diastolic = normalizeDecimal(text.substr(slash + 1), false);
  if (!systolic || !diastolic) return std::nullopt;
  double s = decimalValue(*systolic);
  double d = decimalValue(*diastolic);
  if (d <= 0 || s <= d || s > 400) return std::nullopt;
  return BloodPressure{*systolic, *diastolic};
}

std::optional<std::string> normalizeIcd10(std::string_view text) {
  std::string code = toUpper(trim(text));
  if (code.size() < 3 || !std::isalpha(static_cast<unsigned char>(code[0])) || !isDigit(code[1]) ||
      !isDigit(code[2])) {
    return std::nullopt;
  }
  std::string rest = code.substr(3);
  if (rest.empty()) return code;
  if (rest[0] == '.') rest.erase(0, 1);
  if (rest.empty() || rest.size() > 4) return std::nullopt;
  for (char c : rest) {
    if (!std::isalnum(static_cast<unsigned char>(c))) return std::nullopt;
  }
  return code.substr(0, 3) + "." + rest;
}

std::optional<NikFacts> nikFacts(std::string_view nik) {
  if (nik.size() != 16 || !isDigits(nik)) return std::nullopt;
  NikFacts facts;
  facts.day = (nik[6] - '0') * 10 + (nik[7] - '0');
  facts.month = (nik[8] - '0') * 10 + (nik[9] - '0');
  facts.year2 = (nik[10] - '0') * 10 + (nik[11] - '0');
  if (facts.day > 40) {
    facts.female = true;
    facts.day -= 40;
  }
  return facts;
}

}  // namespace ilpgw::plugins::mapping
