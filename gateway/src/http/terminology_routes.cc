#include "http/terminology_routes.h"

#include <algorithm>
#include <cctype>

#include "base/json.h"
#include "fhir/outcome.h"

namespace ilpgw {
namespace {

constexpr const char* kFhirJson = "application/fhir+json";
using rapidjson::Value;

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string param(const std::multimap<std::string, std::string>& params, const std::string& name) {
  auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

Value parameter(const char* name, rapidjson::Document::AllocatorType& a) {
  Value p(rapidjson::kObjectType);
  p.AddMember("name", rapidjson::StringRef(name), a);
  return p;
}

}  // namespace

TerminologyAnswer conceptMapSearch(const Terminology& terminology, const std::string& url_filter,
                                   const std::string& base_url) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("resourceType", "Bundle", a);
  doc.AddMember("type", "searchset", a);
  Value entries(rapidjson::kArrayType);
  for (const auto& [id, text] : terminology.conceptMaps()) {
    rapidjson::Document map;
    if (json::parse(text, map) || !map.IsObject()) continue;
    if (!url_filter.empty() && json::string(map, "url") != url_filter) continue;
    Value entry(rapidjson::kObjectType);
    entry.AddMember("fullUrl", json::str(base_url + "/fhir/ConceptMap/" + id, a), a);
    entry.AddMember("resource", Value(map, a), a);
    Value search(rapidjson::kObjectType);
    search.AddMember("mode", "match", a);
    entry.AddMember("search", search, a);
    entries.PushBack(entry, a);
  }
  doc.AddMember("total", entries.Size(), a);
  doc.AddMember("entry", entries, a);
  return {200, json::write(doc)};
}

TerminologyAnswer conceptMapRead(const Terminology& terminology, const std::string& id) {
  auto it = terminology.conceptMaps().find(id);
  if (it == terminology.conceptMaps().end()) {
    return {404, outcomeJson(sdk::Severity::kError, "not-found", "ConceptMap/" + id + " does not exist")};
  }
  return {200, it->second};
}

TerminologyAnswer conceptMapTranslate(const Terminology& terminology, const std::multimap<std::string, std::string>& params,
                                      const std::string& map_id) {
  std::string url = param(params, "url");
  if (url.empty()) url = param(params, "conceptMap");
  std::string system = param(params, "system");
  std::string source = param(params, "source");
  std::string code = param(params, "code");
  std::string target = param(params, "target");
  std::string target_system = param(params, "targetsystem");
  if (code.empty()) {
    return {400, outcomeJson(sdk::Severity::kError, "required", "$translate needs a code (and url, system or source)",
                             "code")};
  }
  if (map_id.empty() && url.empty() && system.empty() && source.empty()) {
    return {400, outcomeJson(sdk::Severity::kError, "required",
                             "$translate needs url (the ConceptMap), system (the code's system) or source (a ValueSet)")};
  }
  if (!map_id.empty() && terminology.conceptMaps().count(map_id) == 0) {
    return {404, outcomeJson(sdk::Severity::kError, "not-found", "ConceptMap/" + map_id + " does not exist")};
  }

  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  Value matches(rapidjson::kArrayType);
  bool any_map = false;
  std::string wanted = lower(code);
  for (const auto& [id, text] : terminology.conceptMaps()) {
    if (!map_id.empty() && id != map_id) continue;
    rapidjson::Document map;
    if (json::parse(text, map) || !map.IsObject()) continue;
    std::string map_url(json::string(map, "url"));
    if (!url.empty() && map_url != url) continue;
    if (!source.empty() && json::string(map, "sourceUri") != source) continue;
    if (!target.empty() && json::string(map, "targetUri") != target) continue;
    const Value* groups = json::member(map, "group");
    if (groups == nullptr || !groups->IsArray()) continue;
    for (const auto& group : groups->GetArray()) {
      if (!system.empty() && json::string(group, "source") != system) continue;
      if (!target_system.empty() && json::string(group, "target") != target_system) continue;
      any_map = true;
      const Value* elements = json::member(group, "element");
      if (elements == nullptr || !elements->IsArray()) continue;
      for (const auto& element : elements->GetArray()) {
        // Matching is case-insensitive, as the adapters look codes up.
        if (lower(json::string(element, "code")) != wanted) continue;
        const Value* targets = json::member(element, "target");
        if (targets == nullptr || !targets->IsArray()) continue;
        for (const auto& t : targets->GetArray()) {
          Value match = parameter("match", a);
          Value parts(rapidjson::kArrayType);
          Value equivalence = parameter("equivalence", a);
          std::string eq(json::string(t, "equivalence"));
          equivalence.AddMember("valueCode", json::str(eq.empty() ? "equivalent" : eq, a), a);
          parts.PushBack(equivalence, a);
          Value concept_part = parameter("concept", a);
          Value coding(rapidjson::kObjectType);
          coding.AddMember("system", json::str(json::string(group, "target"), a), a);
          coding.AddMember("code", json::str(json::string(t, "code"), a), a);
          if (!json::string(t, "display").empty()) coding.AddMember("display", json::str(json::string(t, "display"), a), a);
          concept_part.AddMember("valueCoding", coding, a);
          parts.PushBack(concept_part, a);
          Value source_part = parameter("source", a);
          source_part.AddMember("valueUri", json::str(map_url, a), a);
          parts.PushBack(source_part, a);
          match.AddMember("part", parts, a);
          matches.PushBack(match, a);
        }
      }
    }
  }
  if (!any_map) {
    return {404, outcomeJson(sdk::Severity::kError, "not-found",
                             "no ConceptMap matches the given url, system, source or target")};
  }
  bool result = false;
  for (const auto& m : matches.GetArray()) {
    std::string eq(json::string(m["part"][0], "valueCode"));
    if (eq != "unmatched" && eq != "disjoint") result = true;
  }
  doc.AddMember("resourceType", "Parameters", a);
  Value parameters(rapidjson::kArrayType);
  Value result_param = parameter("result", a);
  result_param.AddMember("valueBoolean", result, a);
  parameters.PushBack(result_param, a);
  if (!result) {
    Value message = parameter("message", a);
    message.AddMember("valueString", "no mapping found for this code", a);
    parameters.PushBack(message, a);
  }
  for (auto& m : matches.GetArray()) parameters.PushBack(Value(m, a), a);
  doc.AddMember("parameter", parameters, a);
  return {200, json::write(doc)};
}

void registerTerminologyRoutes(httplib::Server& server, Gateway& gateway) {
  auto send = [](httplib::Response& res, const TerminologyAnswer& answer) {
    res.status = answer.status;
    res.set_content(answer.body, kFhirJson);
  };
  auto params = [](const httplib::Request& req) {
    return std::multimap<std::string, std::string>(req.params.begin(), req.params.end());
  };
  server.Get("/fhir/ConceptMap", [&gateway, send](const httplib::Request& req, httplib::Response& res) {
    std::string base = gateway.config().public_base_url;
    if (base.empty()) base = "https://" + req.get_header_value("Host");
    send(res, conceptMapSearch(*gateway.adapters()->terminology, req.get_param_value("url"), base));
  });
  server.Get(R"(/fhir/ConceptMap/\$translate)", [&gateway, send, params](const httplib::Request& req,
                                                                         httplib::Response& res) {
    send(res, conceptMapTranslate(*gateway.adapters()->terminology, params(req), ""));
  });
  server.Get(R"(/fhir/ConceptMap/([A-Za-z0-9\-\.]{1,64})/\$translate)",
             [&gateway, send, params](const httplib::Request& req, httplib::Response& res) {
               send(res, conceptMapTranslate(*gateway.adapters()->terminology, params(req), req.matches[1]));
             });
  server.Get(R"(/fhir/ConceptMap/([A-Za-z0-9\-\.]{1,64}))", [&gateway, send](const httplib::Request& req,
                                                                             httplib::Response& res) {
    send(res, conceptMapRead(*gateway.adapters()->terminology, req.matches[1]));
  });
}

void addTerminologyCapability(Value& resources, rapidjson::Document::AllocatorType& a) {
  Value r(rapidjson::kObjectType);
  r.AddMember("type", "ConceptMap", a);
  Value interactions(rapidjson::kArrayType);
  for (const char* code : {"read", "search-type"}) {
    Value i(rapidjson::kObjectType);
    i.AddMember("code", rapidjson::StringRef(code), a);
    interactions.PushBack(i, a);
  }
  r.AddMember("interaction", interactions, a);
  Value search(rapidjson::kArrayType);
  Value url(rapidjson::kObjectType);
  url.AddMember("name", "url", a);
  url.AddMember("type", "uri", a);
  search.PushBack(url, a);
  r.AddMember("searchParam", search, a);
  Value operations(rapidjson::kArrayType);
  Value translate(rapidjson::kObjectType);
  translate.AddMember("name", "translate", a);
  translate.AddMember("definition", "http://hl7.org/fhir/OperationDefinition/ConceptMap-translate", a);
  operations.PushBack(translate, a);
  r.AddMember("operation", operations, a);
  resources.PushBack(r, a);
}

}  // namespace ilpgw
