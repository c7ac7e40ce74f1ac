#include "routes.h"

#include "fhir_validator.h"
#include "json.h"
#include "log.h"
#include "outcome.h"
#include "security.h"
#include "time_util.h"

namespace ilpgw {
namespace {

constexpr const char* kFhirJson = "application/fhir+json";

void sendOutcome(httplib::Response& res, int status, std::string_view code, std::string_view diagnostics,
                 std::string_view expression = {}) {
  res.status = status;
  res.set_content(outcomeJson(sdk::Severity::kError, code, diagnostics, expression), kFhirJson);
}

void sendResource(const httplib::Request& req, httplib::Response& res, const StoredResource& resource) {
  std::string etag = "W/\"" + std::to_string(resource.version) + "\"";
  res.set_header("ETag", etag);
  res.set_header("Last-Modified", httpDate(resource.last_updated));
  if (req.get_header_value("If-None-Match") == etag) {
    res.status = 304;
    return;
  }
  res.status = 200;
  res.set_content(resource.json, kFhirJson);
}

void handleRead(Gateway& gateway, const httplib::Request& req, httplib::Response& res) {
  std::string type = req.matches[1];
  std::string id = req.matches[2];
  if (!fhir::isSupportedResourceType(type)) {
    sendOutcome(res, 404, "not-supported", "resource type " + type + " is not served by this gateway");
    return;
  }
  StatusOr<std::optional<StoredResource>> found =
      req.matches.size() > 3 && req.matches[3].matched
          ? gateway.store().readVersion(type, id, std::stoll(req.matches[3]))
          : gateway.store().read(type, id);
  if (!found.isOk()) {
    sendOutcome(res, httpStatus(found.status().code()), "exception", found.status().message());
    return;
  }
  // Tenant isolation: another organization's resource answers exactly like a
  // missing one, so its existence is not revealed either.
  if (found.value() && !currentRequest().canRead(found.value()->organization)) found.value().reset();
  if (!found.value()) {
    sendOutcome(res, 404, "not-found", type + "/" + id + (req.matches.size() > 3 && req.matches[3].matched
                                                                ? "/_history/" + std::string(req.matches[3])
                                                                : "") +
                                           " does not exist");
    return;
  }
  sendResource(req, res, *found.value());
}

void handleIngest(Gateway& gateway, const httplib::Request& req, httplib::Response& res) {
  IngestResponse answer =
      gateway.ingest(currentRequest(), std::string(req.matches[1]), req.body, req.get_header_value("Content-Type"));
  currentRequest().audited = answer.audited;
  res.status = answer.http_status;
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
    list.PushBack(item, a);
  }
  doc.AddMember("plugins", list, a);
  return json::write(doc);
}

}  // namespace

std::string capabilityStatement(const Gateway& gateway) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("resourceType", "CapabilityStatement", a);
  doc.AddMember("status", "active", a);
  doc.AddMember("date", json::str(nowInstant().substr(0, 10), a), a);
  doc.AddMember("kind", "instance", a);
  rapidjson::Value software(rapidjson::kObjectType);
  software.AddMember("name", "ILP Gateway", a);
  software.AddMember("version", ILPGW_VERSION, a);
  doc.AddMember("software", software, a);
  rapidjson::Value implementation(rapidjson::kObjectType);
  std::string description =
      "ILP Gateway for " + gateway.config().organization_id +
      ". Clinic systems post native records to POST /ingest/{adapter} (adapters listed at GET /admin/plugins); "
      "the resources they produce are served here read-only.";
  implementation.AddMember("description", json::str(description, a), a);
  doc.AddMember("implementation", implementation, a);
  doc.AddMember("fhirVersion", "4.0.1", a);
  rapidjson::Value formats(rapidjson::kArrayType);
  formats.PushBack("application/fhir+json", a);
  formats.PushBack("json", a);
  doc.AddMember("format", formats, a);
  rapidjson::Value rest(rapidjson::kArrayType);
  rapidjson::Value server(rapidjson::kObjectType);
  server.AddMember("mode", "server", a);
  rapidjson::Value resources(rapidjson::kArrayType);
  for (const auto& type : fhir::supportedResourceTypes()) {
    rapidjson::Value r(rapidjson::kObjectType);
    r.AddMember("type", json::str(type, a), a);
    rapidjson::Value interactions(rapidjson::kArrayType);
    for (const char* code : {"read", "vread"}) {
      rapidjson::Value i(rapidjson::kObjectType);
      i.AddMember("code", rapidjson::StringRef(code), a);
      interactions.PushBack(i, a);
    }
    r.AddMember("interaction", interactions, a);
    r.AddMember("versioning", "versioned", a);
    r.AddMember("readHistory", true, a);
    resources.PushBack(r, a);
  }
  server.AddMember("resource", resources, a);
  rest.PushBack(server, a);
  doc.AddMember("rest", rest, a);
  return json::write(doc);
}

void registerRoutes(httplib::Server& server, Gateway& gateway, bool /*tls*/) {
  server.Post(R"(/ingest/([A-Za-z0-9_.\-]{1,64}))",
              [&gateway](const httplib::Request& req, httplib::Response& res) { handleIngest(gateway, req, res); });
  server.Get("/fhir/metadata", [&gateway](const httplib::Request&, httplib::Response& res) {
    res.set_content(capabilityStatement(gateway), kFhirJson);
  });
  server.Get(R"(/fhir/([A-Za-z]{1,64})/([A-Za-z0-9\-\.]{1,64})(?:/_history/([0-9]{1,18}))?)",
             [&gateway](const httplib::Request& req, httplib::Response& res) { handleRead(gateway, req, res); });
  server.Get("/admin/plugins", [&gateway](const httplib::Request&, httplib::Response& res) {
    res.set_content(pluginsJson(gateway), "application/json");
  });
  server.Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"status\":\"up\"}", "application/json");
  });
  server.Get("/ready", [&gateway](const httplib::Request&, httplib::Response& res) {
    Status writable = gateway.store().checkWritable();
    auto set = gateway.adapters();
    bool ready = writable.isOk() && !set->adapters.empty();
    res.status = ready ? 200 : 503;
    std::string body = std::string("{\"status\":\"") + (ready ? "ready" : "not-ready") +
                       "\",\"store\":\"" + (writable.isOk() ? "writable" : "unavailable") +
                       "\",\"plugins\":" + std::to_string(set->adapters.size()) + "}";
    res.set_content(body, "application/json");
  });
}

}  // namespace ilpgw
