#include "security/token_service.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>

#include "base/crypto.h"
#include "base/json.h"
#include "base/log.h"
#include "base/text.h"
#include "base/time_util.h"

namespace ilpgw {
namespace fs = std::filesystem;
namespace {

constexpr const char* kIssuer = "ilp-gateway";
constexpr const char* kAudience = "ilp-gateway";
constexpr const char* kPrivateSuffix = ".key.pem";
constexpr const char* kPublicSuffix = ".pub.pem";
// Keys kept in the store are read again this often (a rotation elsewhere),
// and at most this often when a token names an unknown kid.
constexpr std::int64_t kSharedReloadMs = 30000;
constexpr std::int64_t kUnknownKidReloadMs = 1000;

std::int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t nowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

bool endsWith(const std::string& s, std::string_view suffix) {
  return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Writes `pem` to a new file readable only by the owner.
Status writePrivateFile(const fs::path& path, EVP_PKEY* key, bool private_part) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return Status(StatusCode::kUnavailable, "cannot create signing key file " + path.string());
  BIO* bio = BIO_new_fd(fd, BIO_CLOSE);
  int ok = private_part ? PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr)
                        : PEM_write_bio_PUBKEY(bio, key);
  BIO_free(bio);
  if (ok != 1) return Status(StatusCode::kUnavailable, "cannot write signing key file " + path.string());
  return Status::ok();
}

// The PEM text of a key's private part, or of its public part.
std::optional<std::string> pemText(EVP_PKEY* key, bool private_part) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return std::nullopt;
  int ok = private_part ? PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr)
                        : PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::optional<std::string> out;
  if (ok == 1 && size > 0) out = std::string(data, static_cast<size_t>(size));
  BIO_free(bio);
  return out;
}

// A P-256 key from PEM text (private or public), or null.
EVP_PKEY* readPem(std::string_view pem, bool private_part) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return nullptr;
  EVP_PKEY* pkey = private_part ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr)
                                : PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (pkey != nullptr && (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC || EVP_PKEY_get_bits(pkey) != 256)) {
    EVP_PKEY_free(pkey);
    return nullptr;
  }
  return pkey;
}

std::string newKid() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  // Sortable: the newest key has the greatest kid.
  return std::string("k") + stamp + "-" + hex(randomBytes(4));
}

StatusOr<std::string> createKey(const fs::path& dir) {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return Status(StatusCode::kInternal, "cannot generate a P-256 signing key");
  std::string kid = newKid();
  Status s = writePrivateFile(dir / (kid + kPrivateSuffix), key.get(), true);
  if (!s.isOk()) return s;
  return kid;
}

Status ensureDir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status(StatusCode::kUnavailable, "cannot create signing key directory " + dir.string());
  ::chmod(dir.c_str(), 0700);
  return Status::ok();
}

std::int64_t dirStamp(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return 0;
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

// JOSE carries ECDSA signatures as r||s (32 bytes each); OpenSSL uses DER.
std::optional<std::string> derToJose(const std::string& der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (sig == nullptr) return std::nullopt;
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig, &r, &s);
  std::string out(64, '\0');
  bool ok = BN_bn2binpad(r, reinterpret_cast<unsigned char*>(out.data()), 32) == 32 &&
            BN_bn2binpad(s, reinterpret_cast<unsigned char*>(out.data()) + 32, 32) == 32;
  ECDSA_SIG_free(sig);
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::string> joseToDer(std::string_view jose) { return ecdsaJoseToDer(jose, 32); }

Status unauthenticated(std::string message) { return Status(StatusCode::kUnauthenticated, std::move(message)); }

}  // namespace

struct TokenService::Key {
  Pkey pkey;
  bool can_sign = false;
};

TokenService::~TokenService() = default;

