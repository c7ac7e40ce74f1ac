#include "fhir/search_params.h"

#include <algorithm>
#include <charconv>

#include "base/time_util.h"
#include "base/url.h"

namespace ilpgw {
namespace {

using K = SearchParamKind;

constexpr std::string_view kIdentifierDescription = "Business identifier (system|value)";

// The table. Identifier is declared per type because not every type has one.
const std::vector<SearchParamDef> kDefs = {
    {"Patient", "identifier", K::kToken, "Patient.identifier", "", kIdentifierDescription},
    {"Patient", "birthdate", K::kDate, "Patient.birthDate", "", "The patient's date of birth"},
    {"Patient", "gender", K::kToken, "Patient.gender", "", "Administrative gender"},
    {"Patient", "name", K::kString, "Patient.name", "",
     "Any part of a name (family, given, prefix, suffix, text); starts-with, :exact, :contains"},

    {"Encounter", "identifier", K::kToken, "Encounter.identifier", "", kIdentifierDescription},
    {"Encounter", "patient", K::kReference, "Encounter.subject", "Patient", "The patient present at the encounter"},
    {"Encounter", "subject", K::kReference, "Encounter.subject", "", "The subject of the encounter"},
    {"Encounter", "date", K::kDate, "Encounter.period", "", "A date within the encounter's period"},
    {"Encounter", "status", K::kToken, "Encounter.status", "", "planned | arrived | in-progress | finished ..."},
    {"Encounter", "service-provider", K::kReference, "Encounter.serviceProvider", "Organization",
     "The organization responsible for the encounter"},

    {"Observation", "identifier", K::kToken, "Observation.identifier", "", kIdentifierDescription},
    {"Observation", "patient", K::kReference, "Observation.subject", "Patient", "The patient observed"},
    {"Observation", "subject", K::kReference, "Observation.subject", "", "The subject of the observation"},
    {"Observation", "encounter", K::kReference, "Observation.encounter", "Encounter",
     "The encounter the observation belongs to"},
    {"Observation", "code", K::kToken, "Observation.code", "", "The code of the observation (system|code)"},
    {"Observation", "date", K::kDate, "Observation.effective[x]", "", "When the observation was clinically relevant"},
    {"Observation", "category", K::kToken, "Observation.category", "", "The classification of the observation"},
    {"Observation", "status", K::kToken, "Observation.status", "", "registered | preliminary | final | amended ..."},

    {"Condition", "identifier", K::kToken, "Condition.identifier", "", kIdentifierDescription},
    {"Condition", "patient", K::kReference, "Condition.subject", "Patient", "The patient with the condition"},
    {"Condition", "subject", K::kReference, "Condition.subject", "", "The subject of the condition"},
    {"Condition", "encounter", K::kReference, "Condition.encounter", "Encounter",
     "The encounter where the condition was recorded"},
    {"Condition", "code", K::kToken, "Condition.code", "", "The code of the condition (e.g. ICD-10)"},
    {"Condition", "category", K::kToken, "Condition.category", "", "The category of the condition"},
    {"Condition", "clinical-status", K::kToken, "Condition.clinicalStatus", "",
     "active | recurrence | relapse | inactive | remission | resolved"},
    {"Condition", "onset-date", K::kDate, "Condition.onset[x]", "", "Date of onset (dateTime or Period)"},
    {"Condition", "recorded-date", K::kDate, "Condition.recordedDate", "", "Date the condition was first recorded"},

    {"Immunization", "identifier", K::kToken, "Immunization.identifier", "", kIdentifierDescription},
    {"Immunization", "patient", K::kReference, "Immunization.patient", "Patient", "The vaccinated patient"},
    {"Immunization", "date", K::kDate, "Immunization.occurrence[x]", "", "When the vaccine was administered"},
    {"Immunization", "vaccine-code", K::kToken, "Immunization.vaccineCode", "", "The vaccine product"},
    {"Immunization", "status", K::kToken, "Immunization.status", "", "completed | entered-in-error | not-done"},

    {"MedicationRequest", "identifier", K::kToken, "MedicationRequest.identifier", "", kIdentifierDescription},
    {"MedicationRequest", "patient", K::kReference, "MedicationRequest.subject", "Patient",
     "The patient the medication is for"},
    {"MedicationRequest", "subject", K::kReference, "MedicationRequest.subject", "", "The subject of the request"},
    {"MedicationRequest", "encounter", K::kReference, "MedicationRequest.encounter", "Encounter",
     "The encounter of the request"},
    {"MedicationRequest", "status", K::kToken, "MedicationRequest.status", "", "active | completed | cancelled ..."},
    {"MedicationRequest", "code", K::kToken, "MedicationRequest.medicationCodeableConcept", "",
     "The medication code (e.g. KFA)"},
    {"MedicationRequest", "medication", K::kReference, "MedicationRequest.medicationReference", "Medication",
     "The Medication resource prescribed"},
    {"MedicationRequest", "authoredon", K::kDate, "MedicationRequest.authoredOn", "",
     "When the prescription was written"},
    {"MedicationRequest", "intent", K::kToken, "MedicationRequest.intent", "", "proposal | plan | order ..."},
    {"MedicationRequest", "category", K::kToken, "MedicationRequest.category", "",
     "The type of medication usage"},

    {"Practitioner", "identifier", K::kToken, "Practitioner.identifier", "", kIdentifierDescription},
    {"Practitioner", "name", K::kString, "Practitioner.name", "", "Any part of the practitioner's name"},
    {"Organization", "identifier", K::kToken, "Organization.identifier", "", kIdentifierDescription},
    {"Organization", "name", K::kString, "Organization.name", "", "The organization's name"},
    {"Location", "identifier", K::kToken, "Location.identifier", "", kIdentifierDescription},
    {"Location", "name", K::kString, "Location.name", "", "The location's name"},
    {"Medication", "identifier", K::kToken, "Medication.identifier", "", kIdentifierDescription},
    {"Medication", "code", K::kToken, "Medication.code", "", "The medication code (e.g. KFA)"},

    {"DiagnosticReport", "identifier", K::kToken, "DiagnosticReport.identifier", "", kIdentifierDescription},
    {"DiagnosticReport", "patient", K::kReference, "DiagnosticReport.subject", "Patient",
     "The patient the report is about"},
    {"DiagnosticReport", "subject", K::kReference, "DiagnosticReport.subject", "", "The subject of the report"},
    {"DiagnosticReport", "encounter", K::kReference, "DiagnosticReport.encounter", "Encounter",
     "The encounter the report belongs to"},
    {"DiagnosticReport", "code", K::kToken, "DiagnosticReport.code", "", "The code of the report (e.g. LOINC panel)"},
    {"DiagnosticReport", "date", K::kDate, "DiagnosticReport.effective[x]", "", "The clinically relevant time"},
    {"DiagnosticReport", "status", K::kToken, "DiagnosticReport.status", "", "registered | partial | final ..."},
    {"DiagnosticReport", "category", K::kToken, "DiagnosticReport.category", "", "The service category"},
    {"DiagnosticReport", "result", K::kReference, "DiagnosticReport.result", "Observation",
     "An Observation the report holds"},

    {"Provenance", "target", K::kReference, "Provenance.target", "", "The resources the provenance is about"},
    {"Provenance", "patient", K::kReference, "Provenance.target", "Patient", "A target that is a Patient"},
    {"Provenance", "recorded", K::kDate, "Provenance.recorded", "", "When the activity was recorded"},
    {"Provenance", "agent", K::kReference, "Provenance.agent.who", "", "Who took part in the activity"},
};

// ---- Extraction --------------------------------------------------------------

// Collects the values at `path` (segments after the type) below `node`,
// flattening arrays at every step.
void collect(const rapidjson::Value& node, std::string_view path, std::vector<const rapidjson::Value*>& out) {
  if (node.IsArray()) {
    for (const auto& item : node.GetArray()) collect(item, path, out);
    return;
  }
  if (path.empty()) {
    out.push_back(&node);
    return;
  }
  if (!node.IsObject()) return;
  size_t dot = path.find('.');
  std::string_view segment = path.substr(0, dot);
  std::string_view rest = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  if (segment.ends_with("[x]")) {
    std::string_view prefix = segment.substr(0, segment.size() - 3);
    for (const auto& m : node.GetObject()) {
      std::string_view name(m.name.GetString(), m.name.GetStringLength());
      if (name.size() > prefix.size() && name.starts_with(prefix) && name[prefix.size()] >= 'A' &&
          name[prefix.size()] <= 'Z') {
        collect(m.value, rest, out);
      }
    }
    return;
  }
  auto it = node.FindMember(rapidjson::Value(rapidjson::StringRef(segment.data(), segment.size())));
  if (it != node.MemberEnd()) collect(it->value, rest, out);
}

std::string text(const rapidjson::Value& v) { return {v.GetString(), v.GetStringLength()}; }

void addToken(const rapidjson::Value& v, const SearchParamDef& def, SearchIndex& index) {
  auto param = std::string(def.name);
  if (v.IsString()) {
    index.tokens.push_back({param, "", text(v)});
  } else if (v.IsBool()) {
    index.tokens.push_back({param, "", v.GetBool() ? "true" : "false"});
  } else if (v.IsObject()) {
    if (const auto* codings = json::member(v, "coding"); codings != nullptr && codings->IsArray()) {
      for (const auto& c : codings->GetArray()) {
        std::string_view code = json::string(c, "code");
        if (!code.empty()) index.tokens.push_back({param, std::string(json::string(c, "system")), std::string(code)});
      }
    } else if (std::string_view code = json::string(v, "code"); !code.empty()) {  // Coding
      index.tokens.push_back({param, std::string(json::string(v, "system")), std::string(code)});
    } else if (std::string_view value = json::string(v, "value"); !value.empty()) {  // Identifier
      index.tokens.push_back({param, std::string(json::string(v, "system")), std::string(value)});
    }
  }
}

void addString(std::string_view value, const SearchParamDef& def, SearchIndex& index) {
  if (value.empty()) return;
  index.strings.push_back({std::string(def.name), normalizeSearchString(value), std::string(value)});
}

void addStrings(const rapidjson::Value& v, const SearchParamDef& def, SearchIndex& index) {
  if (v.IsString()) {
    addString({v.GetString(), v.GetStringLength()}, def, index);
    return;
  }
  // HumanName: every part is searchable on its own.
  addString(json::string(v, "text"), def, index);
  addString(json::string(v, "family"), def, index);
  for (const char* part : {"given", "prefix", "suffix"}) {
    const auto* list = json::member(v, part);
    if (list == nullptr || !list->IsArray()) continue;
    for (const auto& item : list->GetArray()) {
      if (item.IsString()) addString({item.GetString(), item.GetStringLength()}, def, index);
    }
  }
}

void addDate(const rapidjson::Value& v, const SearchParamDef& def, SearchIndex& index) {
  constexpr std::string_view kMin = "0001-01-01T00:00:00.000Z";
  constexpr std::string_view kMax = "9999-12-31T23:59:59.999Z";
  if (v.IsString()) {
    if (auto range = parseFhirDateRange({v.GetString(), v.GetStringLength()})) {
      index.dates.push_back({std::string(def.name), instantFromMillis(range->low), instantFromMillis(range->high)});
    }
    return;
  }
  if (!v.IsObject()) return;  // Period: an open end is unbounded
  auto start = parseFhirDateRange(json::string(v, "start"));
  auto end = parseFhirDateRange(json::string(v, "end"));
  if (!start && !end) return;
  index.dates.push_back({std::string(def.name), start ? instantFromMillis(start->low) : std::string(kMin),
                         end ? instantFromMillis(end->high) : std::string(kMax)});
}

// "Patient/1", "Patient/1/_history/2" or an absolute URL ending in Type/id.
std::optional<ResourceKey> parseReference(std::string_view ref) {
  if (ref.empty() || ref.front() == '#' || ref.starts_with("urn:")) return std::nullopt;
  if (size_t h = ref.find("/_history/"); h != std::string_view::npos) ref = ref.substr(0, h);
  size_t slash = ref.rfind('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == ref.size()) return std::nullopt;
  std::string_view id = ref.substr(slash + 1);
  std::string_view before = ref.substr(0, slash);
  size_t type_start = before.rfind('/');
  std::string_view type = type_start == std::string_view::npos ? before : before.substr(type_start + 1);
  if (type.empty() || type.front() < 'A' || type.front() > 'Z') return std::nullopt;
  return ResourceKey{std::string(type), std::string(id)};
}

void addReference(const rapidjson::Value& v, const SearchParamDef& def, SearchIndex& index) {
  auto key = parseReference(json::string(v, "reference"));
  if (!key || (!def.target.empty() && key->type != def.target)) return;
  index.references.push_back({std::string(def.name), key->type, key->id});
}

// ---- Parsing -------------------------------------------------------------------

// Splits on unescaped `sep`; `\,` `\|` `\$` `\\` are escapes (FHIR search).
std::vector<std::string> splitEscaped(std::string_view s, char sep) {
  std::vector<std::string> parts(1);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      if (s[i + 1] != sep) parts.back() += s[i];  // keep escapes for the next split level
      parts.back() += s[++i];
    } else if (s[i] == sep) {
      parts.emplace_back();
    } else {
      parts.back() += s[i];
    }
  }
  return parts;
}

std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) ++i;
    out += s[i];
  }
  return out;
}

