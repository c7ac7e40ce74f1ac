// RequestContext: who is calling and what they may do, established once per
// request by the security layer (security.h) before any route runs, and
// passed down into Gateway operations and store reads. Tenancy rules live
// here so every route applies the same ones.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "security/role.h"

namespace ilpgw {

// SMART Backend Services style scopes.
inline constexpr std::string_view kScopeWrite = "system/*.write";  // clinic systems posting records
inline constexpr std::string_view kScopeRead = "system/*.read";    // puller, district office, clinics (own data)
inline constexpr std::string_view kScopeAdmin = "system/admin";    // /admin/*, audit reading

// The answer to a caller writeOrganization() refuses.
inline constexpr std::string_view kWriteForbiddenText =
    "only clinic clients write records, each for its own organization";

struct RequestContext {
  bool authenticated = false;  // a valid token, or auth disabled (dev)
  std::string client_id;       // "anonymous" before authentication
  Role role = Role::kPuller;   // until authenticated it holds no scopes, so it may do nothing
  // clinic: the organization it posts for and the only one whose data it
  // reads. Empty for puller and admin: they read every organization.
  std::string organization;
  std::vector<std::string> scopes;
  std::string remote_addr;

  bool hasScope(std::string_view scope) const {
    return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
  }
  // The organization filter to pass into store reads and searches: nullopt
  // means "every organization" (the national puller, admin, auth disabled).
  std::optional<std::string> readOrganization() const {
    if (role == Role::kClinic || role == Role::kPerson) return organization;
    return std::nullopt;
  }
  // The write-tenancy rule, for every way records come in (ingest, FHIR
  // create/update/transaction): the organization the caller writes for,
  // taken from its credentials and never from the payload. A clinic writes
  // for its own organization, the development caller for the configured
  // facility; pullers and admins do not write clinical data (nullopt).
  std::optional<std::string> writeOrganization() const {
    if (!hasScope(kScopeWrite) || organization.empty()) return std::nullopt;
    if (role == Role::kClinic || role == Role::kDevelopment) return organization;
    return std::nullopt;
  }
  // Whether a stored resource version (of `resource_organization`) is visible.
  bool canRead(std::string_view resource_organization) const {
    auto org = readOrganization();
    return !org || *org == resource_organization;
  }

  // Filled by handlers for the audit trail (the security layer records one
  // AuditEvent per request after the handler ran).
  bool audited = false;  // the handler already recorded it (writes: in the data's transaction)
  std::vector<std::string> audit_entities;
  std::string request_id;  // X-Request-ID of the request (http/request_log.h), on its AuditEvents
};

// The caller when auth is disabled (development on loopback only) and for
// in-process tools: posts for `organization`, may read and administer all.
inline RequestContext developmentCaller(std::string organization) {
  RequestContext ctx;
  ctx.authenticated = true;
  ctx.client_id = "dev-unauthenticated";
  ctx.role = Role::kDevelopment;
  ctx.organization = std::move(organization);
  ctx.scopes = {std::string(kScopeWrite), std::string(kScopeRead), std::string(kScopeAdmin)};
  return ctx;
}

}  // namespace ilpgw