StatusOr<std::unique_ptr<TokenService>> TokenService::open(std::string key_dir, int ttl_s) {
  Status dir = ensureDir(key_dir);
  if (!dir.isOk()) return dir;
  std::unique_ptr<TokenService> service(new TokenService(std::move(key_dir), nullptr, ttl_s));
  Status loaded = service->load();
  if (!loaded.isOk()) return loaded;
  if (service->signing_kid_.empty()) {
    auto kid = createKey(service->key_dir_);
    if (!kid.isOk()) return kid.status();
    logLine(LogLevel::kInfo, "created token signing key " + kid.value() + " in " + service->key_dir_);
    loaded = service->load();
    if (!loaded.isOk()) return loaded;
  }
  return service;
}

StatusOr<std::unique_ptr<TokenService>> TokenService::open(SigningKeys& shared, int ttl_s) {
  std::unique_ptr<TokenService> service(new TokenService("", &shared, ttl_s));
  Status loaded = service->load();
  if (!loaded.isOk()) return loaded;
  if (service->signing_kid_.empty()) {
    // Instances starting together may each add one: every key verifies, the
    // newest signs.
    Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    auto pem = key ? pemText(key.get(), true) : std::nullopt;
    if (!pem) return Status(StatusCode::kInternal, "cannot generate a P-256 signing key");
    std::string kid = newKid();
    Status written = shared.writeSigningKeys({SigningKey{kid, *pem, true, nowInstant(), ""}}, {});
    if (!written.isOk()) return written;
    logLine(LogLevel::kInfo, "created token signing key " + kid + " in the store");
    loaded = service->load();
    if (!loaded.isOk()) return loaded;
  }
  return service;
}

Status TokenService::loadFromDirectory(std::map<std::string, std::shared_ptr<Key>>& keys, std::string& signing,
                                       std::int64_t& stamp) {
  stamp = dirStamp(key_dir_);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(key_dir_, ec)) {
    std::string name = entry.path().filename().string();
    bool is_private = endsWith(name, kPrivateSuffix);
    bool is_public = endsWith(name, kPublicSuffix);
    if (!is_private && !is_public) continue;
    std::string kid = name.substr(0, name.size() - std::strlen(is_private ? kPrivateSuffix : kPublicSuffix));
    struct stat st {};
    if (is_private && ::stat(entry.path().c_str(), &st) == 0 && (st.st_mode & 0077) != 0) {
      return Status(StatusCode::kInvalidArgument, "signing key " + entry.path().string() +
                                                      " is readable by other users; chmod 600 it");
    }
    std::ifstream in(entry.path(), std::ios::binary);
    if (!in) return Status(StatusCode::kInvalidArgument, "cannot read signing key " + entry.path().string());
    std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EVP_PKEY* pkey = readPem(pem, is_private);
    if (pkey == nullptr) {
      return Status(StatusCode::kInvalidArgument, "signing key " + entry.path().string() + " is not a P-256 key");
    }
    auto key = std::make_shared<Key>();
    key->pkey.reset(pkey);
    key->can_sign = is_private;
    if (is_private && kid > signing) signing = kid;
    auto& slot = keys[kid];
    if (!slot || is_private) slot = key;
  }
  if (ec) return Status(StatusCode::kUnavailable, "cannot list signing key directory " + key_dir_);
  return Status::ok();
}

Status TokenService::loadFromStore(std::map<std::string, std::shared_ptr<Key>>& keys, std::string& signing) {
  auto stored = shared_->readSigningKeys();
  if (!stored.isOk()) return stored.status();
  for (const auto& k : stored.value()) {
    EVP_PKEY* pkey = readPem(k.pem, k.can_sign);
    if (pkey == nullptr) return Status(StatusCode::kInvalidArgument, "signing key " + k.kid + " in the store is not a P-256 key");
    auto key = std::make_shared<Key>();
    key->pkey.reset(pkey);
    key->can_sign = k.can_sign;
    if (k.can_sign && k.kid > signing) signing = k.kid;
    keys[k.kid] = std::move(key);
  }
  return Status::ok();
}

