#include "gateway.h"

#include <filesystem>

#include "audit.h"
#include "fhir_validator.h"
#include "json.h"
#include "log.h"
#include "outcome.h"
#include "patient_identity.h"
#include "resource_text.h"

namespace ilpgw {
namespace {

constexpr const char* kSourceRecordUrl = "https://ilp-gateway.id/fhir/StructureDefinition/source-record";

// Validates an adapter's config block against its declared options and
// returns the effective option list (defaults overlaid with config).
StatusOr<std::vector<std::pair<std::string, std::string>>> effectiveOptions(const sdk::AdapterInfo& info,
                                                                           const PluginConfig& plugin) {
  std::vector<std::pair<std::string, std::string>> options;
  for (const auto& spec : info.options) options.emplace_back(spec.name, spec.default_value);
  rapidjson::Document doc;
  if (auto error = json::parse(plugin.config_json, doc)) {
    return Status(StatusCode::kInvalidArgument, "plugin " + plugin.name + " config: " + *error);
  }
  for (const auto& m : doc.GetObject()) {
    std::string key = m.name.GetString();
    const sdk::OptionSpec* spec = nullptr;
    for (const auto& s : info.options) {
      if (s.name == key) spec = &s;
    }
    if (spec == nullptr) {
      std::string known;
      for (const auto& s : info.options) known += (known.empty() ? "" : ", ") + s.name;
      return Status(StatusCode::kInvalidArgument, "plugin " + plugin.name + ": unknown option \"" + key +
                                                      "\" (known: " + (known.empty() ? "none" : known) + ")");
    }
    std::string value;
    if (spec->type == "string" && m.value.IsString()) {
      value = m.value.GetString();
    } else if (spec->type == "integer" && m.value.IsInt64()) {
      value = std::to_string(m.value.GetInt64());
    } else if (spec->type == "boolean" && m.value.IsBool()) {
      value = m.value.GetBool() ? "true" : "false";
    } else {
      return Status(StatusCode::kInvalidArgument,
                    "plugin " + plugin.name + ": option \"" + key + "\" must be " + spec->type);
    }
    for (auto& [name, current] : options) {
      if (name == key) current = value;
    }
  }
  return options;
}

std::string statusLine(WriteOutcome outcome) {
  return outcome == WriteOutcome::kCreated ? "201 Created" : "200 OK";
}

// Resource ids are derived from business keys; in a district gateway the
// same NIK reaches it from several puskesmas. Scoping every key by the
// posting organization gives each organization its own resources, so one
// clinic's post can never become a new version of another clinic's record.
class TenantHost final : public sdk::Host {
 public:
  TenantHost(const sdk::Host& base, std::string_view organization) : base_(base), prefix_("org|") {
    prefix_ += organization;
    prefix_ += "|";
  }
  std::string resourceId(std::string_view type, std::string_view business_key) const noexcept override {
    try {
      return base_.resourceId(type, prefix_ + std::string(business_key));
    } catch (...) {
      return {};
    }
  }
  bool translate(std::string_view concept_map, std::string_view code, sdk::Coding& out) const noexcept override {
    return base_.translate(concept_map, code, out);
  }
  void log(sdk::Severity severity, std::string_view message) const noexcept override { base_.log(severity, message); }

