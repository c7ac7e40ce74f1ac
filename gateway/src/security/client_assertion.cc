#include "security/client_assertion.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <chrono>
#include <cmath>

#include "base/crypto.h"
#include "base/json.h"
#include "base/log.h"

namespace ilpgw {
namespace {

Status refused(std::string message) { return Status(StatusCode::kUnauthenticated, std::move(message)); }

std::int64_t steadyMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::int64_t wallSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A NumericDate claim: absent is fine (nullopt), anything but a finite number is not.
bool numericDate(const rapidjson::Value& body, const char* name, std::optional<std::int64_t>& out) {
  const rapidjson::Value* v = json::member(body, name);
  if (v == nullptr) return true;
  if (v->IsInt64()) {
    out = v->GetInt64();
    return true;
  }
  if (v->IsDouble() && std::isfinite(v->GetDouble()) && std::fabs(v->GetDouble()) < 1e15) {
    out = static_cast<std::int64_t>(std::floor(v->GetDouble()));
    return true;
  }
  return false;
}

bool optionalString(const rapidjson::Value& object, const char* name, std::string& out) {
  const rapidjson::Value* v = json::member(object, name);
  if (v == nullptr) return true;
  if (!v->IsString()) return false;
  out.assign(v->GetString(), v->GetStringLength());
  return true;
}

struct BnDeleter {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
using Bn = std::unique_ptr<BIGNUM, BnDeleter>;

std::shared_ptr<EVP_PKEY> fromParams(const char* type, OSSL_PARAM_BLD* builder) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(builder);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* pkey = nullptr;
  bool ok = params != nullptr && ctx != nullptr && EVP_PKEY_fromdata_init(ctx) == 1 &&
            EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) == 1;
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  if (!ok) {
    EVP_PKEY_free(pkey);
    return nullptr;
  }
  // fromdata takes the numbers as given: check that an EC point lies on the
  // curve and that an RSA modulus and exponent are sane before trusting them.
  EVP_PKEY_CTX* check = EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr);
  bool valid = check != nullptr && EVP_PKEY_public_check(check) == 1;
  EVP_PKEY_CTX_free(check);
  if (!valid) {
    EVP_PKEY_free(pkey);
    return nullptr;
  }
  return std::shared_ptr<EVP_PKEY>(pkey, EVP_PKEY_free);
}

std::optional<std::string> decodedMember(const rapidjson::Value& jwk, const char* name) {
  std::string_view text = json::string(jwk, name);
  if (text.empty()) return std::nullopt;
  return base64Decode(text);
}

std::shared_ptr<EVP_PKEY> rsaKey(const rapidjson::Value& jwk) {
  auto n = decodedMember(jwk, "n");
  auto e = decodedMember(jwk, "e");
  if (!n || !e || n->empty() || e->empty() || e->size() > 8) return nullptr;
  Bn bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()), static_cast<int>(n->size()), nullptr));
  Bn bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()), static_cast<int>(e->size()), nullptr));
  if (!bn_n || !bn_e || BN_num_bits(bn_n.get()) < 2048 || BN_num_bits(bn_n.get()) > 8192) return nullptr;
  OSSL_PARAM_BLD* builder = OSSL_PARAM_BLD_new();
  std::shared_ptr<EVP_PKEY> key;
  if (builder != nullptr && OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_N, bn_n.get()) == 1 &&
      OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_E, bn_e.get()) == 1) {
    key = fromParams("RSA", builder);
  }
  OSSL_PARAM_BLD_free(builder);
  return key;
}

std::shared_ptr<EVP_PKEY> p384Key(const rapidjson::Value& jwk) {
  auto x = decodedMember(jwk, "x");
  auto y = decodedMember(jwk, "y");
  if (!x || !y || x->size() != 48 || y->size() != 48) return nullptr;
  std::string point = "\x04" + *x + *y;  // uncompressed SEC 1 point
  OSSL_PARAM_BLD* builder = OSSL_PARAM_BLD_new();
  std::shared_ptr<EVP_PKEY> key;
  if (builder != nullptr &&
      OSSL_PARAM_BLD_push_utf8_string(builder, OSSL_PKEY_PARAM_GROUP_NAME, "P-384", 0) == 1 &&
      OSSL_PARAM_BLD_push_octet_string(builder, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) == 1) {
    key = fromParams("EC", builder);
  }
  OSSL_PARAM_BLD_free(builder);
  return key;
}

