// The embedded SQLite backend: one database file in the data directory, one
// writer thread with group commit, readers on their own connections. Only
// the store layer includes this header; everything else opens a store with
// openStore() (store.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "store/store.h"

namespace ilpgw {

// When the write-ahead log is checkpointed (sqlite_checkpointer.h).
struct CheckpointLimits {
  int passive_frames = 1024;   // 16 MiB of 16 KiB pages
  int truncate_frames = 4096;  // 64 MiB
  std::chrono::milliseconds reader_wait{250};
  std::chrono::milliseconds max_reader_wait{4000};
  std::chrono::milliseconds retry_after{1000};
};

struct SqliteOptions {
  std::string path;
  int batch_max = 256;  // most WriteBatches in one transaction
  bool outbox = false;  // queue every new version for the upstream sender
  std::int64_t max_page_count = 0;  // > 0: cap the file size (tests simulate a full disk)
  CheckpointLimits checkpoint = {};
};

StatusOr<std::unique_ptr<Store>> openSqliteStore(const SqliteOptions& options);

}  // namespace ilpgw
