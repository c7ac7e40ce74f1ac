#include "http/fhir_api.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <random>
#include <set>

#include "security/audit.h"
#include "fhir/fhir_validator.h"
#include "base/json.h"
#include "base/log.h"
#include "fhir/outcome.h"
#include "fhir/resource_text.h"
#include "http/auth.h"
#include "http/pws_routes.h"
#include "http/terminology_routes.h"
#include "base/time_util.h"

namespace ilpgw {
namespace {

constexpr const char* kExportDefinition = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export";
constexpr const char* kPatientEverythingDefinition = "http://hl7.org/fhir/OperationDefinition/Patient-everything";
constexpr const char* kPatientExportDefinition = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export";

std::string quote(std::string_view text) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  return {buffer.GetString(), buffer.GetSize()};
}

FhirResponse outcome(int status, std::string_view code, std::string_view diagnostics, std::string_view expression = {}) {
  FhirResponse res;
  res.status = status;
  res.body = outcomeJson(sdk::Severity::kError, code, diagnostics, expression);
  return res;
}

FhirResponse outcome(int status, const std::vector<sdk::Issue>& issues) {
  FhirResponse res;
  res.status = status;
  res.body = outcomeJson(issues);
  return res;
}

// A failed Status through the one mapping every route uses (fhir/outcome.h).
FhirResponse failure(const Status& status) {
  ErrorAnswer answer = errorAnswer(status);
  FhirResponse res;
  res.status = answer.http_status;
  res.body = std::move(answer.body);
  res.headers = std::move(answer.headers);
  return res;
}

std::string etag(std::int64_t version) { return "W/\"" + std::to_string(version) + "\""; }

// W/"3" or "3" -> 3.
std::optional<std::int64_t> parseEtag(std::string_view tag) {
  if (tag.starts_with("W/")) tag.remove_prefix(2);
  if (tag.size() < 3 || tag.front() != '"' || tag.back() != '"') return std::nullopt;
  tag = tag.substr(1, tag.size() - 2);
  std::int64_t version = 0;
  auto [ptr, ec] = std::from_chars(tag.data(), tag.data() + tag.size(), version);
  if (ec != std::errc() || ptr != tag.data() + tag.size() || version < 1) return std::nullopt;
  return version;
}

void addVersionHeaders(FhirResponse& res, std::int64_t version, const std::string& last_updated) {
  res.headers.emplace_back("ETag", etag(version));
  std::string date = httpDate(last_updated);
  if (!date.empty()) res.headers.emplace_back("Last-Modified", date);
}

bool lenient(const FhirRequest& req) { return req.header("prefer").find("handling=lenient") != std::string::npos; }

std::string newId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uint64_t hi = rng();
  std::uint64_t lo = rng();
  hi = (hi & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48), static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFULL));
  return buffer;
}

std::string linkUrl(const std::string& base, const QueryParams& params) {
  std::string url = base;
  char sep = '?';
  for (const auto& [name, value] : params) {
    url += sep + urlEncode(name) + "=" + urlEncode(value);
    sep = '&';
  }
  return url;
}

// Bundle text assembled from stored JSON without re-parsing it.
class BundleWriter {
 public:
  BundleWriter(std::string_view type, const Watermark& mark) {
    out_ = "{\"resourceType\":\"Bundle\"";
    // Bundle.meta.lastUpdated: the newest commit this answer reflects; every
    // later commit carries a later lastUpdated (see store.h).
    if (!mark.last_updated.empty()) out_ += ",\"meta\":{\"lastUpdated\":" + quote(mark.last_updated) + "}";
    out_ += ",\"type\":" + quote(type);
  }
  void total(std::int64_t n) { out_ += ",\"total\":" + std::to_string(n); }
  void link(std::string_view relation, const std::string& url) {
    out_ += links_ == 0 ? ",\"link\":[" : ",";
    out_ += "{\"relation\":" + quote(relation) + ",\"url\":" + quote(url) + "}";
    ++links_;
  }
  // `members` is the rest of the entry object after fullUrl and resource.
  void entry(const std::string& full_url, const std::string& resource_json, const std::string& members) {
    closeLinks();
    out_ += entries_ == 0 ? ",\"entry\":[" : ",";
    out_ += "{";
    if (!full_url.empty()) out_ += "\"fullUrl\":" + quote(full_url) + ",";
    if (!resource_json.empty()) out_ += "\"resource\":" + resource_json + ",";
    out_ += members + "}";
    ++entries_;
  }
  std::string finish() {
    closeLinks();
    if (entries_ > 0) out_ += "]";
    out_ += "}";
    return std::move(out_);
  }

 private:
  void closeLinks() {
    if (links_ > 0 && !links_closed_) out_ += "]";
    links_closed_ = true;
  }
  std::string out_;
  int links_ = 0;
  bool links_closed_ = false;
  int entries_ = 0;
};

// Parameters for history: _since, _count, _sort, _format and our _cursor.
struct ParsedHistory {
  HistoryQuery query;
  QueryParams applied;
  std::vector<sdk::Issue> issues;
};

ParsedHistory parseHistory(const QueryParams& params, bool is_lenient, int max_count) {
  ParsedHistory parsed;
  parsed.query.limit = std::min(parsed.query.limit, max_count);
  auto problem = [&](const std::string& name, const std::string& message) {
    sdk::Issue issue;
    issue.severity = is_lenient ? sdk::Severity::kWarning : sdk::Severity::kError;
    issue.code = "invalid";
    issue.expression = name;
    issue.diagnostics = "history parameter " + name + ": " + message + (is_lenient ? " (ignored)" : "");
    parsed.issues.push_back(std::move(issue));
  };
  for (const auto& [name, value] : params) {
    if (name == "_since") {
      auto range = parseFhirDateRange(value);
      if (!range) {
        problem(name, "must be a FHIR instant");
        continue;
      }
      parsed.query.since = instantFromMillis(range->low);
    } else if (name == "_count") {
      int count = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), count);
      if (ec != std::errc() || ptr != value.data() + value.size() || count < 1) {
        problem(name, "must be a positive integer");
        continue;
      }
      parsed.query.limit = std::min(count, max_count);  // limits.search_count_max
    } else if (name == "_sort") {
      if (value == "_lastUpdated") {
        parsed.query.order = SearchOrder::kOldestFirst;
      } else if (value == "-_lastUpdated") {
        parsed.query.order = SearchOrder::kNewestFirst;
      } else {
        problem(name, "only _lastUpdated and -_lastUpdated are supported");
        continue;
      }
    } else if (name == "_cursor") {
      std::int64_t cursor = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), cursor);
      if (ec != std::errc() || ptr != value.data() + value.size() || cursor < 0) {
        problem(name, "is not a cursor this server issued");
        continue;
      }
      parsed.query.after_seq = cursor;
      continue;
    } else if (name == "_format") {
      if (value != "json" && value != "application/fhir+json" && value != "application/json") {
        problem(name, "only JSON is served");
        continue;
      }
    } else {
      problem(name, "unknown (supported: _since, _count, _sort)");
      continue;
    }
    parsed.applied.emplace_back(name, value);
  }
  return parsed;
}

