#include "http/routes.h"

#include "http/admin_routes.h"
#include "http/fhir_api.h"
#include "base/json.h"
#include "base/log.h"
#include "fhir/outcome.h"
#include "http/auth.h"
#include "http/errors.h"
#include "http/metrics_routes.h"
#include "http/terminology_routes.h"
#include "base/time_util.h"

namespace ilpgw {
namespace {

constexpr const char* kFhirJson = "application/fhir+json";

void handleIngest(Gateway& gateway, const httplib::Request& req, httplib::Response& res) {
  IngestResponse answer =
      gateway.ingest(currentRequest(), std::string(req.matches[1]), req.body, req.get_header_value("Content-Type"));
  currentRequest().audited = answer.audited;
  res.status = answer.http_status;
  for (const auto& [name, value] : answer.headers) res.set_header(name.c_str(), value);
  res.set_content(answer.body, kFhirJson);
}

std::string pluginsJson(const Gateway& gateway) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  rapidjson::Value list(rapidjson::kArrayType);
  auto set = gateway.adapters();
  for (const auto& [name, active] : set->adapters) {
    const auto& info = active.loaded->info();
    rapidjson::Value item(rapidjson::kObjectType);
    item.AddMember("name", json::str(info.name, a), a);
    item.AddMember("version", json::str(info.version, a), a);
    item.AddMember("description", json::str(info.description, a), a);
    item.AddMember("abi", sdk::kAbiVersion, a);
    item.AddMember("library", json::str(active.loaded->path(), a), a);
    rapidjson::Value formats(rapidjson::kArrayType);
    for (const auto& f : info.formats) formats.PushBack(json::str(f, a), a);
    item.AddMember("formats", formats, a);
    rapidjson::Value options(rapidjson::kArrayType);
    for (const auto& spec : info.options) {
      rapidjson::Value o(rapidjson::kObjectType);
      o.AddMember("name", json::str(spec.name, a), a);
      o.AddMember("type", json::str(spec.type, a), a);
      o.AddMember("default", json::str(spec.default_value, a), a);
      o.AddMember("description", json::str(spec.description, a), a);
      for (const auto& [key, value] : active.options) {
        if (key == spec.name) o.AddMember("value", json::str(value, a), a);
      }
      options.PushBack(o, a);
    }
    item.AddMember("options", options, a);
    item.AddMember("route", json::str("/ingest/" + info.name, a), a);
    item.AddMember("enabled", true, a);
    item.AddMember("source", json::str(adapterSourceUri(*active.loaded), a), a);
    item.AddMember("sha256", json::str(active.loaded->contentHash(), a), a);
    item.AddMember("timeout_ms", active.timeout_ms, a);
    int hung = active.loaded->hung_calls.load();
    item.AddMember("healthy", hung == 0, a);
    item.AddMember("hung_calls", hung, a);
    item.AddMember("timed_out_calls", static_cast<int64_t>(active.loaded->timed_out_calls.load()), a);
    list.PushBack(item, a);
  }
  for (const auto& plugin : set->disabled) {
    rapidjson::Value item(rapidjson::kObjectType);
    item.AddMember("name", json::str(plugin.name, a), a);
    item.AddMember("library", json::str(plugin.library, a), a);
    item.AddMember("enabled", false, a);
    list.PushBack(item, a);
  }
  doc.AddMember("plugins", list, a);
  return json::write(doc);
}

void handleReload(Gateway& gateway, httplib::Response& res) {
  Status reloaded = gateway.reload();
  if (!reloaded.isOk()) {
    // A refused configuration is the client's (the operator's) problem to
    // fix: 422, while the previous adapters keep serving.
    bool operator_error = reloaded.code() == StatusCode::kInvalidArgument || reloaded.code() == StatusCode::kNotFound;
    sendStatus(res, {operator_error ? StatusCode::kUnprocessable : reloaded.code(),
                     "reload refused, the previous adapters keep serving: " + reloaded.message()});
    return;
  }
  res.set_content(pluginsJson(gateway), "application/json");
}

}  // namespace

void registerRoutes(httplib::Server& server, Gateway& gateway, bool tls) {
  registerTerminologyRoutes(server, gateway);  // before the generic /fhir/{type}/{id} routes
  server.Post(R"(/ingest/([A-Za-z0-9_.\-]{1,64}))",
              [&gateway](const httplib::Request& req, httplib::Response& res) { handleIngest(gateway, req, res); });
  // Everything under /fhir (fhir_api.cc), registered in its own order.
  registerFhirApi(server, gateway, tls);
  server.Get("/admin/plugins", [&gateway](const httplib::Request&, httplib::Response& res) {
    res.set_content(pluginsJson(gateway), "application/json");
  });
  server.Post("/admin/plugins/reload",
              [&gateway](const httplib::Request&, httplib::Response& res) { handleReload(gateway, res); });
  server.Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"status\":\"up\"}", "application/json");
  });
  // Quarantine, payloads, outbox and GET /ready (admin_routes.cc).
  registerAdminRoutes(server, gateway);
  registerMetricsRoutes(server, gateway);
}

}  // namespace ilpgw
