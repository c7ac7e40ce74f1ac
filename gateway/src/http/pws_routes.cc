#include "http/pws_routes.h"

#include <chrono>
#include <map>

#include "base/time_util.h"
#include "fhir/outcome.h"
#include "http/auth.h"
#include "http/errors.h"
#include "http/fhir_api.h"
#include "report/pws_service.h"
#include "report/targets.h"

namespace ilpgw {
namespace {

constexpr const char* kFhirJson = "application/fhir+json";
constexpr const char* kEvaluateDefinition = "http://hl7.org/fhir/OperationDefinition/Measure-evaluate-measure";
// How often stored monthly reports are checked against newly committed data.
constexpr std::chrono::milliseconds kRefreshInterval{2000};

using rapidjson::Value;

report::Params paramsOf(const httplib::Request& req) {
  report::Params out;
  for (const auto& [name, value] : req.params) out.emplace_back(name, value);
  return out;
}

void sendJson(httplib::Response& res, const std::string& body) {
  res.status = 200;
  res.set_content(body, kFhirJson);
}

// A searchset Bundle of whole resources (JSON texts).
std::string bundle(const std::string& base, const std::string& type, const std::vector<std::pair<std::string, std::string>>& items) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("resourceType", "Bundle", a);
  doc.AddMember("type", "searchset", a);
  doc.AddMember("total", static_cast<std::uint64_t>(items.size()), a);
  Value entries(rapidjson::kArrayType);
  for (const auto& [id, text] : items) {
    rapidjson::Document resource;
    if (json::parse(text, resource) || !resource.IsObject()) continue;
    Value entry(rapidjson::kObjectType);
    entry.AddMember("fullUrl", json::str(base + "/" + type + "/" + id, a), a);
    entry.AddMember("resource", Value(resource, a), a);
    Value search(rapidjson::kObjectType);
    search.AddMember("mode", "match", a);
    entry.AddMember("search", search, a);
    entries.PushBack(entry, a);
  }
  doc.AddMember("entry", entries, a);
  return json::write(doc);
}

void sendStoredReport(httplib::Response& res, const StoredResource& r) {
  res.status = 200;
  res.set_header("ETag", "W/\"" + std::to_string(r.version) + "\"");
  std::string modified = httpDate(r.last_updated);
  if (!modified.empty()) res.set_header("Last-Modified", modified);
  res.set_content(r.json, kFhirJson);
}

}  // namespace