 private:
  const sdk::Host& base_;
  std::string prefix_;
};

std::string mediaType(std::string_view content_type) {
  std::string type(content_type.substr(0, content_type.find(';')));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  for (auto& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return type;
}

}  // namespace

StatusOr<std::shared_ptr<const AdapterSet>> loadAdapterSet(const Config& config) {
  auto terminology = Terminology::loadDirectory(config.mappings_dir);
  if (!terminology.isOk()) return terminology.status();
  auto set = std::make_shared<AdapterSet>();
  set->terminology = std::make_shared<const Terminology>(std::move(terminology.value()));
  set->host = std::make_shared<const GatewayHost>(set->terminology);
  auto semantics = loadIlpSemantics(config.mappings_dir);
  if (!semantics.isOk()) return semantics.status();
  set->semantics = semantics.value();
  for (const auto& plugin : config.plugins) {
    std::filesystem::path path(plugin.library);
    if (path.is_relative()) path = std::filesystem::path(config.plugin_dir) / path;
    std::vector<std::pair<std::string, std::string>> options;
    auto loaded = loadAdapter(path.string(), [&](const sdk::AdapterInfo& info) -> StatusOr<sdk::AdapterSetup> {
      auto effective = effectiveOptions(info, plugin);
      if (!effective.isOk()) return effective.status();
      options = effective.value();
      return sdk::AdapterSetup{plugin.name, config.mappings_dir, options, set->host.get()};
    });
    if (!loaded.isOk()) return loaded.status();
    const auto& info = loaded.value()->info();
    if (info.name != plugin.name) {
      return Status(StatusCode::kInvalidArgument, "plugin " + path.string() + ": adapter calls itself \"" +
                                                      info.name + "\" but the config names it \"" + plugin.name +
                                                      "\"");
    }
    if (set->adapters.count(plugin.name) != 0) {
      return Status(StatusCode::kInvalidArgument, "plugin " + plugin.name + " is configured twice");
    }
    set->adapters.emplace(plugin.name, ActiveAdapter{loaded.value(), std::move(options)});
  }
  return std::shared_ptr<const AdapterSet>(std::move(set));
}

StatusOr<std::unique_ptr<Gateway>> Gateway::start(Config config) {
  auto adapters = loadAdapterSet(config);
  if (!adapters.isOk()) return adapters.status();
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) return Status(StatusCode::kUnavailable, "cannot create data directory " + config.data_dir + ": " + ec.message());
  auto store = openSqliteStore(SqliteOptions{config.storePath(), config.store_batch_max});
  if (!store.isOk()) return store.status();
  return std::unique_ptr<Gateway>(new Gateway(std::move(config), std::move(store.value()), adapters.value()));
}

std::shared_ptr<const AdapterSet> Gateway::adapters() const {
  std::lock_guard lock(adapters_mutex_);
  return adapters_;
}

Status checkContentType(const sdk::AdapterInfo& info, std::string_view content_type) {
  std::string type = mediaType(content_type);
  // curl --data sends application/x-www-form-urlencoded unless told otherwise;
  // clinic scripts rely on that, so it counts as "not stated".
  if (type.empty() || type == "application/x-www-form-urlencoded") return Status::ok();
  for (const auto& format : info.formats) {
    if (mediaType(format) == type) return Status::ok();
  }
  std::string accepted;
  for (const auto& format : info.formats) accepted += (accepted.empty() ? "" : ", ") + format;
  return Status(StatusCode::kUnsupportedMedia,
                "adapter " + info.name + " does not accept " + type + " (accepts " + accepted + ")");
}

MappedPayload mapPayload(const ActiveAdapter& adapter, const AdapterSet& set, const Config& config,
                         std::string_view payload, std::string_view content_type, std::string_view organization) {
  std::string org(organization.empty() ? std::string_view(config.organization_id) : organization);
  TenantHost host(*set.host, org);
  sdk::Context context;
  context.host = &host;
  context.organization_id = org;
  context.timezone_offset = config.timezone_offset;
  context.content_type = std::string(content_type);
  context.options = adapter.options;

  sdk::MapResult result = adapter.loaded->adapter().map(payload, context);
  if (set.semantics) applyIlpSemantics(*set.semantics, *set.terminology, result);
  MappedPayload mapped;
  mapped.payload_issues = std::move(result.issues);
  for (auto& issue : mapped.payload_issues) {
    if (issue.location.empty()) issue.location = "payload";
  }
  for (auto& record : result.records) {
    MappedPayload::Record out;
    out.locator = record.locator;
    out.source_key = record.source_key;
    out.issues = std::move(record.issues);
    std::vector<ResourceWrite> writes;
    for (size_t i = 0; i < record.resources.size(); ++i) {
      rapidjson::Document doc;
      std::vector<sdk::Issue> issues;
      if (auto error = json::parse(record.resources[i], doc)) {
        issues.push_back({sdk::Severity::kError, "exception", record.locator,
                          "", "adapter produced invalid JSON for resource " + std::to_string(i) + ": " + *error});
      } else {
        fhir::validateResource(doc, issues);
      }
      for (auto& issue : issues) {
        if (issue.location.empty()) issue.location = record.locator;
        out.issues.push_back(std::move(issue));
      }
      if (!isBlocking(out.issues) && doc.IsObject()) {
        ResourceWrite write = prepareResource(doc);
        write.organization = org;
        write.source_locator = record.locator;
        writes.push_back(std::move(write));
      }
    }
    if (record.resources.empty() && !isBlocking(out.issues)) {
      out.issues.push_back({sdk::Severity::kError, "processing", record.locator, "",
                            "the adapter produced no resources for this record"});
    }
    out.accepted = !isBlocking(out.issues);
    if (out.accepted) out.writes = std::move(writes);
    mapped.records.push_back(std::move(out));
  }
  return mapped;
}

std::string batchResponseBundle(const MappedPayload& mapped, const CommitResult& commit) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("resourceType", "Bundle", a);
  doc.AddMember("type", "batch-response", a);
  rapidjson::Value entries(rapidjson::kArrayType);
  size_t written_index = 0;
  for (const auto& record : mapped.records) {
    auto source = [&](rapidjson::Value& entry) {
      rapidjson::Value ext(rapidjson::kArrayType);
      rapidjson::Value item(rapidjson::kObjectType);
      item.AddMember("url", rapidjson::StringRef(kSourceRecordUrl), a);
      item.AddMember("valueString", json::str(record.locator, a), a);
      ext.PushBack(item, a);
      entry.AddMember("extension", ext, a);
    };
    if (!record.accepted) {
      rapidjson::Value entry(rapidjson::kObjectType);
      source(entry);
      rapidjson::Value response(rapidjson::kObjectType);
      response.AddMember("status", "422 Unprocessable Entity", a);
      response.AddMember("outcome", operationOutcome(record.issues, a), a);
      entry.AddMember("response", response, a);
      entries.PushBack(entry, a);
      continue;
    }
    bool first = true;
    for (size_t i = 0; i < record.writes.size(); ++i, ++written_index) {
      const WrittenResource& w = commit.resources.at(written_index);
      rapidjson::Value entry(rapidjson::kObjectType);
      source(entry);
      rapidjson::Value response(rapidjson::kObjectType);
      response.AddMember("status", json::str(statusLine(w.outcome), a), a);
      std::string location = w.type + "/" + w.id + "/_history/" + std::to_string(w.version);
      response.AddMember("location", json::str(location, a), a);
      response.AddMember("etag", json::str("W/\"" + std::to_string(w.version) + "\"", a), a);
      response.AddMember("lastModified", json::str(w.last_updated, a), a);
      if (first && !record.issues.empty()) response.AddMember("outcome", operationOutcome(record.issues, a), a);
      first = false;
      entry.AddMember("response", response, a);
      entries.PushBack(entry, a);
    }
  }
  doc.AddMember("entry", entries, a);
  return json::write(doc);
}

