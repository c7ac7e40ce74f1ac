// The write side every store role shares: a WriteBatch and what it carries
// (resources with their search index, payloads, quarantine entries and
// updates, client records, audit events), and BatchWriter, whose commit() is
// the one atomic write. The read types live with the role that serves them
// (resource_store.h, quarantine_store.h, ...); see store.h for the commit
// order and visibility contract.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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
// compiles it to its own query language with bound values only. Also the
// condition of a conditional create (ResourceWrite::if_none_exist).
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

// ---- Resources ----------------------------------------------------------------

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
  // Unchanged content still gets its search index rows rewritten: how
  // `ilp-gateway store reindex` gives resources stored before a search
  // parameter existed their rows, without a new version.
  bool refresh_index = false;
};

// Joins head, store-owned meta and tail into the stored JSON text.
std::string assembleResource(const ResourceWrite& write, std::int64_t version, std::string_view last_updated);
// What assembleResource() puts between head and tail: the store-owned meta
// members `"versionId":"N","lastUpdated":"..."`.
std::string storeOwnedMeta(std::int64_t version, std::string_view last_updated);

// The resource without store-owned meta (for offline mapping output).
std::string unversionedResource(const ResourceWrite& write);

// ---- Payloads and quarantine --------------------------------------------------

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

// A quarantine entry whose record was reprocessed. When `resolved`, the entry
// is marked resolved in the same transaction that stores the batch's
// resources; otherwise its reasons are replaced by `outcome_json`.
struct QuarantineUpdate {
  std::int64_t id = 0;
  bool resolved = false;
  std::string outcome_json;
};

// ---- Clients and audit events ---------------------------------------------------

// A system allowed to call the gateway. The secret itself is never stored.
// Written through WriteBatch::clients, read through ClientDirectory.
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

// A person who logs in to the gateway's pages (security/users.h). The
// password itself is never stored. Written through WriteBatch::users, read
// through UserDirectory.
struct UserRecord {
  std::string username;
  std::string role;           // district | puskesmas | admin
  std::string organizations;  // comma-separated; district: "" = every organization; puskesmas: its one
  std::string password_hash;  // Argon2id encoded string (security/password.h)
  std::string created_at;
  std::string disabled_at;          // empty while active
  std::string password_changed_at;  // empty until the first change
};

// An open login session. Only a hash of its id is stored, so a copy of the
// database opens no session. Times are FHIR instants in UTC (compare as text).
struct SessionRecord {
  std::string id_hash;  // hex SHA-256 of the session id
  std::string username;
  std::string created_at;
  std::string idle_expires_at;  // moved forward while the session is used
  std::string expires_at;       // absolute: never moved
};

// kStart inserts the session; kTouch moves idle_expires_at of an existing one
// (a session ended meanwhile stays ended); kEnd deletes it.
enum class SessionOp { kStart, kTouch, kEnd };
struct SessionWrite {
  SessionOp op = SessionOp::kStart;
  SessionRecord session;  // kTouch: id_hash and idle_expires_at; kEnd: id_hash
};

// A failed login counted against a throttling key (security/sessions.h:
// an account or a client address, stored only as a hash of the key), or
// `clear`: every failure of that key is forgotten (a successful login).
// Kept in the store so that every instance on one database throttles the
// same attempts.
struct LoginFailureWrite {
  std::string key_hash;
  std::int64_t at_ms = 0;  // Unix milliseconds
  bool clear = false;
};

// The failures of one key since a moment: how many, and the oldest of them.
struct LoginFailures {
  std::int64_t count = 0;
  std::int64_t oldest_ms = 0;  // 0 when none
};

// One AuditEvent. The store assigns its sequence number and chains it: each
// record carries auditChainHash() (audit_log.h) of the previous record's hash
// and itself.
struct AuditWrite {
  std::string recorded;  // FHIR instant of the event
  std::string agent;     // client id, "anonymous", or "cli:<user>"
  std::string entities;  // searchable list "|Patient/1|Encounter/2|", "" when none
  std::string json;      // the AuditEvent resource without id (the id is the sequence number)
};

// ---- The atomic write ---------------------------------------------------------

// One unit of work: applied atomically and durably, or not at all.
struct WriteBatch {
  std::optional<PayloadWrite> payload;
  std::vector<ResourceWrite> resources;
  std::vector<QuarantineWrite> quarantine;
  // Reprocessing stores no new payload; the resources and any new quarantine
  // entries point at this stored one instead.
  std::optional<std::int64_t> existing_payload_id;
  std::vector<QuarantineUpdate> quarantine_updates;
  std::vector<ClientRecord> clients;  // inserted or replaced by client_id
  std::vector<UserRecord> users;      // inserted or replaced by username
  std::vector<SessionWrite> sessions;
  std::vector<std::string> end_sessions_of;  // usernames whose every session ends (disabled, new password)
  std::string purge_sessions_before;         // "" or an instant: sessions expired by then are deleted
  std::vector<LoginFailureWrite> login_failures;
  std::int64_t purge_login_failures_before_ms = 0;  // 0 or Unix ms: older failures (of every key) are deleted
  std::vector<AuditWrite> audit;      // chained in the same transaction
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

class BatchWriter {
 public:
  virtual ~BatchWriter() = default;

  // Applies `batch` atomically. Returns only once the batch is durable on
  // disk (concurrent callers share one durable commit: group commit). A
  // write whose (type, id) currently belongs to another organization fails
  // the whole batch with kPermissionDenied (tenant isolation on overwrite).
  virtual StatusOr<CommitResult> commit(WriteBatch batch) = 0;
};

}  // namespace ilpgw