void addOutcomeEntry(BundleWriter& bundle, const std::vector<sdk::Issue>& issues) {
  if (issues.empty()) return;
  bundle.entry("", outcomeJson(issues), "\"search\":{\"mode\":\"outcome\"}");
}

// Rewrites every Reference.reference found in `ids` (urn:uuid fullUrls of
// transaction entries) to the Type/id the server assigned.
void rewriteReferences(rapidjson::Value& value, const std::map<std::string, std::string, std::less<>>& ids,
                       rapidjson::Document::AllocatorType& a) {
  if (value.IsArray()) {
    for (auto& item : value.GetArray()) rewriteReferences(item, ids, a);
  } else if (value.IsObject()) {
    for (auto& m : value.GetObject()) {
      std::string_view name(m.name.GetString(), m.name.GetStringLength());
      if (name == "reference" && m.value.IsString()) {
        auto it = ids.find(std::string_view(m.value.GetString(), m.value.GetStringLength()));
        if (it != ids.end()) m.value.SetString(it->second.data(), static_cast<rapidjson::SizeType>(it->second.size()), a);
      } else {
        rewriteReferences(m.value, ids, a);
      }
    }
  }
}

bool referencesAny(const rapidjson::Value& value, const std::set<std::string, std::less<>>& urls) {
  if (value.IsArray()) {
    for (const auto& item : value.GetArray()) {
      if (referencesAny(item, urls)) return true;
    }
  } else if (value.IsObject()) {
    for (const auto& m : value.GetObject()) {
      std::string_view name(m.name.GetString(), m.name.GetStringLength());
      if (name == "reference" && m.value.IsString()) {
        if (urls.count(std::string_view(m.value.GetString(), m.value.GetStringLength())) != 0) return true;
      } else if (referencesAny(m.value, urls)) {
        return true;
      }
    }
  }
  return false;
}

bool isId(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  });
}

// One resource write planned from a request or a Bundle entry.
struct PlannedWrite {
  bool create = false;  // POST (server-assigned id) rather than PUT
  ResourceWrite write;
  std::vector<sdk::Issue> issues;  // validation warnings, or the errors that refused it
};

// Validates `resource` and turns it into a write; adds issues with `where`
// prefixed to their expressions (e.g. Bundle.entry[2].resource).
bool prepareWrite(rapidjson::Value& resource, const std::string& where, const std::string& organization,
                  PlannedWrite& planned) {
  std::vector<sdk::Issue> issues;
  fhir::validateResource(resource, issues);
  for (auto& issue : issues) {
    if (!where.empty()) issue.location = where;
    planned.issues.push_back(std::move(issue));
  }
  if (isBlocking(planned.issues)) return false;
  planned.write = prepareResource(resource);
  planned.write.organization = organization;  // from the caller's credentials, never from the payload
  planned.write.source_locator = "fhir-api";
  return true;
}

// If-None-Exist: `identifier=a|b` etc. evaluated by the store's writer.
std::optional<sdk::Issue> conditionFor(const std::string& type, std::string_view condition, ResourceWrite& write) {
  // Only the writer's own organization is searched: another organization's
  // match must neither be returned nor reveal that it exists.
  if (condition.find('?') != std::string_view::npos) condition = condition.substr(condition.find('?') + 1);
  SearchParseOptions options;
  options.allow_result_params = false;
  ParsedSearch parsed = parseSearch(type, parseQueryString(condition), options);
  if (isBlocking(parsed.issues)) return parsed.issues.front();
  if (parsed.query.all_of.empty()) {
    return sdk::Issue{sdk::Severity::kError, "invalid", "", "If-None-Exist", "If-None-Exist needs at least one search parameter"};
  }
  parsed.query.limit = 2;
  parsed.query.want_total = false;
  parsed.query.organization = write.organization;
  write.if_none_exist = std::move(parsed.query);
  return std::nullopt;
}

std::string statusText(WriteOutcome outcome) {
  return outcome == WriteOutcome::kCreated ? "201 Created" : "200 OK";
}

int statusCode(WriteOutcome outcome) { return outcome == WriteOutcome::kCreated ? 201 : 200; }

std::string resourceUrl(const std::string& base, const WrittenResource& w) {
  return base + "/" + w.type + "/" + w.id + "/_history/" + std::to_string(w.version);
}

// Who may write for which organization: RequestContext::writeOrganization().
FhirResponse writeForbidden() { return failure(Status(StatusCode::kPermissionDenied, std::string(kWriteForbiddenText))); }

// The AuditEvent of a write, committed in the same transaction as the data.
AuditWrite writeAudit(const RequestContext& caller, const std::string& organization, const char* subtype,
                      char action, std::vector<std::string> entities, int status, std::string description) {
  AuditInfo info;
  info.subtype = subtype;
  info.action = action;
  info.http_status = status;
  info.agent = caller.client_id;
  info.organization = organization;
  info.remote_addr = caller.remote_addr;
  info.request_id = caller.request_id;
  info.entities = std::move(entities);
  info.description = std::move(description);
  return makeAuditEvent(info);
}

}  // namespace

