// libFuzzer target: one adapter's parse-and-map path, loaded from its .so the
// way the gateway loads it (ILPGW_FUZZ_ADAPTER names it), then the gateway's
// own validation of what it produced (mapPayload). One binary per adapter.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "ingest/gateway.h"

namespace {

struct Fixture {
  Fixture() {
    config.mappings_dir = ILPGW_MAPPINGS_DIR;
    config.plugin_dir = ILPGW_PLUGIN_DIR;
    config.plugins.push_back({ILPGW_FUZZ_ADAPTER, std::string(ILPGW_FUZZ_ADAPTER) + ".so", "{}"});
    auto loaded = ilpgw::loadAdapterSet(config);
    if (!loaded.isOk()) {
      std::fprintf(stderr, "adapter_fuzz: %s\n", loaded.status().message().c_str());
      std::abort();
    }
    set = loaded.value();
    adapter = &set->adapters.at(ILPGW_FUZZ_ADAPTER);
  }
  ilpgw::Config config;
  std::shared_ptr<const ilpgw::AdapterSet> set;
  const ilpgw::ActiveAdapter* adapter = nullptr;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Fixture* fixture = new Fixture();  // lives for the process: no unload while fuzzing
  std::string_view payload(reinterpret_cast<const char*>(data), size);
  ilpgw::MappedPayload mapped = ilpgw::mapPayload(*fixture->adapter, *fixture->set, fixture->config, payload, "");
  (void)ilpgw::collectionBundle(mapped);
  return 0;
}
