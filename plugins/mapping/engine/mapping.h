// The declarative mapping language (docs: mappings/README.md, schema:
// mappings/schema/mapping.schema.json): a mapping file says how the fields of a
// flat (CSV) or nested (JSON) local record become FHIR resources. This unit
// compiles a mapping file once (validating it, with errors naming file, line
// and key) and runs the compiled form on payloads, one sdk::Record per native
// record. Compiled mappings are immutable: many threads may run one at once.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ilpgw/sdk/adapter.h"

namespace ilpgw::plugins::mapping {

struct Mapping;

struct CompiledMapping {
  std::shared_ptr<const Mapping> mapping;  // null when errors is not empty
  std::vector<std::string> errors;         // "file:line: message", in file order
};

// `file_name` only appears in messages. `ucum_table` is the UCUM atom table
// (mappings/ucum-units.json) read when a field says "ucum": true; empty: the
// one beside the mapping file.
CompiledMapping compileMapping(std::string_view text, const std::string& file_name,
                               const std::string& ucum_table = {});
CompiledMapping compileMappingFile(const std::string& path, const std::string& ucum_table = {});

// What the mapping says about itself, for AdapterInfo.
std::string mappingName(const Mapping& mapping);
std::string mappingVersion(const Mapping& mapping);
std::string mappingDescription(const Mapping& mapping);
std::vector<std::string> mappingMediaTypes(const Mapping& mapping);

sdk::MapResult runMapping(const Mapping& mapping, std::string_view payload, const sdk::Context& context);

}  // namespace ilpgw::plugins::mapping