std::string capabilityStatement(const Config& config, const std::string& base_url) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("resourceType", "CapabilityStatement", a);
  doc.AddMember("status", "active", a);
  doc.AddMember("date", json::str(nowInstant().substr(0, 10), a), a);
  doc.AddMember("kind", "instance", a);
  rapidjson::Value instantiates(rapidjson::kArrayType);
  instantiates.PushBack("http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data", a);
  doc.AddMember("instantiates", instantiates, a);
  rapidjson::Value software(rapidjson::kObjectType);
  software.AddMember("name", "ILP Gateway", a);
  software.AddMember("version", ILPGW_VERSION, a);
  doc.AddMember("software", software, a);
  rapidjson::Value implementation(rapidjson::kObjectType);
  std::string description =
      "ILP Gateway for " + config.organization_id +
      ". Clinic systems post native records to POST /ingest/{adapter} (adapters listed at GET /admin/plugins) or "
      "FHIR resources to this endpoint. Paging links carry a commit-order cursor; Bundle.meta.lastUpdated is the "
      "instant to pass as _lastUpdated=gt or _since on the next incremental pull.";
  implementation.AddMember("description", json::str(description, a), a);
  if (!base_url.empty()) implementation.AddMember("url", json::str(base_url, a), a);
  doc.AddMember("implementation", implementation, a);
  doc.AddMember("fhirVersion", "4.0.1", a);
  rapidjson::Value formats(rapidjson::kArrayType);
  formats.PushBack("application/fhir+json", a);
  formats.PushBack("json", a);
  doc.AddMember("format", formats, a);

  auto code = [&](const char* c) {
    rapidjson::Value v(rapidjson::kObjectType);
    v.AddMember("code", rapidjson::StringRef(c), a);
    return v;
  };
  auto param = [&](std::string_view name, const char* type, std::string_view doc_text) {
    rapidjson::Value p(rapidjson::kObjectType);
    p.AddMember("name", json::str(name, a), a);
    p.AddMember("type", rapidjson::StringRef(type), a);
    p.AddMember("documentation", json::str(doc_text, a), a);
    return p;
  };
  auto operation = [&](const char* name, const char* definition) {
    rapidjson::Value op(rapidjson::kObjectType);
    op.AddMember("name", rapidjson::StringRef(name), a);
    op.AddMember("definition", rapidjson::StringRef(definition), a);
    return op;
  };

  rapidjson::Value rest(rapidjson::kArrayType);
  rapidjson::Value server(rapidjson::kObjectType);
  server.AddMember("mode", "server", a);
  server.AddMember("documentation",
                   "Search results and history pages are ordered by commit sequence; links carry _cursor. "
                   "Unknown or malformed search parameters are refused with 400 unless Prefer: handling=lenient.",
                   a);
  rapidjson::Value resources(rapidjson::kArrayType);
  for (const auto& type : fhir::supportedResourceTypes()) {
    rapidjson::Value r(rapidjson::kObjectType);
    r.AddMember("type", json::str(type, a), a);
    rapidjson::Value interactions(rapidjson::kArrayType);
    for (const char* c : {"read", "vread", "update", "history-instance", "history-type", "create", "search-type"}) {
      interactions.PushBack(code(c), a);
    }
    r.AddMember("interaction", interactions, a);
    r.AddMember("versioning", "versioned-update", a);
    r.AddMember("readHistory", true, a);
    r.AddMember("updateCreate", true, a);
    r.AddMember("conditionalCreate", true, a);
    r.AddMember("conditionalRead", "not-supported", a);
    r.AddMember("conditionalUpdate", false, a);
    r.AddMember("conditionalDelete", "not-supported", a);
    rapidjson::Value includes(rapidjson::kArrayType);
    rapidjson::Value params(rapidjson::kArrayType);
    params.PushBack(param("_id", "token", "Logical id; comma-separated ids are alternatives"), a);
    params.PushBack(param("_lastUpdated", "date", "meta.lastUpdated with eq, ne, gt, ge, lt, le prefixes"), a);
    for (const auto& def : searchParamDefs()) {
      if (def.type != type) continue;
      params.PushBack(param(def.name, searchParamTypeCode(def.kind), def.description), a);
      if (def.kind == SearchParamKind::kReference) {
        includes.PushBack(json::str(std::string(def.type) + ":" + std::string(def.name), a), a);
      }
    }
    if (!includes.Empty()) r.AddMember("searchInclude", includes, a);
    rapidjson::Value revincludes(rapidjson::kArrayType);
    for (const auto& def : searchParamDefs()) {
      if (canReferTo(def, type)) revincludes.PushBack(json::str(std::string(def.type) + ":" + std::string(def.name), a), a);
    }
    if (!revincludes.Empty()) r.AddMember("searchRevInclude", revincludes, a);
    r.AddMember("searchParam", params, a);
    if (type == "Patient") {
      rapidjson::Value ops(rapidjson::kArrayType);
      ops.PushBack(operation("export", kPatientExportDefinition), a);
      ops.PushBack(operation("everything", kPatientEverythingDefinition), a);
      r.AddMember("operation", ops, a);
    }
    resources.PushBack(r, a);
  }
  addTerminologyCapability(resources, a);  // ConceptMap read, search, $translate (terminology_routes.cc)
  addPwsCapability(resources, a);          // Measure, $evaluate-measure, MeasureReport (pws_routes.cc)
  server.AddMember("resource", resources, a);
  rapidjson::Value system_interactions(rapidjson::kArrayType);
  for (const char* c : {"transaction", "batch", "history-system"}) system_interactions.PushBack(code(c), a);
  server.AddMember("interaction", system_interactions, a);
  rapidjson::Value ops(rapidjson::kArrayType);
  ops.PushBack(operation("export", kExportDefinition), a);
  server.AddMember("operation", ops, a);
  rest.PushBack(server, a);
  doc.AddMember("rest", rest, a);
  return json::write(doc);
}

FhirApi::FhirApi(Gateway& gateway)
    : gateway_(gateway),
      exporter_(std::make_unique<BulkExporter>(gateway.store(), gateway.store(), exportOptions(gateway.config()))) {}

FhirResponse FhirApi::capabilities(const FhirRequest& req) const {
  FhirResponse res;
  res.body = capabilityStatement(gateway_.config(), req.base_url);
  return res;
}

FhirResponse FhirApi::read(const RequestContext& caller, const FhirRequest& req, const std::string& type, const std::string& id,
                           std::optional<std::int64_t> version) {
  if (!fhir::isSupportedResourceType(type)) {
    return outcome(404, "not-supported", "resource type " + type + " is not served by this gateway");
  }
  auto found = version ? gateway_.store().readVersion(type, id, *version) : gateway_.store().read(type, id);
  if (!found.isOk()) return failure(found.status());
  // Tenant isolation: another organization's resource (or version) answers
  // exactly like a missing one, so not even its existence is revealed.
  if (found.value() && !caller.canRead(found.value()->organization)) found.value().reset();
  if (!found.value()) {
    return outcome(404, "not-found",
                   type + "/" + id + (version ? "/_history/" + std::to_string(*version) : "") + " does not exist");
  }
  const StoredResource& resource = *found.value();
  FhirResponse res;
  addVersionHeaders(res, resource.version, resource.last_updated);
  std::string if_none_match = req.header("if-none-match");
  if (!if_none_match.empty() && parseEtag(if_none_match) == resource.version) {
    res.status = 304;
    return res;
  }
  res.body = resource.json;
  return res;
}

