// The embedded SQLite backend: one database file in the data directory, one
// writer thread with group commit, readers on their own connections. Only
// the store layer includes this header; everything else opens a store with
// openStore() (store.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "store/store.h"

namespace ilpgw {

struct SqliteOptions {
  std::string path;
  int batch_max = 256;  // most WriteBatches in one transaction
  bool outbox = false;  // queue every new version for the upstream sender
  std::int64_t max_page_count = 0;  // > 0: cap the file size (tests simulate a full disk)
};

StatusOr<std::unique_ptr<Store>> openSqliteStore(const SqliteOptions& options);

}  // namespace ilpgw
