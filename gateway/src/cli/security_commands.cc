// ilp-gateway client | key | audit: security administration.
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "ingest/adapter_tools.h"
#include "http/client.h"
#include "security/audit.h"
#include "security/client_assertion.h"
#include "security/clients.h"
#include "base/config.h"
#include "security/token_service.h"
#include "ingest/gateway.h"
#include "ingest/quarantine.h"
#include "base/log.h"
#include "fhir/outcome.h"
#include "http/server.h"
#include "cli/args.h"
#include "cli/commands.h"

namespace ilpgw::cli {

namespace {

void printCredentials(const ilpgw::IssuedCredentials& issued) {
  const auto& r = issued.record;
  std::printf("client_id=%s\n", r.client_id.c_str());
  if (!issued.secret.empty()) std::printf("client_secret=%s\n", issued.secret.c_str());
  std::printf("role=%s\n", r.role.c_str());
  if (!r.organization.empty()) std::printf("organization=%s\n", r.organization.c_str());
  if (!r.cert_thumbprint.empty()) std::printf("cert_x5t_s256=%s\n", r.cert_thumbprint.c_str());
  if (!r.jwks.empty()) std::printf("token_endpoint_auth_method=private_key_jwt\njwks=registered\n");
  if (!r.jwks_url.empty()) std::printf("token_endpoint_auth_method=private_key_jwt\njwks_url=%s\n", r.jwks_url.c_str());
  if (r.local_only) std::printf("local_only=true\n");
  if (!issued.secret.empty()) {
    std::fprintf(stderr, "The secret is shown only now and stored only as a salted hash: keep it safe.\n");
  }
}

// The JWKS named on the command line: read from --jwks FILE, or fetched once
// from --jwks-url so a typo or an unreachable URL is found now, not at the
// client's first token request (the gateway fetches it again itself).
ilpgw::Status readClientKeys(const Args& args, const ilpgw::Config& config, std::string& jwks) {
  if (!args.jwks_file.empty()) {
    std::ifstream in(args.jwks_file, std::ios::binary);
    if (!in) return ilpgw::Status(ilpgw::StatusCode::kInvalidArgument, "cannot read " + args.jwks_file);
    std::stringstream text;
    text << in.rdbuf();
    jwks = text.str();
    if (jwks.empty()) return ilpgw::Status(ilpgw::StatusCode::kInvalidArgument, args.jwks_file + " is empty");
  }
  if (!args.jwks_url.empty() && args.jwks_file.empty()) {
    auto document = ilpgw::http::fetchDocument(args.jwks_url, {config.jwks_ca_file, 10});
    if (!document.isOk()) return document.status();
    auto keys = ilpgw::parseJwks(document.value());
    if (!keys.isOk()) return ilpgw::Status(keys.status().code(), args.jwks_url + ": " + keys.status().message());
  }
  return ilpgw::Status::ok();
}

}  // namespace

int clientCommand(const Args& args) {
  if (args.files.empty()) return fail("client needs add, list, revoke or rotate");
  auto config = buildConfig(args);
  if (!config.isOk()) return fail(config.status().message());
  auto store = ilpgw::openStore(config.value(), commandStore(false));
  if (!store.isOk()) return fail(store.status().message());
  ilpgw::Store& s = *store.value();
  const std::string& action = args.files[0];
  if (action == "add" && args.files.size() == 1) {
    std::string jwks;
    ilpgw::Status keys = readClientKeys(args, config.value(), jwks);
    if (!keys.isOk()) return fail(keys.message());
    auto issued = ilpgw::addClient(
        s, s, {args.client_id, args.role, args.org, args.cert, args.local_only, jwks, args.jwks_url}, cliActor());
    if (!issued.isOk()) return fail(issued.status().message());
    printCredentials(issued.value());
    return 0;
  }
  if (action == "list" && args.files.size() == 1) {
    auto clients = s.listClients();
    if (!clients.isOk()) return fail(clients.status().message());
    std::printf("%-32s %-7s %-24s %-8s %-6s %-5s %s\n", "client_id", "role", "organization", "auth", "cert", "local",
                "status");
    for (const auto& c : clients.value()) {
      const char* auth = !c.jwks.empty() ? "jwks" : !c.jwks_url.empty() ? "jwks-url" : "secret";
      std::printf("%-32s %-7s %-24s %-8s %-6s %-5s %s\n", c.client_id.c_str(), c.role.c_str(),
                  c.organization.empty() ? "*" : c.organization.c_str(), auth, c.cert_thumbprint.empty() ? "-" : "bound",
                  c.local_only ? "yes" : "no", c.revoked_at.empty() ? "active" : ("revoked " + c.revoked_at).c_str());
    }
    return 0;
  }
  if (action == "revoke" && args.files.size() == 2) {
    ilpgw::Status revoked = ilpgw::revokeClient(s, s, args.files[1], cliActor());
    if (!revoked.isOk()) return fail(revoked.message());
    std::printf("revoked %s\n", args.files[1].c_str());
    return 0;
  }
  if (action == "rotate" && args.files.size() == 2) {
    auto issued = ilpgw::rotateClientSecret(s, s, args.files[1], cliActor());
    if (!issued.isOk()) return fail(issued.status().message());
    printCredentials(issued.value());
    return 0;
  }
  return fail("usage: client add|list|revoke ID|rotate ID");
}

int keyCommand(const Args& args) {
  if (args.files != std::vector<std::string>{"rotate"}) return fail("usage: key rotate");
  auto config = buildConfig(args);
  if (!config.isOk()) return fail(config.status().message());
  if (config.value().signingKeysInStore()) {
    // Every instance on the database reads it within half a minute.
    auto store = ilpgw::openStore(config.value(), commandStore());
    if (!store.isOk()) return fail(store.status().message());
    auto kid = ilpgw::rotateSigningKey(*store.value(), config.value().token_ttl_s);
    if (!kid.isOk()) return fail(kid.status().message());
    std::printf("new signing key %s in the store (%s)\n", kid.value().c_str(),
                ilpgw::storeLocation(config.value()).c_str());
    return 0;
  }
  auto kid = ilpgw::rotateSigningKey(config.value().signingKeyDir(), config.value().token_ttl_s);
  if (!kid.isOk()) return fail(kid.status().message());
  std::printf("new signing key %s in %s\n", kid.value().c_str(), config.value().signingKeyDir().c_str());
  return 0;
}

int auditCommand(const Args& args) {
  if (args.files != std::vector<std::string>{"verify"}) return fail("usage: audit verify");
  auto config = buildConfig(args);
  if (!config.isOk()) return fail(config.status().message());
  auto store = ilpgw::openStore(config.value(), commandStore());
  if (!store.isOk()) return fail(store.status().message());
  auto result = ilpgw::verifyAuditChain(*store.value());
  if (!result.isOk()) return fail(result.status().message());
  if (!result.value().ok) {
    std::printf("audit chain BROKEN at event %lld: %s\n", static_cast<long long>(result.value().broken_seq),
                result.value().problem.c_str());
    return 1;
  }
  std::printf("audit chain ok: %lld events, head %s\n", static_cast<long long>(result.value().checked),
              result.value().head_hash.empty() ? "(empty)" : result.value().head_hash.c_str());
  return 0;
}

}  // namespace ilpgw::cli
