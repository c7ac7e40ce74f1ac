// Loads adapter plugins (shared libraries) with Boost.DLL.
//
// Order of checks: the file exists, the library loads, `ilpgw_abi_version`
// exists and equals sdk::kAbiVersion, then `ilpgw_create_adapter` exists and
// returns an adapter. Nothing of the plugin is called before the ABI check.
#pragma once

#include <boost/dll/shared_library.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ilpgw/sdk/adapter.h"
#include "status.h"

namespace ilpgw {

// One loaded adapter. `library_` is declared first so it is destroyed last:
// the library outlives the adapter object it created.
class LoadedAdapter {
 public:
  LoadedAdapter(std::shared_ptr<boost::dll::shared_library> library,
                std::unique_ptr<sdk::Adapter> adapter, sdk::AdapterInfo info, std::string path);
  ~LoadedAdapter();
  LoadedAdapter(const LoadedAdapter&) = delete;
  LoadedAdapter& operator=(const LoadedAdapter&) = delete;

  const sdk::Adapter& adapter() const { return *adapter_; }
  const sdk::AdapterInfo& info() const { return info_; }
  const std::string& path() const { return path_; }

 private:
  std::shared_ptr<boost::dll::shared_library> library_;
  std::unique_ptr<sdk::Adapter> adapter_;
  sdk::AdapterInfo info_;
  std::string path_;
};

// Builds the AdapterSetup from the adapter's declared info (validating its
// options), or refuses with a Status.
using PrepareSetupFn = std::function<StatusOr<sdk::AdapterSetup>(const sdk::AdapterInfo&)>;

// Loads one adapter library. Errors are one line naming the file and the cause.
// With `prepare`, the adapter's setup() is called (after the ABI check and
// info()) and info() is read again, so an adapter configured by data can take
// its name from the configuration.
StatusOr<std::shared_ptr<const LoadedAdapter>> loadAdapter(const std::string& path,
                                                           const PrepareSetupFn& prepare = nullptr);

}  // namespace ilpgw