// JOSE carries ECDSA signatures as r||s (48 bytes each for P-384); OpenSSL
// verifies DER.
std::optional<std::string> p384JoseToDer(std::string_view jose) { return ecdsaJoseToDer(jose, 48); }

bool signatureValid(const ClientKey& key, const ClientAssertion& assertion) {
  std::string der_storage;
  std::string_view signature = assertion.signature;
  if (key.alg == "ES384") {
    auto der = p384JoseToDer(assertion.signature);
    if (!der) return false;
    der_storage = std::move(*der);
    signature = der_storage;
  }
  // RSA keys default to PKCS #1 v1.5 padding: RS384 as RFC 7518 defines it.
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool valid = ctx != nullptr && EVP_DigestVerifyInit(ctx, nullptr, EVP_sha384(), nullptr, key.key.get()) == 1 &&
               EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                                reinterpret_cast<const unsigned char*>(assertion.signing_input.data()),
                                assertion.signing_input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return valid;
}

}  // namespace

StatusOr<ClientAssertion> parseClientAssertion(std::string_view jwt) {
  if (jwt.size() > kAssertionMaxBytes) return refused("client assertion too large");
  size_t first = jwt.find('.');
  size_t second = first == std::string_view::npos ? first : jwt.find('.', first + 1);
  if (second == std::string_view::npos || jwt.find('.', second + 1) != std::string_view::npos) {
    return refused("client assertion is not a compact JWS");
  }
  auto header_text = base64Decode(jwt.substr(0, first));
  auto body_text = base64Decode(jwt.substr(first + 1, second - first - 1));
  auto signature = base64Decode(jwt.substr(second + 1));
  if (!header_text || !body_text || !signature) return refused("client assertion is not base64url");
  rapidjson::Document header;
  rapidjson::Document body;
  if (json::parse(*header_text, header) || json::parse(*body_text, body) || !header.IsObject() || !body.IsObject()) {
    return refused("client assertion header or claims are not JSON objects");
  }
  if (json::member(header, "crit") != nullptr) return refused("client assertion has critical header extensions");
  ClientAssertion out;
  const rapidjson::Value* alg = json::member(header, "alg");
  if (alg == nullptr || !alg->IsString()) return refused("client assertion has no alg");
  out.alg.assign(alg->GetString(), alg->GetStringLength());
  if (!optionalString(header, "kid", out.kid)) return refused("client assertion kid must be a string");
  if (!optionalString(body, "iss", out.iss) || !optionalString(body, "sub", out.sub) ||
      !optionalString(body, "jti", out.jti)) {
    return refused("client assertion iss, sub and jti must be strings");
  }
  if (const rapidjson::Value* aud = json::member(body, "aud")) {
    if (aud->IsString()) {
      out.aud.emplace_back(aud->GetString(), aud->GetStringLength());
    } else if (aud->IsArray()) {
      for (const auto& item : aud->GetArray()) {
        if (!item.IsString()) return refused("client assertion aud must be strings");
        out.aud.emplace_back(item.GetString(), item.GetStringLength());
      }
    } else {
      return refused("client assertion aud must be a string or an array of strings");
    }
  }
  if (!numericDate(body, "exp", out.exp) || !numericDate(body, "nbf", out.nbf)) {
    return refused("client assertion exp and nbf must be numbers");
  }
  out.signing_input = std::string(jwt.substr(0, second));
  out.signature = std::move(*signature);
  return out;
}

