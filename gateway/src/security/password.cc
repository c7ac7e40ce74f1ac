#include "security/password.h"

#include <argon2.h>

#include <algorithm>
#include <cctype>

#include "base/crypto.h"

namespace ilpgw {

Status checkNewPassword(std::string_view password) {
  if (password.size() < 10 || password.size() > 128) {
    return Status(StatusCode::kInvalidArgument,
                  "kata sandi harus 10 sampai 128 karakter / the password must be 10 to 128 characters");
  }
  if (std::all_of(password.begin(), password.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    return Status(StatusCode::kInvalidArgument,
                  "kata sandi tidak boleh hanya angka / the password must not be digits only");
  }
  return Status::ok();
}

StatusOr<std::string> hashPassword(std::string_view password, const PasswordCost& cost) {
  constexpr size_t kSaltBytes = 16;
  constexpr size_t kHashBytes = 32;
  std::string salt = randomBytes(kSaltBytes);
  size_t length = argon2_encodedlen(cost.passes, cost.memory_kib, cost.lanes, kSaltBytes, kHashBytes, Argon2_id);
  std::string encoded(length, '\0');
  int rc = argon2id_hash_encoded(cost.passes, cost.memory_kib, cost.lanes, password.data(), password.size(),
                                 salt.data(), salt.size(), kHashBytes, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) return Status(StatusCode::kInternal, std::string("password hashing failed: ") + argon2_error_message(rc));
  encoded.resize(encoded.find('\0'));
  return encoded;
}

bool verifyPassword(std::string_view password, std::string_view encoded) {
  if (encoded.rfind("$argon2id$", 0) != 0 || encoded.size() > 512) return false;
  std::string text(encoded);  // argon2id_verify wants a C string
  return argon2id_verify(text.c_str(), password.data(), password.size()) == ARGON2_OK;
}

void verifyPasswordDecoy(std::string_view password) {
  static const std::string decoy = [] {
    auto hashed = hashPassword(base64UrlEncode(randomBytes(18)));
    return hashed.isOk() ? hashed.value() : std::string();
  }();
  (void)verifyPassword(password, decoy);
}

}  // namespace ilpgw