FhirResponse FhirApi::search(const RequestContext& caller, const FhirRequest& req, const std::string& type) {
  if (!fhir::isSupportedResourceType(type)) {
    return outcome(404, "not-supported", "resource type " + type + " is not served by this gateway");
  }
  SearchParseOptions options;
  options.lenient = lenient(req);
  options.max_count = gateway_.config().search_count_max;  // limits.search_count_max
  options.default_count = std::min(options.default_count, options.max_count);
  ParsedSearch parsed = parseSearch(type, req.params, options);
  if (isBlocking(parsed.issues)) return outcome(400, parsed.issues);
  // Tenant isolation in the store's query: total and paging count only what
  // the caller may see.
  parsed.query.organization = caller.readOrganization();
  // The total costs a count over every match: computed on the first page
  // only, where a client looks for it, not again on every `next`.
  if (parsed.query.after_seq) parsed.query.want_total = false;
  if (parsed.summary_count) parsed.query.want_total = true;
  auto page = gateway_.store().search(parsed.query);
  if (!page.isOk()) return failure(page.status());

  std::string base = req.base_url + "/" + type;
  BundleWriter bundle("searchset", page->watermark);
  if (page->total) bundle.total(*page->total);
  QueryParams self = parsed.applied;
  if (parsed.query.after_seq) self.emplace_back("_cursor", std::to_string(*parsed.query.after_seq));
  bundle.link("self", linkUrl(base, self));
  if (page->more && !page->resources.empty()) {
    // The cursor is the commit sequence of the last entry: later pages start
    // after it, so inserts arriving meanwhile are neither skipped nor repeated.
    QueryParams next = parsed.applied;
    next.emplace_back("_cursor", std::to_string(page->resources.back().seq));
    bundle.link("next", linkUrl(base, next));
  }
  std::set<std::string> listed;
  for (const auto& r : page->resources) {
    bundle.entry(req.base_url + "/" + r.type + "/" + r.id, r.json, "\"search\":{\"mode\":\"match\"}");
    listed.insert(r.type + "/" + r.id);
  }
  if (!parsed.includes.empty() && !page->resources.empty()) {
    std::vector<ResourceKey> wanted;
    for (const auto& r : page->resources) {
      rapidjson::Document doc;
      if (json::parse(r.json, doc)) continue;
      SearchIndex index = extractSearchIndex(doc);
      for (const auto& ref : index.references) {
        for (const auto& include : parsed.includes) {
          if (ref.param != indexedAs(*include.param).name) continue;  // target_type narrows an alias
          if (!include.target_type.empty() && ref.target_type != include.target_type) continue;
          if (!fhir::isSupportedResourceType(ref.target_type)) continue;
          if (listed.insert(ref.target_type + "/" + ref.target_id).second) {
            wanted.push_back({ref.target_type, ref.target_id});
          }
        }
      }
    }
    auto included = gateway_.store().readCurrent(wanted);
    if (!included.isOk()) return failure(included.status());
    for (const auto& r : included.value()) {
      if (!caller.canRead(r.organization)) continue;  // another organization's: as if missing
      bundle.entry(req.base_url + "/" + r.type + "/" + r.id, r.json, "\"search\":{\"mode\":\"include\"}");
    }
  }
  for (const auto& revinclude : parsed.revincludes) {
    if (page->resources.empty()) break;
    // One store search per _revinclude: every resource of the source type
    // whose parameter refers to a match on this page, tenant-filtered in the
    // query like the matches; at most limits.search_count_max of them.
    SearchQuery referring;
    referring.type = std::string(revinclude.param->type);
    referring.want_total = false;
    referring.limit = gateway_.config().search_count_max;
    referring.organization = caller.readOrganization();
    SearchClause clause;
    clause.kind = SearchKind::kReference;
    clause.param = std::string(indexedAs(*revinclude.param).name);  // each value names its target type
    for (const auto& r : page->resources) {
      SearchValue v;
      v.value = r.id;
      v.target_type = r.type;
      clause.any_of.push_back(std::move(v));
    }
    referring.all_of.push_back(std::move(clause));
    auto found = gateway_.store().search(referring);
    if (!found.isOk()) return failure(found.status());
    for (const auto& r : found->resources) {
      if (!listed.insert(r.type + "/" + r.id).second) continue;
      bundle.entry(req.base_url + "/" + r.type + "/" + r.id, r.json, "\"search\":{\"mode\":\"include\"}");
    }
  }
  addOutcomeEntry(bundle, parsed.issues);
  FhirResponse res;
  res.body = bundle.finish();
  return res;
}

FhirResponse FhirApi::everything(const RequestContext& caller, const FhirRequest& req, const std::string& id) {
  // The Patient and, type after type, every resource whose `patient`
  // parameter refers to it. Paged by _count; the cursor is
  // "<type index>.<commit seq>" so a page resumes inside a type's results.
  int count = std::min(50, gateway_.config().search_count_max);
  std::size_t type_at = 0;
  std::optional<std::int64_t> after;
  QueryParams applied;
  for (const auto& [name, value] : req.params) {
    if (name == "_count") {
      int n = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || ptr != value.data() + value.size() || n < 1) {
        return outcome(400, "invalid", "_count must be a positive integer", "_count");
      }
      count = std::min(n, gateway_.config().search_count_max);
      applied.emplace_back(name, value);
    } else if (name == "_cursor") {
      std::size_t dot = value.find('.');
      bool ok = dot != std::string::npos && dot > 0 && dot <= 3;
      std::int64_t seq = 0;
      if (ok) {
        auto first = std::from_chars(value.data(), value.data() + dot, type_at);
        auto second = std::from_chars(value.data() + dot + 1, value.data() + value.size(), seq);
        ok = first.ec == std::errc() && first.ptr == value.data() + dot && second.ec == std::errc() &&
             second.ptr == value.data() + value.size() && seq >= 0;
      }
      if (!ok) return outcome(400, "invalid", "_cursor is not a cursor this server issued", "_cursor");
      if (seq > 0) after = seq;
    } else {
      return outcome(400, "not-supported", "Patient/$everything takes _count only (not " + name + ")", name);
    }
  }
  auto patient = gateway_.store().read("Patient", id);
  if (!patient.isOk()) return failure(patient.status());
  // Another organization's patient answers exactly like a missing one.
  if (!patient.value() || !caller.canRead(patient.value()->organization)) {
    return outcome(404, "not-found", "Patient/" + id + " does not exist");
  }
  std::vector<std::string> types;  // index 0 is the Patient itself
  types.emplace_back("Patient");
  for (const auto& type : fhir::supportedResourceTypes()) {
    if (type != "Patient" && patientLinkParam(type) != nullptr) types.push_back(type);
  }
  BundleWriter bundle("searchset", Watermark{});
  std::string base = req.base_url + "/Patient/" + id + "/$everything";
  QueryParams self = applied;
  for (const auto& [name, value] : req.params) {
    if (name == "_cursor") self.emplace_back(name, value);
  }
  bundle.link("self", linkUrl(base, self));
  std::vector<StoredResource> kept;
  kept.reserve(static_cast<std::size_t>(count));
  std::string next_cursor;
  if (type_at == 0) {
    kept.push_back(*patient.value());
    type_at = 1;
    after.reset();
  }
  for (; type_at < types.size() && next_cursor.empty(); ++type_at) {
    int room = count - static_cast<int>(kept.size());
    if (room <= 0) {
      next_cursor = std::to_string(type_at) + ".0";
      break;
    }
    SearchQuery query;
    query.type = types[type_at];
    query.want_total = false;
    query.limit = room;
    query.after_seq = after;
    query.organization = caller.readOrganization();  // tenant isolation, in the store's query
    SearchClause clause;
    clause.kind = SearchKind::kReference;
    clause.param = std::string(indexedAs(*patientLinkParam(types[type_at])).name);
    SearchValue v;
    v.value = id;
    v.target_type = "Patient";
    clause.any_of.push_back(std::move(v));
    query.all_of.push_back(std::move(clause));
    auto page = gateway_.store().search(query);
    if (!page.isOk()) return failure(page.status());
    for (auto& r : page->resources) kept.push_back(std::move(r));
    if (page->more && !kept.empty()) next_cursor = std::to_string(type_at) + "." + std::to_string(kept.back().seq);
    after.reset();
  }
  if (!next_cursor.empty()) {
    QueryParams next = applied;
    next.emplace_back("_cursor", next_cursor);
    bundle.link("next", linkUrl(base, next));
  }
  for (const auto& r : kept) {
    bundle.entry(req.base_url + "/" + r.type + "/" + r.id, r.json, "\"search\":{\"mode\":\"match\"}");
  }
  FhirResponse res;
  res.body = bundle.finish();
  return res;
}

