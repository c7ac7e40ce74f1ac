// FHIR R4 structural validation of the resources the gateway stores, plus the
// ILP/SATUSEHAT business rules (NIK shape and embedded facts).
//
// Table-driven: each supported resource type and data type lists its elements
// with type and cardinality, and required bindings list their codes. Unknown
// elements, wrong JSON types, bad primitive formats (date, dateTime, instant,
// id, code, uri, decimal ...), missing required elements, too many repeats
// and codes outside required value sets are errors with a FHIRPath-like
// `expression` such as `Observation.component[1].valueQuantity.value`.
#pragma once

#include <string>
#include <vector>

#include "ilpgw/sdk/adapter.h"
#include "base/json.h"

namespace ilpgw::fhir {

// Resource types the validator knows; the store accepts only these.
const std::vector<std::string>& supportedResourceTypes();
bool isSupportedResourceType(std::string_view type);

// Appends problems of `resource` to `issues`. Never throws on any input.
void validateResource(const rapidjson::Value& resource, std::vector<sdk::Issue>& issues);

}  // namespace ilpgw::fhir
