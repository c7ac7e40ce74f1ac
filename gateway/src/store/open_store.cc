#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "store/pg_store.h"
#include "store/sqlite_store.h"
#include "store/store.h"

namespace ilpgw {
namespace {

// The first line of store.password_file, without its line ending.
StatusOr<std::string> readPassword(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(StatusCode::kUnavailable, "store.password_file " + path + " cannot be read");
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  return line;
}

StatusOr<std::unique_ptr<Store>> openPostgres(const Config& config, const StoreOpenOptions& options) {
  PgOptions pg;
  pg.url = config.store_url;
  if (!config.store_password_file.empty()) {
    auto password = readPassword(config.store_password_file);
    if (!password.isOk()) return password.status();
    pg.password = password.value();
  }
  pg.pool_size = config.store_pool_size;
  pg.batch_max = options.batch_max > 0 ? options.batch_max : config.store_batch_max;
  pg.outbox = options.outbox;
  pg.must_exist = options.must_exist;
  return openPgStore(pg);
}

}  // namespace

std::string storeLocation(const Config& config) {
  if (config.store_backend == "postgresql") {
    return "postgresql " + pgDescribeTarget(config.store_url);
  }
  return config.storePath();
}

StatusOr<std::unique_ptr<Store>> openStore(const Config& config, const StoreOpenOptions& options) {
  if (config.store_backend != "sqlite" && config.store_backend != "postgresql") {
    return Status(StatusCode::kInvalidArgument,
                  "store.backend \"" + config.store_backend + "\" is not available in this build (sqlite, postgresql)");
  }
  std::string path = config.storePath();
  if (config.store_backend == "sqlite" && options.must_exist && !std::filesystem::exists(path)) {
    return Status(StatusCode::kNotFound, "no store at " + path);
  }
  // Also with PostgreSQL: $export output and keys live in the data directory.
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) return Status(StatusCode::kUnavailable, "cannot create data directory " + config.data_dir + ": " + ec.message());
  if (config.store_backend == "postgresql") return openPostgres(config, options);
  SqliteOptions sqlite{path, options.batch_max > 0 ? options.batch_max : config.store_batch_max};
  sqlite.outbox = options.outbox;
  sqlite.lock_wait = options.lock_wait;
  sqlite.concurrent_searches = config.store_concurrent_searches > 0
                                   ? config.store_concurrent_searches
                                   : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  return openSqliteStore(sqlite);
}

}  // namespace ilpgw
