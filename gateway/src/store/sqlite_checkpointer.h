// Keeps SQLite's write-ahead log short.
//
// SQLite's own automatic checkpoint runs inside the committing writer and only
// in PASSIVE mode: it copies what no reader still needs and never waits. Under
// a steady read load some reader always holds an old snapshot, the log is
// never rewound, and it grows without bound (gigabytes in a half-hour soak,
// each commit slower than the last). Instead:
//  - a thread of its own copies the log into the database (PASSIVE) each time
//    the log has grown by `passive_bytes`, off the writer's path;
//  - once the log is longer than `truncate_bytes`, the writer, between two
//    transactions, calls rewindIfLong(): a RESTART checkpoint that waits at
//    most `reader_wait` for the readers in flight to finish, copies the rest
//    of the log, and lets the next commit write the log from its start (the
//    file keeps its size, trimmed to journal_size_limit). Readers are never blocked; commits wait in the queue for
//    that moment and go in the next group. If readers outlast the wait the
//    rewind is tried again `retry_after` later with twice the wait, up to
//    `max_reader_wait`.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "store/sqlite_store.h"  // CheckpointLimits

namespace ilpgw {

class SqliteCheckpointer {
 public:
  // Watches `writer` (the store's one writing connection, which must outlive
  // this object; it waits `writer_lock_wait` for locks, sqlite_lock_wait.h)
  // and copies the log through a connection of its own to `path`.
  SqliteCheckpointer(const std::string& path, sqlite3* writer, std::chrono::milliseconds writer_lock_wait,
                     CheckpointLimits limits);
  ~SqliteCheckpointer();

  SqliteCheckpointer(const SqliteCheckpointer&) = delete;
  SqliteCheckpointer& operator=(const SqliteCheckpointer&) = delete;

  // On the writer thread, outside any transaction.
  void rewindIfLong();

 private:
  static int onCommit(void* self, sqlite3* db, const char* schema, int frames);
  bool passiveDue() const;   // with mutex_ held
  bool truncateDue() const;  // with mutex_ held
  void run();

  sqlite3* writer_;
  std::chrono::milliseconds writer_lock_wait_;
  sqlite3* db_ = nullptr;
  CheckpointLimits limits_;
  std::mutex mutex_;
  std::condition_variable wake_;
  int page_bytes_ = 4096;    // this database's page size: one log frame each
  int passive_frames_ = 0;   // the limits in frames
  int truncate_frames_ = 0;
  int frames_ = 0;           // the log's length after the last commit
  int checkpointed_at_ = 0;  // its length at the last copy
  std::chrono::steady_clock::time_point truncate_not_before_{};
  std::chrono::milliseconds reader_wait_;  // doubles after each failed rewind
  int failed_rewinds_ = 0;                 // in a row
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ilpgw
