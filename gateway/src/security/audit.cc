#include "security/audit.h"

#include "base/crypto.h"
#include "base/json.h"
#include "base/time_util.h"

namespace ilpgw {

namespace {

constexpr const char* kDcm = "http://dicom.nema.org/resources/ontology/DCM";
constexpr const char* kAuditType = "http://terminology.hl7.org/CodeSystem/audit-event-type";
constexpr const char* kRestful = "http://hl7.org/fhir/restful-interaction";
constexpr const char* kClientSystem = "https://ilp-gateway.id/fhir/sid/client";
constexpr const char* kSubtypeSystem = "https://ilp-gateway.id/fhir/CodeSystem/audit-subtype";
// IHE Basic Audit Log Patterns: the request id travels as an entity of this type.
constexpr const char* kBalpEntityType = "http://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType";

rapidjson::Value coding(const char* system, std::string_view code, std::string_view display,
                        rapidjson::Document::AllocatorType& a) {
  rapidjson::Value c(rapidjson::kObjectType);
  c.AddMember("system", rapidjson::StringRef(system), a);
  c.AddMember("code", json::str(code, a), a);
  if (!display.empty()) c.AddMember("display", json::str(display, a), a);
  return c;
}

}  // namespace

AuditWrite makeAuditEvent(const AuditInfo& info) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("resourceType", "AuditEvent", a);
  rapidjson::Value subtypes(rapidjson::kArrayType);
  switch (info.kind) {
    case AuditKind::kRest:
      doc.AddMember("type", coding(kAuditType, "rest", "RESTful Operation", a), a);
      subtypes.PushBack(coding(kRestful, info.subtype, "", a), a);
      break;
    case AuditKind::kAuthentication:
      doc.AddMember("type", coding(kDcm, "110114", "User Authentication", a), a);
      if (info.subtype == "logout") {
        subtypes.PushBack(coding(kDcm, "110123", "Logout", a), a);
      } else {
        subtypes.PushBack(coding(kDcm, "110122", "Login", a), a);
      }
      break;
    case AuditKind::kAdmin:
      doc.AddMember("type", coding(kDcm, "110136", "Security Roles Changed", a), a);
      subtypes.PushBack(coding(kSubtypeSystem, info.subtype, "", a), a);
      break;
  }
  doc.AddMember("subtype", subtypes, a);
  doc.AddMember("action", json::str(std::string(1, info.action), a), a);
  std::string recorded = nowInstant();
  doc.AddMember("recorded", json::str(recorded, a), a);
  const char* outcome = info.http_status < 400 ? "0" : info.http_status < 500 ? "4" : "8";
  doc.AddMember("outcome", rapidjson::StringRef(outcome), a);
  std::string desc = "HTTP " + std::to_string(info.http_status) + (info.description.empty() ? "" : ": ") +
                     info.description;
  doc.AddMember("outcomeDesc", json::str(desc, a), a);

  rapidjson::Value agents(rapidjson::kArrayType);
  rapidjson::Value agent(rapidjson::kObjectType);
  rapidjson::Value who(rapidjson::kObjectType);
  rapidjson::Value identifier(rapidjson::kObjectType);
  identifier.AddMember("system", rapidjson::StringRef(kClientSystem), a);
  identifier.AddMember("value", json::str(info.agent, a), a);
  who.AddMember("identifier", identifier, a);
  agent.AddMember("who", who, a);
  agent.AddMember("requestor", true, a);
  if (!info.organization.empty()) {
    rapidjson::Value org(rapidjson::kObjectType);
    org.AddMember("reference", json::str("Organization/" + info.organization, a), a);
    agent.AddMember("location", org, a);  // the organization the client acts for
  }
  if (!info.remote_addr.empty()) {
    rapidjson::Value network(rapidjson::kObjectType);
    network.AddMember("address", json::str(info.remote_addr, a), a);
    network.AddMember("type", "2", a);  // IP address
    agent.AddMember("network", network, a);
  }
  agents.PushBack(agent, a);
  doc.AddMember("agent", agents, a);
  rapidjson::Value source(rapidjson::kObjectType);
  rapidjson::Value observer(rapidjson::kObjectType);
  observer.AddMember("display", "ilp-gateway", a);
  source.AddMember("observer", observer, a);
  doc.AddMember("source", source, a);

