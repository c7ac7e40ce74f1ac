#include "store/sqlite_checkpointer.h"

#include <pthread.h>

#include <algorithm>
#include <stdexcept>

#include "base/log.h"
#include "store/sqlite_lock_wait.h"

namespace ilpgw {

SqliteCheckpointer::SqliteCheckpointer(const std::string& path, sqlite3* writer,
                                       std::chrono::milliseconds writer_lock_wait, CheckpointLimits limits)
    : writer_(writer), writer_lock_wait_(writer_lock_wait), limits_(limits), reader_wait_(limits.reader_wait) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw std::runtime_error("cannot open " + path + " for checkpoints: " + message);
  }
  // A connection learns that the database is in WAL mode, and opens the log,
  // on its first read; until then sqlite3_wal_checkpoint_v2 finds no log and
  // copies nothing (it answers SQLITE_OK with -1 frames).
  if (sqlite3_exec(db_, "SELECT count(*) FROM sqlite_schema", nullptr, nullptr, nullptr) != SQLITE_OK) {
    std::string message = sqlite3_errmsg(db_);
    sqlite3_close(db_);
    throw std::runtime_error("cannot read " + path + " for checkpoints: " + message);
  }
  sqlite3_stmt* page_size = nullptr;
  if (sqlite3_prepare_v2(writer_, "PRAGMA page_size", -1, &page_size, nullptr) == SQLITE_OK &&
      sqlite3_step(page_size) == SQLITE_ROW) {
    page_bytes_ = std::max(512, sqlite3_column_int(page_size, 0));
  }
  sqlite3_finalize(page_size);
  passive_frames_ = static_cast<int>(std::max<std::int64_t>(1, limits_.passive_bytes / page_bytes_));
  truncate_frames_ = static_cast<int>(std::max<std::int64_t>(1, limits_.truncate_bytes / page_bytes_));
  // Replaces SQLite's automatic checkpoint in the writer.
  sqlite3_wal_hook(writer_, &SqliteCheckpointer::onCommit, this);
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "ilpgw-checkpnt");
    run();
  });
}

SqliteCheckpointer::~SqliteCheckpointer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  sqlite3_wal_hook(writer_, nullptr, nullptr);
  sqlite3_close(db_);
}

int SqliteCheckpointer::onCommit(void* self, sqlite3*, const char*, int frames) {
  auto* checkpointer = static_cast<SqliteCheckpointer*>(self);
  bool due;
  {
    std::lock_guard lock(checkpointer->mutex_);
    if (frames < checkpointer->checkpointed_at_) checkpointer->checkpointed_at_ = 0;  // the log was rewound
    checkpointer->frames_ = frames;
    due = checkpointer->passiveDue();
  }
  if (due) checkpointer->wake_.notify_one();
  return SQLITE_OK;
}

// Not while a rewind is due: the writer's rewind must not wait behind a copy
// this thread has just started.
bool SqliteCheckpointer::passiveDue() const {
  return frames_ - checkpointed_at_ >= passive_frames_ && !truncateDue();
}

bool SqliteCheckpointer::truncateDue() const {
  return frames_ >= truncate_frames_ && std::chrono::steady_clock::now() >= truncate_not_before_;
}

void SqliteCheckpointer::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || passiveDue(); });
    if (stopping_) return;
    checkpointed_at_ = frames_;
    lock.unlock();
    int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      logLine(LogLevel::kWarning, std::string("store checkpoint: ") + sqlite3_errmsg(db_));
    }
    lock.lock();
  }
}

void SqliteCheckpointer::rewindIfLong() {
  std::chrono::milliseconds wait;
  {
    std::lock_guard lock(mutex_);
    if (!truncateDue()) return;
    wait = reader_wait_;
  }
  // The writer holds no transaction here, so only the readers in flight are
  // waited for; commits queue meanwhile and go in the next group.
  auto started = std::chrono::steady_clock::now();
  setLockWait(writer_, wait);
  int log_frames = 0;
  // RESTART, not TRUNCATE: the next commit writes the log from its start over
  // pages the file already has (journal_size_limit trims what lies beyond
  // 64 MiB). Truncating to zero made every rewind give the file's blocks back
  // and each later commit allocate them again: 307-330 against 359-366 posts/s
  // at 64 clients (bench/ingest_clients.sh 30).
  int rc = sqlite3_wal_checkpoint_v2(writer_, nullptr, SQLITE_CHECKPOINT_RESTART, &log_frames, nullptr);
  setLockWait(writer_, writer_lock_wait_);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  std::lock_guard lock(mutex_);
  if (rc == SQLITE_OK) {
    frames_ = checkpointed_at_ = 0;  // the next commit starts the log again
    reader_wait_ = limits_.reader_wait;
    failed_rewinds_ = 0;
    logLine(LogLevel::kDebug, "store: write-ahead log rewound in " + std::to_string(took.count()) + " ms");
    return;
  }
  if (rc != SQLITE_BUSY) logLine(LogLevel::kWarning, std::string("store checkpoint: ") + sqlite3_errmsg(writer_));
  // Readers outlasted the wait (a loaded machine, a long export page): wait
  // twice as long next time, up to max_reader_wait, so the log is rewound in
  // the end whatever the read load.
  truncate_not_before_ = std::chrono::steady_clock::now() + limits_.retry_after;
  reader_wait_ = std::min(reader_wait_ * 2, limits_.max_reader_wait);
  if (++failed_rewinds_ % 10 == 0) {
    logLine(LogLevel::kWarning, "store: the write-ahead log has not been rewound in " +
                                    std::to_string(failed_rewinds_) + " attempts (" +
                                    std::to_string((static_cast<std::int64_t>(frames_) * page_bytes_) >> 20) + " MiB); readers keep it in use");
  }
}

}  // namespace ilpgw
