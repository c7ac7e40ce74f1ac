// Bounds how many searches the SQLite store answers at once.
//
// Searches run on the request threads, and the CPU scheduler gives every
// runnable thread an equal share: sixteen clients pulling pages at once left
// the store's one writer thread a seventeenth of the machine, and posts that
// wait for it fell from about 400 to about 10 per second. Searches beyond the
// bound wait here, asleep, for a turn; the writer keeps a core.
//
// The bound is worth having only while the writer has work: each caller
// beyond it sleeps and is woken for its turn, and with sixteen searches and
// two turns those hand-overs cost a sixth of the searches answered. The store
// therefore takes a turn only while records are being written and lets
// searches pass() otherwise.
//
// Only page queries (search, history) pass the gate. Long scans (Bulk export,
// reports) do not: holding a turn for minutes would stop every search.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace ilpgw {

class QueryGate {
 public:
  // `turns` >= 1: how many callers may be inside at once.
  explicit QueryGate(int turns) : free_(turns < 1 ? 1 : turns) {}
  QueryGate(const QueryGate&) = delete;
  QueryGate& operator=(const QueryGate&) = delete;

  // Leave to go on, held until it goes out of scope: a turn (enter()) or a
  // pass that holds none (pass()); empty when no turn came free within the
  // wait given to enter().
  class Turn {
   public:
    Turn() = default;
    Turn(QueryGate* gate, bool waited) : gate_(gate), admitted_(true), waited_(waited) {}
    Turn(Turn&& other) noexcept : gate_(other.gate_), admitted_(other.admitted_), waited_(other.waited_) {
      other.gate_ = nullptr;
    }
    Turn& operator=(Turn&&) = delete;
    ~Turn() {
      if (gate_ != nullptr) gate_->leave();
    }
    explicit operator bool() const { return admitted_; }
    // Every turn was taken when the caller came.
    bool waited() const { return waited_; }

   private:
    QueryGate* gate_ = nullptr;  // the gate to give the turn back to; none for a pass
    bool admitted_ = false;
    bool waited_ = false;
  };

  Turn enter(std::chrono::milliseconds wait) {
    std::unique_lock lock(mutex_);
    bool waited = free_ == 0;
    if (!freed_.wait_for(lock, wait, [&] { return free_ > 0; })) return Turn();
    --free_;
    return Turn(this, waited);
  }

  // Goes on without a turn and without waiting; the turns others hold are
  // not affected.
  static Turn pass() { return Turn(nullptr, false); }

 private:
  void leave() {
    {
      std::lock_guard lock(mutex_);
      ++free_;
    }
    freed_.notify_one();
  }

  std::mutex mutex_;
  std::condition_variable freed_;
  int free_;
};

}  // namespace ilpgw