FhirResponse FhirApi::history(const RequestContext& caller, const FhirRequest& req, const std::string& type, const std::string& id) {
  if (!type.empty() && !fhir::isSupportedResourceType(type)) {
    return outcome(404, "not-supported", "resource type " + type + " is not served by this gateway");
  }
  ParsedHistory parsed = parseHistory(req.params, lenient(req), gateway_.config().search_count_max);
  if (isBlocking(parsed.issues)) return outcome(400, parsed.issues);
  parsed.query.type = type;
  parsed.query.id = id;
  parsed.query.organization = caller.readOrganization();  // tenant isolation, in the store's query
  auto page = gateway_.store().history(parsed.query);
  if (!page.isOk()) return failure(page.status());
  if (!id.empty() && page->versions.empty() && !parsed.query.after_seq && !parsed.query.since) {
    auto exists = gateway_.store().read(type, id);
    // Another organization's resource is missing for this caller.
    if (exists.isOk() && (!exists.value() || !caller.canRead(exists.value()->organization))) {
      return outcome(404, "not-found", type + "/" + id + " does not exist");
    }
  }
  std::string base = req.base_url;
  if (!type.empty()) base += "/" + type;
  if (!id.empty()) base += "/" + id;
  base += "/_history";
  BundleWriter bundle("history", page->watermark);
  QueryParams self = parsed.applied;
  if (parsed.query.after_seq) self.emplace_back("_cursor", std::to_string(*parsed.query.after_seq));
  bundle.link("self", linkUrl(base, self));
  if (page->more && !page->versions.empty()) {
    QueryParams next = parsed.applied;
    next.emplace_back("_cursor", std::to_string(page->versions.back().seq));
    bundle.link("next", linkUrl(base, next));
  }
  for (const auto& v : page->versions) {
    // The store keeps no deletes, so a version is a create (1) or an update.
    bool created = v.version == 1;
    std::string members = std::string("\"request\":{\"method\":") + (created ? "\"POST\"" : "\"PUT\"") +
                          ",\"url\":" + quote(created ? v.type : v.type + "/" + v.id) + "},\"response\":{\"status\":" +
                          (created ? "\"201 Created\"" : "\"200 OK\"") + ",\"etag\":" + quote(etag(v.version)) +
                          ",\"lastModified\":" + quote(v.last_updated) + "}";
    bundle.entry(req.base_url + "/" + v.type + "/" + v.id, v.json, members);
  }
  FhirResponse res;
  res.body = bundle.finish();
  return res;
}

FhirResponse FhirApi::create(RequestContext& caller, const FhirRequest& req, const std::string& type) {
  if (!fhir::isSupportedResourceType(type)) {
    return outcome(404, "not-supported", "resource type " + type + " is not served by this gateway");
  }
  auto organization = caller.writeOrganization();
  if (!organization) return writeForbidden();
  rapidjson::Document doc;
  if (auto error = json::parse(req.body, doc)) return outcome(400, "structure", "invalid JSON: " + *error);
  if (!doc.IsObject() || json::string(doc, "resourceType") != type) {
    return outcome(400, "invalid", "the body must be a " + type + " resource", "resourceType");
  }
  // The server assigns the id of a created resource (FHIR create).
  std::string id = newId();
  if (doc.HasMember("id")) doc.RemoveMember("id");
  doc.AddMember("id", json::str(id, doc.GetAllocator()), doc.GetAllocator());
  PlannedWrite planned;
  if (!prepareWrite(doc, "", *organization, planned)) return outcome(422, planned.issues);
  std::string condition = req.header("if-none-exist");
  if (!condition.empty()) {
    if (auto problem = conditionFor(type, condition, planned.write)) return outcome(400, {*problem});
  }
  WriteBatch batch;
  batch.resources.push_back(planned.write);
  batch.audit.push_back(writeAudit(caller, *organization, "create", 'C', {type + "/" + id}, 201,
                                   condition.empty() ? "POST /fhir/" + type
                                                     : "POST /fhir/" + type + " (If-None-Exist)"));
  auto committed = gateway_.store().commit(std::move(batch));
  if (!committed.isOk()) return failure(committed.status());  // nothing stored: the request hook audits it
  caller.audited = true;  // the AuditEvent was committed with the data
  const WrittenResource& w = committed->resources.at(0);
  FhirResponse res;
  res.status = statusCode(w.outcome);
  res.headers.emplace_back("Location", resourceUrl(req.base_url, w));
  addVersionHeaders(res, w.version, w.last_updated);
  std::string prefer = req.header("prefer");
  if (prefer.find("return=minimal") != std::string::npos) return res;
  if (prefer.find("return=OperationOutcome") != std::string::npos) {
    std::vector<sdk::Issue> issues = planned.issues;
    if (issues.empty()) issues.push_back({sdk::Severity::kInformation, "informational", "", "", statusText(w.outcome)});
    res.body = outcomeJson(issues);
    return res;
  }
  if (w.outcome == WriteOutcome::kExisting) {
    auto existing = gateway_.store().readVersion(w.type, w.id, w.version);
    if (existing.isOk() && existing.value()) res.body = existing.value()->json;
  } else {
    res.body = assembleResource(planned.write, w.version, w.last_updated);
  }
  return res;
}

FhirResponse FhirApi::update(RequestContext& caller, const FhirRequest& req, const std::string& type, const std::string& id) {
  if (!fhir::isSupportedResourceType(type)) {
    return outcome(404, "not-supported", "resource type " + type + " is not served by this gateway");
  }
  rapidjson::Document doc;
  if (auto error = json::parse(req.body, doc)) return outcome(400, "structure", "invalid JSON: " + *error);
  if (!doc.IsObject() || json::string(doc, "resourceType") != type) {
    return outcome(400, "invalid", "the body must be a " + type + " resource", "resourceType");
  }
  if (json::string(doc, "id") != id) {
    return outcome(400, "invalid", "the resource id must equal the id in the URL (" + id + ")", type + ".id");
  }
  auto organization = caller.writeOrganization();
  if (!organization) return writeForbidden();
  PlannedWrite planned;
  if (!prepareWrite(doc, "", *organization, planned)) return outcome(422, planned.issues);
  std::string if_match = req.header("if-match");
  if (!if_match.empty()) {
    auto version = parseEtag(if_match);
    if (!version) return outcome(400, "invalid", "If-Match must be an ETag such as W/\"3\"");
    planned.write.if_match_version = *version;
  }
  WriteBatch batch;
  batch.resources.push_back(planned.write);
  // The store checks If-Match only after the tenant check, so another
  // organization's resource is 403 and its version is never disclosed.
  batch.audit.push_back(writeAudit(caller, *organization, "update", 'U', {type + "/" + id}, 200,
                                   "PUT /fhir/" + type + "/" + id));
  auto committed = gateway_.store().commit(std::move(batch));
  if (!committed.isOk()) return failure(committed.status());  // nothing stored: the request hook audits it
  caller.audited = true;
  const WrittenResource& w = committed->resources.at(0);
  FhirResponse res;
  res.status = statusCode(w.outcome);
  if (w.outcome == WriteOutcome::kCreated) res.headers.emplace_back("Location", resourceUrl(req.base_url, w));
  addVersionHeaders(res, w.version, w.last_updated);
  if (req.header("prefer").find("return=minimal") != std::string::npos) return res;
  res.body = assembleResource(planned.write, w.version, w.last_updated);
  return res;
}

