// Storage interface. The SQLite backend (sqlite_store.cc) is the embedded
// default; a PostgreSQL backend will implement the same interface so several
// gateway instances can share one database. Nothing above this header may
// assume SQLite: ordering uses the store's commit sequence, never rowids or
// file positions, and every write goes through commit().
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "status.h"

namespace ilpgw {

// A resource ready to store: its JSON text split around the point where the
// store inserts meta.versionId and meta.lastUpdated (see prepareResource()).
struct ResourceWrite {
  std::string type;
  std::string id;
  std::string head;  // `{"resourceType":"X","id":"Y","meta":{`
  std::string tail;  // the rest of meta's members (each preceded by a comma) and of the resource
  std::string hash;  // SHA-256 of head+tail: equal hash = unchanged content
  std::string organization;  // the organization that produced it (tenancy)
  std::string source_locator;  // native record it came from, e.g. record[0]
};

// The raw payload a client posted, kept beside what it produced.
struct PayloadWrite {
  std::string adapter;
  std::string organization;
  std::string content_type;
  std::string body;
};

// A record that failed parsing, mapping or validation, kept for reprocessing.
struct QuarantineWrite {
  std::string locator;
  std::string source_key;
  std::string outcome_json;  // OperationOutcome with the reasons
};

// One unit of work: applied atomically and durably, or not at all.
struct WriteBatch {
  std::optional<PayloadWrite> payload;
  std::vector<ResourceWrite> resources;
  std::vector<QuarantineWrite> quarantine;
};

enum class WriteOutcome { kCreated, kUpdated, kUnchanged };

struct WrittenResource {
  std::string type;
  std::string id;
  std::int64_t version = 0;
  std::string last_updated;  // FHIR instant
  WriteOutcome outcome = WriteOutcome::kCreated;
};

struct CommitResult {
  std::optional<std::int64_t> payload_id;
  std::vector<WrittenResource> resources;  // same order as WriteBatch::resources
  std::vector<std::int64_t> quarantine_ids;
};

struct StoredResource {
  std::string type;
  std::string id;
  std::int64_t version = 0;
  std::string last_updated;
  std::string organization;
  std::int64_t seq = 0;  // commit sequence, the order of durable commits
  std::string json;
};

struct StoreStats {
  std::int64_t resources = 0;
  std::int64_t versions = 0;
  std::int64_t payloads = 0;
  std::int64_t quarantined_open = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Applies `batch` atomically. Returns only once the batch is durable on
  // disk (concurrent callers share one durable commit: group commit).
  virtual StatusOr<CommitResult> commit(WriteBatch batch) = 0;

  virtual StatusOr<std::optional<StoredResource>> read(std::string_view type, std::string_view id) = 0;
  virtual StatusOr<std::optional<StoredResource>> readVersion(std::string_view type, std::string_view id,
                                                              std::int64_t version) = 0;

  virtual StatusOr<StoreStats> stats() = 0;

  // Checks the store can take writes now (for GET /ready).
  virtual Status checkWritable() = 0;

  // Runs the backend's own integrity check.
  virtual Status checkIntegrity() = 0;
};

struct SqliteOptions {
  std::string path;
  int batch_max = 256;  // most WriteBatches in one transaction
};

StatusOr<std::unique_ptr<Store>> openSqliteStore(const SqliteOptions& options);

}  // namespace ilpgw