StatusOr<std::vector<ClientKey>> parseJwks(std::string_view document) {
  rapidjson::Document doc;
  if (json::parse(document, doc) || !doc.IsObject()) return Status(StatusCode::kInvalidArgument, "the JWKS is not a JSON object");
  const rapidjson::Value* keys = json::member(doc, "keys");
  if (keys == nullptr || !keys->IsArray()) return Status(StatusCode::kInvalidArgument, "the JWKS has no \"keys\" array");
  std::vector<ClientKey> out;
  for (const auto& jwk : keys->GetArray()) {
    if (!jwk.IsObject()) return Status(StatusCode::kInvalidArgument, "a JWKS key is not an object");
    std::string kty(json::string(jwk, "kty"));
    std::string kid(json::string(jwk, "kid"));
    // Private members mean the publishing side leaked its private key.
    for (const char* secret : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}) {
      if (json::member(jwk, secret) != nullptr) {
        return Status(StatusCode::kInvalidArgument, "the JWKS holds private or symmetric key material (\"" +
                                                        std::string(secret) + "\"); publish public keys only");
      }
    }
    if (kty == "oct") return Status(StatusCode::kInvalidArgument, "the JWKS holds a symmetric key");
    if (kid.empty()) return Status(StatusCode::kInvalidArgument, "every JWKS key needs a kid");
    for (const auto& existing : out) {
      if (existing.kid == kid) return Status(StatusCode::kInvalidArgument, "kid " + kid + " appears twice in the JWKS");
    }
    std::string use(json::string(jwk, "use"));
    std::string declared(json::string(jwk, "alg"));
    if (!use.empty() && use != "sig") continue;
    ClientKey key;
    key.kid = kid;
    if (kty == "RSA") {
      key.alg = "RS384";
      key.key = rsaKey(jwk);
    } else if (kty == "EC" && json::string(jwk, "crv") == "P-384") {
      key.alg = "ES384";
      key.key = p384Key(jwk);
    } else {
      continue;  // another curve or key type: not one we verify
    }
    if (!declared.empty() && declared != key.alg) continue;
    if (!key.key) return Status(StatusCode::kInvalidArgument, "JWKS key " + kid + " is not a valid public key");
    out.push_back(std::move(key));
  }
  if (out.empty()) {
    return Status(StatusCode::kInvalidArgument, "the JWKS has no RS384 (RSA >= 2048 bits) or ES384 (EC P-384) key");
  }
  return out;
}

Status verifyClientAssertion(const ClientAssertion& assertion, const std::vector<ClientKey>& keys,
                             std::string_view client_id, std::string_view audience, std::int64_t now) {
  if (assertion.alg != "RS384" && assertion.alg != "ES384") {
    return refused("client assertion algorithm must be RS384 or ES384");
  }
  if (assertion.kid.empty()) return refused("client assertion has no kid");
  const ClientKey* key = nullptr;
  for (const auto& k : keys) {
    if (k.kid == assertion.kid) key = &k;
  }
  if (key == nullptr) return Status(StatusCode::kNotFound, "client assertion kid is not among the client's keys");
  if (key->alg != assertion.alg) return refused("client assertion alg does not match its key");
  if (!signatureValid(*key, assertion)) return refused("client assertion signature is invalid");
  if (assertion.iss != client_id || assertion.sub != client_id) {
    return refused("client assertion iss and sub must both be the client_id");
  }
  bool audience_ok = false;
  for (const auto& a : assertion.aud) audience_ok = audience_ok || a == audience;
  if (!audience_ok) return refused("client assertion aud must be the token endpoint URL " + std::string(audience));
  if (!assertion.exp) return refused("client assertion has no exp");
  if (*assertion.exp <= now) return refused("client assertion expired");
  if (*assertion.exp > now + kAssertionMaxLifetimeS + kAssertionClockSkewS) {
    return refused("client assertion exp is more than five minutes ahead");
  }
  if (assertion.nbf && *assertion.nbf > now + kAssertionClockSkewS) return refused("client assertion is not yet valid");
  if (assertion.jti.empty() || assertion.jti.size() > 256) return refused("client assertion needs a jti (1..256 characters)");
  return Status::ok();
}

