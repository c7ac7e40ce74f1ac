// Reading the national platform's answers (untrusted input): the token
// answer, search Bundles and refusals. Pure functions, fuzzed by
// tests/fuzz/satusehat_answer_fuzz.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ilpgw {

struct PlatformToken {
  std::string access_token;
  std::int64_t lifetime_s = 300;  // expires_in, a string ("14399") or a number
};
std::optional<PlatformToken> parsePlatformToken(std::string_view body);

// The id of the one resource a search Bundle found; nullopt when none, or
// when several match (with `birth_date` non-empty only entries born that
// day count: the children found through their mother's NIK).
std::optional<std::string> singleSearchResult(std::string_view bundle, std::string_view birth_date = {});
// The id of the first resource of a search Bundle (what a lost create left).
std::optional<std::string> firstSearchResult(std::string_view bundle);

// A refusal in plain words (Bahasa Indonesia, then English) from the
// platform's OperationOutcome: its first issue's text and expression and
// the rule number the text carries ("RuleNumber: 10117"), identifiers masked.
std::string platformRefusalReason(std::string_view type, std::string_view body, int status);

}  // namespace ilpgw
