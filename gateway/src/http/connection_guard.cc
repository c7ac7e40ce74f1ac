#include "http/connection_guard.h"

#include <sys/socket.h>

#include <algorithm>
#include <vector>

#include "base/log.h"
#include "base/metrics.h"

namespace ilpgw {
namespace {

// A connection that has only just reached a worker is still in its TLS
// handshake; reclaiming it would throw away a legitimate client first under
// churn, so head-phase connections younger than this are left alone.
constexpr std::chrono::milliseconds kMinHeadAge{100};
constexpr std::chrono::milliseconds kIdleTick{100};
constexpr std::chrono::milliseconds kBusyTick{10};
constexpr std::chrono::seconds kReportEvery{10};

}  // namespace

ConnectionGuard::ConnectionGuard(ConnectionLimits limits) : limits_(limits), watchdog_([this] { watch(); }) {}

ConnectionGuard::~ConnectionGuard() {
  {
    std::lock_guard<std::mutex> lock(wake_mutex_);
    stopping_ = true;
  }
  wake_cv_.notify_all();
  watchdog_.join();
}

uint64_t ConnectionGuard::admit(int fd, const std::string& peer) {
  std::lock_guard<std::mutex> lock(mutex_);
  int& open = per_peer_[peer];
  if (limits_.max_per_peer > 0 && open >= limits_.max_per_peer) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  ++open;
  uint64_t id = next_id_++;
  entries_.emplace(id, Entry{fd, peer, ConnectionPhase::kHead, std::chrono::steady_clock::now()});
  metrics::openConnections().gauge().add(1);
  return id;
}

void ConnectionGuard::setPhase(uint64_t id, ConnectionPhase phase) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  it->second.phase = phase;
  it->second.since = std::chrono::steady_clock::now();
}

void ConnectionGuard::release(uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  auto peer = per_peer_.find(it->second.peer);
  if (peer != per_peer_.end() && --peer->second <= 0) per_peer_.erase(peer);
  entries_.erase(it);
  metrics::openConnections().gauge().add(-1);
}

void ConnectionGuard::setWaitingProbe(std::function<size_t()> probe) {
  std::lock_guard<std::mutex> lock(probe_mutex_);
  probe_ = std::move(probe);
}

void ConnectionGuard::wake() {
  {
    std::lock_guard<std::mutex> lock(wake_mutex_);
    woken_ = true;
  }
  wake_cv_.notify_one();
}

void ConnectionGuard::closeUnbusy() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [id, entry] : entries_) {
    if (entry.phase != ConnectionPhase::kRequest && !entry.reclaiming) {
      ::shutdown(entry.fd, SHUT_RDWR);
      entry.reclaiming = true;
    }
  }
}

ConnectionCounters ConnectionGuard::counters() const {
  ConnectionCounters c;
  c.refused_over_peer_cap = refused_.load(std::memory_order_relaxed);
  c.head_deadline = head_deadline_.load(std::memory_order_relaxed);
  c.too_slow = too_slow_.load(std::memory_order_relaxed);
  c.reclaimed_idle = reclaimed_idle_.load(std::memory_order_relaxed);
  c.reclaimed_head = reclaimed_head_.load(std::memory_order_relaxed);
  return c;
}

void ConnectionGuard::reclaim(size_t wanted) {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mutex_);
  size_t in_flight = 0;
  std::vector<std::pair<std::chrono::steady_clock::time_point, Entry*>> idle;
  std::vector<std::pair<std::chrono::steady_clock::time_point, Entry*>> head;
  for (auto& [id, entry] : entries_) {
    if (entry.reclaiming) {
      ++in_flight;  // its worker is about to come free
    } else if (entry.phase == ConnectionPhase::kIdle) {
      idle.emplace_back(entry.since, &entry);
    } else if (entry.phase == ConnectionPhase::kHead && now - entry.since >= kMinHeadAge) {
      head.emplace_back(entry.since, &entry);
    }
  }
  if (wanted <= in_flight) return;
  wanted -= in_flight;
  auto by_age = [](const auto& a, const auto& b) { return a.first < b.first; };
  std::sort(idle.begin(), idle.end(), by_age);
  std::sort(head.begin(), head.end(), by_age);
  for (auto* group : {&idle, &head}) {
    for (auto& [since, entry] : *group) {
      if (wanted == 0) return;
      ::shutdown(entry->fd, SHUT_RDWR);  // the worker's poll returns; it closes and takes the next connection
      entry->reclaiming = true;
      (group == &idle ? reclaimed_idle_ : reclaimed_head_).fetch_add(1, std::memory_order_relaxed);
      --wanted;
    }
  }
}

void ConnectionGuard::watch() {
  ConnectionCounters reported;
  auto next_report = std::chrono::steady_clock::now() + kReportEvery;
  size_t waiting = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(wake_mutex_);
      wake_cv_.wait_for(lock, waiting > 0 ? kBusyTick : kIdleTick, [this] { return woken_ || stopping_; });
      if (stopping_) return;
      woken_ = false;
    }
    {
      std::lock_guard<std::mutex> lock(probe_mutex_);
      waiting = probe_ ? probe_() : 0;
    }
    if (waiting > 0) reclaim(waiting);

    auto now = std::chrono::steady_clock::now();
    if (now >= next_report) {
      next_report = now + kReportEvery;
      ConnectionCounters c = counters();
      auto delta = [](uint64_t a, uint64_t b) { return std::to_string(a - b); };
      if (c.refused_over_peer_cap != reported.refused_over_peer_cap || c.head_deadline != reported.head_deadline ||
          c.too_slow != reported.too_slow || c.reclaimed_idle != reported.reclaimed_idle ||
          c.reclaimed_head != reported.reclaimed_head) {
        logLine(LogLevel::kWarning,
                "connections closed in the last " + std::to_string(kReportEvery.count()) + " s: " +
                    delta(c.refused_over_peer_cap, reported.refused_over_peer_cap) +
                    " refused (server.max_connections_per_peer), " + delta(c.head_deadline, reported.head_deadline) +
                    " head not complete in time (server.header_timeout_ms), " + delta(c.too_slow, reported.too_slow) +
                    " body or response too slow (server.min_body_bytes_per_s), " +
                    delta(c.reclaimed_idle, reported.reclaimed_idle) + " idle keep-alive and " +
                    delta(c.reclaimed_head, reported.reclaimed_head) +
                    " unfinished heads reclaimed for waiting clients");
        reported = c;
      }
    }
  }
}

}  // namespace ilpgw