FhirResponse FhirApi::transaction(RequestContext& caller, const FhirRequest& req) {
  rapidjson::Document doc;
  if (auto error = json::parse(req.body, doc)) return outcome(400, "structure", "invalid JSON: " + *error);
  if (!doc.IsObject() || json::string(doc, "resourceType") != "Bundle") {
    return outcome(400, "invalid", "POST /fhir takes a Bundle of type transaction or batch", "Bundle");
  }
  std::string_view bundle_type = json::string(doc, "type");
  bool is_transaction = bundle_type == "transaction";
  if (!is_transaction && bundle_type != "batch") {
    return outcome(400, "invalid", "Bundle.type must be transaction or batch", "Bundle.type");
  }
  auto organization = caller.writeOrganization();
  if (!organization) return writeForbidden();
  auto& a = doc.GetAllocator();
  rapidjson::Value empty(rapidjson::kArrayType);
  rapidjson::Value* entries = doc.HasMember("entry") && doc["entry"].IsArray() ? &doc["entry"] : &empty;
  const size_t n = entries->Size();

  // Pass 1: method, url, id for every entry.
  std::vector<PlannedWrite> planned(n);
  std::vector<std::string> errors(n);  // per entry: why it is refused (empty = fine)
  std::vector<int> error_status(n, 400);
  std::map<std::string, std::string, std::less<>> assigned;  // urn:uuid fullUrl -> Type/id
  std::set<std::string, std::less<>> conditional_urls;
  std::set<std::string> targets;
  for (size_t i = 0; i < n; ++i) {
    rapidjson::Value& entry = (*entries)[static_cast<rapidjson::SizeType>(i)];
    const rapidjson::Value* request = json::member(entry, "request");
    rapidjson::Value* resource = entry.IsObject() && entry.HasMember("resource") ? &entry["resource"] : nullptr;
    std::string method(request ? json::string(*request, "method") : "");
    std::string url(request ? json::string(*request, "url") : "");
    if (method != "POST" && method != "PUT") {
      errors[i] = "entry.request.method " + (method.empty() ? std::string("(missing)") : method) +
                  " is not supported (only POST and PUT)";
      continue;
    }
    if (resource == nullptr || !resource->IsObject()) {
      errors[i] = "entry.resource is required";
      continue;
    }
    std::string type(json::string(*resource, "resourceType"));
    if (!fhir::isSupportedResourceType(type)) {
      errors[i] = "resource type " + (type.empty() ? std::string("(missing)") : type) + " is not served";
      continue;
    }
    if (url.find('?') != std::string::npos) {
      errors[i] = "conditional update/create URLs are not supported; use request.ifNoneExist";
      continue;
    }
    std::string id;
    if (method == "POST") {
      if (url != type) {
        errors[i] = "entry.request.url must be " + type + " for POST";
        continue;
      }
      id = newId();
      if (resource->HasMember("id")) resource->RemoveMember("id");
      resource->AddMember("id", json::str(id, a), a);
      planned[i].create = true;
      std::string full_url(json::string(entry, "fullUrl"));
      if (full_url.starts_with("urn:uuid:")) {
        assigned[full_url] = type + "/" + id;
        if (request && !json::string(*request, "ifNoneExist").empty()) conditional_urls.insert(full_url);
      }
    } else {
      id = url.starts_with(type + "/") ? url.substr(type.size() + 1) : "";
      if (!isId(id) || json::string(*resource, "id") != id) {
        errors[i] = "entry.request.url must be " + type + "/{id} with the resource's id for PUT";
        continue;
      }
    }
    if (is_transaction && !targets.insert(type + "/" + id).second) {
      errors[i] = type + "/" + id + " appears twice in the transaction";
    }
  }

  // Pass 2: resolve urn:uuid references (transaction only), validate, preconditions.
  for (size_t i = 0; i < n; ++i) {
    if (!errors[i].empty()) continue;
    rapidjson::Value& entry = (*entries)[static_cast<rapidjson::SizeType>(i)];
    rapidjson::Value& resource = entry["resource"];
    const rapidjson::Value& request = entry["request"];
    if (is_transaction) {
      if (referencesAny(resource, conditional_urls)) {
        // Which id a conditional create resolves to is only known in the
        // writer, after references were fixed.
        errors[i] = "references to an entry with ifNoneExist are not supported";
        continue;
      }
      rewriteReferences(resource, assigned, a);
    }
    std::string where = "Bundle.entry[" + std::to_string(i) + "].resource";
    if (!prepareWrite(resource, where, *organization, planned[i])) {
      error_status[i] = 422;
      continue;
    }
    std::string_view if_none_exist = json::string(request, "ifNoneExist");
    if (!if_none_exist.empty()) {
      if (!planned[i].create) {
        errors[i] = "ifNoneExist applies to POST only";
        continue;
      }
      if (auto problem = conditionFor(planned[i].write.type, if_none_exist, planned[i].write)) {
        errors[i] = problem->diagnostics;
        continue;
      }
    }
    std::string_view if_match = json::string(request, "ifMatch");
    if (!if_match.empty()) {
      auto version = parseEtag(if_match);
      if (!version) {
        errors[i] = "ifMatch must be an ETag such as W/\"3\"";
        continue;
      }
      planned[i].write.if_match_version = *version;
    }
  }
  auto refused = [&](size_t i) { return !errors[i].empty() || isBlocking(planned[i].issues); };
  auto entryIssues = [&](size_t i) {
    std::vector<sdk::Issue> issues = planned[i].issues;
    if (!errors[i].empty()) {
      issues.push_back({sdk::Severity::kError, "invalid", "Bundle.entry[" + std::to_string(i) + "]", "", errors[i]});
    }
    return issues;
  };

  auto responseMembers = [&](const WrittenResource& w, size_t i) {
    std::string members = "\"response\":{\"status\":" + quote(statusText(w.outcome)) +
                          ",\"location\":" + quote(w.type + "/" + w.id + "/_history/" + std::to_string(w.version)) +
                          ",\"etag\":" + quote(etag(w.version)) + ",\"lastModified\":" + quote(w.last_updated);
    if (!planned[i].issues.empty()) members += ",\"outcome\":" + outcomeJson(planned[i].issues);
    return members + "}";
  };

  if (is_transaction) {
    std::vector<sdk::Issue> all;
    int status = 400;
    for (size_t i = 0; i < n; ++i) {
      if (!refused(i)) continue;
      auto issues = entryIssues(i);
      all.insert(all.end(), issues.begin(), issues.end());
      if (errors[i].empty()) status = error_status[i];
    }
    if (isBlocking(all)) return outcome(status, all);  // all or nothing
    WriteBatch batch;
    std::vector<std::string> entities;
    for (auto& p : planned) {
      entities.push_back(p.write.type + "/" + p.write.id);
      batch.resources.push_back(std::move(p.write));
    }
    caller.audit_entities = entities;  // for the request hook, should the commit fail
    batch.audit.push_back(writeAudit(caller, *organization, "transaction", 'C', std::move(entities), 200,
                                     "POST /fhir (transaction)"));
    auto committed = gateway_.store().commit(std::move(batch));
    if (!committed.isOk()) return failure(committed.status());  // nothing stored: the request hook audits it
    caller.audited = true;
    BundleWriter bundle("transaction-response", Watermark{});
    for (size_t i = 0; i < n; ++i) {
      const WrittenResource& w = committed->resources.at(i);
      bundle.entry(req.base_url + "/" + w.type + "/" + w.id, "", responseMembers(w, i));
    }
    FhirResponse res;
    res.body = bundle.finish();
    return res;
  }

  // Batch: every entry on its own; one failing does not stop the others.
  // Each stored entry carries its AuditEvent in its own commit; refused
  // entries are audited (queued) with their status.
  BundleWriter bundle("batch-response", Watermark{});
  auto entryAudit = [&](size_t i, int status) {
    std::string entity = planned[i].write.type.empty() ? std::string()
                                                       : planned[i].write.type + "/" + planned[i].write.id;
    return writeAudit(caller, *organization, "batch", planned[i].create ? 'C' : 'U',
                      entity.empty() ? std::vector<std::string>{} : std::vector<std::string>{entity}, status,
                      "POST /fhir (batch) entry " + std::to_string(i));
  };
  std::vector<AuditWrite> refused_events;
  for (size_t i = 0; i < n; ++i) {
    if (refused(i)) {
      int status = errors[i].empty() ? error_status[i] : 400;
      std::string text = status == 422 ? "422 Unprocessable Entity" : "400 Bad Request";
      bundle.entry("", "", "\"response\":{\"status\":" + quote(text) + ",\"outcome\":" + outcomeJson(entryIssues(i)) + "}");
      refused_events.push_back(entryAudit(i, status));
      continue;
    }
    WriteBatch batch;
    batch.resources.push_back(planned[i].write);
    batch.audit.push_back(entryAudit(i, planned[i].create ? 201 : 200));
    auto committed = gateway_.store().commit(std::move(batch));
    if (!committed.isOk()) {
      ErrorAnswer failed = errorAnswer(committed.status());
      bundle.entry("", "", "\"response\":{\"status\":" + quote(std::to_string(failed.http_status)) +
                               ",\"outcome\":" + failed.body + "}");
      refused_events.push_back(entryAudit(i, failed.http_status));
      continue;
    }
    const WrittenResource& w = committed->resources.at(0);
    bundle.entry(req.base_url + "/" + w.type + "/" + w.id, "", responseMembers(w, i));
  }
  if (n > 0) {
    if (!refused_events.empty()) gateway_.store().recordAudit(std::move(refused_events));
    caller.audited = true;  // one AuditEvent per entry instead of one for the request
  }
  FhirResponse res;
  res.body = bundle.finish();
  return res;
}

