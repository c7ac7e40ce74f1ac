// Turns a validated FHIR resource into a ResourceWrite: the JSON text split
// where the store inserts meta.versionId/lastUpdated, the content hash and the
// search index rows.
#pragma once

#include "base/json.h"
#include "store/types.h"

namespace ilpgw {

// `resource` must be an object with string resourceType and id (validated).
// meta.versionId and meta.lastUpdated in the input are dropped: the store
// owns them. Other meta elements (tag, source, profile) are kept.
ResourceWrite prepareResource(const rapidjson::Value& resource);

// assembleResource() and unversionedResource() live with ResourceWrite in
// store/types.h.

}  // namespace ilpgw