bool isResourceTypeName(std::string_view s) {
  if (s.empty() || s.size() > 64 || s.front() < 'A' || s.front() > 'Z') return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); });
}

bool isFhirId(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  });
}

// The first two letters of a date value when they are a prefix.
std::optional<SearchPrefix> takePrefix(std::string& value, std::string& error) {
  static const std::pair<std::string_view, SearchPrefix> kPrefixes[] = {
      {"eq", SearchPrefix::kEq}, {"ne", SearchPrefix::kNe}, {"gt", SearchPrefix::kGt},
      {"ge", SearchPrefix::kGe}, {"lt", SearchPrefix::kLt}, {"le", SearchPrefix::kLe}};
  if (value.size() >= 2 && value[0] >= 'a' && value[0] <= 'z') {
    std::string_view p(value.data(), 2);
    for (const auto& [name, prefix] : kPrefixes) {
      if (p == name) {
        value.erase(0, 2);
        return prefix;
      }
    }
    error = "prefix \"" + std::string(p) + "\" is not supported (use eq, ne, gt, ge, lt or le)";
    return std::nullopt;
  }
  return SearchPrefix::kEq;
}

struct ParamError {
  std::string message;
};

// Parses one comma-separated value list of a date-like parameter.
std::optional<ParamError> parseDateValues(std::string_view raw, SearchClause& clause) {
  for (auto& part : splitEscaped(raw, ',')) {
    std::string value = unescape(part);
    std::string error;
    auto prefix = takePrefix(value, error);
    if (!prefix) return ParamError{error};
    auto range = parseFhirDateRange(value);
    if (!range) return ParamError{"\"" + value + "\" is not a FHIR date, dateTime or instant"};
    SearchValue v;
    v.prefix = *prefix;
    v.low = instantFromMillis(range->low);
    v.high = instantFromMillis(range->high);
    clause.any_of.push_back(std::move(v));
  }
  return std::nullopt;
}

