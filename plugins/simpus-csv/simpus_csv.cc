// simpus-csv adapter: the SIMPUS daily visit register export (CSV) to Patient,
// Practitioner, Encounter, vital-sign Observations and Conditions. The field
// rules live in mappings/simpus-csv.mapping.json; the C++ the mapping language
// cannot express (CSV dialects, BOM, quoting) is in the shared engine.
#include "engine/mapping_adapter.h"

namespace ilpgw::plugins::simpus_csv {

class SimpusCsvAdapter final : public mapping::MappingAdapter {
 public:
  SimpusCsvAdapter()
      : MappingAdapter({"simpus-csv", "1.0.0",
                        "SIMPUS visit register CSV (',' or ';', quoted fields, BOM, decimal comma) to Patient, "
                        "Practitioner, Encounter, Observation and Condition.",
                        "simpus-csv.mapping.json", false}) {}
};

}  // namespace ilpgw::plugins::simpus_csv

ILPGW_ADAPTER(ilpgw::plugins::simpus_csv::SimpusCsvAdapter)
