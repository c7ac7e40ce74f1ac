// Acknowledges the SQLite writer's commits once the write-ahead log that
// holds them is on disk, on a thread of its own.
//
// The writer commits with synchronous=NORMAL: COMMIT writes the group's pages
// to the log (gateway.db-wal) and returns without an fsync. It then hands the
// group's acknowledgement to this thread and goes on with the next group. This
// thread fsyncs the log once for every group handed over meanwhile, and only
// then runs their acknowledgements. So the disk's flush and the writer's work
// on the next group overlap, while an answer still means "on disk": a group's
// pages were written before its acknowledgement was handed over, and the
// fsync that follows covers them.
//
// A failed fsync may have dropped pages the kernel could not write (Linux
// marks them clean), so a later success proves nothing: after one failure
// every waiting and every later commit is refused until the gateway restarts.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"

namespace ilpgw {

class SqliteLogSync {
 public:
  // `database_path`: the database file; its log is `database_path` + "-wal".
  explicit SqliteLogSync(std::string database_path);
  // Runs every acknowledgement handed over (after a last fsync), then stops.
  ~SqliteLogSync();
  SqliteLogSync(const SqliteLogSync&) = delete;
  SqliteLogSync& operator=(const SqliteLogSync&) = delete;

  // Writer side, after a COMMIT returned: `acknowledge` runs on this thread
  // once the log is on disk, with OK, or with the reason it is not.
  void whenDurable(std::function<void(const Status&)> acknowledge);

  // Non-OK once an fsync of the log failed: the store takes no more writes.
  Status failure() const;

 private:
  void run();
  Status syncLog();

  const std::string log_path_;
  const std::string directory_;
  int log_fd_ = -1;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<std::function<void(const Status&)>> waiting_;
  Status failure_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ilpgw
