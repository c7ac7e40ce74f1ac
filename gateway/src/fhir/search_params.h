// FHIR search parameters: one table declares, per resource type, every
// parameter the gateway supports (name, kind, element path). The same table
// extracts index rows from resources before they are stored, parses and
// validates search URLs into a backend-neutral SearchQuery, and lists the
// parameters in the CapabilityStatement, so the three cannot drift apart.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ilpgw/sdk/adapter.h"
#include "base/json.h"
#include "store/store.h"

namespace ilpgw {

enum class SearchParamKind { kToken, kString, kDate, kReference };

struct SearchParamDef {
  std::string_view type;         // resource type
  std::string_view name;         // URL parameter name
  SearchParamKind kind;
  std::string_view path;         // FHIRPath-like element path; `[x]` matches any choice type
  std::string_view target;       // kReference: only references to this type count ("" = any)
  std::string_view description;  // for the CapabilityStatement
};

// Every parameter, in CapabilityStatement order.
const std::vector<SearchParamDef>& searchParamDefs();
const SearchParamDef* findSearchParam(std::string_view type, std::string_view name);
const char* searchParamTypeCode(SearchParamKind kind);  // "token", "string", ...

// The parameter that links a resource of `type` to its Patient (the Patient
// compartment as far as this gateway indexes it); nullptr when none.
const SearchParamDef* patientLinkParam(std::string_view type);

// The parameter whose index rows hold `def`'s values. A reference parameter
// restricted to one target type on the same path as an unrestricted one
// (Observation `patient` = `subject` pointing at a Patient) has no rows of
// its own: it is searched in the unrestricted one's rows with the target type
// required, which every clause of it carries. Any other parameter: itself.
const SearchParamDef& indexedAs(const SearchParamDef& def);

// Whether _revinclude=def.type:def.name can find resources pointing at `type`.
bool canReferTo(const SearchParamDef& def, std::string_view type);

// Index rows of a (validated) resource, from the table above.
SearchIndex extractSearchIndex(const rapidjson::Value& resource);

// Lower-cased, whitespace-collapsed text for string matching.
std::string normalizeSearchString(std::string_view text);

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// `a=1&b=x%7Cy` -> {{"a","1"},{"b","x|y"}}; `+` is a space.
QueryParams parseQueryString(std::string_view query);
std::string urlEncode(std::string_view text);

struct IncludeSpec {
  const SearchParamDef* param = nullptr;
  std::string target_type;  // "" = whatever the reference points to
};

struct ParsedSearch {
  SearchQuery query;
  std::vector<IncludeSpec> includes;
  // _revinclude=Source:param: resources of param->type whose `param` refers
  // to a match (target_type is the searched type).
  std::vector<IncludeSpec> revincludes;
  bool summary_count = false;
  QueryParams applied;             // the parameters used, for Bundle.link (no _cursor)
  std::vector<sdk::Issue> issues;  // errors (strict) or warnings about ignored parameters (lenient)
};

struct SearchParseOptions {
  bool lenient = false;          // Prefer: handling=lenient: ignore unknown or malformed parameters
  bool allow_result_params = true;  // _count, _sort, _include ... (false for If-None-Exist)
  int default_count = 50;
  int max_count = 1000;
};

// Parses the parameters of a search on `type`. Strict mode reports every
// unknown, unsupported or malformed parameter as an error issue.
ParsedSearch parseSearch(std::string_view type, const QueryParams& params, const SearchParseOptions& options = {});

}  // namespace ilpgw
