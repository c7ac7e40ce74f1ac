// The audit log: an append-only, hash-chained sequence of AuditEvents.
// Events come with a commit (WriteBatch::audit) or on their own through
// recordAudit(); security/audit.h builds them and verifies the chain.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "store/types.h"

namespace ilpgw {

struct AuditRecord {
  std::int64_t seq = 0;
  AuditWrite event;
  std::string prev_hash;  // hex; "" for the first record
  std::string hash;       // hex
};

struct AuditQuery {
  std::string recorded_ge;  // inclusive lower bound on recorded ("" = none)
  std::string recorded_lt;  // exclusive upper bound ("" = none)
  std::string agent;        // exact client id ("" = any)
  std::string entity;       // one entity reference, e.g. Patient/123 ("" = any)
  std::int64_t after_seq = 0;  // paging cursor: records with a larger seq
  int limit = 50;
};

// The chain rule every backend applies and `ilp-gateway audit verify` checks.
std::string auditChainHash(std::string_view prev_hash, std::int64_t seq, const AuditWrite& event);

class AuditLog {
 public:
  virtual ~AuditLog() = default;

  // Queues events for the next group commit and returns at once: reads and
  // authentications are audited without waiting for an fsync of their own.
  virtual void recordAudit(std::vector<AuditWrite> events) = 0;
  virtual StatusOr<std::vector<AuditRecord>> searchAudit(const AuditQuery& query) = 0;
  // The chain in sequence order, `limit` records after `after_seq`.
  virtual StatusOr<std::vector<AuditRecord>> scanAudit(std::int64_t after_seq, int limit) = 0;
  // The last record's seq and hash as the store recorded them separately
  // (detects deletion of the newest records); nullopt when none.
  virtual StatusOr<std::optional<std::pair<std::int64_t, std::string>>> auditHead() = 0;
};

}  // namespace ilpgw
