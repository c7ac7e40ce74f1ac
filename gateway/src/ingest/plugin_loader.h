// Loads adapter plugins (shared libraries) with Boost.DLL.
//
// Order of checks: the file exists, the library loads, `ilpgw_abi_version`
// exists and equals sdk::kAbiVersion, then `ilpgw_create_adapter` exists and
// returns an adapter with a name. Nothing of the plugin is called before the
// ABI check.
#pragma once

#include <boost/dll/shared_library.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ilpgw/sdk/adapter.h"
#include "base/status.h"

namespace ilpgw {

// One loaded adapter. `library_` is declared first so it is destroyed last:
// the library outlives the adapter object it created.
class LoadedAdapter {
 public:
  LoadedAdapter(std::shared_ptr<boost::dll::shared_library> library,
                std::unique_ptr<sdk::Adapter> adapter, sdk::AdapterInfo info, std::string path,
                std::string content_hash);
  ~LoadedAdapter();
  LoadedAdapter(const LoadedAdapter&) = delete;
  LoadedAdapter& operator=(const LoadedAdapter&) = delete;

  const sdk::Adapter& adapter() const { return *adapter_; }
  const sdk::AdapterInfo& info() const { return info_; }
  // The configured path (not the private copy actually mapped).
  const std::string& path() const { return path_; }
  // Hex SHA-256 of the library file when it was loaded: tells a reload
  // whether the file on disk is still the version in memory.
  const std::string& contentHash() const { return content_hash_; }
  // "name@version", what meta.source and the logs name.
  std::string label() const { return info_.name + "@" + info_.version; }

  // Calls of map() that overran their deadline and have not returned yet.
  // Such a thread cannot be killed in-process; the count bounds the damage
  // (see Gateway's containment) and shows in GET /admin/plugins.
  mutable std::atomic<int> hung_calls{0};
  mutable std::atomic<long long> timed_out_calls{0};

 private:
  std::shared_ptr<boost::dll::shared_library> library_;
  std::unique_ptr<sdk::Adapter> adapter_;
  sdk::AdapterInfo info_;
  std::string path_;
  std::string content_hash_;
};

struct LoadOptions {
  // Map a private copy of the file instead of the file itself. dlopen()
  // returns the already-loaded handle for a path it has seen, so a new
  // version installed at the same path would never be picked up by a reload;
  // and a library overwritten in place (cp over it) while mapped crashes the
  // process. A private copy, unlinked right after dlopen(), avoids both. The
  // server always uses it; one-shot CLI commands need not.
  bool private_copy = false;
};

// Builds the AdapterSetup from the adapter's declared info (validating its
// options), or refuses with a Status.
using PrepareSetupFn = std::function<StatusOr<sdk::AdapterSetup>(const sdk::AdapterInfo&)>;

// Loads one adapter library. Errors are one line naming the file and the cause.
// With `prepare`, the adapter's setup() is called (after the ABI check and
// info()) and info() is read again, so an adapter configured by data can take
// its name from the configuration.
StatusOr<std::shared_ptr<const LoadedAdapter>> loadAdapter(const std::string& path, LoadOptions options = {},
                                                           const PrepareSetupFn& prepare = nullptr);

}  // namespace ilpgw
