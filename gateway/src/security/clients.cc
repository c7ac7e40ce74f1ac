#include "security/clients.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "security/audit.h"
#include "security/client_assertion.h"
#include "base/crypto.h"
#include "security/request_context.h"
#include "base/time_util.h"

namespace ilpgw {
namespace {

bool validName(std::string_view s, size_t min, size_t max) {
  if (s.size() < min || s.size() > max) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') return false;
  }
  return true;
}

AuditWrite adminEvent(const std::string& subtype, const std::string& actor, const std::string& client_id, int status,
                      const std::string& description) {
  AuditInfo info;
  info.kind = AuditKind::kAdmin;
  info.subtype = subtype;
  info.action = subtype == "client-add" ? 'C' : subtype == "client-revoke" ? 'D' : 'U';
  info.http_status = status;
  info.agent = actor;
  info.entities = {"Client/" + client_id};
  info.description = description;
  return makeAuditEvent(info);
}

std::string newSecret() { return base64UrlEncode(randomBytes(32)); }

}  // namespace

std::string newClientId(std::string_view role, std::string_view organization) {
  std::string suffix;
  do {
    suffix = hex(randomBytes(4));
  } while (suffix.find_first_not_of("0123456789") == std::string::npos);
  std::string id(role);
  id += '-';
  if (!organization.empty()) {
    id += organization;
    id += '-';
  }
  return id + suffix;
}

bool isValidRole(std::string_view role) { return parseRole(role).has_value(); }

std::vector<std::string> roleScopes(std::string_view role) {
  auto parsed = parseRole(role);
  if (!parsed) return {};
  switch (*parsed) {
    case Role::kClinic: return {std::string(kScopeWrite), std::string(kScopeRead)};
    case Role::kPuller: return {std::string(kScopeRead)};
    case Role::kAdmin: return {std::string(kScopeAdmin)};
    case Role::kPerson:
    case Role::kDevelopment: return {};
  }
  return {};
}

StatusOr<IssuedCredentials> addClient(ClientDirectory& clients, BatchWriter& writer, NewClient request, const std::string& actor) {
  if (!isValidRole(request.role)) {
    return Status(StatusCode::kInvalidArgument, "--role must be clinic, puller or admin");
  }
  bool clinic = parseRole(request.role) == Role::kClinic;
  if (clinic && !validName(request.organization, 1, 64)) {
    return Status(StatusCode::kInvalidArgument, "a clinic client needs --org ORGANIZATION_ID (letters, digits, - . _)");
  }
  if (!clinic && !request.organization.empty()) {
    return Status(StatusCode::kInvalidArgument, "only clinic clients are bound to an organization");
  }
  if (request.client_id.empty()) {
    request.client_id = newClientId(request.role, request.organization);
  }
  if (!validName(request.client_id, 3, 64)) {
    return Status(StatusCode::kInvalidArgument, "client id must be 3..64 letters, digits, - . _");
  }
  auto existing = clients.findClient(request.client_id);
  if (!existing.isOk()) return existing.status();
  if (existing.value()) return Status(StatusCode::kConflict, "client " + request.client_id + " already exists");
  if (!request.jwks.empty() && !request.jwks_url.empty()) {
    return Status(StatusCode::kInvalidArgument, "register either --jwks or --jwks-url, not both");
  }
  if (!request.jwks_url.empty() && (request.jwks_url.rfind("https://", 0) != 0 || request.jwks_url.size() > 2048)) {
    return Status(StatusCode::kInvalidArgument, "--jwks-url must be an https:// URL");
  }
  if (!request.jwks.empty()) {
    auto keys = parseJwks(request.jwks);
    if (!keys.isOk()) return keys.status();
  }
  bool key_client = !request.jwks.empty() || !request.jwks_url.empty();
  IssuedCredentials issued;
  if (!key_client) issued.secret = newSecret();
  ClientRecord& r = issued.record;
  r.client_id = request.client_id;
  r.role = request.role;
  r.organization = request.organization;
  r.secret_hash = key_client ? "" : hashSecret(issued.secret);
  r.jwks = request.jwks;
  r.jwks_url = request.jwks_url;
  r.local_only = request.local_only;
  r.created_at = nowInstant();
  if (!request.cert_path.empty()) {
    auto thumbprint = certificateThumbprintFile(request.cert_path);
    if (!thumbprint.isOk()) return thumbprint.status();
    r.cert_thumbprint = thumbprint.value();
  }
  WriteBatch batch;
  batch.clients.push_back(r);
  batch.audit.push_back(adminEvent("client-add", actor, r.client_id, 201,
                                   "role " + r.role + (key_client ? ", private_key_jwt" : "")));
  auto committed = writer.commit(std::move(batch));
  if (!committed.isOk()) return committed.status();
  return issued;
}

