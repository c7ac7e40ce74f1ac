// The token signing keys, when the store keeps them (auth.signing_keys
// "store", the default on PostgreSQL): every instance sharing the database
// signs and verifies with the same keys, and a rotation made on one is seen
// by all. security/token_service.h reads and writes them.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace ilpgw {

struct SigningKey {
  std::string kid;
  // The PKCS#8 private key (PEM) while it signs; only the public key (PEM)
  // once retired: it still verifies the tokens it signed until they expire.
  std::string pem;
  bool can_sign = false;
  std::string created_at;  // FHIR instant
  std::string retired_at;  // empty while it signs
};

class SigningKeys {
 public:
  virtual ~SigningKeys() = default;

  // Every key, by kid.
  virtual StatusOr<std::vector<SigningKey>> readSigningKeys() = 0;
  // Inserts or replaces each key of `keys` (by kid) and deletes the kids of
  // `removed`, in one transaction.
  virtual Status writeSigningKeys(const std::vector<SigningKey>& keys, const std::vector<std::string>& removed) = 0;
};

}  // namespace ilpgw
