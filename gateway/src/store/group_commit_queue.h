// The queue in front of a store's one writer thread (group commit).
//
// Callers submit work and block until the writer has committed it (or failed
// it); the writer takes everything waiting, up to `batch_max` pieces of work,
// plus the audit events recorded without a commit of their own, and commits
// them in one transaction. One fsync then acknowledges many posts.
//
// Both backends use it; `Work` is what a backend needs to apply one piece on
// its writer connection.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <utility>
#include <vector>

#include "base/log.h"
#include "base/status.h"
#include "store/types.h"

namespace ilpgw {

template <typename Work>
class GroupCommitQueue {
 public:
  struct Pending {
    Work work;
    std::promise<StatusOr<CommitResult>> promise;
  };
  // What the writer commits in one transaction; it must resolve every
  // pending promise.
  struct Group {
    std::vector<Pending*> pending;
    std::vector<AuditWrite> audit;
  };

  // How long audit events without a commit of their own wait for company.
  static constexpr std::chrono::milliseconds kAuditGather{10};
  static constexpr size_t kAuditGatherEvents = 256;

  explicit GroupCommitQueue(int batch_max) : batch_max_(batch_max) {}

  // Caller side: blocks until the writer has resolved `work`.
  StatusOr<CommitResult> submit(Work work) {
    Pending pending{std::move(work), {}};
    auto future = pending.promise.get_future();
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return Status(StatusCode::kUnavailable, "store is shutting down");
      queue_.push_back(&pending);
    }
    wake_.notify_one();
    return future.get();
  }

  // Audit events that need no commit of their own: they go in the next group.
  void recordAudit(std::vector<AuditWrite> events) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) {
        logLine(LogLevel::kError, "audit events dropped: store is shutting down");
        return;
      }
      for (auto& e : events) audit_.push_back(std::move(e));
    }
    wake_.notify_one();
  }

  // Writer side: waits for work; false once stop() was called and nothing
  // is left.
  bool next(Group& group) {
    group.pending.clear();
    group.audit.clear();
    std::unique_lock lock(mutex_);
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty() || !audit_.empty(); });
    if (queue_.empty() && !stopping_) {
      // Audit events alone have no caller waiting: gather them for a moment,
      // so a flood of reads makes one commit per many events, not one each.
      wake_.wait_for(lock, kAuditGather,
                     [&] { return stopping_ || !queue_.empty() || audit_.size() >= kAuditGatherEvents; });
    }
    if (queue_.empty() && audit_.empty()) return false;  // stopping
    while (!queue_.empty() && static_cast<int>(group.pending.size()) < batch_max_) {
      group.pending.push_back(queue_.front());
      queue_.pop_front();
    }
    group.audit.swap(audit_);
    return true;
  }

  // Refuses new work; what was submitted before is still handed to next().
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
  }

 private:
  const int batch_max_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending*> queue_;
  std::vector<AuditWrite> audit_;
  bool stopping_ = false;
};

}  // namespace ilpgw