Status revokeClient(ClientDirectory& clients, BatchWriter& writer, const std::string& client_id, const std::string& actor) {
  auto found = clients.findClient(client_id);
  if (!found.isOk()) return found.status();
  if (!found.value()) return Status(StatusCode::kNotFound, "no client " + client_id);
  ClientRecord r = *found.value();
  if (!r.revoked_at.empty()) return Status::ok();
  r.revoked_at = nowInstant();
  WriteBatch batch;
  batch.clients.push_back(r);
  batch.audit.push_back(adminEvent("client-revoke", actor, r.client_id, 200, "revoked"));
  auto committed = writer.commit(std::move(batch));
  return committed.isOk() ? Status::ok() : committed.status();
}

StatusOr<IssuedCredentials> rotateClientSecret(ClientDirectory& clients, BatchWriter& writer, const std::string& client_id, const std::string& actor) {
  auto found = clients.findClient(client_id);
  if (!found.isOk()) return found.status();
  if (!found.value()) return Status(StatusCode::kNotFound, "no client " + client_id);
  if (!found.value()->revoked_at.empty()) return Status(StatusCode::kConflict, "client " + client_id + " is revoked");
  if (found.value()->secret_hash.empty()) {
    return Status(StatusCode::kConflict, "client " + client_id + " authenticates with its JWKS; it has no secret to rotate");
  }
  IssuedCredentials issued{*found.value(), newSecret()};
  issued.record.secret_hash = hashSecret(issued.secret);
  WriteBatch batch;
  batch.clients.push_back(issued.record);
  batch.audit.push_back(adminEvent("client-rotate", actor, client_id, 200, "new secret"));
  auto committed = writer.commit(std::move(batch));
  if (!committed.isOk()) return committed.status();
  return issued;
}

std::optional<ClientRecord> authenticateClient(ClientDirectory& clients, std::string_view client_id, std::string_view secret) {
  // Same work for unknown ids: a hash of a random secret, verified and ignored.
  static const std::string kDummyHash = hashSecret(base64UrlEncode(randomBytes(32)));
  std::optional<ClientRecord> client;
  if (client_id.size() <= 64) {
    auto found = clients.findClient(client_id);
    if (found.isOk()) client = found.value();
  }
  // JWKS clients have no secret: they do the same work and are refused.
  bool has_secret = client && !client->secret_hash.empty();
  bool secret_ok = verifySecret(secret, has_secret ? client->secret_hash : kDummyHash);
  if (!has_secret || !secret_ok || !client->revoked_at.empty()) return std::nullopt;
  return client;
}

std::string certificateThumbprintDer(std::string_view der) { return base64UrlEncode(sha256(der)); }

StatusOr<std::string> certificateThumbprintFile(const std::string& pem_path) {
  BIO* bio = BIO_new_file(pem_path.c_str(), "r");
  X509* cert = bio != nullptr ? PEM_read_bio_X509(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  if (cert == nullptr) return Status(StatusCode::kInvalidArgument, "cannot read a PEM certificate from " + pem_path);
  unsigned char* der = nullptr;
  int length = i2d_X509(cert, &der);
  X509_free(cert);
  if (length <= 0) return Status(StatusCode::kInvalidArgument, "cannot encode certificate " + pem_path);
  std::string out = certificateThumbprintDer(std::string_view(reinterpret_cast<char*>(der), static_cast<size_t>(length)));
  OPENSSL_free(der);
  return out;
}

}  // namespace ilpgw