FhirResponse FhirApi::exportKickOff(const RequestContext& caller, const FhirRequest& req, ExportLevel level,
                                    const std::string& request_url) {
  if (req.header("prefer").find("respond-async") == std::string::npos) {
    return outcome(400, "invalid", "$export needs the header Prefer: respond-async");
  }
  std::string accept = req.header("accept");
  if (!accept.empty() && accept.find("application/fhir+json") == std::string::npos && accept.find("*/*") == std::string::npos) {
    return outcome(400, "invalid", "$export answers application/fhir+json (Accept)");
  }
  auto request = parseExportRequest(level, req.params);
  if (!request.isOk()) return outcome(400, "not-supported", request.status().message());
  request->request_url = request_url;
  // Tenant isolation: a clinic exports its own organization's resources, and
  // only the client that started a job may poll, download or cancel it.
  request->client_id = caller.client_id;
  request->organization = caller.readOrganization();
  auto job = exporter_->start(std::move(request.value()));
  if (!job.isOk()) return failure(job.status());  // 429 when too many jobs are kept
  FhirResponse res;
  res.status = 202;
  res.headers.emplace_back("Content-Location", req.base_url + "/_export/" + job.value());
  res.body = outcomeJson({{sdk::Severity::kInformation, "informational", "", "", "export job accepted"}});
  return res;
}

FhirResponse FhirApi::exportStatus(const RequestContext& caller, const FhirRequest& req, const std::string& job) {
  auto found = exporter_->status(job, caller.client_id);
  if (!found.isOk()) return failure(found.status());
  if (!found.value()) return outcome(404, "not-found", "no export job " + job + " (deleted, or expired)");
  const ExportStatus* status = &*found.value();
  FhirResponse res;
  switch (status->state) {
    case ExportState::kQueued:
    case ExportState::kRunning:
      res.status = 202;
      res.headers.emplace_back("X-Progress", status->state == ExportState::kQueued
                                                 ? std::string("queued")
                                                 : "exported " + std::to_string(status->exported) + " resources");
      res.headers.emplace_back("Retry-After", "1");
      return res;
    case ExportState::kFailed: return outcome(500, "exception", "export failed: " + status->error);
    case ExportState::kCompleted: break;
  }
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("transactionTime", json::str(status->transaction_time, a), a);
  doc.AddMember("request", json::str(status->request_url, a), a);
  doc.AddMember("requiresAccessToken", gateway_.config().auth_enabled, a);  // the files need a bearer token
  rapidjson::Value output(rapidjson::kArrayType);
  for (const auto& file : status->files) {
    rapidjson::Value item(rapidjson::kObjectType);
    item.AddMember("type", json::str(file.type, a), a);
    item.AddMember("url", json::str(req.base_url + "/_export/" + job + "/" + file.name, a), a);
    item.AddMember("count", file.count, a);
    output.PushBack(item, a);
  }
  doc.AddMember("output", output, a);
  doc.AddMember("error", rapidjson::Value(rapidjson::kArrayType), a);
  res.status = 200;
  res.content_type = "application/json";
  res.body = json::write(doc);
  return res;
}

FhirResponse FhirApi::exportCancel(const RequestContext& caller, const std::string& job) {
  auto cancelled = exporter_->cancel(job, caller.client_id);
  if (!cancelled.isOk()) return failure(cancelled.status());
  if (!cancelled.value()) return outcome(404, "not-found", "no export job " + job);
  FhirResponse res;
  res.status = 202;
  res.body = outcomeJson({{sdk::Severity::kInformation, "informational", "", "", "export job deleted"}});
  return res;
}

