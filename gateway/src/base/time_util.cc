#include "base/time_util.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace ilpgw {

std::string nowInstant() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buffer;
}

std::string httpDate(const std::string& instant) {
  std::tm tm{};
  if (std::sscanf(instant.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec) != 6) {
    return {};
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::time_t t = timegm(&tm);
  std::tm out{};
  gmtime_r(&t, &out);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S GMT", &out);
  return buffer;
}

}  // namespace ilpgw

namespace ilpgw {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm):
// timegm() is avoided because it depends on the C library's range handling.
std::int64_t daysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civilFromDays(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

bool isLeap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned daysInMonth(std::int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && isLeap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `n` digits at `pos`; -1 if they are not all digits.
int digits(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return -1;
  int value = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    value = value * 10 + (s[i] - '0');
  }
  return value;
}

constexpr std::int64_t kMsPerDay = 86400000;

}  // namespace

std::optional<std::int64_t> millisFromHttpDate(std::string_view text) {
  std::tm tm{};
  std::string copy(text);
  const char* end = strptime(copy.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000;
}

std::string instantFromMillis(std::int64_t millis) {
  std::int64_t days = millis >= 0 ? millis / kMsPerDay : -((-millis + kMsPerDay - 1) / kMsPerDay);
  std::int64_t rest = millis - days * kMsPerDay;
  std::int64_t y = 0;
  unsigned m = 0;
  unsigned d = 0;
  civilFromDays(days, y, m, d);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<long long>(y), m, d,
                static_cast<int>(rest / 3600000), static_cast<int>(rest / 60000 % 60),
                static_cast<int>(rest / 1000 % 60), static_cast<int>(rest % 1000));
  return buffer;
}

std::optional<std::int64_t> millisFromInstant(std::string_view instant) {
  auto range = parseFhirDateRange(instant);
  if (!range) return std::nullopt;
  return range->low;
}

std::optional<TimeRange> parseFhirDateRange(std::string_view s) {
  int year = digits(s, 0, 4);
  if (year < 1) return std::nullopt;
  int month = 1;
  int day = 1;
  size_t pos = 4;
  enum { kYear, kMonth, kDay, kMinute, kSecond, kFraction } precision = kYear;
  if (pos < s.size()) {
    if (s[pos] != '-' || (month = digits(s, pos + 1, 2)) < 1 || month > 12) return std::nullopt;
    pos += 3;
    precision = kMonth;
  }
  if (pos < s.size()) {
    day = digits(s, pos + 1, 2);
    if (s[pos] != '-' || day < 1 || static_cast<unsigned>(day) > daysInMonth(year, static_cast<unsigned>(month))) {
      return std::nullopt;
    }
    pos += 3;
    precision = kDay;
  }
  std::int64_t ms = daysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * kMsPerDay;
  std::int64_t span = 0;  // width of the range minus one millisecond
  if (pos < s.size()) {
    int hour = digits(s, pos + 1, 2);
    int minute = digits(s, pos + 4, 2);
    if (s[pos] != 'T' || hour < 0 || hour > 23 || pos + 3 >= s.size() || s[pos + 3] != ':' || minute < 0 ||
        minute > 59) {
      return std::nullopt;
    }
    ms += (hour * 3600LL + minute * 60LL) * 1000;
    pos += 6;
    precision = kMinute;
    if (pos < s.size() && s[pos] == ':') {
      int second = digits(s, pos + 1, 2);
      if (second < 0 || second > 59) return std::nullopt;
      ms += second * 1000LL;
      pos += 3;
      precision = kSecond;
      if (pos < s.size() && s[pos] == '.') {
        size_t start = ++pos;
        int fraction = 0;
        int scale = 100;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
          fraction += (s[pos] - '0') * scale;  // beyond milliseconds the digits are dropped
          scale /= 10;
          ++pos;
        }
        if (pos == start || pos - start > 9) return std::nullopt;
        ms += fraction;
        precision = kFraction;
      }
    }
    // A time needs a zone in FHIR; search values may omit it (taken as UTC).
    if (pos < s.size()) {
      if (s[pos] == 'Z') {
        ++pos;
      } else if (s[pos] == '+' || s[pos] == '-') {
        int oh = digits(s, pos + 1, 2);
        int om = digits(s, pos + 4, 2);
        if (oh < 0 || oh > 14 || pos + 3 >= s.size() || s[pos + 3] != ':' || om < 0 || om > 59) return std::nullopt;
        std::int64_t offset = (oh * 3600LL + om * 60LL) * 1000;
        ms += s[pos] == '+' ? -offset : offset;
        pos += 6;
      } else {
        return std::nullopt;
      }
    }
  }
  if (pos != s.size()) return std::nullopt;
  switch (precision) {
    case kYear:
      span = (daysFromCivil(year + 1, 1, 1) - daysFromCivil(year, 1, 1)) * kMsPerDay - 1;
      break;
    case kMonth: span = daysInMonth(year, static_cast<unsigned>(month)) * kMsPerDay - 1; break;
    case kDay: span = kMsPerDay - 1; break;
    case kMinute: span = 59999; break;
    case kSecond: span = 999; break;
    case kFraction: span = 0; break;
  }
  return TimeRange{ms, ms + span};
}

}  // namespace ilpgw