Status TokenService::load() {
  std::map<std::string, std::shared_ptr<Key>> keys;
  std::string signing;
  std::int64_t stamp = 0;
  Status read = shared_ != nullptr ? loadFromStore(keys, signing) : loadFromDirectory(keys, signing, stamp);
  if (!read.isOk()) return read;
  std::unique_lock lock(mutex_);
  keys_ = std::move(keys);
  signing_kid_ = signing;
  dir_stamp_ = stamp;
  last_check_ms_ = nowMillis();
  std::unique_lock cache_lock(verified_mutex_);
  verified_.clear();  // a key may have been retired: verify everything afresh
  return Status::ok();
}

void TokenService::reloadShared(bool unknown_kid) {
  {
    std::unique_lock lock(mutex_);
    std::int64_t now = nowMillis();
    std::int64_t& last = unknown_kid ? last_unknown_kid_ms_ : last_check_ms_;
    if (now - last < (unknown_kid ? kUnknownKidReloadMs : kSharedReloadMs)) return;
    last = now;  // one reader at a time; the others go on with what they have
  }
  Status s = load();
  if (!s.isOk()) logLine(LogLevel::kError, "signing keys not reloaded from the store: " + s.message());
}

// Picks up `ilp-gateway key rotate` run while the gateway serves: the
// directory's mtime changes whenever a key file is added or removed.
void TokenService::reloadIfChanged() {
  if (shared_ != nullptr) return reloadShared(false);
  std::int64_t now = nowMillis();
  {
    std::shared_lock lock(mutex_);
    if (now - last_check_ms_ < 2000) return;
  }
  std::int64_t stamp = dirStamp(key_dir_);
  bool changed;
  {
    std::unique_lock lock(mutex_);
    last_check_ms_ = now;
    changed = stamp != dir_stamp_;
  }
  if (!changed) return;
  Status s = load();
  if (!s.isOk()) logLine(LogLevel::kError, "signing keys not reloaded: " + s.message());
}

StatusOr<std::string> TokenService::issue(TokenClaims claims) {
  reloadIfChanged();
  std::shared_ptr<Key> key;
  std::string kid;
  {
    std::shared_lock lock(mutex_);
    kid = signing_kid_;
    auto it = keys_.find(kid);
    if (it != keys_.end()) key = it->second;
  }
  if (!key || !key->can_sign) return Status(StatusCode::kUnavailable, "no signing key");
  claims.issued_at = nowSeconds();
  claims.expires_at = claims.issued_at + ttl_s_;
  claims.jti = base64UrlEncode(randomBytes(16));

  rapidjson::Document header(rapidjson::kObjectType);
  auto& ha = header.GetAllocator();
  header.AddMember("alg", "ES256", ha);
  header.AddMember("typ", "JWT", ha);
  header.AddMember("kid", json::str(kid, ha), ha);

  rapidjson::Document body(rapidjson::kObjectType);
  auto& a = body.GetAllocator();
  body.AddMember("iss", rapidjson::StringRef(kIssuer), a);
  body.AddMember("aud", rapidjson::StringRef(kAudience), a);
  body.AddMember("sub", json::str(claims.client_id, a), a);
  body.AddMember("iat", claims.issued_at, a);
  body.AddMember("exp", claims.expires_at, a);
  body.AddMember("jti", json::str(claims.jti, a), a);
  std::string scope;
  for (const auto& s : claims.scopes) scope += (scope.empty() ? "" : " ") + s;
  body.AddMember("scope", json::str(scope, a), a);
  body.AddMember("role", json::str(claims.role, a), a);
  if (!claims.organization.empty()) body.AddMember("org", json::str(claims.organization, a), a);
  if (!claims.cert_thumbprint.empty()) {
    rapidjson::Value cnf(rapidjson::kObjectType);
    cnf.AddMember("x5t#S256", json::str(claims.cert_thumbprint, a), a);
    body.AddMember("cnf", cnf, a);
  }
  std::string signing_input = base64UrlEncode(json::write(header)) + "." + base64UrlEncode(json::write(body));

  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t length = 0;
  std::string der;
  bool ok = ctx != nullptr && EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key->pkey.get()) == 1 &&
            EVP_DigestSign(ctx, nullptr, &length, reinterpret_cast<const unsigned char*>(signing_input.data()),
                           signing_input.size()) == 1;
  if (ok) {
    der.resize(length);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(der.data()), &length,
                        reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
    der.resize(length);
  }
  EVP_MD_CTX_free(ctx);
  auto jose = ok ? derToJose(der) : std::nullopt;
  if (!jose) return Status(StatusCode::kInternal, "token signing failed");
  return signing_input + "." + base64UrlEncode(*jose);
}

