// libFuzzer target: a PWS Measure file (report/measure.h) with its criteria
// expressions; an accepted one is evaluated against a small patient.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "report/measure.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto measure = ilpgw::report::MeasureLibrary::parse(text, "measures/fuzz.json");
  if (!measure.isOk()) return 0;
  ilpgw::report::PatientFacts patient;
  patient.birth_date = "2024-05-02";
  patient.gender = "female";
  ilpgw::report::Fact fact;
  fact.type = "Observation";
  fact.date = "2025-03-04";
  fact.codes = {{"http://loinc.org", "29463-7"}};
  fact.value = 9.5;
  fact.interpretation = {"POS"};
  patient.facts = {fact, fact};
  patient.facts[1].date = "2025-02-04";
  patient.facts[1].value = 9.1;
  ilpgw::report::CriteriaPeriod period{"2024-06-01", "2025-03-01", "2025-03-31"};
  (void)measure->initial_population.matches(patient, period);
  (void)measure->denominator.matches(patient, period);
  (void)measure->numerator.matches(patient, period);
  return 0;
}
