// FHIR terminology endpoints over the ConceptMaps in mappings/:
//   GET /fhir/ConceptMap                      Bundle (searchset) of every map; ?url= filters
//   GET /fhir/ConceptMap/{id}                 one map
//   GET /fhir/ConceptMap/$translate?...       FHIR R4 $translate (url | system | source, code)
//   GET /fhir/ConceptMap/{id}/$translate?...  $translate on one map
// Handlers are thin; the answers are built by the plain functions below.
#pragma once

#include <httplib.h>

#include <map>
#include <string>

#include "ingest/gateway.h"
#include "base/json.h"
#include "fhir/terminology.h"

namespace ilpgw {

struct TerminologyAnswer {
  int status = 200;
  std::string body;  // FHIR JSON: Bundle, ConceptMap, Parameters or OperationOutcome
};

TerminologyAnswer conceptMapSearch(const Terminology& terminology, const std::string& url_filter,
                                   const std::string& base_url);
TerminologyAnswer conceptMapRead(const Terminology& terminology, const std::string& id);
// `params`: query parameters (url, conceptMap, system, source, code, target, targetsystem);
// `map_id`: from the instance-level route, or empty.
TerminologyAnswer conceptMapTranslate(const Terminology& terminology, const std::multimap<std::string, std::string>& params,
                                      const std::string& map_id);

// Registers the routes; call before the generic /fhir/{type}/{id} read route.
void registerTerminologyRoutes(httplib::Server& server, Gateway& gateway);

// The ConceptMap entry of the CapabilityStatement's rest.resource list.
void addTerminologyCapability(rapidjson::Value& resources, rapidjson::Document::AllocatorType& allocator);

}  // namespace ilpgw
