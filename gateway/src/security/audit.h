// Audit trail: every authentication, read, search, write, export and admin
// action becomes a FHIR AuditEvent, appended to a hash chain by the store
// (store.h: AuditWrite, auditChainHash). This unit builds the events, serves
// them as FHIR, and verifies the chain (`ilp-gateway audit verify`).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/audit_log.h"

namespace ilpgw {

enum class AuditKind { kRest, kAuthentication, kAdmin };

// What happened, in the terms of the request; makeAuditEvent() turns it into
// an AuditEvent.
struct AuditInfo {
  AuditKind kind = AuditKind::kRest;
  std::string subtype;  // read, vread, search-type, create, history, login, client-add, ...
  char action = 'R';    // FHIR AuditEvent.action: C R U D E
  int http_status = 200;  // outcome: < 400 success, 4xx minor failure, 5xx serious failure
  std::string agent;      // client id, "anonymous" or "cli:<user>"
  std::string organization;
  std::string remote_addr;
  std::string request_id;             // X-Request-ID; an entity of type XrequestId (IHE BALP)
  std::vector<std::string> entities;  // Type/id references
  std::string query;                  // query string of a search, as received
  std::string description;            // short, never with identifiers or secrets
};

AuditWrite makeAuditEvent(const AuditInfo& info);

// The stored event as a FHIR resource, its id being the sequence number.
std::string auditEventJson(const AuditRecord& record);

struct AuditVerification {
  bool ok = true;
  std::int64_t checked = 0;
  std::int64_t head_seq = 0;
  std::string head_hash;
  std::int64_t broken_seq = 0;  // the first record that does not link, when !ok
  std::string problem;
};

// Walks the whole chain: recomputes every hash, checks every link and that
// sequence numbers are consecutive, and compares the end with the store's head.
StatusOr<AuditVerification> verifyAuditChain(AuditLog& audit_log);

}  // namespace ilpgw
