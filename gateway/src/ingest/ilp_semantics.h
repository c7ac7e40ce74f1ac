// ILP semantics the core applies to every adapter's output, between the
// adapter and validation, configured by data in mappings/ (ilp-semantics.json,
// life-cycle-stages.json, icd10-categories.json), not by code:
//   - the ILP klaster of each Encounter (Encounter.serviceType coding in
//     https://ilp-gateway.id/fhir/CodeSystem/klaster) from its poli via the
//     poli-klaster ConceptMap, or from the life-cycle stage when no poli maps;
//   - the life-cycle stage at the visit (Encounter.meta.tag in
//     https://ilp-gateway.id/fhir/CodeSystem/life-cycle-stage) from
//     Patient.birthDate and Encounter.period.start;
//   - Observation.interpretation (N / A / POS / NEG) from ordered rules when
//     the adapter set none;
//   - ICD-10 diagnosis codes checked for shape and WHO block (category level).
// What an adapter set explicitly is never overwritten. See docs/ilp-semantics.md.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "ilpgw/sdk/adapter.h"
#include "base/status.h"
#include "fhir/terminology.h"

namespace ilpgw {

struct IlpSemantics;

// Loads mappings/ilp-semantics.json and the files it names. A directory
// without ilp-semantics.json yields nullptr (semantics off); a broken file is
// an error naming the file and key.
StatusOr<std::shared_ptr<const IlpSemantics>> loadIlpSemantics(const std::string& mappings_dir);

// Adds klaster, stage and interpretation to the resources of each record and
// appends issues (unknown poli: warning; bad ICD-10: error). Records already
// refused by the adapter are left alone.
// With `parsed`, each record's resources come back there as documents
// (parsed[record][resource]; Null where the text was not a JSON object, none
// for a refused record), so the caller need not parse them again; the
// records' text is then left as the adapter wrote it. Without, changed
// resources are written back into the records.
void applyIlpSemantics(const IlpSemantics& semantics, const Terminology& terminology, sdk::MapResult& result,
                       std::vector<std::vector<rapidjson::Document>>* parsed = nullptr);

// The stage code for a birth date and a visit date (yyyy-mm-dd), or empty.
std::string lifeCycleStage(const IlpSemantics& semantics, std::string_view birth_date, std::string_view visit_date);

// True when `code` (upper-case, "E11.9") has ICD-10 shape and a known category.
bool isKnownIcd10(const IlpSemantics& semantics, std::string_view code);

}  // namespace ilpgw