StatusOr<TokenClaims> TokenService::verify(std::string_view token) {
  reloadIfChanged();
  // A token is presented on every request of a keep-alive session; the ES256
  // check costs ~100 us of CPU, so a token whose exact bytes were verified
  // before is accepted from the cache until it expires. Expiry is still
  // checked; revocation is checked by the caller on every request.
  {
    std::shared_lock lock(verified_mutex_);
    auto it = verified_.find(token);
    if (it != verified_.end()) {
      if (it->second.expires_at > nowSeconds()) return it->second;
      lock.unlock();
      std::unique_lock write(verified_mutex_);
      verified_.erase(std::string(token));
      return unauthenticated("token expired");
    }
  }
  auto claims = verifyUncached(token);
  if (claims.isOk()) {
    std::unique_lock lock(verified_mutex_);
    if (verified_.size() >= kVerifiedCacheMax) verified_.clear();  // bounded; refills from live traffic
    verified_.emplace(std::string(token), claims.value());
  }
  return claims;
}

StatusOr<TokenClaims> TokenService::verifyUncached(std::string_view token) {
  size_t first = token.find('.');
  size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos ||
      token.size() > 8192) {
    return unauthenticated("malformed token");
  }
  auto header_text = base64Decode(token.substr(0, first));
  auto body_text = base64Decode(token.substr(first + 1, second - first - 1));
  auto signature = base64Decode(token.substr(second + 1));
  if (!header_text || !body_text || !signature) return unauthenticated("malformed token");
  rapidjson::Document header;
  rapidjson::Document body;
  if (json::parse(*header_text, header) || json::parse(*body_text, body) || !header.IsObject() || !body.IsObject()) {
    return unauthenticated("malformed token");
  }
  // Only ES256: "none", HS256 with the public key as secret and every other
  // algorithm confusion are refused before any key is touched.
  if (json::string(header, "alg") != "ES256") return unauthenticated("unsupported token algorithm");
  std::string kid(json::string(header, "kid"));
  std::shared_ptr<Key> key;
  {
    std::shared_lock lock(mutex_);
    auto it = keys_.find(kid);
    if (it != keys_.end()) key = it->second;
  }
  if (!key && shared_ != nullptr) {
    // A key another instance made moments ago.
    reloadShared(true);
    std::shared_lock lock(mutex_);
    auto it = keys_.find(kid);
    if (it != keys_.end()) key = it->second;
  }
  if (!key) return unauthenticated("unknown signing key");
  auto der = joseToDer(*signature);
  if (!der) return unauthenticated("invalid token signature");
  std::string_view signing_input = token.substr(0, second);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool valid = ctx != nullptr && EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key->pkey.get()) == 1 &&
               EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(der->data()), der->size(),
                                reinterpret_cast<const unsigned char*>(signing_input.data()),
                                signing_input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!valid) return unauthenticated("invalid token signature");

  if (json::string(body, "iss") != kIssuer || json::string(body, "aud") != kAudience) {
    return unauthenticated("token not issued for this gateway");
  }
  const rapidjson::Value* exp = json::member(body, "exp");
  const rapidjson::Value* iat = json::member(body, "iat");
  if (exp == nullptr || !exp->IsInt64() || iat == nullptr || !iat->IsInt64()) return unauthenticated("malformed token");
  std::int64_t now = nowSeconds();
  if (exp->GetInt64() <= now) return unauthenticated("token expired");
  if (iat->GetInt64() > now + 60) return unauthenticated("token issued in the future");
  TokenClaims claims;
  claims.client_id = std::string(json::string(body, "sub"));
  claims.role = std::string(json::string(body, "role"));
  claims.organization = std::string(json::string(body, "org"));
  claims.issued_at = iat->GetInt64();
  claims.expires_at = exp->GetInt64();
  claims.jti = std::string(json::string(body, "jti"));
  for (std::string_view scope : splitNonEmpty(json::string(body, "scope"), ' ')) claims.scopes.emplace_back(scope);
  if (const rapidjson::Value* cnf = json::member(body, "cnf")) {
    claims.cert_thumbprint = std::string(json::string(*cnf, "x5t#S256"));
  }
  if (claims.client_id.empty()) return unauthenticated("malformed token");
  return claims;
}

