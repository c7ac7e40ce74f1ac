// Passwords of people who log in to the pages: Argon2id (libargon2, RFC
// 9106) in its self-describing encoded form, so the cost can be raised later
// and old hashes still verify. The only unit that links libargon2.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace ilpgw {

// Cost: 19 MiB of memory, 2 passes, 1 lane (the OWASP minimum for Argon2id),
// about 40 ms here; each login costs one hash.
struct PasswordCost {
  unsigned memory_kib = 19456;
  unsigned passes = 2;
  unsigned lanes = 1;
};

// What a new password must be: 10..128 characters, not only digits.
// The message says it in Bahasa Indonesia and English.
Status checkNewPassword(std::string_view password);

// "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>" with a fresh 16-byte salt.
StatusOr<std::string> hashPassword(std::string_view password, const PasswordCost& cost = {});
// Recomputes with the encoding's own cost and compares in constant time;
// false for a malformed encoding.
bool verifyPassword(std::string_view password, std::string_view encoded);
// The same work as verifyPassword() against an account that does not exist,
// so the answer's timing does not tell which user names exist.
void verifyPasswordDecoy(std::string_view password);

}  // namespace ilpgw
