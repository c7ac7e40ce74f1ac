// Storage interface. The SQLite backend (sqlite_store.cc) is the embedded
// default; a PostgreSQL backend will implement the same interface so several
// gateway instances can share one database. Nothing above this header may
// assume SQLite: ordering uses the store's commit sequence, never rowids or
// file positions, and every write goes through commit().
//
// Commit order and visibility (what incremental pulls rely on):
//  - Every stored version gets `seq`, its position in commit order. A reader
//    that has seen seq S has seen every version with a smaller seq: a backend
//    must never make seq S visible while a smaller seq can still appear. The
//    SQLite backend has one writer, so this holds by construction; a
//    PostgreSQL backend must serialise seq assignment with commit (e.g. take
//    seq from a counter row locked until COMMIT) or cap every read at a
//    "visible up to" watermark below the oldest in-flight transaction.
//  - lastUpdated is strictly increasing across commits (each group commit
//    gets its own instant, at least 1 ms after the previous one, also across
//    restarts). So lastUpdated order is commit order, and once a reader sees
//    the Watermark below, every later commit carries lastUpdated >
//    Watermark::last_updated.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/config.h"
#include "base/status.h"

namespace ilpgw {

// ---- Search index -----------------------------------------------------------
// Rows extracted from a resource by search_params.cc on the request thread and
// stored in the same transaction as the version, replacing the rows of the
// resource's previous version (the index always describes current versions).
struct TokenIndexRow {
  std::string param;
  std::string system;  // "" when the coding/identifier has none
  std::string value;
};
struct StringIndexRow {
  std::string param;
  std::string normalized;  // lower-cased, for the default starts-with match
  std::string exact;       // as written, for :exact
};
struct DateIndexRow {
  std::string param;
  std::string low;   // UTC instants with milliseconds: they compare as text
  std::string high;
};
struct ReferenceIndexRow {
  std::string param;
  std::string target_type;
  std::string target_id;
};
struct SearchIndex {
  std::vector<TokenIndexRow> tokens;
  std::vector<StringIndexRow> strings;
  std::vector<DateIndexRow> dates;
  std::vector<ReferenceIndexRow> references;
};

// ---- Search query -----------------------------------------------------------
// Backend-neutral: search_params.cc builds it from URL parameters; a backend
// compiles it to its own query language with bound values only.
enum class SearchKind { kToken, kString, kDate, kReference, kId, kLastUpdated };
enum class SearchPrefix { kEq, kNe, kGt, kGe, kLt, kLe };
enum class StringMatch { kStartsWith, kExact, kContains };

struct SearchValue {
  // kToken: system (nullopt = any system, "" = no system) and code/value
  // ("" = any value in `system`). kString: text (normalized unless kExact).
  // kId: the id. kReference: target_type ("" = any) and value = target id
  // ("" = any resource of target_type).
  std::optional<std::string> system;
  std::string value;
  std::string target_type;
  // kDate, kLastUpdated: the range the search value covers and how it compares.
  SearchPrefix prefix = SearchPrefix::kEq;
  std::string low;
  std::string high;
};

struct SearchClause {
  SearchKind kind = SearchKind::kToken;
  std::string param;  // the index's param name (unused for kId, kLastUpdated)
  StringMatch string_match = StringMatch::kStartsWith;
  std::vector<SearchValue> any_of;  // comma-separated alternatives: OR
};

enum class SearchOrder { kOldestFirst, kNewestFirst };  // commit order (seq)

struct SearchQuery {
  std::string type;
  std::vector<SearchClause> all_of;  // AND
  SearchOrder order = SearchOrder::kOldestFirst;
  // Resume strictly after this seq in `order` (the paging cursor).
  std::optional<std::int64_t> after_seq;
  int limit = 50;
  bool want_total = true;
  // Tenant isolation: only resources whose current version belongs to this
  // organization (nullopt = every organization). Filtered in the query, so
  // totals and paging count only what the caller may see.
  std::optional<std::string> organization;
};

// What a reader saw: every version with seq <= `seq` is visible, and every
// commit not yet visible will carry lastUpdated > `last_updated` (empty when
// nothing was ever committed).
struct Watermark {
  std::int64_t seq = 0;
  std::string last_updated;
};

// ---- Writes -----------------------------------------------------------------

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
  SearchIndex index;           // filled by prepareResource()