  std::string entities;
  rapidjson::Value entity_list(rapidjson::kArrayType);
  for (const auto& ref : info.entities) {
    rapidjson::Value e(rapidjson::kObjectType);
    rapidjson::Value what(rapidjson::kObjectType);
    what.AddMember("reference", json::str(ref, a), a);
    e.AddMember("what", what, a);
    entity_list.PushBack(e, a);
    entities += "|" + ref;
  }
  if (!entities.empty()) entities += "|";
  if (!info.query.empty()) {
    rapidjson::Value e(rapidjson::kObjectType);
    e.AddMember("query", json::str(base64Encode(info.query), a), a);
    entity_list.PushBack(e, a);
  }
  if (!info.request_id.empty()) {
    rapidjson::Value e(rapidjson::kObjectType);
    rapidjson::Value what(rapidjson::kObjectType);
    rapidjson::Value id(rapidjson::kObjectType);
    id.AddMember("value", json::str(info.request_id, a), a);
    what.AddMember("identifier", id, a);
    e.AddMember("what", what, a);
    e.AddMember("type", coding(kBalpEntityType, "XrequestId", "X-Request-Id", a), a);
    entity_list.PushBack(e, a);
  }
  if (!entity_list.Empty()) doc.AddMember("entity", entity_list, a);
  return AuditWrite{recorded, info.agent, entities, json::write(doc)};
}

std::string auditEventJson(const AuditRecord& record) {
  const std::string& body = record.event.json;
  if (body.size() < 2 || body.front() != '{') return body;
  return "{\"id\":\"" + std::to_string(record.seq) + "\"," + body.substr(1);
}

StatusOr<AuditVerification> verifyAuditChain(AuditLog& audit_log) {
  AuditVerification result;
  std::string prev_hash;
  std::int64_t prev_seq = 0;
  auto fail = [&](std::int64_t seq, std::string problem) {
    result.ok = false;
    result.broken_seq = seq;
    result.problem = std::move(problem);
    return result;
  };
  for (;;) {
    auto page = audit_log.scanAudit(prev_seq, 1000);
    if (!page.isOk()) return page.status();
    if (page.value().empty()) break;
    for (const auto& r : page.value()) {
      if (r.seq != prev_seq + 1) {
        return fail(prev_seq + 1, "audit event " + std::to_string(prev_seq + 1) +
                                      (r.seq > prev_seq + 2 ? " to " + std::to_string(r.seq - 1) : "") +
                                      " missing (deleted)");
      }
      if (r.prev_hash != prev_hash) {
        return fail(r.seq, "audit event " + std::to_string(r.seq) +
                               ": previous-hash link does not match event " + std::to_string(prev_seq));
      }
      if (auditChainHash(prev_hash, r.seq, r.event) != r.hash) {
        return fail(r.seq, "audit event " + std::to_string(r.seq) + ": content does not match its hash (edited)");
      }
      prev_hash = r.hash;
      prev_seq = r.seq;
      ++result.checked;
    }
  }
  auto head = audit_log.auditHead();
  if (!head.isOk()) return head.status();
  std::int64_t head_seq = head.value() ? head.value()->first : 0;
  std::string head_hash = head.value() ? head.value()->second : "";
  if (head_seq != prev_seq || head_hash != prev_hash) {
    return fail(prev_seq + 1, "audit chain ends at event " + std::to_string(prev_seq) + " but the head records event " +
                                  std::to_string(head_seq) + " (newest events deleted or head edited)");
  }
  result.head_seq = prev_seq;
  result.head_hash = prev_hash;
  return result;
}

}  // namespace ilpgw
