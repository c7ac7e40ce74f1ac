// The generic mapping adapter: runs the mapping file named by its
// `mapping_file` option and serves the name gateway.json gives it, so one
// library onboards any number of local layouts without a compiler.
#include "engine/mapping_adapter.h"

namespace ilpgw::plugins::mapping {

class GenericMappingAdapter final : public MappingAdapter {
 public:
  GenericMappingAdapter()
      : MappingAdapter({"mapping", "1.0.0",
                        "Generic adapter driven by a declarative mapping file (see mappings/README.md).", "", true}) {}
};

}  // namespace ilpgw::plugins::mapping

ILPGW_ADAPTER(ilpgw::plugins::mapping::GenericMappingAdapter)
