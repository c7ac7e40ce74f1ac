// Client registry operations shared by the CLI (`ilp-gateway client ...`)
// and the token endpoint: roles and their scopes, registering, revoking and
// rotating clients (each change audited in the same transaction), and
// checking presented credentials in constant time.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "store/client_directory.h"

namespace ilpgw {

bool isValidRole(std::string_view role);
// Every scope a role may be granted; a token request may ask for fewer.
std::vector<std::string> roleScopes(std::string_view role);

struct NewClient {
  std::string client_id;  // empty: generated
  std::string role;
  std::string organization;  // required for clinic, refused for the others
  std::string cert_path;     // PEM certificate the client must present (mutual TLS); optional
  bool local_only = false;
  // private_key_jwt (SMART Backend Services): the client's public keys, as a
  // JWKS document or an https:// URL serving one. With either, no secret is
  // issued and the client authenticates only with signed assertions.
  std::string jwks;
  std::string jwks_url;
};

struct IssuedCredentials {
  ClientRecord record;
  std::string secret;  // shown once, never stored; empty for JWKS clients
};

// A fresh client id, "ROLE-ORGANIZATION-xxxxxxxx". The random part always holds a
// letter: the log masks runs of eight or more digits as possible identifiers, and
// a client id must stay readable in the log.
std::string newClientId(std::string_view role, std::string_view organization);

StatusOr<IssuedCredentials> addClient(ClientDirectory& clients, BatchWriter& writer, NewClient request, const std::string& actor);
Status revokeClient(ClientDirectory& clients, BatchWriter& writer, const std::string& client_id, const std::string& actor);
StatusOr<IssuedCredentials> rotateClientSecret(ClientDirectory& clients, BatchWriter& writer, const std::string& client_id, const std::string& actor);

// Checks id and secret. Unknown ids cost the same PBKDF2 work as known ones,
// so timing does not reveal which client ids exist. nullopt = refused.
std::optional<ClientRecord> authenticateClient(ClientDirectory& clients, std::string_view client_id, std::string_view secret);

// RFC 8705 thumbprint: base64url(SHA-256(DER certificate)).
StatusOr<std::string> certificateThumbprintFile(const std::string& pem_path);
std::string certificateThumbprintDer(std::string_view der);

}  // namespace ilpgw
