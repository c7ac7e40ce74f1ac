// Time helpers: FHIR instants in UTC with milliseconds.
#pragma once

#include <string>

namespace ilpgw {

// Current time as a FHIR instant, e.g. 2026-11-24T10:15:30.123Z.
std::string nowInstant();

// RFC 7231 HTTP date for Last-Modified, from a FHIR instant; empty if unparseable.
std::string httpDate(const std::string& instant);

}  // namespace ilpgw
