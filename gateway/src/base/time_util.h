// Time helpers: FHIR instants in UTC with milliseconds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ilpgw {

// Current time as a FHIR instant, e.g. 2026-11-24T10:15:30.123Z.
std::string nowInstant();

// RFC 7231 HTTP date for Last-Modified, from a FHIR instant; empty if unparseable.
std::string httpDate(const std::string& instant);
// An RFC 7231 HTTP date ("Sun, 06 Nov 1994 08:49:37 GMT") in milliseconds
// since the Unix epoch; nullopt when it is not one.
std::optional<std::int64_t> millisFromHttpDate(std::string_view text);

// Milliseconds since the Unix epoch <-> FHIR instant (UTC, always with
// milliseconds, so instants compare correctly as text).
std::string instantFromMillis(std::int64_t millis);
std::optional<std::int64_t> millisFromInstant(std::string_view instant);

// The range [low, high] in epoch milliseconds that a FHIR date, dateTime or
// instant covers at its precision: "2024" is the whole year, "2024-03-05" the
// whole day, "2024-03-05T10:15:30.5+07:00" half a millisecond's worth. A value
// without a time zone is taken as UTC. nullopt when malformed.
struct TimeRange {
  std::int64_t low = 0;
  std::int64_t high = 0;
};
std::optional<TimeRange> parseFhirDateRange(std::string_view text);

}  // namespace ilpgw
