// An sdk::Adapter that runs one mapping file. The generic `mapping` plugin and
// the named adapters built on the mapping language (simpus-csv,
// posyandu-kader) are this class with different defaults: which file, and
// whether the adapter takes its name from gateway.json.
#pragma once

#include <memory>
#include <string>

#include "ilpgw/sdk/adapter.h"
#include "mapping.h"

namespace ilpgw::plugins::mapping {

struct MappingAdapterSpec {
  std::string name;                  // info().name before setup (and after, unless name_from_config)
  std::string version;
  std::string description;
  std::string default_mapping_file;  // relative to the gateway's mappings directory; empty = option required
  bool name_from_config = false;     // the generic adapter serves whatever name the config gives it
};

inline constexpr const char* kMappingFileOption = "mapping_file";

class MappingAdapter : public sdk::Adapter {
 public:
  explicit MappingAdapter(MappingAdapterSpec spec) : spec_(std::move(spec)), name_(spec_.name) {}

  sdk::AdapterInfo info() const noexcept override;
  bool setup(const sdk::AdapterSetup& setup, std::vector<sdk::Issue>& issues) noexcept override;
  sdk::MapResult map(std::string_view payload, const sdk::Context& context) const noexcept override;

 private:
  MappingAdapterSpec spec_;
  std::string name_;
  std::string file_;
  std::shared_ptr<const Mapping> mapping_;  // set once by setup(), read-only afterwards
};

}  // namespace ilpgw::plugins::mapping
