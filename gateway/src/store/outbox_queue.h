// The outbox: one row per stored resource version waiting to be forwarded
// upstream. Rows are keyed by the version's commit sequence and created in
// the same transaction as the version (when the store is opened with the
// outbox on); the sender claims, completes and dead-letters them here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/time_util.h"

namespace ilpgw {

struct OutboxItem {
  std::int64_t seq = 0;
  std::string type;
  std::string id;
  std::int64_t version = 0;
  std::string organization;  // of the stored version (claimed rows)
  std::string state;  // pending | dead
  int attempts = 0;
  std::string created_at;
  std::string last_error;
  int http_status = 0;        // of the refusal (dead rows)
  std::string outcome_json;   // the upstream's OperationOutcome (dead rows)
  std::string body;           // the stored resource JSON (claimed rows only)
  // A newer version of the same resource is stored and is not waiting in the
  // outbox any more (already sent): sending this one would roll it back.
  bool superseded = false;
  // Dependency claims also report pending rows they could not claim (in
  // backoff, or leased by another instance): their referrers must wait.
  bool claimed = true;
};

struct OutboxClaim {
  std::string claimer;            // instance id; see docs/durability.md (leases)
  std::int64_t now_ms = 0;        // unix ms
  std::int64_t lease_ms = 60000;  // claim expires after this
  int limit = 100;
  // Claim these resources' pending rows (dependencies of a claimed row)
  // instead of the oldest ready rows.
  std::vector<std::pair<std::string, std::string>> resources;
};

enum class OutboxResult { kSent, kRetry, kDead, kRelease };

struct OutboxCompletion {
  std::int64_t seq = 0;
  OutboxResult result = OutboxResult::kSent;
  std::int64_t next_attempt_ms = 0;  // kRetry / kRelease: not before this
  bool count_attempt = true;         // kRetry: a real attempt (not a deferral)
  std::string error;                 // kRetry / kDead
  int http_status = 0;               // kDead
  std::string outcome_json;          // kDead
};

struct OutboxStats {
  std::int64_t pending = 0;
  std::int64_t dead = 0;
  std::string oldest_pending_at;  // created_at of the oldest pending row, empty if none

  // How long the oldest pending row has waited at `now_ms` (unix ms); 0 when
  // none. What /ready, /metrics and the status page report.
  std::int64_t oldestPendingAgeSeconds(std::int64_t now_ms) const {
    if (oldest_pending_at.empty()) return 0;
    auto oldest = millisFromInstant(oldest_pending_at);
    return oldest && now_ms > *oldest ? (now_ms - *oldest) / 1000 : 0;
  }
};

class OutboxQueue {
 public:
  virtual ~OutboxQueue() = default;

  // Claims ready pending rows for sending, each with the stored version's
  // body (through the writer: a claim is a write). Rows claimed by another
  // claimer whose lease has not expired, and rows whose next attempt is in
  // the future, are skipped.
  virtual StatusOr<std::vector<OutboxItem>> claimOutbox(const OutboxClaim& claim) = 0;
  // Records what happened to claimed rows: sent rows are deleted.
  virtual Status completeOutbox(const std::vector<OutboxCompletion>& completions) = 0;
  // Dead rows back to pending: one row (seq > 0) or all dead rows (seq == 0).
  // Returns how many rows were re-queued.
  virtual StatusOr<std::int64_t> resendOutbox(std::int64_t seq) = 0;
  virtual StatusOr<std::vector<OutboxItem>> listOutbox(std::string_view state, std::int64_t after_seq,
                                                       int limit) = 0;
  virtual StatusOr<OutboxStats> outboxStats() = 0;
};

}  // namespace ilpgw
