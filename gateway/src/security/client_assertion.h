// Client authentication with a signed JWT (RFC 7523 client assertions, as
// SMART Backend Services uses them: "private_key_jwt"). A backend client
// registers public keys, as a JWKS document or the HTTPS URL of one, and
// proves itself at the token endpoint with a short-lived assertion signed
// with RS384 or ES384; nothing secret is stored on the gateway.
//
// The parsing functions are pure (no clock, no store, no network) so they can
// be tested and fuzzed on their own; ClientAssertionVerifier adds the key
// lookup, the JWKS URL cache and replay protection.
#pragma once

#include <openssl/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/client_directory.h"

namespace ilpgw {

inline constexpr std::string_view kJwtBearerAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
// SMART Backend Services: exp no more than five minutes in the future.
inline constexpr std::int64_t kAssertionMaxLifetimeS = 300;
// Allowance for clocks that disagree a little (exp ahead, nbf and iat).
inline constexpr std::int64_t kAssertionClockSkewS = 30;
inline constexpr size_t kAssertionMaxBytes = 16384;

// A client assertion split and decoded; nothing is verified yet.
struct ClientAssertion {
  std::string alg;
  std::string kid;
  std::string iss;
  std::string sub;
  std::string jti;
  std::vector<std::string> aud;  // a JWT may carry one audience or several
  std::optional<std::int64_t> exp;
  std::optional<std::int64_t> nbf;
  std::string signing_input;  // "header.payload" exactly as received
  std::string signature;      // decoded bytes
};

// Splits and decodes a compact JWS. Refuses anything that is not three
// base64url parts with JSON objects, an `alg` string, a `crit` header (no
// extension is understood) or claims of the wrong JSON type. The message is
// safe to return to the caller.
StatusOr<ClientAssertion> parseClientAssertion(std::string_view jwt);

// A public key from a client's JWKS and the one algorithm it verifies.
struct ClientKey {
  std::string kid;
  std::string alg;  // "RS384" (RSA) or "ES384" (EC P-384)
  std::shared_ptr<EVP_PKEY> key;
};

// Reads a JWKS document ({"keys": [...]}) into verification keys: RSA (n, e;
// 2048..8192 bits) and EC P-384 (x, y, checked to be on the curve). Keys for
// encryption ("use": "enc") or declaring another "alg" are skipped. Refuses a
// set holding private key members, a symmetric key, a key without kid, a
// repeated kid, or no usable key at all.
StatusOr<std::vector<ClientKey>> parseJwks(std::string_view document);

// Checks one parsed assertion against the client's keys: algorithm (RS384 or
// ES384 only: "none" and HS* never reach a key), kid (kNotFound when no key
// has it, so the caller may refetch a JWKS URL), signature, iss = sub =
// client_id, `audience` among aud, exp in (now, now + 5 min], nbf, and a jti.
// Replay is not checked here. Other failures are kUnauthenticated.
Status verifyClientAssertion(const ClientAssertion& assertion, const std::vector<ClientKey>& keys,
                             std::string_view client_id, std::string_view audience, std::int64_t now);

// Fetches a JWKS document over HTTPS; supplied by the HTTP layer.
using JwksFetcher = std::function<StatusOr<std::string>(const std::string& url)>;

// The token endpoint's private_key_jwt check. Thread-safe; one per server.
class ClientAssertionVerifier {
 public:
  explicit ClientAssertionVerifier(JwksFetcher fetcher) : fetcher_(std::move(fetcher)) {}

  // The registered, active client that signed `assertion` for `audience`
  // (the token endpoint URL). kUnauthenticated with a message safe to return
  // when the client is refused; kUnavailable when the store is.
  StatusOr<ClientRecord> authenticate(ClientDirectory& store, const ClientAssertion& assertion, std::string_view audience);

  // JWKS documents fetched from a URL are used for an hour, then fetched
  // again (the old set stays in use for up to a day while the URL fails). An
  // unknown kid fetches again at once, but at most every few seconds per URL,
  // so made-up kids cannot turn the gateway into a request generator.
  static constexpr std::int64_t kJwksRefreshMs = 3600 * 1000;
  static constexpr std::int64_t kJwksStaleMaxMs = 24 * 3600 * 1000;
  static constexpr std::int64_t kJwksRefetchMinMs = 5000;
  // Replay memory is bounded: beyond it new assertions wait for old ones to expire.
  static constexpr size_t kJtiMax = 100000;

 private:
  struct UrlKeys {
    std::vector<ClientKey> keys;
    std::int64_t fetched_ms = 0;   // last successful fetch
    std::int64_t attempt_ms = 0;   // last attempt, successful or not
  };
  StatusOr<std::vector<ClientKey>> urlKeys(const std::string& url, std::string_view kid);
  // false when (client, jti) was seen before its expiry.
  StatusOr<bool> rememberJti(const std::string& client_id, const std::string& jti, std::int64_t exp,
                             std::int64_t now);

  JwksFetcher fetcher_;
  std::mutex urls_mutex_;
  std::map<std::string, UrlKeys> urls_;
  std::mutex jti_mutex_;
  std::map<std::string, std::int64_t> jtis_;  // client_id + '\n' + jti -> exp
};

}  // namespace ilpgw
