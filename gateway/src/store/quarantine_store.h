// Quarantine and payloads: the records that failed parsing, mapping or
// validation with the raw payloads they came from, kept for reprocessing.
// Entries are written through commit() (WriteBatch::quarantine and
// quarantine_updates, types.h); this role reads them back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "store/types.h"

namespace ilpgw {

struct QuarantineEntry {
  std::int64_t id = 0;
  std::optional<std::int64_t> payload_id;
  std::string adapter;  // of the payload; empty when there is none
  std::string locator;  // `payload` for a whole payload, else the record locator
  std::string source_key;
  std::string outcome_json;
  std::string created_at;
  std::string status;  // open | resolved
  int attempts = 0;    // reprocessing attempts
  std::string last_attempt_at;
  std::string resolved_at;
  std::string produced_json;  // JSON array of "Type/id/_history/v" when resolved
  std::string organization;   // of the payload; empty when there is none
};

struct QuarantineFilter {
  std::string status;   // empty = any
  std::string adapter;  // empty = any
  std::int64_t after_id = 0;  // cursor: entries with a larger id
  int limit = 100;
  std::string organization;  // the payload's organization; empty = any
  std::string created_ge;    // entries created at or after this instant; empty = any
};

struct StoredPayload {
  std::int64_t id = 0;
  std::string received_at;
  std::string adapter;
  std::string organization;
  std::string content_type;
  std::string body;
};

class QuarantineStore {
 public:
  virtual ~QuarantineStore() = default;

  virtual StatusOr<std::vector<QuarantineEntry>> listQuarantine(const QuarantineFilter& filter) = 0;
  virtual StatusOr<std::optional<QuarantineEntry>> readQuarantine(std::int64_t id) = 0;
  virtual StatusOr<std::optional<StoredPayload>> readPayload(std::int64_t id) = 0;
};

}  // namespace ilpgw
