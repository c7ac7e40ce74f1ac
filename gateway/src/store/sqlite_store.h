// The embedded SQLite backend: one database file in the data directory, one
// writer thread with group commit, readers on their own connections. Only
// the store layer includes this header; everything else opens a store with
// openStore() (store.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "store/store.h"

namespace ilpgw {

// When the write-ahead log is checkpointed (sqlite_checkpointer.h).
struct CheckpointLimits {
  std::int64_t passive_bytes = 16 << 20;   // copy the log into the database each time it grew by this
  std::int64_t truncate_bytes = 64 << 20;  // empty the log once it is longer than this
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
  // How long a statement waits for a lock held by another process.
  std::chrono::milliseconds lock_wait{5000};
  // Most searches and history pages answered at once while records are being
  // written (query_gate.h); the others wait their turn, up to lock_wait, then
  // get "unavailable". "Being written": a commit of records was asked for
  // within the last `searches_bounded_for`; otherwise searches are not bounded.
  int concurrent_searches = 1;
  std::chrono::milliseconds searches_bounded_for{1000};
};

StatusOr<std::unique_ptr<Store>> openSqliteStore(const SqliteOptions& options);

// The writer's statements that remove one resource's rows from each search
// index table (token, string, date, reference). Each must find the rows by
// their rowid range, never by scanning every row of the type: the store's
// tests check their query plans.
std::span<const char* const> sqliteIndexRowDeletes();
// The statement reading one version of a resource (?1 type, ?2 id, ?3
// version) along its chain of versions, for tests of its query plan.
std::string sqliteVersionRead();
// The index rows of a search's first index clause as the store selects them
// (placeholders unbound), for tests of their query plan.
std::string sqliteSearchIndexRows(const SearchQuery& query);

}  // namespace ilpgw