StatusOr<std::string> rotateSigningKey(const std::string& key_dir, int ttl_s) {
  Status dir = ensureDir(key_dir);
  if (!dir.isOk()) return dir;
  std::vector<fs::path> old_private;
  std::error_code ec;
  auto now = fs::file_time_type::clock::now();
  for (const auto& entry : fs::directory_iterator(key_dir, ec)) {
    std::string name = entry.path().filename().string();
    if (endsWith(name, kPrivateSuffix)) old_private.push_back(entry.path());
    // A public key retired longer ago than a token lives verifies nothing any more.
    if (endsWith(name, kPublicSuffix) && now - entry.last_write_time() > std::chrono::seconds(ttl_s + 300)) {
      fs::remove(entry.path(), ec);
    }
  }
  auto kid = createKey(key_dir);
  if (!kid.isOk()) return kid;
  for (const auto& path : old_private) {
    std::string name = path.filename().string();
    std::string old_kid = name.substr(0, name.size() - std::strlen(kPrivateSuffix));
    BIO* bio = BIO_new_file(path.c_str(), "r");
    EVP_PKEY* pkey = bio != nullptr ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr;
    BIO_free(bio);
    if (pkey == nullptr) continue;
    Pkey owned(pkey);
    fs::path public_path = path.parent_path() / (old_kid + kPublicSuffix);
    fs::remove(public_path, ec);
    Status s = writePrivateFile(public_path, pkey, false);
    if (!s.isOk()) return s;
    fs::remove(path, ec);  // the old private key signs nothing any more
  }
  return kid;
}

StatusOr<std::string> rotateSigningKey(SigningKeys& shared, int ttl_s) {
  auto stored = shared.readSigningKeys();
  if (!stored.isOk()) return stored.status();
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  auto pem = key ? pemText(key.get(), true) : std::nullopt;
  if (!pem) return Status(StatusCode::kInternal, "cannot generate a P-256 signing key");
  std::string now = nowInstant();
  std::string kid = newKid();
  std::vector<SigningKey> changed = {SigningKey{kid, *pem, true, now, ""}};
  std::vector<std::string> removed;
  auto retired_before = millisFromInstant(now).value_or(0) - (std::int64_t{ttl_s} + 300) * 1000;
  for (const auto& k : stored.value()) {
    if (k.can_sign) {
      // The old private key signs nothing any more; its public key verifies
      // the tokens it signed until they expire.
      Pkey old(readPem(k.pem, true));
      auto public_pem = old ? pemText(old.get(), false) : std::nullopt;
      if (!public_pem) return Status(StatusCode::kInvalidArgument, "signing key " + k.kid + " in the store is not a P-256 key");
      changed.push_back(SigningKey{k.kid, *public_pem, false, k.created_at, now});
    } else if (millisFromInstant(k.retired_at).value_or(0) < retired_before) {
      removed.push_back(k.kid);  // verifies nothing any more
    }
  }
  Status written = shared.writeSigningKeys(changed, removed);
  if (!written.isOk()) return written;
  return kid;
}

}  // namespace ilpgw
