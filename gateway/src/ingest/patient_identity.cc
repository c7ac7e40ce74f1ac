#include "ingest/patient_identity.h"

#include <map>
#include <set>

#include "base/json.h"
#include "fhir/resource_text.h"
#include "ilpgw/sdk/identifiers.h"
#include "ilpgw/sdk/values.h"

namespace ilpgw {
namespace {

using rapidjson::Value;

using sdk::kNikSystem;

std::string identifierKey(const Value& identifier) {
  return std::string(json::string(identifier, "system")) + "|" + std::string(json::string(identifier, "value"));
}

std::string nikOf(const Value& patient) {
  if (const Value* ids = json::member(patient, "identifier"); ids != nullptr && ids->IsArray()) {
    for (const auto& id : ids->GetArray()) {
      if (json::string(id, "system") == kNikSystem) return std::string(json::string(id, "value"));
    }
  }
  return {};
}

// Does `value` of `element` agree with what the NIK encodes? nullopt: the NIK
// says nothing (absent or malformed).
std::optional<bool> agreesWithNik(const std::string& nik, std::string_view element, std::string_view value) {
  auto facts = sdk::values::decodeNik(nik);
  if (!facts) return std::nullopt;
  if (element == "gender") return (value == "female") == facts->female;
  return value.size() == 10 && facts->agreesWithBirthDate(value);
}

class Merger {
 public:
  explicit Merger(ResourceStore& store) : store_(store) {}

  void merge(MappedPayload::Record& record, ResourceWrite& write) {
    rapidjson::Document incoming;
    if (json::parse(unversionedResource(write), incoming) || !incoming.IsObject()) return;
    // The version to merge with: this batch's latest, else the stored one.
    rapidjson::Document current;
    bool have_current = false;
    std::optional<std::int64_t> read_version;  // the stored version merged with (0: none stored)
    auto pending = pending_.find(write.id);
    if (pending != pending_.end()) {
      have_current = !json::parse(pending->second, current) && current.IsObject();
    } else {
      auto stored = store_.read("Patient", write.id);
      if (stored.isOk()) {
        read_version = stored.value() ? stored.value()->version : 0;
        if (stored.value()) have_current = !json::parse(stored.value()->json, current) && current.IsObject();
      }
    }
    if (have_current) {
      uniteIdentifiers(incoming, current);
      std::string nik = nikOf(incoming);
      for (const char* element : {"birthDate", "gender"}) reconcile(record, incoming, current, element, nik);
      ResourceWrite merged = prepareResource(incoming);
      merged.organization = write.organization;
      merged.source_locator = write.source_locator;
      write = std::move(merged);
    }
    // Checked inside the commit: a concurrent post of the same person fails
    // this batch's precondition and the caller merges again.
    if (read_version) write.if_match_version = read_version;
    pending_[write.id] = unversionedResource(write);
  }

 private:
  // The new post's identifiers first (its order), then stored ones it lacks.
  static void uniteIdentifiers(rapidjson::Document& incoming, const Value& current) {
    const Value* stored = json::member(current, "identifier");
    if (stored == nullptr || !stored->IsArray() || stored->Empty()) return;
    auto& a = incoming.GetAllocator();
    if (!incoming.HasMember("identifier") || !incoming["identifier"].IsArray()) {
      if (incoming.HasMember("identifier")) incoming.RemoveMember("identifier");
      incoming.AddMember("identifier", Value(rapidjson::kArrayType), a);
    }
    Value& ids = incoming["identifier"];
    std::set<std::string> have;
    for (const auto& id : ids.GetArray()) have.insert(identifierKey(id));
    for (const auto& id : stored->GetArray()) {
      if (have.insert(identifierKey(id)).second) ids.PushBack(Value(id, a), a);
    }
  }

  static void reconcile(MappedPayload::Record& record, rapidjson::Document& incoming, const Value& current,
                        const char* element, const std::string& nik) {
    std::string was(json::string(current, element));
    std::string now(json::string(incoming, element));
    if (was.empty() || now.empty() || was == now) {
      if (now.empty() && !was.empty()) incoming.AddMember(rapidjson::StringRef(element), json::str(was, incoming.GetAllocator()),
                                                          incoming.GetAllocator());
      return;
    }
    auto stored_ok = agreesWithNik(nik, element, was);
    auto new_ok = agreesWithNik(nik, element, now);
    bool keep_new = new_ok.value_or(false) && !stored_ok.value_or(false);
    if (!keep_new) incoming[element].SetString(was.c_str(), static_cast<rapidjson::SizeType>(was.size()),
                                               incoming.GetAllocator());
    sdk::Issue issue;
    issue.severity = sdk::Severity::kWarning;
    issue.code = "conflict";
    issue.location = record.locator;
    issue.expression = std::string("Patient.") + element;
    issue.diagnostics = std::string("Patient.") + element + " differs from the one already stored for this person (" +
                        (keep_new ? "the new value matches the NIK and replaces it"
                                  : "the stored value is kept" +
                                        std::string(stored_ok.value_or(false) ? ": it matches the NIK" : "")) +
                        "); please check the record";
    record.issues.push_back(std::move(issue));
  }

  ResourceStore& store_;
  std::map<std::string, std::string> pending_;
};

}  // namespace

void mergePatientIdentities(ResourceStore& store, MappedPayload& mapped) {
  Merger merger(store);
  for (auto& record : mapped.records) {
    if (!record.accepted) continue;
    for (auto& write : record.writes) {
      if (write.type == "Patient") merger.merge(record, write);
    }
  }
}

}  // namespace ilpgw