std::optional<ParamError> parseValues(const SearchParamDef& def, std::string_view modifier, std::string_view raw,
                                      SearchClause& clause) {
  clause.param = std::string(indexedAs(def).name);  // with the target type in every value (kReference)
  if (raw.empty()) return ParamError{"an empty value is not allowed"};
  switch (def.kind) {
    case K::kDate:
      if (!modifier.empty()) return ParamError{"modifier :" + std::string(modifier) + " is not supported"};
      clause.kind = SearchKind::kDate;
      return parseDateValues(raw, clause);
    case K::kToken:
      if (!modifier.empty()) return ParamError{"modifier :" + std::string(modifier) + " is not supported"};
      clause.kind = SearchKind::kToken;
      for (auto& part : splitEscaped(raw, ',')) {
        auto pieces = splitEscaped(part, '|');
        if (pieces.size() > 2) return ParamError{"a token is code, system|code, |code or system|"};
        SearchValue v;
        if (pieces.size() == 2) {
          v.system = unescape(pieces[0]);
          v.value = unescape(pieces[1]);
          if (v.system->empty() && v.value.empty()) return ParamError{"\"|\" alone is not a token"};
        } else {
          v.value = unescape(pieces[0]);
        }
        if (!v.system && v.value.empty()) return ParamError{"an empty token is not allowed"};
        clause.any_of.push_back(std::move(v));
      }
      return std::nullopt;
    case K::kString:
      clause.kind = SearchKind::kString;
      if (modifier == "exact") {
        clause.string_match = StringMatch::kExact;
      } else if (modifier == "contains") {
        clause.string_match = StringMatch::kContains;
      } else if (!modifier.empty()) {
        return ParamError{"modifier :" + std::string(modifier) + " is not supported (use :exact or :contains)"};
      }
      for (auto& part : splitEscaped(raw, ',')) {
        std::string value = unescape(part);
        SearchValue v;
        v.value = clause.string_match == StringMatch::kExact ? value : normalizeSearchString(value);
        if (v.value.empty()) return ParamError{"an empty string is not allowed"};
        clause.any_of.push_back(std::move(v));
      }
      return std::nullopt;
    case K::kReference: {
      clause.kind = SearchKind::kReference;
      std::string type_modifier(modifier);
      if (!type_modifier.empty() && !isResourceTypeName(type_modifier)) {
        return ParamError{"modifier :" + type_modifier + " is not supported (only a resource type)"};
      }
      if (!def.target.empty() && !type_modifier.empty() && type_modifier != def.target) {
        return ParamError{"this parameter only refers to " + std::string(def.target)};
      }
      for (auto& part : splitEscaped(raw, ',')) {
        std::string value = unescape(part);
        SearchValue v;
        if (isFhirId(value)) {
          v.value = value;
          v.target_type = !type_modifier.empty() ? type_modifier : std::string(def.target);
        } else if (auto key = parseReference(value); key && isFhirId(key->id)) {
          if (!type_modifier.empty() && key->type != type_modifier) {
            return ParamError{"\"" + value + "\" contradicts the :" + type_modifier + " modifier"};
          }
          if (!def.target.empty() && key->type != def.target) {
            return ParamError{"\"" + value + "\" is not a " + std::string(def.target) + " reference"};
          }
          v.value = key->id;
          v.target_type = key->type;
        } else {
          return ParamError{"\"" + value + "\" is not an id, Type/id or URL ending in Type/id"};
        }
        clause.any_of.push_back(std::move(v));
      }
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::optional<int> parseCount(std::string_view s) {
  int value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr != s.data() + s.size() || value < 0) return std::nullopt;
  return value;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hexValue(s[i + 1]) >= 0 && hexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(hexValue(s[i + 1]) * 16 + hexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

const std::vector<SearchParamDef>& searchParamDefs() { return kDefs; }

const SearchParamDef* findSearchParam(std::string_view type, std::string_view name) {
  for (const auto& def : kDefs) {
    if (def.type == type && def.name == name) return &def;
  }
  return nullptr;
}

const char* searchParamTypeCode(SearchParamKind kind) {
  switch (kind) {
    case K::kToken: return "token";
    case K::kString: return "string";
    case K::kDate: return "date";
    case K::kReference: return "reference";
  }
  return "token";
}

const SearchParamDef* patientLinkParam(std::string_view type) { return findSearchParam(type, "patient"); }

const SearchParamDef& indexedAs(const SearchParamDef& def) {
  if (def.kind != K::kReference || def.target.empty()) return def;
  for (const auto& other : kDefs) {
    if (other.type == def.type && other.kind == K::kReference && other.target.empty() && other.path == def.path) {
      return other;
    }
  }
  return def;
}

bool canReferTo(const SearchParamDef& def, std::string_view type) {
  return def.kind == K::kReference && (def.target.empty() || def.target == type);
}

std::string normalizeSearchString(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

SearchIndex extractSearchIndex(const rapidjson::Value& resource) {
  SearchIndex index;
  std::string_view type = json::string(resource, "resourceType");
  for (const auto& def : kDefs) {
    if (def.type != type || &indexedAs(def) != &def) continue;  // its values are in another parameter's rows
    std::vector<const rapidjson::Value*> values;
    collect(resource, def.path.substr(def.type.size() + 1), values);
    for (const auto* v : values) {
      switch (def.kind) {
        case K::kToken: addToken(*v, def, index); break;
        case K::kString: addStrings(*v, def, index); break;
        case K::kDate: addDate(*v, def, index); break;
        case K::kReference: addReference(*v, def, index); break;
      }
    }
  }
  return index;
}

QueryParams parseQueryString(std::string_view query) {
  QueryParams params;
  if (!query.empty() && query.front() == '?') query.remove_prefix(1);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    params.emplace_back(percentDecode(pair.substr(0, eq)),
                        eq == std::string_view::npos ? std::string() : percentDecode(pair.substr(eq + 1)));
  }
  return params;
}

std::string urlEncode(std::string_view text) { return percentEncode(text, ":"); }

ParsedSearch parseSearch(std::string_view type, const QueryParams& params, const SearchParseOptions& options) {
  ParsedSearch parsed;
  parsed.query.type = std::string(type);
  parsed.query.limit = options.default_count;
  auto problem = [&](const std::string& name, const std::string& message, const char* code) {
    sdk::Issue issue;
    issue.severity = options.lenient ? sdk::Severity::kWarning : sdk::Severity::kError;
    issue.code = code;
    issue.expression = name;
    issue.diagnostics = "search parameter " + name + ": " + message + (options.lenient ? " (ignored)" : "");
    parsed.issues.push_back(std::move(issue));
  };
  for (const auto& [full_name, value] : params) {
    std::string name = full_name;
    std::string modifier;
    if (size_t colon = name.find(':'); colon != std::string::npos) {
      modifier = name.substr(colon + 1);
      name.resize(colon);
    }
    bool is_result_param = name == "_count" || name == "_sort" || name == "_summary" || name == "_total" ||
                           name == "_include" || name == "_revinclude" || name == "_format" || name == "_cursor";
    if (is_result_param && !options.allow_result_params) {
      problem(full_name, "not allowed here", "not-supported");
      continue;
    }
    if (is_result_param && !modifier.empty()) {
      problem(full_name, "takes no modifier", "not-supported");
      continue;
    }
    if (name == "_count") {
      auto count = parseCount(value);
      if (!count) {
        problem(full_name, "must be a non-negative integer", "invalid");
        continue;
      }
      parsed.query.limit = std::min(*count, options.max_count);
      if (*count == 0) parsed.summary_count = true;  // _count=0: only the total
    } else if (name == "_cursor") {
      std::int64_t cursor = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), cursor);
      if (ec != std::errc() || ptr != value.data() + value.size() || cursor < 0) {
        problem(full_name, "is not a cursor this server issued", "invalid");
        continue;
      }
      parsed.query.after_seq = cursor;
      continue;  // never echoed: links add their own
    } else if (name == "_sort") {
      if (value == "_lastUpdated") {
        parsed.query.order = SearchOrder::kOldestFirst;
      } else if (value == "-_lastUpdated") {
        parsed.query.order = SearchOrder::kNewestFirst;
      } else {
        problem(full_name, "only _lastUpdated and -_lastUpdated are supported", "not-supported");
        continue;
      }
    } else if (name == "_summary") {
      if (value == "count") {
        parsed.summary_count = true;
      } else if (value != "false") {
        problem(full_name, "only count and false are supported", "not-supported");
        continue;
      }
    } else if (name == "_total") {
      if (value == "none") {
        parsed.query.want_total = false;
      } else if (value != "accurate" && value != "estimate") {
        problem(full_name, "must be none, estimate or accurate", "invalid");
        continue;
      }
    } else if (name == "_format") {
      if (value != "json" && value != "application/fhir+json" && value != "application/json") {
        problem(full_name, "only JSON is served", "not-supported");
        continue;
      }
    } else if (name == "_include") {
      auto pieces = splitEscaped(value, ':');
      const SearchParamDef* def = pieces.size() >= 2 && pieces.size() <= 3 && pieces[0] == type
                                      ? findSearchParam(type, pieces[1])
                                      : nullptr;
      if (def == nullptr || def->kind != K::kReference) {
        problem(full_name, "\"" + value + "\" is not " + std::string(type) + ":<reference parameter>[:Type]",
                "not-supported");
        continue;
      }
      IncludeSpec include{def, pieces.size() == 3 ? pieces[2] : std::string(def->target)};
      if (pieces.size() == 3 && (!isResourceTypeName(pieces[2]) || (!def->target.empty() && pieces[2] != def->target))) {
        problem(full_name, "target type " + pieces[2] + " is not possible for " + pieces[1], "invalid");
        continue;
      }
      parsed.includes.push_back(std::move(include));
    } else if (name == "_revinclude") {
      auto pieces = splitEscaped(value, ':');
      const SearchParamDef* def = pieces.size() >= 2 && pieces.size() <= 3 ? findSearchParam(pieces[0], pieces[1])
                                                                             : nullptr;
      if (def == nullptr || !canReferTo(*def, type) || (pieces.size() == 3 && pieces[2] != type)) {
        problem(full_name,
                "\"" + value + "\" is not <type>:<reference parameter> referring to " + std::string(type) +
                    " (see searchRevInclude in GET /fhir/metadata)",
                "not-supported");
        continue;
      }
      parsed.revincludes.push_back({def, std::string(type)});
    } else if (name == "_id") {
      if (!modifier.empty()) {
        problem(full_name, "takes no modifier", "not-supported");
        continue;
      }
      SearchClause clause;
      clause.kind = SearchKind::kId;
      bool ok = true;
      for (auto& part : splitEscaped(value, ',')) {
        std::string id = unescape(part);
        if (!isFhirId(id)) ok = false;
        SearchValue v;
        v.value = id;
        clause.any_of.push_back(std::move(v));
      }
      if (!ok) {
        problem(full_name, "\"" + value + "\" is not a list of FHIR ids", "invalid");
        continue;
      }
      parsed.query.all_of.push_back(std::move(clause));
    } else if (name == "_lastUpdated") {
      if (!modifier.empty()) {
        problem(full_name, "takes no modifier", "not-supported");
        continue;
      }
      SearchClause clause;
      clause.kind = SearchKind::kLastUpdated;
      if (auto error = parseDateValues(value, clause)) {
        problem(full_name, error->message, "invalid");
        continue;
      }
      parsed.query.all_of.push_back(std::move(clause));
    } else if (const SearchParamDef* def = findSearchParam(type, name)) {
      SearchClause clause;
      if (auto error = parseValues(*def, modifier, value, clause)) {
        problem(full_name, error->message, "invalid");
        continue;
      }
      parsed.query.all_of.push_back(std::move(clause));
    } else {
      problem(full_name, "unknown for " + std::string(type) + " (see GET /fhir/metadata)", "not-supported");
      continue;
    }
    parsed.applied.emplace_back(full_name, value);
  }
  if (parsed.summary_count) parsed.query.limit = 0;
  return parsed;
}

}  // namespace ilpgw