  // Preconditions, checked by the single writer inside the commit
  // transaction, so two concurrent requests can never both pass them. A
  // failed precondition fails the whole WriteBatch with kPreconditionFailed.
  // Optimistic locking (If-Match): the current version must be this one.
  std::optional<std::int64_t> if_match_version;
  // Conditional create (If-None-Exist): when one current resource of `type`
  // matches, nothing is written and it is reported as kExisting; more than
  // one match fails the batch.
  std::optional<SearchQuery> if_none_exist;
};

// Joins head, store-owned meta and tail into the stored JSON text.
std::string assembleResource(const ResourceWrite& write, std::int64_t version, std::string_view last_updated);

// The resource without store-owned meta (for offline mapping output).
std::string unversionedResource(const ResourceWrite& write);

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

// ---- Durability (feature/durability): quarantine reprocessing -------------
// A quarantine entry whose record was reprocessed. When `resolved`, the entry
// is marked resolved in the same transaction that stores the batch's
// resources; otherwise its reasons are replaced by `outcome_json`.
struct QuarantineUpdate {
  std::int64_t id = 0;
  bool resolved = false;
  std::string outcome_json;
};
// ---- end durability --------------------------------------------------------
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
  // private_key_jwt clients (SMART Backend Services) have no secret
  // (secret_hash empty) but public keys: a JWKS document, or its HTTPS URL.
  std::string jwks;
  std::string jwks_url;
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
  // Durability: reprocessing stores no new payload; the resources and any new
  // quarantine entries point at this stored one instead.
  std::optional<std::int64_t> existing_payload_id;
  std::vector<QuarantineUpdate> quarantine_updates;
  std::vector<ClientRecord> clients;  // security: inserted or replaced by client_id
  std::vector<AuditWrite> audit;      // security: chained in the same transaction
};

enum class WriteOutcome { kCreated, kUpdated, kUnchanged, kExisting };

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

struct SearchPage {
  std::vector<StoredResource> resources;
  std::optional<std::int64_t> total;  // all matches, ignoring the cursor
  bool more = false;                  // another page follows the last resource
  Watermark watermark;
};

struct HistoryQuery {
  std::string type;  // empty: whole system
  std::string id;    // empty: whole type
  std::optional<std::string> since;  // UTC instant: versions with lastUpdated >= since
  SearchOrder order = SearchOrder::kNewestFirst;
  std::optional<std::int64_t> after_seq;
  int limit = 50;
  // Tenant isolation: only versions stored for this organization (nullopt = all).
  std::optional<std::string> organization;
};

struct HistoryPage {
  std::vector<StoredResource> versions;
  bool more = false;
  Watermark watermark;
};

struct ResourceKey {
  std::string type;
  std::string id;
};

struct StoreStats {
  std::int64_t resources = 0;
  std::int64_t versions = 0;
  std::int64_t payloads = 0;
  std::int64_t quarantined_open = 0;
};

// ---- Durability (feature/durability): quarantine, payloads, outbox ---------

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
};

struct QuarantineFilter {
  std::string status;   // empty = any
  std::string adapter;  // empty = any
  std::int64_t after_id = 0;  // cursor: entries with a larger id
  int limit = 100;
};

struct StoredPayload {
  std::int64_t id = 0;
  std::string received_at;
  std::string adapter;
  std::string organization;
  std::string content_type;
  std::string body;
};

