#include "ingest/quarantine.h"

#include <mutex>

#include "base/json.h"
#include "base/log.h"
#include "forward/outbox_sender.h"
#include "fhir/outcome.h"

namespace ilpgw {
namespace {

// Reprocessing is a rare admin action; serialising it in this process keeps
// two concurrent runs of one payload-level entry from quarantining its failing
// records twice.
std::mutex& reprocessMutex() {
  static std::mutex mutex;
  return mutex;
}

std::vector<std::string> producedList(const std::string& produced_json) {
  std::vector<std::string> out;
  rapidjson::Document doc;
  if (produced_json.empty() || json::parse(produced_json, doc) || !doc.IsArray()) return out;
  for (const auto& v : doc.GetArray()) {
    if (v.IsString()) out.emplace_back(v.GetString(), v.GetStringLength());
  }
  return out;
}

ReprocessResult failure(std::int64_t id, int http_status, std::string_view code, std::string_view text) {
  ReprocessResult r;
  r.id = id;
  r.http_status = http_status;
  r.outcome_json = outcomeJson(sdk::Severity::kError, code, text);
  return r;
}

// The store failed: answered through the one Status mapping (fhir/outcome.h).
ReprocessResult failure(std::int64_t id, const Status& status) {
  ErrorAnswer answer = errorAnswer(status);
  ReprocessResult r;
  r.id = id;
  r.http_status = answer.http_status;
  r.outcome_json = std::move(answer.body);
  r.headers = std::move(answer.headers);
  return r;
}

void addOutcome(rapidjson::Value& object, const char* name, const std::string& outcome_json,
                rapidjson::Document::AllocatorType& a) {
  if (outcome_json.empty()) return;
  rapidjson::Document outcome(&a);
  if (json::parse(outcome_json, outcome)) return;
  rapidjson::Value copy(outcome, a);
  object.AddMember(rapidjson::StringRef(name), copy, a);
}

rapidjson::Value resultValue(const ReprocessResult& r, rapidjson::Document::AllocatorType& a) {
  rapidjson::Value v(rapidjson::kObjectType);
  v.AddMember("id", r.id, a);
  v.AddMember("httpStatus", r.http_status, a);
  if (!r.status.empty()) v.AddMember("status", json::str(r.status, a), a);
  v.AddMember("newlyResolved", r.newly_resolved, a);
  rapidjson::Value produced(rapidjson::kArrayType);
  for (const auto& p : r.produced) produced.PushBack(json::str(p, a), a);
  v.AddMember("produced", produced, a);
  if (!r.new_quarantine_ids.empty()) {
    rapidjson::Value ids(rapidjson::kArrayType);
    for (auto id : r.new_quarantine_ids) ids.PushBack(id, a);
    v.AddMember("newQuarantineIds", ids, a);
  }
  addOutcome(v, "outcome", r.outcome_json, a);
  return v;
}

}  // namespace

ReprocessResult reprocessQuarantine(Gateway& gateway, std::int64_t id) {
  std::lock_guard lock(reprocessMutex());
  QuarantineStore& quarantine = gateway.store();
  BatchWriter& writer = gateway.store();
  auto found = quarantine.readQuarantine(id);
  if (!found.isOk()) return failure(id, found.status());
  if (!found.value()) return failure(id, 404, "not-found", "quarantine entry " + std::to_string(id) + " does not exist");
  const QuarantineEntry& entry = *found.value();
  if (entry.status == "resolved") {
    ReprocessResult r;
    r.id = id;
    r.status = "resolved";
    r.produced = producedList(entry.produced_json);
    return r;
  }
  if (!entry.payload_id) {
    return failure(id, 409, "not-found", "quarantine entry " + std::to_string(id) + " has no stored payload");
  }
  auto payload = quarantine.readPayload(*entry.payload_id);
  if (!payload.isOk()) return failure(id, payload.status());
  if (!payload.value()) {
    return failure(id, 409, "not-found", "payload " + std::to_string(*entry.payload_id) + " is no longer stored");
  }
  const StoredPayload& raw = *payload.value();
  auto set = gateway.adapters();
  auto adapter = set->adapters.find(raw.adapter);
  if (adapter == set->adapters.end()) {
    return failure(id, 409, "not-supported", "adapter \"" + raw.adapter + "\" is not loaded; load it, then retry");
  }
  // The payload's own organization, not today's configuration: the facility
  // that posted it owns what it produces.
  Config config = gateway.config();
  config.organization_id = raw.organization;
  MappedPayload mapped = mapPayload(adapter->second, *set, config, raw.body, raw.content_type);

  WriteBatch batch;
  batch.existing_payload_id = raw.id;
  QuarantineUpdate update{id, false, {}};
  if (entry.locator == "payload") {
    if (isBlocking(mapped.payload_issues)) {
      update.outcome_json = outcomeJson(mapped.payload_issues);
    } else if (mapped.records.empty()) {
      update.outcome_json = outcomeJson(sdk::Severity::kError, "required", "the payload holds no records", "payload");
    } else {
      update.resolved = true;
      for (auto& record : mapped.records) {
        if (record.accepted) {
          for (auto& write : record.writes) batch.resources.push_back(std::move(write));
        } else {
          batch.quarantine.push_back({record.locator, record.source_key, outcomeJson(record.issues)});
        }
      }
    }
  } else {
    const MappedPayload::Record* record = nullptr;
    for (const auto& r : mapped.records) {
      if (r.locator == entry.locator) record = &r;
    }
    if (isBlocking(mapped.payload_issues)) {
      update.outcome_json = outcomeJson(mapped.payload_issues);
    } else if (record == nullptr) {
      update.outcome_json = outcomeJson(sdk::Severity::kError, "not-found",
                                        "the adapter no longer finds " + entry.locator + " in the payload");
    } else if (!record->accepted) {
      update.outcome_json = outcomeJson(record->issues);
    } else {
      update.resolved = true;
      batch.resources = record->writes;
    }
  }
  batch.quarantine_updates.push_back(update);
  auto committed = writer.commit(std::move(batch));
  if (!committed.isOk()) return failure(id, committed.status());
  if (!committed->resources.empty() && gateway.sender() != nullptr) gateway.sender()->notify();

  ReprocessResult r;
  r.id = id;
  r.newly_resolved = update.resolved;
  r.status = update.resolved ? "resolved" : "open";
  r.outcome_json = update.outcome_json;
  for (const auto& w : committed->resources) {
    r.produced.push_back(w.type + "/" + w.id + "/_history/" + std::to_string(w.version));
  }
  r.new_quarantine_ids = committed->quarantine_ids;
  logLine(LogLevel::kInfo, "quarantine " + std::to_string(id) + " reprocessed: " + r.status + ", " +
                               std::to_string(r.produced.size()) + " resource(s)");
  return r;
}

std::vector<ReprocessResult> reprocessQuarantineMatching(Gateway& gateway, QuarantineFilter filter,
                                                         int max_entries) {
  std::vector<ReprocessResult> results;
  filter.status = "open";
  filter.limit = 100;
  // Entries created while this runs (failing records of payload-level
  // entries) have larger ids and are picked up by later pages; the cap keeps
  // one call bounded.
  while (static_cast<int>(results.size()) < max_entries) {
    auto page = gateway.store().listQuarantine(filter);
    if (!page.isOk()) {
      results.push_back(failure(0, page.status()));
      break;
    }
    if (page.value().empty()) break;
    for (const auto& entry : page.value()) {
      if (static_cast<int>(results.size()) >= max_entries) break;
      results.push_back(reprocessQuarantine(gateway, entry.id));
      filter.after_id = entry.id;
    }
  }
  return results;
}

std::string quarantineEntryJson(const QuarantineEntry& entry, bool with_outcome) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("id", entry.id, a);
  doc.AddMember("status", json::str(entry.status, a), a);
  doc.AddMember("adapter", json::str(entry.adapter, a), a);
  doc.AddMember("locator", json::str(entry.locator, a), a);
  // source_key is the record's own business id (a visit number), never a NIK:
  // adapters put identifiers of people only into resources.
  doc.AddMember("sourceKey", json::str(entry.source_key, a), a);
  doc.AddMember("createdAt", json::str(entry.created_at, a), a);
  doc.AddMember("attempts", entry.attempts, a);
  if (!entry.last_attempt_at.empty()) doc.AddMember("lastAttemptAt", json::str(entry.last_attempt_at, a), a);
  if (!entry.resolved_at.empty()) doc.AddMember("resolvedAt", json::str(entry.resolved_at, a), a);
  if (entry.payload_id) {
    rapidjson::Value payload(rapidjson::kObjectType);
    payload.AddMember("id", *entry.payload_id, a);
    payload.AddMember("href", json::str("/admin/payloads/" + std::to_string(*entry.payload_id), a), a);
    doc.AddMember("payload", payload, a);
  }
  auto produced = producedList(entry.produced_json);
  if (!produced.empty()) {
    rapidjson::Value list(rapidjson::kArrayType);
    for (const auto& p : produced) list.PushBack(json::str(p, a), a);
    doc.AddMember("produced", list, a);
  }
  if (with_outcome) {
    addOutcome(doc, "outcome", entry.outcome_json, a);
  } else {
    // The list shows the first reason so staff can triage without opening each.
    rapidjson::Document outcome;
    if (!json::parse(entry.outcome_json, outcome) && outcome.IsObject() && outcome.HasMember("issue") &&
        outcome["issue"].IsArray() && !outcome["issue"].Empty()) {
      const auto& issue = outcome["issue"][0];
      doc.AddMember("reason", json::str(json::string(issue, "diagnostics"), a), a);
    }
  }
  return json::write(doc);
}

std::string reprocessResultJson(const ReprocessResult& result) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  rapidjson::Value v = resultValue(result, a);
  return json::write(v);
}

std::string reprocessSummaryJson(const std::vector<ReprocessResult>& results) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  int resolved = 0, open = 0, failed = 0;
  rapidjson::Value list(rapidjson::kArrayType);
  for (const auto& r : results) {
    if (r.http_status != 200) {
      ++failed;
    } else if (r.status == "resolved") {
      ++resolved;
    } else {
      ++open;
    }
    list.PushBack(resultValue(r, a), a);
  }
  doc.AddMember("processed", static_cast<int>(results.size()), a);
  doc.AddMember("resolved", resolved, a);
  doc.AddMember("stillOpen", open, a);
  doc.AddMember("failed", failed, a);
  doc.AddMember("results", list, a);
  return json::write(doc);
}

}  // namespace ilpgw
