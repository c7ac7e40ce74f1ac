#include "store/sqlite_log_sync.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/log.h"
#include "base/metrics.h"

namespace ilpgw {

SqliteLogSync::SqliteLogSync(std::string database_path)
    : log_path_(database_path + "-wal"),
      directory_(std::filesystem::path(database_path).parent_path().string()) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "ilpgw-log-sync");
    run();
  });
}

SqliteLogSync::~SqliteLogSync() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  if (log_fd_ >= 0) close(log_fd_);
}

void SqliteLogSync::whenDurable(std::function<void(const Status&)> acknowledge) {
  {
    std::lock_guard lock(mutex_);
    waiting_.push_back(std::move(acknowledge));
  }
  wake_.notify_one();
}

Status SqliteLogSync::failure() const {
  std::lock_guard lock(mutex_);
  return failure_;
}

void SqliteLogSync::run() {
  std::vector<std::function<void(const Status&)>> batch;
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !waiting_.empty(); });
    if (waiting_.empty()) return;  // stopping, nothing left
    batch.swap(waiting_);
    Status status = failure_;
    lock.unlock();
    if (status.isOk()) status = syncLog();
    for (auto& acknowledge : batch) acknowledge(status);
    batch.clear();
    lock.lock();
    if (!status.isOk() && failure_.isOk()) failure_ = status;
  }
}

// fsync works on the file, not the descriptor: this descriptor's fdatasync
// flushes what the writer's connection wrote through its own.
Status SqliteLogSync::syncLog() {
  static metrics::Counter& syncs = metrics::storeLogSyncs().counter();
  auto failed = [this](const char* what) {
    std::string reason = std::string(what) + " " + log_path_ + ": " + std::strerror(errno);
    logLine(LogLevel::kError, "store: " + reason + "; no more writes are accepted until ilp-gateway is restarted");
    return Status(StatusCode::kUnavailable, "store: the write-ahead log could not be made durable (" + reason + ")");
  };
  struct stat st {};
  if (log_fd_ >= 0 && (fstat(log_fd_, &st) != 0 || st.st_nlink == 0)) {  // the log was removed and made anew
    close(log_fd_);
    log_fd_ = -1;
  }
  if (log_fd_ < 0) {
    log_fd_ = open(log_path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (log_fd_ < 0) return failed("cannot open");
    // The log's directory entry must be durable too.
    int dir = open(directory_.empty() ? "." : directory_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return failed("cannot open the directory of");
    int rc = fsync(dir);
    close(dir);
    if (rc != 0) return failed("cannot sync the directory of");
  }
  if (fdatasync(log_fd_) != 0) return failed("cannot sync");
  syncs.add();
  return Status::ok();
}

}  // namespace ilpgw