// One stored resource version waiting to be forwarded upstream. Rows are
// keyed by the version's commit sequence; a row is created in the same
// transaction as the version (when the outbox is enabled).
struct OutboxItem {
  std::int64_t seq = 0;
  std::string type;
  std::string id;
  std::int64_t version = 0;
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
};

// ---- end durability --------------------------------------------------------

class Store {
 public:
  virtual ~Store() = default;

  // Applies `batch` atomically. Returns only once the batch is durable on
  // disk (concurrent callers share one durable commit: group commit).
  virtual StatusOr<CommitResult> commit(WriteBatch batch) = 0;

  virtual StatusOr<std::optional<StoredResource>> read(std::string_view type, std::string_view id) = 0;
  virtual StatusOr<std::optional<StoredResource>> readVersion(std::string_view type, std::string_view id,
                                                              std::int64_t version) = 0;

  // Current versions matching `query`, in seq order, at most query.limit,
  // read from one consistent snapshot together with its watermark.
  virtual StatusOr<SearchPage> search(const SearchQuery& query) = 0;

  // Versions (not only current ones) in seq order.
  virtual StatusOr<HistoryPage> history(const HistoryQuery& query) = 0;

  // Current versions of the given resources (missing ones are skipped).
  virtual StatusOr<std::vector<StoredResource>> readCurrent(const std::vector<ResourceKey>& keys) = 0;

  // Streams every current version matching each query (cursor and limit
  // ignored) to `visit(query_index, resource)` from one consistent snapshot
  // without buffering; `visit` returns false to stop early. Returns the
  // snapshot's watermark.
  virtual StatusOr<Watermark> scan(const std::vector<SearchQuery>& queries,
                                   const std::function<bool(size_t, const StoredResource&)>& visit) = 0;

  virtual StatusOr<StoreStats> stats() = 0;

  // Checks the store can take writes now (for GET /ready).
  virtual Status checkWritable() = 0;

  // Runs the backend's own integrity check.
  virtual Status checkIntegrity() = 0;

  // ---- Durability (feature/durability) ----
  virtual StatusOr<std::vector<QuarantineEntry>> listQuarantine(const QuarantineFilter& filter) = 0;
  virtual StatusOr<std::optional<QuarantineEntry>> readQuarantine(std::int64_t id) = 0;
  virtual StatusOr<std::optional<StoredPayload>> readPayload(std::int64_t id) = 0;

  // Claims ready pending rows for sending (through the writer: a claim is a
  // write). Rows claimed by another claimer whose lease has not expired, and
  // rows whose next attempt is in the future, are skipped.
  virtual StatusOr<std::vector<OutboxItem>> claimOutbox(const OutboxClaim& claim) = 0;
  // Records what happened to claimed rows: sent rows are deleted.
  virtual Status completeOutbox(const std::vector<OutboxCompletion>& completions) = 0;
  // Dead rows back to pending: one row (seq > 0) or all dead rows (seq == 0).
  // Returns how many rows were re-queued.
  virtual StatusOr<std::int64_t> resendOutbox(std::int64_t seq) = 0;
  virtual StatusOr<std::vector<OutboxItem>> listOutbox(std::string_view state, std::int64_t after_seq,
                                                       int limit) = 0;
  virtual StatusOr<OutboxStats> outboxStats() = 0;
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

// How a caller uses the store it opens.
struct StoreOpenOptions {
  // Fill the outbox with every new version (the gateway when forwarding).
  bool outbox = false;
  // Most WriteBatches per group commit; 0 = store.batch_max from the config.
  // Offline commands use 1: they commit one thing at a time.
  int batch_max = 0;
  // Refuse to create a new, empty store (offline commands on a wrong --data).
  bool must_exist = false;
};

// The one way to open a store: picks the backend from config.store_backend,
// creates the data directory, and migrates an older schema forward.
StatusOr<std::unique_ptr<Store>> openStore(const Config& config, const StoreOpenOptions& options = {});

}  // namespace ilpgw
