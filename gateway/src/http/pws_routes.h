// The PWS routes of the FHIR API: GET /fhir/Measure, /fhir/Measure/{id},
// /fhir/Measure/{id}/$evaluate-measure, /fhir/MeasureReport and
// /fhir/MeasureReport/{id}[/_history/{v}]; and for operators POST and GET
// /admin/sasaran (the targets CSV of `ilp-gateway sasaran import`). Thin: report::PwsService does the
// work; these map its Status to the one error answer and fill the audit
// entities. Registered before the generic /fhir/{type} routes.
#pragma once

#include <httplib.h>

#include <memory>

#include "base/json.h"
#include "ingest/gateway.h"
#include "report/measure.h"
#include "report/pws_service.h"

namespace ilpgw {

// Also starts the refresher of stored monthly reports; it stops when the
// server's handlers (and the returned service's other holders) are destroyed.
std::shared_ptr<report::PwsService> registerPwsRoutes(httplib::Server& server, Gateway& gateway,
                       std::shared_ptr<const report::MeasureLibrary> library, bool tls);

// Measure and MeasureReport entries of the CapabilityStatement.
void addPwsCapability(rapidjson::Value& resources, rapidjson::Document::AllocatorType& a);

}  // namespace ilpgw