FhirResponse FhirApi::exportFile(const RequestContext& caller, const std::string& job, const std::string& name) {
  auto path = exporter_->filePath(job, name, caller.client_id);
  if (!path.isOk()) return failure(path.status());
  if (!path.value()) return outcome(404, "not-found", "no such export file");
  FhirResponse res;
  res.content_type = "application/fhir+ndjson";
  res.file_path = *path.value();
  return res;
}

namespace {

std::string requestBaseUrl(const Config& config, const httplib::Request& req, bool tls) {
  if (!config.public_base_url.empty()) {
    std::string base = config.public_base_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base + "/fhir";
  }
  std::string host = req.get_header_value("Host");
  bool plausible = !host.empty() && host.size() < 256 && std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
  });
  if (!plausible) host = config.listen_host + ":" + std::to_string(config.listen_port);
  return std::string(tls ? "https://" : "http://") + host + "/fhir";
}

FhirRequest toFhirRequest(const Config& config, const httplib::Request& req, bool tls) {
  FhirRequest out;
  out.base_url = requestBaseUrl(config, req, tls);
  for (const auto& [name, value] : req.params) out.params.emplace_back(name, value);
  for (const auto& [name, value] : req.headers) {
    std::string lower = name;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[lower] = value;
  }
  out.body = req.body;
  return out;
}

void send(const FhirResponse& answer, httplib::Response& res) {
  res.status = answer.status;
  for (const auto& [name, value] : answer.headers) res.set_header(name.c_str(), value);
  if (!answer.file_path.empty()) {
    // Streamed in chunks: an export file can be far larger than memory.
    auto file = std::make_shared<std::ifstream>(answer.file_path, std::ios::binary);
    res.set_chunked_content_provider(answer.content_type.c_str(),
                                     [file](size_t, httplib::DataSink& sink) {
                                       char buffer[64 * 1024];
                                       file->read(buffer, sizeof buffer);
                                       std::streamsize got = file->gcount();
                                       if (got > 0 && !sink.write(buffer, static_cast<size_t>(got))) return false;
                                       if (!*file) sink.done();
                                       return true;
                                     });
    return;
  }
  if (!answer.body.empty() || answer.status != 304) res.set_content(answer.body, answer.content_type.c_str());
}

}  // namespace

std::string fhirBaseUrl(const Config& config, const httplib::Request& req, bool tls) {
  return requestBaseUrl(config, req, tls);
}

void registerFhirApi(httplib::Server& server, Gateway& gateway, bool tls) {
  auto api = std::make_shared<FhirApi>(gateway);
  const Config& config = gateway.config();
  // Wraps a handler: builds the FhirRequest, runs it, writes the answer.
  auto route = [api, &config, tls](auto body) {
    return [api, &config, tls, body](const httplib::Request& req, httplib::Response& res) {
      send(body(*api, toFhirRequest(config, req, tls), req), res);
    };
  };
  constexpr const char* kType = "([A-Z][A-Za-z]{0,63})";
  constexpr const char* kId = "([A-Za-z0-9\\-\\.]{1,64})";
  const std::string type(kType);
  const std::string id(kId);
  using R = const httplib::Request&;

  // cpp-httplib tries the routes in the order they were added and takes the
  // first that matches the whole path; a route that fails after matching
  // part of it (a type, an id) costs about 1.5 us of std::regex. The two
  // routes nearly every GET takes, read and search, therefore come first.
  // None of the routes after them matches a path of theirs: a type starts
  // with a capital letter, an id holds no "$" or "_". Routes of types with
  // handlers of their own (ConceptMap, AuditEvent, Measure, MeasureReport)
  // are added before this function runs.
  server.Get("/fhir/" + type + "/" + id, route([](FhirApi& a, const FhirRequest& r, R req) {
               return a.read(currentRequest(), r, req.matches[1], req.matches[2], std::nullopt);
             }));
  server.Get("/fhir/" + type, route([](FhirApi& a, const FhirRequest& r, R req) { return a.search(currentRequest(), r, req.matches[1]); }));
  server.Get("/fhir/metadata", route([](FhirApi& a, const FhirRequest& r, R) { return a.capabilities(r); }));
  server.Get("/fhir/_history", route([](FhirApi& a, const FhirRequest& r, R) { return a.history(currentRequest(), r, "", ""); }));
  server.Get(R"(/fhir/\$export)", route([](FhirApi& a, const FhirRequest& r, R req) {
               return a.exportKickOff(currentRequest(), r, ExportLevel::kSystem, r.base_url + "/$export" +
                                                                    (req.target.find('?') != std::string::npos
                                                                         ? req.target.substr(req.target.find('?'))
                                                                         : ""));
             }));
  server.Get(R"(/fhir/Patient/\$export)", route([](FhirApi& a, const FhirRequest& r, R req) {
               return a.exportKickOff(currentRequest(), r, ExportLevel::kPatient, r.base_url + "/Patient/$export" +
                                                                     (req.target.find('?') != std::string::npos
                                                                          ? req.target.substr(req.target.find('?'))
                                                                          : ""));
             }));
  server.Get("/fhir/_export/([a-f0-9]{32})",
             route([](FhirApi& a, const FhirRequest& r, R req) { return a.exportStatus(currentRequest(), r, req.matches[1]); }));
  server.Delete("/fhir/_export/([a-f0-9]{32})",
                route([](FhirApi& a, const FhirRequest&, R req) { return a.exportCancel(currentRequest(), req.matches[1]); }));
  server.Get("/fhir/_export/([a-f0-9]{32})/([A-Za-z]{1,64}\\.ndjson)", route([](FhirApi& a, const FhirRequest&, R req) {
               return a.exportFile(currentRequest(), req.matches[1], req.matches[2]);
             }));
  server.Get("/fhir/" + type + "/_history",
             route([](FhirApi& a, const FhirRequest& r, R req) { return a.history(currentRequest(), r, req.matches[1], ""); }));
  server.Get("/fhir/Patient/" + id + R"(/\$everything)", route([](FhirApi& a, const FhirRequest& r, R req) {
               return a.everything(currentRequest(), r, req.matches[1]);
             }));
  server.Get("/fhir/" + type + "/" + id + "/_history", route([](FhirApi& a, const FhirRequest& r, R req) {
               return a.history(currentRequest(), r, req.matches[1], req.matches[2]);
             }));
  server.Get("/fhir/" + type + "/" + id + "/_history/([0-9]{1,18})", route([](FhirApi& a, const FhirRequest& r, R req) {
               return a.read(currentRequest(), r, req.matches[1], req.matches[2], std::stoll(req.matches[3]));
             }));
  server.Post("/fhir/?", route([](FhirApi& a, const FhirRequest& r, R) { return a.transaction(currentRequest(), r); }));
  server.Post("/fhir/" + type, route([](FhirApi& a, const FhirRequest& r, R req) { return a.create(currentRequest(), r, req.matches[1]); }));
  server.Put("/fhir/" + type + "/" + id, route([](FhirApi& a, const FhirRequest& r, R req) {
               return a.update(currentRequest(), r, req.matches[1], req.matches[2]);
             }));
}

}  // namespace ilpgw
