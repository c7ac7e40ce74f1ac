#include <filesystem>

#include "store/sqlite_store.h"
#include "store/store.h"

namespace ilpgw {

StatusOr<std::unique_ptr<Store>> openStore(const Config& config, const StoreOpenOptions& options) {
  if (config.store_backend != "sqlite") {
    return Status(StatusCode::kInvalidArgument,
                  "store.backend \"" + config.store_backend + "\" is not available in this build (sqlite)");
  }
  std::string path = config.storePath();
  if (options.must_exist && !std::filesystem::exists(path)) {
    return Status(StatusCode::kNotFound, "no store at " + path);
  }
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) return Status(StatusCode::kUnavailable, "cannot create data directory " + config.data_dir + ": " + ec.message());
  SqliteOptions sqlite{path, options.batch_max > 0 ? options.batch_max : config.store_batch_max};
  sqlite.outbox = options.outbox;
  return openSqliteStore(sqlite);
}

}  // namespace ilpgw
