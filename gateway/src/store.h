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

// ---- Security: client registry and audit trail (feature/security) ---------

// A system allowed to call the gateway. The secret itself is never stored.
struct ClientRecord {
  std::string client_id;
  std::string role;             // clinic | puller | admin
  std::string organization;     // clinic clients: the one organization they act for
  std::string secret_hash;      // hashSecret() encoding (salted PBKDF2)
  std::string cert_thumbprint;  // base64url SHA-256 of the DER client certificate; empty = not bound
  bool local_only = false;      // tokens only for loopback peers (the demo client)
  std::string created_at;
  std::string revoked_at;  // empty while active
};

// One AuditEvent. The store assigns its sequence number and chains it: each
// record carries auditChainHash() of the previous record's hash and itself.
struct AuditWrite {
  std::string recorded;  // FHIR instant of the event
  std::string agent;     // client id, "anonymous", or "cli:<user>"
  std::string entities;  // searchable list "|Patient/1|Encounter/2|", "" when none
  std::string json;      // the AuditEvent resource without id (the id is the sequence number)
};

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

// ---- End security types -------------------------------------------------------

// One unit of work: applied atomically and durably, or not at all.
struct WriteBatch {
  std::optional<PayloadWrite> payload;
  std::vector<ResourceWrite> resources;
  std::vector<QuarantineWrite> quarantine;
  std::vector<ClientRecord> clients;  // security: inserted or replaced by client_id
  std::vector<AuditWrite> audit;      // security: chained in the same transaction
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

  // ---- Security (feature/security) ----
  // A write whose (type, id) currently belongs to another organization fails
  // the whole batch with kPermissionDenied (tenant isolation on overwrite).
  virtual StatusOr<std::optional<ClientRecord>> findClient(std::string_view client_id) = 0;
  virtual StatusOr<std::vector<ClientRecord>> listClients() = 0;
  // Queues events for the next group commit and returns at once: reads and
  // authentications are audited without waiting for an fsync of their own.
  virtual void recordAudit(std::vector<AuditWrite> events) = 0;
  virtual StatusOr<std::vector<AuditRecord>> searchAudit(const AuditQuery& query) = 0;
  // The chain in sequence order, `limit` records after `after_seq`.
  virtual StatusOr<std::vector<AuditRecord>> scanAudit(std::int64_t after_seq, int limit) = 0;
  // The last record's seq and hash as the store recorded them separately
  // (detects deletion of the newest records); nullopt when none.
  virtual StatusOr<std::optional<std::pair<std::int64_t, std::string>>> auditHead() = 0;
  // ---- End security ----
};

struct SqliteOptions {
  std::string path;
  int batch_max = 256;  // most WriteBatches in one transaction
};

StatusOr<std::unique_ptr<Store>> openSqliteStore(const SqliteOptions& options);

}  // namespace ilpgw
