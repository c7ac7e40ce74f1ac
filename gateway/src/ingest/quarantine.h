// Quarantine reprocessing: runs a quarantined payload or record again through
// the CURRENT adapters and mappings (for example after IT staff fixed a
// ConceptMap) and, when it now maps, stores its resources and marks the entry
// resolved in the same transaction. Idempotent: deterministic ids and
// unchanged-content detection mean a second run stores nothing new, and a
// resolved entry answers with what it produced.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ingest/gateway.h"
#include "base/status.h"
#include "store/quarantine_store.h"

namespace ilpgw {

struct ReprocessResult {
  std::int64_t id = 0;
  int http_status = 200;              // 200 done (resolved or still open), 404, 409, 503
  std::string status;                 // resolved | open | (empty on failure)
  bool newly_resolved = false;        // resolved by this call
  std::vector<std::string> produced;  // Type/id/_history/v
  std::vector<std::int64_t> new_quarantine_ids;  // records of a payload-level entry that still fail
  std::string outcome_json;           // reasons when still open or on failure
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. Retry-After on 503
};

ReprocessResult reprocessQuarantine(Gateway& gateway, std::int64_t id);

// Reprocesses the open entries matching `filter` (status is forced to open),
// at most `max_entries`, oldest first.
std::vector<ReprocessResult> reprocessQuarantineMatching(Gateway& gateway, QuarantineFilter filter,
                                                         int max_entries);

// JSON renderings for the admin API and the CLI.
std::string quarantineEntryJson(const QuarantineEntry& entry, bool with_outcome);
std::string reprocessResultJson(const ReprocessResult& result);
std::string reprocessSummaryJson(const std::vector<ReprocessResult>& results);

}  // namespace ilpgw
