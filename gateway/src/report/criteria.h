// The criteria language of PWS indicators: the small expression form a
// Measure population's `criteria.expression` is written in (language
// `text/x-ilp-criteria`, reference in docs/pws.md). An expression is
// evaluated per patient over that patient's clinical facts (one Fact per
// stored Encounter, Observation, Condition, Immunization or MedicationRequest)
// and the reporting period, and answers yes or no:
//
//   age >= 15 and age < 60 and exists Observation[code = loinc|85354-9] in period
//   count (Encounter[stage = kehamilan-persalinan-nifas] + Condition[code in (icd10|Z34*, icd10|Z35*)])
//       through period >= 4
//
// Parsing refuses anything it does not know with the character position, so
// a district adding an indicator sees exactly what to fix.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace ilpgw::report {

// One clinical resource of a patient, reduced to what criteria read.
struct Fact {
  std::string type;  // Encounter, Observation, Condition, Immunization, MedicationRequest
  std::string date;  // YYYY-MM-DD, the local date as recorded
  std::vector<std::pair<std::string, std::string>> codes;  // (system, code) of the resource's code
  std::string klaster;                      // Encounter: the klaster coding
  std::string stage;                        // Encounter: the life-cycle stage tag
  std::vector<std::string> interpretation;  // Observation.interpretation codes
  std::optional<double> value;              // valueQuantity.value, valueInteger
  std::optional<bool> flag;                 // valueBoolean
  std::string status;
};

struct PatientFacts {
  std::string birth_date;  // YYYY-MM-DD or empty
  std::string gender;      // male | female | other | unknown | empty
  std::vector<Fact> facts;
};

// The dates a criterion sees, all YYYY-MM-DD and inclusive: `in period` is
// [start, end], `before period` is [lookback_start, start), `through period`
// is [lookback_start, end]. Ages are taken at `end`.
struct CriteriaPeriod {
  std::string lookback_start;
  std::string start;
  std::string end;
};

struct CriteriaNode;

class Criteria {
 public:
  // Parses `text`; the error names the character position and what was expected.
  static StatusOr<Criteria> parse(std::string_view text);

  bool matches(const PatientFacts& patient, const CriteriaPeriod& period) const;

  // Resource types the expression reads (what the evaluator must load).
  const std::set<std::string>& types() const { return types_; }
  // The types it reads before the period (before / through period, rises).
  const std::set<std::string>& lookbackTypes() const { return lookback_types_; }
  const std::string& text() const { return text_; }

 private:
  std::shared_ptr<const CriteriaNode> root_;
  std::set<std::string> types_;
  std::set<std::string> lookback_types_;
  std::string text_;
};

// Completed years and months between two YYYY-MM-DD dates (nullopt when
// either is not a date).
std::optional<int> ageInMonths(std::string_view birth_date, std::string_view at);

// The code systems criteria may name by a short alias (loinc, sct, icd10 ...).
const std::vector<std::pair<std::string_view, std::string_view>>& criteriaSystemAliases();

}  // namespace ilpgw::report
