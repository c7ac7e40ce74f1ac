// Turns a validated FHIR resource into a ResourceWrite: the JSON text split
// where the store inserts meta.versionId/lastUpdated, the content hash and the
// search index rows.
#pragma once

#include "json.h"
#include "store.h"

namespace ilpgw {

// `resource` must be an object with string resourceType and id (validated).
// meta.versionId and meta.lastUpdated in the input are dropped: the store
// owns them. Other meta elements (tag, source, profile) are kept.
ResourceWrite prepareResource(const rapidjson::Value& resource);

// Joins head, store-owned meta and tail into the stored JSON text.
std::string assembleResource(const ResourceWrite& write, std::int64_t version, std::string_view last_updated);

// The resource without store-owned meta (for offline mapping output).
std::string unversionedResource(const ResourceWrite& write);

}  // namespace ilpgw