std::shared_ptr<report::PwsService> registerPwsRoutes(httplib::Server& server, Gateway& gateway,
                       std::shared_ptr<const report::MeasureLibrary> library, bool tls) {
  auto pws = std::make_shared<report::PwsService>(gateway.store(), std::move(library));
  pws->startRefresher(kRefreshInterval);
  const Config& config = gateway.config();
  const std::string id = "([A-Za-z0-9\\-\\.]{1,64})";

  server.Get("/fhir/Measure", [pws, &config, tls](const httplib::Request& req, httplib::Response& res) {
    std::string url;
    for (const auto& [name, value] : req.params) {
      if (name != "url") {
        sendStatus(res, {StatusCode::kInvalidArgument, "search parameter " + name + " is not supported (only url)"},
                   name);
        return;
      }
      url = value;
    }
    std::vector<std::pair<std::string, std::string>> items;
    for (const auto& [measure_id, m] : pws->library().measures()) {
      if (url.empty() || m.url == url) items.emplace_back(measure_id, m.json);
    }
    sendJson(res, bundle(fhirBaseUrl(config, req, tls), "Measure", items));
  });
  server.Get("/fhir/Measure/" + id + R"(/\$evaluate-measure)", [pws](const httplib::Request& req, httplib::Response& res) {
    RequestContext& caller = currentRequest();
    auto answer = pws->evaluate(caller, std::string(req.matches[1]), paramsOf(req));
    if (!answer.isOk()) {
      sendStatus(res, answer.status());
      return;
    }
    caller.audit_entities = answer->audit_entities;
    sendJson(res, answer->body);
  });
  server.Get("/fhir/Measure/" + id, [pws](const httplib::Request& req, httplib::Response& res) {
    const report::MeasureDefinition* m = pws->library().find(std::string(req.matches[1]));
    if (m == nullptr) {
      sendStatus(res, {StatusCode::kNotFound, "Measure/" + std::string(req.matches[1]) + " does not exist"});
      return;
    }
    sendJson(res, m->json);
  });
  server.Get("/fhir/MeasureReport", [pws, &config, tls](const httplib::Request& req, httplib::Response& res) {
    RequestContext& caller = currentRequest();
    auto found = pws->searchReports(caller, paramsOf(req));
    if (!found.isOk()) {
      sendStatus(res, found.status());
      return;
    }
    std::vector<std::pair<std::string, std::string>> items;
    for (const auto& r : found.value()) {
      items.emplace_back(r.id, r.json);
      caller.audit_entities.push_back("MeasureReport/" + r.id);
    }
    sendJson(res, bundle(fhirBaseUrl(config, req, tls), "MeasureReport", items));
  });
  auto read = [pws](const httplib::Request& req, httplib::Response& res, std::optional<std::int64_t> version) {
    RequestContext& caller = currentRequest();
    std::string report_id = req.matches[1];
    auto found = pws->readReport(caller, report_id, version);
    if (!found.isOk()) {
      sendStatus(res, found.status());
      return;
    }
    if (!found.value()) {  // another organization's report answers like a missing one
      sendStatus(res, {StatusCode::kNotFound, "MeasureReport/" + report_id + " does not exist"});
      return;
    }
    caller.audit_entities = {"MeasureReport/" + report_id};
    sendStoredReport(res, *found.value());
  };
  server.Get("/fhir/MeasureReport/" + id + "/_history/([0-9]{1,18})",
             [read](const httplib::Request& req, httplib::Response& res) {
               read(req, res, std::stoll(req.matches[2]));
             });
  server.Get("/fhir/MeasureReport/" + id,
             [read](const httplib::Request& req, httplib::Response& res) { read(req, res, std::nullopt); });
  // Targets (sasaran) for operators (admin scope: /admin/*): the CSV of
  // `ilp-gateway sasaran import`, in and out.
  server.Post("/admin/sasaran", [pws, &gateway](const httplib::Request& req, httplib::Response& res) {
    RequestContext& caller = currentRequest();
    report::SasaranFile file = report::parseSasaranCsv(req.body, pws->library());
    if (!file.problems.empty()) {
      std::vector<sdk::Issue> issues;
      for (const auto& p : file.problems) {
        sdk::Issue issue;
        issue.code = "invalid";
        issue.location = "row " + std::to_string(p.line) + (p.column.empty() ? "" : ", column " + p.column);
        issue.diagnostics = report::describe(p) + "; nothing was imported";
        issues.push_back(std::move(issue));
      }
      res.status = 422;
      res.set_content(outcomeJson(issues), kFhirJson);
      return;
    }
    auto committed = report::importSasaran(gateway.store(), file.rows, caller.client_id, "POST /admin/sasaran");
    if (!committed.isOk()) {
      sendStatus(res, committed.status());
      return;
    }
    caller.audited = true;  // the import's AuditEvent is in its commit
    std::map<std::pair<std::string, int>, size_t> per_table;
    for (const auto& row : file.rows) ++per_table[{row.organization, row.year}];
    rapidjson::Document doc(rapidjson::kObjectType);
    auto& a = doc.GetAllocator();
    Value tables(rapidjson::kArrayType);
    size_t i = 0;
    for (const auto& [key, rows] : per_table) {
      const auto& written = committed->resources[i++];
      Value t(rapidjson::kObjectType);
      t.AddMember("puskesmas", json::str(key.first, a), a);
      t.AddMember("tahun", key.second, a);
      t.AddMember("baris", static_cast<std::uint64_t>(rows), a);
      t.AddMember("versi", static_cast<std::int64_t>(written.version), a);
      t.AddMember("berubah", written.outcome != WriteOutcome::kUnchanged, a);
      tables.PushBack(t, a);
    }
    doc.AddMember("sasaran", tables, a);
    res.set_content(json::write(doc), "application/json");
  });
  server.Get("/admin/sasaran", [&gateway](const httplib::Request& req, httplib::Response& res) {
    std::string org = req.get_param_value("puskesmas");
    std::string year = req.get_param_value("tahun");
    if (org.empty() || year.size() != 4 || year.find_first_not_of("0123456789") != std::string::npos) {
      sendStatus(res, {StatusCode::kInvalidArgument, "puskesmas and tahun (YYYY) are required"},
                 org.empty() ? "puskesmas" : "tahun");
      return;
    }
    auto csv = report::sasaranCsv(gateway.store(), org, std::stoi(year));
    if (!csv.isOk()) {
      sendStatus(res, csv.status());
      return;
    }
    currentRequest().audit_entities = {"Basic/" + report::sasaranResourceId(org, std::stoi(year))};
    res.set_content(csv.value(), "text/csv; charset=utf-8");
  });
  return pws;
}

void addPwsCapability(Value& resources, rapidjson::Document::AllocatorType& a) {
  auto entry = [&](const char* type, std::initializer_list<std::pair<const char*, const char*>> params,
                   std::initializer_list<const char*> interactions) {
    Value r(rapidjson::kObjectType);
    r.AddMember("type", rapidjson::StringRef(type), a);
    Value list(rapidjson::kArrayType);
    for (const char* code : interactions) {
      Value i(rapidjson::kObjectType);
      i.AddMember("code", rapidjson::StringRef(code), a);
      list.PushBack(i, a);
    }
    r.AddMember("interaction", list, a);
    Value search(rapidjson::kArrayType);
    for (const auto& [name, param_type] : params) {
      Value p(rapidjson::kObjectType);
      p.AddMember("name", rapidjson::StringRef(name), a);
      p.AddMember("type", rapidjson::StringRef(param_type), a);
      search.PushBack(p, a);
    }
    r.AddMember("searchParam", search, a);
    return r;
  };
  Value measure = entry("Measure", {{"url", "uri"}}, {"read", "search-type"});
  measure.AddMember("documentation",
                    "PWS indicators (mappings/measures/): proportion scoring, stratified by desa. $evaluate-measure "
                    "takes periodStart, periodEnd (one calendar month, quarter or year), subject=Organization/{id} "
                    "and reportType=summary|subject-list.",
                    a);
  Value operations(rapidjson::kArrayType);
  Value evaluate(rapidjson::kObjectType);
  evaluate.AddMember("name", "evaluate-measure", a);
  evaluate.AddMember("definition", rapidjson::StringRef(kEvaluateDefinition), a);
  operations.PushBack(evaluate, a);
  measure.AddMember("operation", operations, a);
  resources.PushBack(measure, a);
  Value report = entry("MeasureReport", {{"measure", "reference"}, {"period", "date"}, {"subject", "reference"}},
                       {"read", "vread", "search-type"});
  report.AddMember("documentation",
                   "Monthly summary reports stored by $evaluate-measure and recomputed (a new version) when data for "
                   "that month or an earlier month of its year arrives later.",
                   a);
  resources.PushBack(report, a);
}

}  // namespace ilpgw
