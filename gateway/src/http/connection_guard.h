// Keeps slow and idle connections from starving the worker pool. cpp-httplib
// 0.11.4 holds one worker thread per connection and its read timeout is per
// read, so a client trickling bytes would hold a worker forever. The guard
// counts connections per peer address (refusing those over the cap), knows
// what each connection is doing, and, when accepted connections wait for a
// worker, reclaims idle keep-alive connections first, then the ones that have
// waited longest for their request head. Deadlines of a single connection
// (head, body rate) are enforced by the connection's own stream
// (http/guarded_connection.cc); the guard only decides whom to close for
// others' sake.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

namespace ilpgw {

struct ConnectionLimits {
  // TLS handshake plus request head, from the moment a worker takes the
  // connection or from the end of the previous response.
  std::chrono::milliseconds header_timeout{10000};
  // Request bodies and responses must move at least this fast once the grace
  // period is over (average since the body or response began).
  long long min_bytes_per_s = 1024;
  std::chrono::milliseconds rate_grace{10000};
  int max_per_peer = 32;  // open connections from one address
};

enum class ConnectionPhase {
  kHead,     // TLS handshake or request head in progress: reclaimable, oldest first
  kRequest,  // head complete: body, handler, response; never reclaimed
  kIdle,     // keep-alive, waiting for the next request: reclaimed first
};

// Why connections were closed or refused; logged every 10 s when non-zero.
struct ConnectionCounters {
  uint64_t refused_over_peer_cap = 0;
  uint64_t head_deadline = 0;
  uint64_t too_slow = 0;
  uint64_t reclaimed_idle = 0;
  uint64_t reclaimed_head = 0;
};

class ConnectionGuard {
 public:
  explicit ConnectionGuard(ConnectionLimits limits);
  ~ConnectionGuard();
  ConnectionGuard(const ConnectionGuard&) = delete;
  ConnectionGuard& operator=(const ConnectionGuard&) = delete;

  const ConnectionLimits& limits() const { return limits_; }

  // Registers a connection a worker has just taken. Returns its id, or 0 when
  // its address already has max_per_peer connections (the caller closes it).
  uint64_t admit(int fd, const std::string& peer);
  void setPhase(uint64_t id, ConnectionPhase phase);
  // Must be called before the descriptor is closed: the guard never touches
  // a descriptor after this returns, so a reused number is never shut down.
  void release(uint64_t id);

  // Connections waiting for a worker (the pool reports them). The probe
  // returns how many have waited long enough to deserve one; `wake` asks for
  // an immediate look, e.g. when a connection is queued and no worker is idle.
  void setWaitingProbe(std::function<size_t()> probe);
  void wake();

  // The server is stopping: close connections that carry no request so that
  // workers finish in-flight requests only.
  void closeUnbusy();

  void countHeadDeadline() { head_deadline_.fetch_add(1, std::memory_order_relaxed); }
  void countTooSlow() { too_slow_.fetch_add(1, std::memory_order_relaxed); }
  ConnectionCounters counters() const;

 private:
  struct Entry {
    int fd;
    std::string peer;
    ConnectionPhase phase;
    std::chrono::steady_clock::time_point since;
    bool reclaiming = false;  // shut down by the guard, worker not yet released it
  };

  void watch();
  void reclaim(size_t wanted);

  const ConnectionLimits limits_;
  mutable std::mutex mutex_;
  std::unordered_map<uint64_t, Entry> entries_;
  std::map<std::string, int> per_peer_;
  uint64_t next_id_ = 1;

  std::mutex probe_mutex_;
  std::function<size_t()> probe_;

  std::mutex wake_mutex_;
  std::condition_variable wake_cv_;
  bool woken_ = false;
  bool stopping_ = false;

  std::atomic<uint64_t> refused_{0};
  std::atomic<uint64_t> head_deadline_{0};
  std::atomic<uint64_t> too_slow_{0};
  std::atomic<uint64_t> reclaimed_idle_{0};
  std::atomic<uint64_t> reclaimed_head_{0};

  std::thread watchdog_;  // last: started once everything above exists
};

}  // namespace ilpgw