std::string collectionBundle(const MappedPayload& mapped) {
  std::string out = "{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":[";
  bool first = true;
  for (const auto& record : mapped.records) {
    for (const auto& write : record.writes) {
      if (!first) out += ",";
      first = false;
      out += "{\"fullUrl\":\"urn:ilpgw:" + write.type + "/" + write.id + "\",\"resource\":" + unversionedResource(write) + "}";
    }
  }
  out += "]}";
  return out;
}

IngestResponse Gateway::ingest(const RequestContext& caller, std::string_view adapter_name,
                               std::string_view payload, std::string_view content_type) {
  // Only clinic clients post, each for its own organization; with auth
  // disabled (development) the configured facility stands in.
  std::string organization;
  if (caller.role == "clinic") {
    organization = caller.organization;
  } else if (caller.role == "dev") {
    organization = config_.organization_id;
  }
  if (organization.empty() || !caller.hasScope(kScopeWrite)) {
    return {403, outcomeJson(sdk::Severity::kError, "forbidden", "only clinic clients post records"), false};
  }
  auto set = adapters();
  auto it = set->adapters.find(adapter_name);
  if (it == set->adapters.end()) {
    return {404, outcomeJson(sdk::Severity::kError, "not-found",
                             "no adapter named \"" + std::string(adapter_name) + "\" is loaded (see GET /admin/plugins)"),
            false};
  }
  const ActiveAdapter& adapter = it->second;
  Status type_ok = checkContentType(adapter.loaded->info(), content_type);
  if (!type_ok.isOk()) return {415, outcomeJson(sdk::Severity::kError, "not-supported", type_ok.message()), false};

  MappedPayload mapped = mapPayload(adapter, *set, config_, payload, content_type, organization);
  if (static_cast<long long>(mapped.records.size()) > config_.batch_max_records) {
    return {413,
            outcomeJson(sdk::Severity::kError, "too-costly",
                        "the post holds " + std::to_string(mapped.records.size()) + " records; at most " +
                            std::to_string(config_.batch_max_records) + " per post (limits.batch_max_records)",
                        "payload"),
            false};
  }

  WriteBatch batch;
  batch.payload = PayloadWrite{std::string(adapter_name), organization, std::string(content_type),
                               std::string(payload)};
  // The AuditEvent goes into the same transaction as the data it describes.
  AuditInfo audit;
  audit.subtype = "create";
  audit.action = 'C';
  audit.agent = caller.client_id;
  audit.organization = organization;
  audit.remote_addr = caller.remote_addr;
  audit.description = "POST /ingest/" + std::string(adapter_name);
  auto addAudit = [&](WriteBatch& b, int status) {
    audit.http_status = status;
    b.audit.push_back(makeAuditEvent(audit));
  };
  if (isBlocking(mapped.payload_issues)) {
    // Unreadable as a whole: keep it in quarantine, then answer 400.
    batch.quarantine.push_back({"payload", "", outcomeJson(mapped.payload_issues)});
    addAudit(batch, 400);
    auto committed = store_->commit(std::move(batch));
    if (!committed.isOk()) {
      return {503, outcomeJson(sdk::Severity::kError, "transient", "the store is unavailable; retry later"), false};
    }
    return {400, outcomeJson(mapped.payload_issues), false, true};
  }

  mergePatientIdentities(*store_, mapped);
  size_t accepted = 0;
  for (auto& record : mapped.records) {
    if (record.accepted) {
      ++accepted;
      for (const auto& write : record.writes) {
        batch.resources.push_back(write);
        audit.entities.push_back(write.type + "/" + write.id);
      }
    } else {
      batch.quarantine.push_back({record.locator, record.source_key, outcomeJson(record.issues)});
    }
  }
  addAudit(batch, accepted == 0 ? 422 : 201);
  auto committed = store_->commit(std::move(batch));
  if (!committed.isOk() && committed.status().code() == StatusCode::kPermissionDenied) {
    // Nothing was stored; the caller's own audit hook records the refusal.
    return {403, outcomeJson(sdk::Severity::kError, "forbidden",
                             "the post would change resources of another organization; nothing was stored"),
            false};
  }
  if (!committed.isOk()) {
    return {503, outcomeJson(sdk::Severity::kError, "transient", "the store is unavailable; retry later"), false};
  }
  if (mapped.records.empty()) {
    return {422, outcomeJson(sdk::Severity::kError, "required", "the payload holds no records", "payload"), false,
            true};
  }
  if (accepted == 0) {
    std::vector<sdk::Issue> all;
    for (const auto& record : mapped.records) all.insert(all.end(), record.issues.begin(), record.issues.end());
    return {422, outcomeJson(all), false, true};
  }
  return {201, batchResponseBundle(mapped, committed.value()), accepted == mapped.records.size(), true};
}

}  // namespace ilpgw