StatusOr<ClientRecord> ClientAssertionVerifier::authenticate(ClientDirectory& store, const ClientAssertion& assertion,
                                                             std::string_view audience) {
  if (assertion.iss.empty() || assertion.iss.size() > 64) return refused("client assertion has no valid iss");
  auto found = store.findClient(assertion.iss);
  if (!found.isOk()) return Status(StatusCode::kUnavailable, "the store is unavailable; retry later");
  if (!found.value() || !found.value()->revoked_at.empty()) return refused("client authentication failed");
  const ClientRecord& client = *found.value();
  if (client.jwks.empty() && client.jwks_url.empty()) return refused("this client has no registered public keys");

  std::int64_t now = wallSeconds();
  Status verified;
  if (!client.jwks.empty()) {
    auto keys = parseJwks(client.jwks);
    if (!keys.isOk()) return refused("the client's registered JWKS is not usable");
    verified = verifyClientAssertion(assertion, keys.value(), client.client_id, audience, now);
  } else {
    auto keys = urlKeys(client.jwks_url, assertion.kid);
    if (!keys.isOk()) return keys.status();
    verified = verifyClientAssertion(assertion, keys.value(), client.client_id, audience, now);
  }
  if (verified.code() == StatusCode::kNotFound) return refused(verified.message());
  if (!verified.isOk()) return verified;
  // Only after the signature: otherwise anyone could burn a client's jti.
  auto fresh = rememberJti(client.client_id, assertion.jti, *assertion.exp, now);
  if (!fresh.isOk()) return fresh.status();
  if (!fresh.value()) return refused("client assertion jti was already used");
  return client;
}

StatusOr<std::vector<ClientKey>> ClientAssertionVerifier::urlKeys(const std::string& url, std::string_view kid) {
  std::int64_t now = steadyMillis();
  std::vector<ClientKey> cached;
  bool have = false;
  {
    std::lock_guard lock(urls_mutex_);
    auto it = urls_.find(url);
    if (it != urls_.end() && it->second.fetched_ms > 0) {
      UrlKeys& entry = it->second;
      bool known_kid = false;
      for (const auto& k : entry.keys) known_kid = known_kid || k.kid == kid;
      bool due = now - entry.fetched_ms > kJwksRefreshMs || !known_kid;
      bool may_fetch = now - entry.attempt_ms >= kJwksRefetchMinMs;
      if (!due || !may_fetch) return entry.keys;
      cached = entry.keys;
      have = now - entry.fetched_ms <= kJwksStaleMaxMs;
      entry.attempt_ms = now;
    } else {
      UrlKeys& entry = urls_[url];
      if (entry.attempt_ms > 0 && now - entry.attempt_ms < kJwksRefetchMinMs) {
        return refused("the client's JWKS URL could not be fetched; retry later");
      }
      entry.attempt_ms = now;
    }
  }
  // Fetched outside the lock: one slow URL must not hold up other clients.
  auto document = fetcher_ ? fetcher_(url) : StatusOr<std::string>(Status(StatusCode::kUnavailable, "no fetcher"));
  StatusOr<std::vector<ClientKey>> keys = document.isOk() ? parseJwks(document.value()) : document.status();
  if (!keys.isOk()) {
    logLine(LogLevel::kWarning, "JWKS from " + url + " not refreshed: " + keys.status().message());
    if (have) return cached;
    return refused("the client's JWKS URL could not be fetched or read");
  }
  std::lock_guard lock(urls_mutex_);
  UrlKeys& entry = urls_[url];
  entry.keys = keys.value();
  entry.fetched_ms = steadyMillis();
  return keys;
}

StatusOr<bool> ClientAssertionVerifier::rememberJti(const std::string& client_id, const std::string& jti,
                                                    std::int64_t exp, std::int64_t now) {
  std::string key = client_id + '\n' + jti;
  std::lock_guard lock(jti_mutex_);
  auto it = jtis_.find(key);
  if (it != jtis_.end() && it->second > now) return false;
  if (jtis_.size() >= kJtiMax) {
    for (auto i = jtis_.begin(); i != jtis_.end();) i = i->second <= now ? jtis_.erase(i) : std::next(i);
    if (jtis_.size() >= kJtiMax) {
      return Status(StatusCode::kUnavailable, "too many client assertions in flight; retry in a few minutes");
    }
  }
  jtis_[key] = exp;
  return true;
}

}  // namespace ilpgw
