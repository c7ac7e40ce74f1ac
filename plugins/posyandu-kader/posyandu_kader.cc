// posyandu-kader adapter: a kader's monthly Posyandu session report (JSON) to
// Location, Patient, Encounter (field visit), growth/BP/glucose Observations,
// Immunizations, supplement Observations and TB symptom screening, one record
// per participant. The rules live in mappings/posyandu-kader.mapping.json.
#include "engine/mapping_adapter.h"

namespace ilpgw::plugins::posyandu_kader {

class PosyanduKaderAdapter final : public mapping::MappingAdapter {
 public:
  PosyanduKaderAdapter()
      : MappingAdapter({"posyandu-kader", "1.0.0",
                        "Posyandu session report (JSON) to Location, Patient, Encounter, Observation and "
                        "Immunization, one record per participant.",
                        "posyandu-kader.mapping.json", false}) {}
};

}  // namespace ilpgw::plugins::posyandu_kader

ILPGW_ADAPTER(ilpgw::plugins::posyandu_kader::PosyanduKaderAdapter)
