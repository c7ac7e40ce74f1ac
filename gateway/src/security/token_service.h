// Access tokens: short-lived JWTs signed with ES256 (ECDSA P-256, OpenSSL
// EVP). Signing keys live as PEM files in one directory (0700, files 0600),
// named by their `kid`, or in the store (auth.signing_keys "store"), where
// every instance sharing the database finds them; the newest private key
// signs, older keys are kept as public keys until every token they signed
// has expired (rotateSigningKey).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "base/status.h"
#include "store/signing_keys.h"

namespace ilpgw {

struct TokenClaims {
  std::string client_id;     // sub
  std::string role;
  std::string organization;  // "" for puller and admin
  std::vector<std::string> scopes;
  std::int64_t issued_at = 0;   // iat, seconds since the epoch
  std::int64_t expires_at = 0;  // exp
  std::string jti;
  std::string cert_thumbprint;  // cnf.x5t#S256 (RFC 8705); "" when not bound
};

class TokenService {
 public:
  // Loads the keys of `key_dir`, creating the directory and a first key when
  // there is none. Fails on unreadable keys or keys readable by others.
  static StatusOr<std::unique_ptr<TokenService>> open(std::string key_dir, int ttl_s);
  // The keys of the store, creating a first key when none signs. Read again
  // every half minute (a rotation on another instance) and at once, at
  // most every second, when a token names a kid not known yet.
  static StatusOr<std::unique_ptr<TokenService>> open(SigningKeys& shared, int ttl_s);
  ~TokenService();

  int ttlSeconds() const { return ttl_s_; }

  // Signs `claims` (issued_at, expires_at and jti are filled in here).
  StatusOr<std::string> issue(TokenClaims claims);
  // Checks structure, algorithm (ES256 only), kid, signature, issuer,
  // audience and expiry. The message is safe to return to the caller.
  StatusOr<TokenClaims> verify(std::string_view token);

 private:
  struct Key;
  TokenService(std::string key_dir, SigningKeys* shared, int ttl_s)
      : key_dir_(std::move(key_dir)), shared_(shared), ttl_s_(ttl_s) {}
  Status load();
  Status loadFromDirectory(std::map<std::string, std::shared_ptr<Key>>& keys, std::string& signing,
                           std::int64_t& stamp);
  Status loadFromStore(std::map<std::string, std::shared_ptr<Key>>& keys, std::string& signing);
  // Reads the store's keys again: every half minute, and for a token naming
  // an unknown kid at most once a second.
  void reloadShared(bool unknown_kid);
  void reloadIfChanged();
  StatusOr<TokenClaims> verifyUncached(std::string_view token);

  static constexpr size_t kVerifiedCacheMax = 10000;
  std::shared_mutex verified_mutex_;
  std::map<std::string, TokenClaims, std::less<>> verified_;  // token text -> claims

  std::string key_dir_;
  SigningKeys* shared_ = nullptr;
  int ttl_s_;
  std::shared_mutex mutex_;
  std::map<std::string, std::shared_ptr<Key>> keys_;  // by kid
  std::string signing_kid_;
  std::int64_t dir_stamp_ = 0;
  std::int64_t last_check_ms_ = 0;
  std::int64_t last_unknown_kid_ms_ = 0;
};

// Creates a new signing key in `key_dir`; older private keys become
// public-only (they still verify tokens they signed), and public keys retired
// more than `ttl_s` ago are deleted. Returns the new kid.
StatusOr<std::string> rotateSigningKey(const std::string& key_dir, int ttl_s);
// The same for the keys the store keeps, in one write.
StatusOr<std::string> rotateSigningKey(SigningKeys& shared, int ttl_s);

}  // namespace ilpgw
