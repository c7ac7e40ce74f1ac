// PWS indicators as data: one FHIR R4 Measure per JSON file in
// <mappings>/measures/, read at start. A file is refused with its name and
// the offending field (group[0].population[1].criteria.expression) when it
// is not a proportion Measure with initial-population, denominator and
// numerator written in the criteria language (criteria.h) and a stratifier
// by desa.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "report/criteria.h"

namespace ilpgw::report {

inline constexpr std::string_view kCriteriaLanguage = "text/x-ilp-criteria";
inline constexpr std::string_view kExtensionBase = "https://ilp-gateway.id/fhir/StructureDefinition/";
// Months of data before the period that `before period` / `through period` see.
inline constexpr std::string_view kLookbackExtension = "https://ilp-gateway.id/fhir/StructureDefinition/pws-lookback-months";
// How the yearly target becomes a cumulative monthly one: monthly-linear
// (yearly / 12 x month, the default) or yearly (the whole target every month).
inline constexpr std::string_view kTargetMethodExtension = "https://ilp-gateway.id/fhir/StructureDefinition/pws-target-method";
inline constexpr std::string_view kMeasureScoringSystem = "http://terminology.hl7.org/CodeSystem/measure-scoring";
inline constexpr std::string_view kPopulationSystem = "http://terminology.hl7.org/CodeSystem/measure-population";

enum class TargetMethod { kMonthlyLinear, kYearly };

struct MeasureDefinition {
  std::string id;
  std::string url;
  std::string title;
  std::string file;  // where it was read from, for messages
  int lookback_months = 0;
  TargetMethod target_method = TargetMethod::kMonthlyLinear;
  Criteria initial_population;
  Criteria denominator;
  Criteria numerator;
  std::string json;  // the Measure resource as served at GET /fhir/Measure/{id}
};

class MeasureLibrary {
 public:
  // Reads every *.json in `dir` (a missing directory is an empty library).
  // Any malformed file fails the whole load: "<file>: <field>: <problem>".
  static StatusOr<std::shared_ptr<const MeasureLibrary>> load(const std::string& dir);
  // One Measure from its JSON text; `file` names it in errors.
  static StatusOr<MeasureDefinition> parse(std::string_view text, const std::string& file);

  const MeasureDefinition* find(std::string_view id) const;
  const std::map<std::string, MeasureDefinition, std::less<>>& measures() const { return measures_; }

 private:
  std::map<std::string, MeasureDefinition, std::less<>> measures_;
};

}  // namespace ilpgw::report
