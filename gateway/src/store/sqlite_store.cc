// SQLite backend of Store: WAL mode, one writer thread that folds concurrent
// WriteBatches into one transaction (group commit) and answers them once the
// log is fsynced (sqlite_log_sync.h), and a pool of read connections.
#include <pthread.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <variant>

#include "base/crypto.h"
#include "base/log.h"
#include "base/metrics.h"
#include "store/group_commit_queue.h"
#include "store/query_gate.h"
#include "store/search_sql.h"
#include "store/sqlite_checkpointer.h"
#include "store/sqlite_lock_wait.h"
#include "store/sqlite_functions.h"
#include "store/sqlite_log_sync.h"
#include "store/sqlite_store.h"
#include "store/stored_text.h"
#include "base/time_util.h"

namespace ilpgw {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS resource_version (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- commit order, never reused
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  last_updated TEXT NOT NULL,
  hash BLOB NOT NULL,
  organization TEXT NOT NULL,
  payload_id INTEGER,
  source_locator TEXT,
  body TEXT NOT NULL,
  UNIQUE (type, id, version)
);
CREATE TABLE IF NOT EXISTS resource_current (
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  hash BLOB NOT NULL,
  organization TEXT NOT NULL,
  PRIMARY KEY (type, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS resource_current_seq ON resource_current (type, seq);
CREATE INDEX IF NOT EXISTS resource_version_type_seq ON resource_version (type, seq);
-- Search index of current versions, written in the same transaction as the
-- version (see search_params.cc for what goes in).
CREATE TABLE IF NOT EXISTS search_token (
  type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, system TEXT NOT NULL, value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS search_token_lookup ON search_token (type, param, value, system);
CREATE INDEX IF NOT EXISTS search_token_resource ON search_token (type, id);
CREATE TABLE IF NOT EXISTS search_string (
  type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, normalized TEXT NOT NULL, exact TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS search_string_lookup ON search_string (type, param, normalized);
CREATE INDEX IF NOT EXISTS search_string_resource ON search_string (type, id);
CREATE TABLE IF NOT EXISTS search_date (
  type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, low TEXT NOT NULL, high TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS search_date_lookup ON search_date (type, param, low);
CREATE INDEX IF NOT EXISTS search_date_resource ON search_date (type, id);
CREATE TABLE IF NOT EXISTS search_reference (
  type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, target_type TEXT NOT NULL, target_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS search_reference_lookup ON search_reference (type, param, target_id, target_type);
CREATE INDEX IF NOT EXISTS search_reference_resource ON search_reference (type, id);
CREATE TABLE IF NOT EXISTS payload (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  received_at TEXT NOT NULL,
  adapter TEXT NOT NULL,
  organization TEXT NOT NULL,
  content_type TEXT NOT NULL,
  body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  payload_id INTEGER,
  locator TEXT NOT NULL,
  source_key TEXT NOT NULL,
  outcome TEXT NOT NULL,
  created_at TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'open'
);
)sql";

// quarantine_state: reprocessing bookkeeping beside the
// quarantine table. outbox: one row per stored version waiting to go
// upstream, keyed by the version's seq; claimed_by/claimed_until are a lease
// so several instances sharing one database (PostgreSQL) never send the same
// row at the same time. Times in *_ms columns are unix milliseconds.
constexpr const char* kDurabilitySchema = R"sql(
CREATE TABLE IF NOT EXISTS quarantine_state (
  quarantine_id INTEGER PRIMARY KEY,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_attempt_at TEXT,
  resolved_at TEXT,
  produced TEXT
);
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL DEFAULT 0,
  claimed_by TEXT,
  claimed_until_ms INTEGER,
  last_error TEXT,
  http_status INTEGER,
  outcome TEXT,
  dead_at TEXT
);
CREATE INDEX IF NOT EXISTS outbox_state_seq ON outbox (state, seq);
CREATE INDEX IF NOT EXISTS outbox_resource ON outbox (type, id);
)sql";

// Errors after which SQLite may have rolled the whole transaction back, or
// the disk cannot take the write: the whole group fails, nothing is acknowledged.
bool isTransactionFatal(int code) {
  switch (code & 0xff) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
    case SQLITE_CORRUPT:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
      return true;
    default:
      return false;
  }
}

struct SqliteError : std::runtime_error {
  SqliteError(int code, const std::string& message) : std::runtime_error(message), code(code) {}
  int code;
};

// A failed read answers like a failed write: a busy, locked, full or failing
// disk is the store being unavailable (503, retry later); anything else is an
// internal error.
Status readFailure(const std::exception& e) {
  if (const auto* sqlite = dynamic_cast<const SqliteError*>(&e)) {
    switch (sqlite->code & 0xff) {
      case SQLITE_BUSY:
      case SQLITE_LOCKED:
      case SQLITE_IOERR:
      case SQLITE_FULL:
      case SQLITE_CANTOPEN:
      case SQLITE_NOMEM:
      case SQLITE_PROTOCOL:
        return Status(StatusCode::kUnavailable, "store read failed: the database is busy or its disk failed");
      default:
        break;
    }
  }
  return Status(StatusCode::kInternal, "store read failed");
}

// client: the registry; audit_event: append-only, hash-chained (seq is given
// explicitly, consecutive, so a deleted row leaves a visible gap); audit_head:
// the newest seq and hash kept apart, so deleting the newest rows shows too.
constexpr const char* kSecuritySchema = R"sql(
CREATE TABLE IF NOT EXISTS client (
  client_id TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  organization TEXT NOT NULL,
  secret_hash TEXT NOT NULL,
  cert_thumbprint TEXT NOT NULL,
  local_only INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  revoked_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit_event (
  seq INTEGER PRIMARY KEY,
  recorded TEXT NOT NULL,
  agent TEXT NOT NULL,
  entities TEXT NOT NULL,
  json TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_event_recorded ON audit_event (recorded);
CREATE INDEX IF NOT EXISTS audit_event_agent ON audit_event (agent, seq);
CREATE TABLE IF NOT EXISTS audit_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL
);
)sql";

// Thrown inside a batch to refuse it with a specific status (the savepoint is
// rolled back, the neighbours in the group commit are unaffected).
struct BatchRefused {
  Status status;
};

// Where the audit chain stands inside the open transaction.
struct AuditChain {
  std::int64_t seq = 0;
  std::string hash;
};
constexpr const char* kClientSelect =
    "SELECT client_id, role, organization, secret_hash, cert_thumbprint, local_only, created_at, revoked_at, "
    "jwks, jwks_url FROM client";

constexpr const char* kUserSelect =
    "SELECT username, role, organizations, password_hash, created_at, disabled_at, password_changed_at FROM login_user";

class Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string("prepare failed: ") + sqlite3_errmsg(db));
    }
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, std::string_view text) {
    sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bindBlob(int index, std::string_view bytes) {
    sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // Bound without a copy: SQLite reads `text` where it is, so it must live
  // until the statement has stepped. For the writer's statements run once
  // per index row and version, where a copy was a malloc, a memcpy and a
  // free per value. Temporaries are refused at compile time.
  Statement& bindBorrowed(int index, const std::string& text) {
    sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
    return *this;
  }
  Statement& bindBorrowed(int index, std::string&&) = delete;
  Statement& bindBorrowedBlob(int index, const std::string& bytes) {
    sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_STATIC);
    return *this;
  }
  Statement& bindBorrowedBlob(int index, std::string&&) = delete;
  Statement& bind(int index, std::int64_t value) {
    sqlite3_bind_int64(stmt_, index, value);
    return *this;
  }
  Statement& bindNull(int index) {
    sqlite3_bind_null(stmt_, index);
    return *this;
  }
  // Returns true when a row is available.
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw SqliteError(rc, std::string("step failed: ") + sqlite3_errmsg(sqlite3_db_handle(stmt_)));
  }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::int64_t int64(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::string text(int column) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return p == nullptr ? std::string() : std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
  }
  sqlite3_stmt* raw() const { return stmt_; }
  std::string blob(int column) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
    return p == nullptr ? std::string() : std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// An audit hash (lower-case hex) is stored as its 32 bytes; anything else,
// and every hash written before schema 16, as text. auditHash reads either.
void bindHash(Statement& s, int index, const std::string& hex_hash) {
  if (auto bytes = lowerHexBytes(hex_hash); bytes && !bytes->empty()) {
    s.bindBlob(index, *bytes);
  } else {
    s.bind(index, hex_hash);
  }
}

// A resource body or another large text (stored_text.h): a BLOB is a zstd
// frame, a TEXT was written before bodies were compressed.
std::string storedText(const Statement& s, int column) {
  if (sqlite3_column_type(s.raw(), column) != SQLITE_BLOB) return s.text(column);
  const auto* p = static_cast<const char*>(sqlite3_column_blob(s.raw(), column));
  return stored_text::decompress(std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(s.raw(), column))));
}

// An audit hash as hex, stored as its bytes (bindHash) or as text.
std::string auditHash(const Statement& s, int column) {
  if (sqlite3_column_type(s.raw(), column) != SQLITE_BLOB) return s.text(column);
  return hex(s.blob(column));
}

// Resets a statement when the scope ends, whatever happened.
struct ResetGuard {
  Statement& statement;
  ~ResetGuard() { statement.reset(); }
};

// Values bound to a compiled query, in placeholder order.
using Binding = std::variant<std::string, std::int64_t>;

void bindAll(Statement& statement, const std::vector<Binding>& binds) {
  int index = 1;
  for (const auto& b : binds) {
    if (const auto* text = std::get_if<std::string>(&b)) {
      statement.bind(index++, *text);
    } else {
      statement.bind(index++, std::get<std::int64_t>(b));
    }
  }
}

void exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string message = error != nullptr ? error : "unknown error";
    sqlite3_free(error);
    throw SqliteError(rc, message);
  }
}

// Clients that authenticate with a signed JWT carry a JWKS (inline text) or
// the HTTPS URL of one instead of a secret. Added to databases created before
// these columns existed; the check keeps the step idempotent.
void addClientKeyColumns(sqlite3* db) {
  bool has_jwks = false;
  bool has_jwks_url = false;
  {
    sqlite3_stmt* columns = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA table_info(client)", -1, &columns, nullptr) != SQLITE_OK) {
      throw SqliteError(sqlite3_errcode(db), std::string("client columns: ") + sqlite3_errmsg(db));
    }
    while (sqlite3_step(columns) == SQLITE_ROW) {
      const auto* name = reinterpret_cast<const char*>(sqlite3_column_text(columns, 1));
      std::string_view column = name == nullptr ? "" : name;
      has_jwks = has_jwks || column == "jwks";
      has_jwks_url = has_jwks_url || column == "jwks_url";
    }
    sqlite3_finalize(columns);
  }
  if (!has_jwks) exec(db, "ALTER TABLE client ADD COLUMN jwks TEXT NOT NULL DEFAULT ''");
  if (!has_jwks_url) exec(db, "ALTER TABLE client ADD COLUMN jwks_url TEXT NOT NULL DEFAULT ''");
}

// Bulk Data $export jobs (the ExportJobs role): the request a job runs and
// where it stands; export_output lists a finished job's files in order. Times
// are FHIR instants in UTC (they compare as text); expires_at is '' until the
// job finishes.
constexpr const char* kExportJobSchema = R"sql(
CREATE TABLE export_job (
  id TEXT PRIMARY KEY,
  client_id TEXT NOT NULL,
  level TEXT NOT NULL,
  types TEXT NOT NULL,  -- comma-separated, in output order
  since TEXT,           -- NULL: no _since
  organization TEXT,    -- NULL: every organization
  request_url TEXT NOT NULL,
  state TEXT NOT NULL,  -- queued | running | completed | failed
  attempts INTEGER NOT NULL,
  exported INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  transaction_time TEXT NOT NULL,
  error TEXT NOT NULL,
  created_at TEXT NOT NULL,
  finished_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE export_output (
  job_id TEXT NOT NULL,
  position INTEGER NOT NULL,
  type TEXT NOT NULL,
  name TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (job_id, position)
) WITHOUT ROWID;
)sql";

// ---- Schema versions and migrations ------------------------------------------
// PRAGMA user_version records the schema a database is at. Step N takes a
// database from version N-1 to N. Opening runs every step above the recorded
// version in one transaction (a failure leaves the file as it was) and logs
// one line per step; a database from a newer ilp-gateway is refused. The next
// schema change appends a step: the current version is the last step's.

// Version 1 is the schema of stores made before versions were recorded
// (user_version 0 with tables). Every statement is idempotent (IF NOT EXISTS,
// columns added only when missing), so it also completes an unversioned store
// that an older build left without some of these tables or columns.
void schemaVersion1(sqlite3* db) {
  exec(db, kSchema);
  exec(db, kDurabilitySchema);
  exec(db, kSecuritySchema);
  addClientKeyColumns(db);
}

void schemaVersion2(sqlite3* db) { exec(db, kExportJobSchema); }

// People who log in to the pages and their sessions (UserDirectory).
constexpr const char* kUserSchema = R"sql(
CREATE TABLE login_user (
  username TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  organizations TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at TEXT NOT NULL,
  disabled_at TEXT NOT NULL,
  password_changed_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE login_session (
  id_hash TEXT PRIMARY KEY,
  username TEXT NOT NULL,
  created_at TEXT NOT NULL,
  idle_expires_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX login_session_username ON login_session (username);
)sql";

void schemaVersion3(sqlite3* db) { exec(db, kUserSchema); }

// platform_link: our resources and the national platform's ids, creations
// in flight and resources waiting for platform data (store/platform_links.h).
constexpr const char* kPlatformLinkSchema = R"sql(
CREATE TABLE IF NOT EXISTS platform_link (
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  organization TEXT NOT NULL,
  state TEXT NOT NULL,
  platform_id TEXT,
  reason TEXT,
  updated_at TEXT NOT NULL,
  next_check_ms INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (type, id)
);
CREATE INDEX IF NOT EXISTS platform_link_state ON platform_link (state, type, id);
)sql";

void schemaVersion4(sqlite3* db) { exec(db, kPlatformLinkSchema); }

// Failed logins per throttling key, shared by every process on the file.
constexpr const char* kLoginFailureSchema = R"sql(
CREATE TABLE IF NOT EXISTS login_failure (
  key_hash TEXT NOT NULL,
  at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS login_failure_key ON login_failure (key_hash, at_ms);
CREATE INDEX IF NOT EXISTS login_failure_at ON login_failure (at_ms);
)sql";

void schemaVersion5(sqlite3* db) { exec(db, kLoginFailureSchema); }

// signing_key: the token signing keys when the store keeps them
// (store/signing_keys.h).
constexpr const char* kSigningKeySchema = R"sql(
CREATE TABLE IF NOT EXISTS signing_key (
  kid TEXT PRIMARY KEY,
  pem TEXT NOT NULL,
  can_sign INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  retired_at TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
)sql";

void schemaVersion6(sqlite3* db) { exec(db, kSigningKeySchema); }

// Export jobs run under a lease (store/export_jobs.h).
void schemaVersion7(sqlite3* db) {
  exec(db,
       "ALTER TABLE export_job ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';"
       "ALTER TABLE export_job ADD COLUMN lease_until TEXT NOT NULL DEFAULT '';");
}

// The search index tables lose their (type, id) indexes: a resource's rows
// are found by the rowid ranges resource_current.index_rows records
// (Writer::replaceIndex). Each table is rebuilt in (type, id) order so every
// resource's rows are consecutive, and the ranges are computed from it.
void schemaVersion8(sqlite3* db) {
  struct Table {
    const char* name;
    const char* columns;
    const char* lookup;
  };
  static constexpr Table kTables[] = {
      {"search_token", "type, id, param, system, value", "type, param, value, system"},
      {"search_string", "type, id, param, normalized, exact", "type, param, normalized"},
      {"search_date", "type, id, param, low, high", "type, param, low"},
      {"search_reference", "type, id, param, target_type, target_id", "type, param, target_id, target_type"},
  };
  exec(db, "ALTER TABLE resource_current ADD COLUMN index_rows TEXT NOT NULL DEFAULT ''");
  for (const auto& t : kTables) {
    std::string name = t.name;
    std::string columns = t.columns;
    std::string typed;  // the column definitions: every column is TEXT NOT NULL
    for (size_t start = 0; start < columns.size();) {
      size_t comma = columns.find(", ", start);
      if (comma == std::string::npos) comma = columns.size();
      typed += (typed.empty() ? "" : ", ") + columns.substr(start, comma - start) + " TEXT NOT NULL";
      start = comma + 2;
    }
    exec(db, ("CREATE TABLE " + name + "_rebuilt (" + typed + ");"
              "INSERT INTO " + name + "_rebuilt (" + columns + ") SELECT " + columns + " FROM " + name +
              " ORDER BY type, id;"
              "DROP TABLE " + name + ";"
              "ALTER TABLE " + name + "_rebuilt RENAME TO " + name + ";"
              "CREATE INDEX " + name + "_lookup ON " + name + " (" + t.lookup + ");"
              "CREATE TEMP TABLE rows_" + name + " AS SELECT type, id, min(rowid) AS first, count(*) AS n FROM " +
              name + " GROUP BY type, id;"
              "CREATE INDEX temp.rows_" + name + "_key ON rows_" + name + " (type, id);")
                 .c_str());
  }
  std::string all;  // "first+count" of each table, in the order of kTables
  for (const auto& t : kTables) {
    all += std::string(all.empty() ? "" : " || ' ' || ") + "coalesce((SELECT first || '+' || n FROM temp.rows_" +
           t.name + " r WHERE r.type = c.type AND r.id = c.id), '0+0')";
  }
  exec(db, ("UPDATE resource_current AS c SET index_rows = " + all + ";").c_str());
  for (const auto& t : kTables) exec(db, (std::string("DROP TABLE temp.rows_") + t.name).c_str());
}

// Bodies and audit events written from this version on are zstd frames in
// BLOBs (stored_text.h); the rows already there keep their TEXT and are read
// as they are. Nothing to change in the file: the step exists so that an older
// ilp-gateway, which would read a frame as JSON, refuses the store instead.
void schemaVersion9(sqlite3*) {}

// Bodies written from this version on are two frames one after another: the
// head and store-owned meta, compressed by the writer, then the rest,
// compressed by the request thread before its batch was queued. An older
// ilp-gateway reads only the first frame's size and would fail every read of
// such a body; the step makes it refuse the store instead.
void schemaVersion10(sqlite3*) {}

std::int64_t queryInt(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) {
    throw SqliteError(sqlite3_errcode(db), std::string(sql) + ": " + sqlite3_errmsg(db));
  }
  std::int64_t value = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
  sqlite3_finalize(stmt);
  return value;
}

// resource_version loses UNIQUE (type, id, version): its index took a page
// written per stored version, at a random place. Each version records the seq
// of the one before it (prev_seq) instead; a resource's versions are found
// from resource_current.seq along that chain (versionChain), and the writer,
// the only one to add versions, numbers them from resource_current. The table
// is rebuilt (SQLite cannot drop a UNIQUE constraint); its AUTOINCREMENT
// counter is carried over, so no seq is ever given out twice.
void schemaVersion11(sqlite3* db) {
  std::int64_t counter = queryInt(db, "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'resource_version'");
  exec(db, R"sql(
CREATE TABLE resource_version_chained (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- commit order, never reused
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  last_updated TEXT NOT NULL,
  hash BLOB NOT NULL,
  organization TEXT NOT NULL,
  payload_id INTEGER,
  source_locator TEXT,
  body TEXT NOT NULL,
  prev_seq INTEGER  -- the seq of version - 1 of the same resource; NULL for version 1
);
INSERT INTO resource_version_chained
  SELECT v.seq, v.type, v.id, v.version, v.last_updated, v.hash, v.organization, v.payload_id, v.source_locator,
         v.body,
         (SELECT p.seq FROM resource_version p WHERE p.type = v.type AND p.id = v.id AND p.version = v.version - 1)
  FROM resource_version v ORDER BY v.seq;
DROP TABLE resource_version;
ALTER TABLE resource_version_chained RENAME TO resource_version;
CREATE INDEX resource_version_type_seq ON resource_version (type, seq);
)sql");
  exec(db, ("UPDATE sqlite_sequence SET seq = max(seq, " + std::to_string(counter) +
            ") WHERE name = 'resource_version'")
               .c_str());
  if (counter > 0 && queryInt(db, "SELECT count(*) FROM sqlite_sequence WHERE name = 'resource_version'") == 0) {
    exec(db, ("INSERT INTO sqlite_sequence (name, seq) VALUES ('resource_version', " + std::to_string(counter) + ")")
                 .c_str());
  }
}

// Bodies and audit events written from this version on are compressed with a
// zstd dictionary compiled into ilp-gateway (stored_text_dictionaries.h);
// an older ilp-gateway has none and could not read them, so the step makes it
// refuse the store instead. Nothing changes in the file.
void schemaVersion12(sqlite3*) {}

// The reference lookup is keyed by the resource referred to first: the rows
// one visit adds (each Observation, Condition and the Encounter pointing at
// the same Patient and Encounter) then sit side by side on one or two pages,
// where keyed by (type, param) first they landed on a page of their own for
// each type and parameter, a commit writing every one of them. A search names
// the target id; a clause with none (a patient-level Bulk export's "any
// Patient") reads the table once per exported type.
void schemaVersion13(sqlite3* db) {
  exec(db,
       "DROP INDEX search_reference_lookup;"
       "CREATE INDEX search_reference_lookup ON search_reference (target_id, type, param, target_type);");
}

// Each index row names its resource type, its parameter and, for a token,
// the code system (for a reference, the target type) by one integer, a row
// of search_key, instead of repeating the text: 24 keys cover every row a
// visit adds, whose system URIs alone (up to 58 characters) made up a third
// of the token rows and of their lookup index. The tables are rebuilt with
// their rowids kept, so resource_current.index_rows still finds each
// resource's rows. Searches name a key by a subquery on search_key
// (searchKeyCondition); the writer keeps the keys it has seen in memory.
void schemaVersion14(sqlite3* db) {
  exec(db, R"sql(
CREATE TABLE search_key (
  key INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  param TEXT NOT NULL,
  qualifier TEXT NOT NULL,  -- the system of a token, the target type of a reference, '' otherwise
  UNIQUE (type, param, qualifier)
);
INSERT OR IGNORE INTO search_key (type, param, qualifier) SELECT DISTINCT type, param, system FROM search_token;
INSERT OR IGNORE INTO search_key (type, param, qualifier) SELECT DISTINCT type, param, '' FROM search_string;
INSERT OR IGNORE INTO search_key (type, param, qualifier) SELECT DISTINCT type, param, '' FROM search_date;
INSERT OR IGNORE INTO search_key (type, param, qualifier) SELECT DISTINCT type, param, target_type FROM search_reference;

CREATE TABLE search_token_keyed (id TEXT NOT NULL, key INTEGER NOT NULL, value TEXT NOT NULL);
INSERT INTO search_token_keyed (rowid, id, key, value)
  SELECT t.rowid, t.id, k.key, t.value FROM search_token t
  JOIN search_key k ON k.type = t.type AND k.param = t.param AND k.qualifier = t.system ORDER BY t.rowid;
DROP TABLE search_token;
ALTER TABLE search_token_keyed RENAME TO search_token;
CREATE INDEX search_token_lookup ON search_token (key, value);

CREATE TABLE search_string_keyed (id TEXT NOT NULL, key INTEGER NOT NULL, normalized TEXT NOT NULL, exact TEXT NOT NULL);
INSERT INTO search_string_keyed (rowid, id, key, normalized, exact)
  SELECT t.rowid, t.id, k.key, t.normalized, t.exact FROM search_string t
  JOIN search_key k ON k.type = t.type AND k.param = t.param AND k.qualifier = '' ORDER BY t.rowid;
DROP TABLE search_string;
ALTER TABLE search_string_keyed RENAME TO search_string;
CREATE INDEX search_string_lookup ON search_string (key, normalized);

CREATE TABLE search_date_keyed (id TEXT NOT NULL, key INTEGER NOT NULL, low TEXT NOT NULL, high TEXT NOT NULL);
INSERT INTO search_date_keyed (rowid, id, key, low, high)
  SELECT t.rowid, t.id, k.key, t.low, t.high FROM search_date t
  JOIN search_key k ON k.type = t.type AND k.param = t.param AND k.qualifier = '' ORDER BY t.rowid;
DROP TABLE search_date;
ALTER TABLE search_date_keyed RENAME TO search_date;
CREATE INDEX search_date_lookup ON search_date (key, low);

CREATE TABLE search_reference_keyed (id TEXT NOT NULL, key INTEGER NOT NULL, target_id TEXT NOT NULL);
INSERT INTO search_reference_keyed (rowid, id, key, target_id)
  SELECT t.rowid, t.id, k.key, t.target_id FROM search_reference t
  JOIN search_key k ON k.type = t.type AND k.param = t.param AND k.qualifier = t.target_type ORDER BY t.rowid;
DROP TABLE search_reference;
ALTER TABLE search_reference_keyed RENAME TO search_reference;
CREATE INDEX search_reference_lookup ON search_reference (target_id, key);
)sql");
}

// Ids in the search-index rows (each row's resource, a reference's target)
// shaped like a lower-case UUID are kept as their 16 bytes
// (sqlite_functions.h); every other id stays as it is. The rows are updated
// in place, keeping their rowids.
void schemaVersion15(sqlite3* db) {
  exec(db,
       "UPDATE search_token SET id = packed_id(id);"
       "UPDATE search_string SET id = packed_id(id);"
       "UPDATE search_date SET id = packed_id(id);"
       "UPDATE search_reference SET id = packed_id(id), target_id = packed_id(target_id);");
}

// Audit events written from this version on keep their list of resources
// as a zstd frame and their two hashes as 32 bytes each instead of 64 hex
// characters: a visit's event took a page and a half, now a third of a page
// less. Rows already there keep their text and are read as they are. An
// older ilp-gateway would read a frame or a hash's bytes as text; the step
// makes it refuse the store instead. Nothing changes in the file.
void schemaVersion16(sqlite3*) {}

// Versions written from this version on keep an id shaped like a UUID as
// its 16 bytes, as the index rows do (schemaVersion15); versions already
// there keep their text, and every read converts with unpacked_id. Nothing
// looks a version up by its id: by seq, along its chain from
// resource_current. An older ilp-gateway would read the bytes as the id;
// the step makes it refuse the store instead. Nothing changes in the file.
void schemaVersion17(sqlite3*) {}

struct MigrationStep {
  int version;       // the version this step reaches
  const char* what;  // logged when an existing store takes the step
  void (*apply)(sqlite3* db);
};

constexpr MigrationStep kMigrations[] = {
    {1, "resources, search index, payloads, quarantine, outbox, clients, audit trail", schemaVersion1},
    {2, "Bulk Data export jobs (tables export_job, export_output)", schemaVersion2},
    {3, "people who log in to the pages and their sessions (tables login_user, login_session)", schemaVersion3},
    {4, "national platform links and waiting resources (table platform_link)", schemaVersion4},
    {5, "failed logins shared by every instance (table login_failure)", schemaVersion5},
    {6, "token signing keys shared by instances (table signing_key)", schemaVersion6},
    {7, "export jobs run under a lease (export_job.lease_owner, lease_until)", schemaVersion7},
    {8, "search index rows found by rowid ranges (resource_current.index_rows); tables rebuilt", schemaVersion8},
    {9, "resource bodies and audit events stored compressed (zstd); older ilp-gateway versions cannot read this store", schemaVersion9},
    {10, "resource bodies stored as several zstd frames; older ilp-gateway versions cannot read this store", schemaVersion10},
    {11, "versions chained by prev_seq instead of a unique (type, id, version) index; table resource_version rebuilt",
     schemaVersion11},
    {12, "resource bodies and audit events compressed with a zstd dictionary; older ilp-gateway versions cannot read "
         "this store",
     schemaVersion12},
    {13, "the reference search index keyed by the resource referred to (index search_reference_lookup rebuilt)",
     schemaVersion13},
    {14, "search index rows name their type, parameter and system by a key (table search_key); index tables rebuilt",
     schemaVersion14},
    {15, "ids in search index rows kept as 16 bytes where they are UUIDs; index rows rewritten", schemaVersion15},
    {16, "audit events keep their resource list compressed and their hashes as bytes; older ilp-gateway versions "
         "cannot read this store",
     schemaVersion16},
    {17, "versions keep their ids as 16 bytes where they are UUIDs; older ilp-gateway versions cannot read this store",
     schemaVersion17},
};
constexpr int kSchemaVersion = kMigrations[std::size(kMigrations) - 1].version;

// A store written by a newer ilp-gateway: reported as it is, one line.
struct SchemaTooNew : std::runtime_error {
  using std::runtime_error::runtime_error;
};


// Brings the database at `path` to kSchemaVersion; returns that version.
int migrateSchema(sqlite3* db, const std::string& path) {
  exec(db, "BEGIN IMMEDIATE");  // also waits for another process migrating the same file
  try {
    auto recorded = static_cast<int>(queryInt(db, "PRAGMA user_version"));
    if (recorded > kSchemaVersion) {
      throw SchemaTooNew(path + ": store schema version " + std::to_string(recorded) +
                         " is newer than this ilp-gateway supports (" + std::to_string(kSchemaVersion) +
                         "); upgrade ilp-gateway");
    }
    bool fresh = queryInt(db, "SELECT count(*) FROM sqlite_master") == 0;
    int from = recorded;
    if (recorded == 0 && !fresh) {
      schemaVersion1(db);  // unversioned: version 1, completed if need be
      from = 1;
    }
    for (const auto& step : kMigrations) {
      if (step.version <= from) continue;
      step.apply(db);
      if (!fresh) {
        logLine(LogLevel::kInfo, "store schema: " + path + ": version " + std::to_string(step.version - 1) +
                                     " -> " + std::to_string(step.version) + ": " + step.what);
      }
    }
    if (recorded != kSchemaVersion) {
      exec(db, ("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str());
    }
    exec(db, "COMMIT");
    if (fresh) logLine(LogLevel::kInfo, "store: new store " + path + " at schema version " + std::to_string(kSchemaVersion));
  } catch (...) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  return kSchemaVersion;
}

// SQLite keeps statistics of its memory use by default, behind one mutex
// every connection takes on each allocation: with searches compiling and
// stepping on several threads at once, that mutex was a fifth of a search's
// CPU (futex waits and wake-ups). Nothing here reads those statistics. The
// setting must precede SQLite's initialization, i.e. the process's first
// connection; should something else have opened one first, it is left as is.
void turnOffMemoryStatistics() {
  static std::once_flag once;
  std::call_once(once, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

sqlite3* openConnection(const std::string& path, bool create, std::chrono::milliseconds lock_wait) {
  turnOffMemoryStatistics();
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw std::runtime_error("cannot open " + path + ": " + message);
  }
  setLockWait(db, lock_wait);
  try {
    registerStoreFunctions(db);
  } catch (...) {
    sqlite3_close(db);
    throw;
  }
  return db;
}


// A failed ResourceWrite precondition: fails its WriteBatch with 412.
class PreconditionError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A version's id is packed where it is a UUID (schemaVersion17).
constexpr const char* kResourceColumns =
    "v.type, unpacked_id(v.id), v.version, v.last_updated, v.organization, v.seq, v.body";
constexpr const char* kCurrentFrom = " FROM resource_current c JOIN resource_version v ON v.seq = c.seq WHERE c.type = ?";
// The seqs of one resource's versions (?1 type, ?2 id), as the table `chain`:
// from the current version back along prev_seq (schemaVersion11).
constexpr const char* kVersionChain =
    "WITH RECURSIVE chain(seq) AS (SELECT seq FROM resource_current WHERE type = ?1 AND id = ?2 "
    "UNION ALL SELECT v.prev_seq FROM resource_version v JOIN chain ON v.seq = chain.seq "
    "WHERE v.prev_seq IS NOT NULL) ";

// The index rows name their type, parameter and qualifier by a key of
// search_key (schemaVersion14); a key that does not exist matches nothing.
std::string keyedRowsOf(const std::string& type, const std::string& param) {
  return "key IN (SELECT key FROM search_key WHERE type = " + type + " AND param = " + param + ")";
}
std::string keyedQualifiedBy(const std::string& type, const std::string& param, const char*,
                             const std::string& value) {
  return "key = (SELECT key FROM search_key WHERE type = " + type + " AND param = " + param +
         " AND qualifier = " + value + ")";
}

// SearchQuery as SQLite SQL (search_sql.h), with numbered `?` placeholders:
// the text is built out of binding order.
// SQLite's SqlDialect; the values go to `binds`. Not movable: starts_with
// refers to the dialect itself.
struct SqliteDialect {
  explicit SqliteDialect(std::vector<Binding>& binds)
      : dialect{[&binds](std::string value) {
                  binds.emplace_back(std::move(value));
                  return "?" + std::to_string(binds.size());
                },
                "1", "0", [](const std::string& p) { return "instr(normalized, " + p + ") > 0"; }, nullptr} {
    dialect.starts_with = [this](const std::string& value) {
      // 0xFF never occurs in UTF-8, so this bounds every text starting with the value.
      return "normalized >= " + dialect.bind(value) + " AND normalized < " + dialect.bind(value + "\xFF");
    };
    dialect.rows_of = keyedRowsOf;
    dialect.qualified_by = keyedQualifiedBy;
    dialect.index_id = "unpacked_id(id)";
    dialect.stored_id = [](const std::string& placeholder) { return "packed_id(" + placeholder + ")"; };
  }
  SqliteDialect(const SqliteDialect&) = delete;
  SqliteDialect& operator=(const SqliteDialect&) = delete;
  SqlDialect dialect;
};

std::string compileConditions(const SearchQuery& query, std::vector<Binding>& binds) {
  SqliteDialect sqlite(binds);
  return compileSearchConditions(query, sqlite.dialect);
}

// At most this many resources matching a search's first index clause: its
// page is found from that clause (SqliteStore::search).
constexpr int kFewMatches = 1000;

// One resource's rows in each index table, by the rowid range
// resource_current.index_rows records; the type of each row is checked by
// its key. The unary + keeps SQLite from using a lookup index: that plan
// would visit every row of a key, so each update would cost time in
// proportion to the size of the store.
constexpr const char* kIndexRowDeletes[] = {
    "DELETE FROM search_token WHERE rowid BETWEEN ?3 AND ?4 AND +id = ?2 "
    "AND (SELECT k.type FROM search_key k WHERE k.key = search_token.key) = ?1",
    "DELETE FROM search_string WHERE rowid BETWEEN ?3 AND ?4 AND +id = ?2 "
    "AND (SELECT k.type FROM search_key k WHERE k.key = search_string.key) = ?1",
    "DELETE FROM search_date WHERE rowid BETWEEN ?3 AND ?4 AND +id = ?2 "
    "AND (SELECT k.type FROM search_key k WHERE k.key = search_date.key) = ?1",
    "DELETE FROM search_reference WHERE rowid BETWEEN ?3 AND ?4 AND +id = ?2 "
    "AND (SELECT k.type FROM search_key k WHERE k.key = search_reference.key) = ?1",
};

// The compression a batch's rows need, done on the committing request thread
// before the batch is queued: the writer, which every post waits for, then
// compresses only the few bytes it adds to each body (stored_text.h).
struct CompressedBatch {
  std::vector<std::string> tails;   // per batch.resources: a frame of its tail
  std::vector<std::string> audits;  // per batch.audit: a frame of its JSON
  std::vector<std::string> audit_entities;  // and one of its list of resources

  // Empty when compressing failed (out of memory): the writer then compresses.
  static CompressedBatch of(const WriteBatch& batch) noexcept {
    CompressedBatch out;
    try {
      for (const auto& write : batch.resources) out.tails.push_back(stored_text::compress(write.tail));
      for (const auto& event : batch.audit) {
        out.audits.push_back(stored_text::compress(event.json));
        out.audit_entities.push_back(stored_text::compress(event.entities));
      }
    } catch (const std::exception&) {
      return {};
    }
    return out;
  }
};

// The writer connection with its prepared statements.
class Writer {
 public:
  Writer(sqlite3* db, bool outbox)
      : db_(db),
        outbox_enabled_(outbox),
        insert_outbox_(db,
                       "INSERT INTO outbox (seq, type, id, version, created_at) VALUES (?1, ?2, ?3, ?4, ?5)"),
        resolve_quarantine_(db, "UPDATE quarantine SET status = 'resolved' WHERE id = ?1 AND status = 'open'"),
        reoutcome_quarantine_(db, "UPDATE quarantine SET outcome = ?2 WHERE id = ?1 AND status = 'open'"),
        upsert_quarantine_state_(
            db,
            "INSERT INTO quarantine_state (quarantine_id, attempts, last_attempt_at, resolved_at, produced) "
            "VALUES (?1, 1, ?2, ?3, ?4) ON CONFLICT (quarantine_id) DO UPDATE SET attempts = attempts + 1, "
            "last_attempt_at = excluded.last_attempt_at, "
            "resolved_at = coalesce(excluded.resolved_at, resolved_at), produced = coalesce(excluded.produced, produced)"),
        current_(db,
                 "SELECT c.version, c.hash, v.last_updated, c.organization, c.index_rows, c.seq FROM resource_current c "
                 "JOIN resource_version v ON v.seq = c.seq WHERE c.type = ?1 AND c.id = ?2"),
        insert_version_(db,
                        "INSERT INTO resource_version (type, id, version, last_updated, hash, organization, "
                        "payload_id, source_locator, body, prev_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
        upsert_current_(db,
                        "INSERT INTO resource_current (type, id, version, seq, hash, organization, index_rows) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (type, id) DO UPDATE SET "
                        "version = excluded.version, seq = excluded.seq, hash = excluded.hash, "
                        "organization = excluded.organization, index_rows = excluded.index_rows"),
        set_index_rows_(db, "UPDATE resource_current SET index_rows = ?3 WHERE type = ?1 AND id = ?2"),
        insert_payload_(db,
                        "INSERT INTO payload (received_at, adapter, organization, content_type, body) "
                        "VALUES (?1, ?2, ?3, ?4, ?5)"),
        insert_quarantine_(db,
                           "INSERT INTO quarantine (payload_id, locator, source_key, outcome, created_at) "
                           "VALUES (?1, ?2, ?3, ?4, ?5)"),
        delete_tokens_(db, kIndexRowDeletes[0]),
        delete_strings_(db, kIndexRowDeletes[1]),
        delete_dates_(db, kIndexRowDeletes[2]),
        delete_references_(db, kIndexRowDeletes[3]),
        find_key_(db, "SELECT key FROM search_key WHERE type = ?1 AND param = ?2 AND qualifier = ?3"),
        insert_key_(db, "INSERT INTO search_key (type, param, qualifier) VALUES (?1, ?2, ?3)"),
        insert_token_(db, "INSERT INTO search_token (id, key, value) VALUES (?1, ?2, ?3)"),
        insert_string_(db, "INSERT INTO search_string (id, key, normalized, exact) VALUES (?1, ?2, ?3, ?4)"),
        insert_date_(db, "INSERT INTO search_date (id, key, low, high) VALUES (?1, ?2, ?3, ?4)"),
        insert_reference_(db, "INSERT INTO search_reference (id, key, target_id) VALUES (?1, ?2, ?3)"),
        upsert_client_(db,
                       "INSERT OR REPLACE INTO client (client_id, role, organization, secret_hash, cert_thumbprint, "
                       "local_only, created_at, revoked_at, jwks, jwks_url) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
        upsert_user_(db,
                     "INSERT OR REPLACE INTO login_user (username, role, organizations, password_hash, created_at, "
                     "disabled_at, password_changed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
        insert_session_(db,
                        "INSERT INTO login_session (id_hash, username, created_at, idle_expires_at, expires_at) "
                        "VALUES (?1, ?2, ?3, ?4, ?5)"),
        touch_session_(db, "UPDATE login_session SET idle_expires_at = ?2 WHERE id_hash = ?1"),
        end_session_(db, "DELETE FROM login_session WHERE id_hash = ?1"),
        end_user_sessions_(db, "DELETE FROM login_session WHERE username = ?1"),
        purge_sessions_(db, "DELETE FROM login_session WHERE idle_expires_at <= ?1 OR expires_at <= ?1"),
        insert_login_failure_(db, "INSERT INTO login_failure (key_hash, at_ms) VALUES (?1, ?2)"),
        clear_login_failures_(db, "DELETE FROM login_failure WHERE key_hash = ?1"),
        purge_login_failures_(db, "DELETE FROM login_failure WHERE at_ms < ?1"),
        insert_audit_(db,
                      "INSERT INTO audit_event (seq, recorded, agent, entities, json, prev_hash, hash) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
        upsert_head_(db, "INSERT OR REPLACE INTO audit_head (id, seq, hash) VALUES (1, ?1, ?2)"),
        read_head_(db, "SELECT seq, hash FROM audit_head WHERE id = 1") {}

  // The chain position at the start of a transaction (read under the write
  // lock, so another process appending, e.g. the CLI, is taken into account).
  AuditChain loadChain() {
    ResetGuard guard{read_head_};
    if (read_head_.step()) return {read_head_.int64(0), read_head_.text(1)};
    return {};
  }

  // `compressed`: each event's JSON and resource list compressed already
  // (CompressedBatch), or nullptr. The list and the JSON are kept as zstd
  // frames, the two hashes as their 32 bytes (read back as hex, auditHash).
  void applyAudit(const std::vector<AuditWrite>& events, AuditChain& chain,
                  const CompressedBatch* compressed = nullptr) {
    if (events.empty()) return;
    if (compressed != nullptr &&
        (compressed->audits.size() != events.size() || compressed->audit_entities.size() != events.size())) {
      compressed = nullptr;
    }
    std::string json_here;
    std::string entities_here;
    for (size_t i = 0; i < events.size(); ++i) {
      const AuditWrite& event = events[i];
      std::int64_t seq = chain.seq + 1;
      std::string hash = auditChainHash(chain.hash, seq, event);
      const std::string& json =
          compressed != nullptr ? compressed->audits[i] : (json_here = stored_text::compress(event.json));
      const std::string& entities = compressed != nullptr ? compressed->audit_entities[i]
                                                          : (entities_here = stored_text::compress(event.entities));
      ResetGuard guard{insert_audit_};
      insert_audit_.bind(1, seq)
          .bindBorrowed(2, event.recorded)
          .bindBorrowed(3, event.agent)
          .bindBorrowedBlob(4, entities)
          .bindBorrowedBlob(5, json);
      bindHash(insert_audit_, 6, chain.hash);
      bindHash(insert_audit_, 7, hash);
      insert_audit_.step();
      chain = {seq, hash};
    }
    ResetGuard guard{upsert_head_};
    upsert_head_.bind(1, chain.seq).bind(2, chain.hash).step();
  }

  CommitResult apply(const WriteBatch& batch, const std::string& now, AuditChain& chain,
                     const CompressedBatch* compressed = nullptr) {
    const bool precompressed = compressed != nullptr && compressed->tails.size() == batch.resources.size();
    CommitResult result;
    if (batch.existing_payload_id) result.payload_id = batch.existing_payload_id;
    if (batch.payload) {
      ResetGuard guard{insert_payload_};
      insert_payload_.bind(1, now)
          .bind(2, batch.payload->adapter)
          .bind(3, batch.payload->organization)
          .bind(4, batch.payload->content_type)
          .bindBlob(5, batch.payload->body)
          .step();
      result.payload_id = sqlite3_last_insert_rowid(db_);
    }
    for (size_t i = 0; i < batch.resources.size(); ++i) {
      result.resources.push_back(
          applyResource(batch.resources[i], result.payload_id, now, precompressed ? &compressed->tails[i] : nullptr));
    }
    for (const auto& q : batch.quarantine) {
      ResetGuard guard{insert_quarantine_};
      if (result.payload_id) {
        insert_quarantine_.bind(1, *result.payload_id);
      } else {
        insert_quarantine_.bindNull(1);
      }
      insert_quarantine_.bind(2, q.locator).bind(3, q.source_key).bind(4, q.outcome_json).bind(5, now).step();
      result.quarantine_ids.push_back(sqlite3_last_insert_rowid(db_));
    }
    if (!batch.quarantine_updates.empty()) applyQuarantineUpdates(batch, result, now);
    for (const auto& c : batch.clients) {
      ResetGuard guard{upsert_client_};
      upsert_client_.bind(1, c.client_id)
          .bind(2, c.role)
          .bind(3, c.organization)
          .bind(4, c.secret_hash)
          .bind(5, c.cert_thumbprint)
          .bind(6, std::int64_t{c.local_only ? 1 : 0})
          .bind(7, c.created_at.empty() ? now : c.created_at)
          .bind(8, c.revoked_at)
          .bind(9, c.jwks)
          .bind(10, c.jwks_url)
          .step();
    }
    for (const auto& u : batch.users) {
      ResetGuard guard{upsert_user_};
      upsert_user_.bind(1, u.username)
          .bind(2, u.role)
          .bind(3, u.organizations)
          .bind(4, u.password_hash)
          .bind(5, u.created_at.empty() ? now : u.created_at)
          .bind(6, u.disabled_at)
          .bind(7, u.password_changed_at)
          .step();
    }
    applySessions(batch);
    applyAudit(batch.audit, chain, compressed);
    return result;
  }

  sqlite3* db() const { return db_; }

  // After any rollback: a key the writer added in the transaction may be
  // gone, so every key is looked up again (search_key keeps the committed
  // ones; none ever changes).
  void forgetKeys() noexcept { keys_.clear(); }

 private:
  // The search_key of (type, param, qualifier), added if new.
  std::int64_t searchKey(const std::string& type, const std::string& param, const std::string& qualifier) {
    key_text_.assign(type).push_back('\x1f');
    key_text_.append(param).push_back('\x1f');
    key_text_.append(qualifier);
    if (auto found = keys_.find(key_text_); found != keys_.end()) return found->second;
    std::int64_t key = 0;
    {
      ResetGuard guard{find_key_};
      find_key_.bindBorrowed(1, type).bindBorrowed(2, param).bindBorrowed(3, qualifier);
      if (find_key_.step()) key = find_key_.int64(0);
    }
    if (key == 0) {
      ResetGuard guard{insert_key_};
      insert_key_.bindBorrowed(1, type).bindBorrowed(2, param).bindBorrowed(3, qualifier).step();
      key = sqlite3_last_insert_rowid(db_);
    }
    keys_.emplace(key_text_, key);
    return key;
  }

  void applySessions(const WriteBatch& batch) {
    if (!batch.purge_sessions_before.empty()) {
      ResetGuard guard{purge_sessions_};
      purge_sessions_.bind(1, batch.purge_sessions_before).step();
    }
    for (const auto& username : batch.end_sessions_of) {
      ResetGuard guard{end_user_sessions_};
      end_user_sessions_.bind(1, username).step();
    }
    if (batch.purge_login_failures_before_ms > 0) {
      ResetGuard guard{purge_login_failures_};
      purge_login_failures_.bind(1, batch.purge_login_failures_before_ms).step();
    }
    for (const auto& f : batch.login_failures) {
      Statement& statement = f.clear ? clear_login_failures_ : insert_login_failure_;
      ResetGuard guard{statement};
      statement.bind(1, f.key_hash);
      if (!f.clear) statement.bind(2, f.at_ms);
      statement.step();
    }
    for (const auto& w : batch.sessions) {
      const SessionRecord& s = w.session;
      switch (w.op) {
        case SessionOp::kStart: {
          ResetGuard guard{insert_session_};
          insert_session_.bind(1, s.id_hash)
              .bind(2, s.username)
              .bind(3, s.created_at)
              .bind(4, s.idle_expires_at)
              .bind(5, s.expires_at)
              .step();
          break;
        }
        case SessionOp::kTouch: {
          ResetGuard guard{touch_session_};
          touch_session_.bind(1, s.id_hash).bind(2, s.idle_expires_at).step();
          break;
        }
        case SessionOp::kEnd: {
          ResetGuard guard{end_session_};
          end_session_.bind(1, s.id_hash).step();
          break;
        }
      }
    }
  }

  // `tail_frame`: write.tail compressed already (the body is then stored as
  // a frame of head and meta followed by it), or nullptr.
  WrittenResource applyResource(const ResourceWrite& write, std::optional<std::int64_t> payload_id,
                                const std::string& now, const std::string* tail_frame) {
    if (write.if_none_exist) {
      // Runs on the writer's connection inside the open transaction, so it
      // also sees what earlier batches of this group wrote.
      std::vector<Binding> binds{write.if_none_exist->type};
      std::string sql = std::string("SELECT c.id, v.version, v.last_updated") + kCurrentFrom +
                        compileConditions(*write.if_none_exist, binds) + " LIMIT 2";
      Statement match(db_, sql.c_str());
      bindAll(match, binds);
      if (match.step()) {
        WrittenResource existing{write.type, match.text(0), match.int64(1), match.text(2), WriteOutcome::kExisting};
        if (match.step()) {
          throw PreconditionError("If-None-Exist matches more than one " + write.type + "; make the condition more specific");
        }
        return existing;
      }
    }
    WrittenResource written{write.type, write.id, 1, now, WriteOutcome::kCreated};
    std::string old_index_rows;         // resource_current.index_rows of the current version
    std::optional<std::int64_t> prev_seq;  // the current version's seq
    {
      ResetGuard guard{current_};
      current_.bindBorrowed(1, write.type).bindBorrowed(2, write.id);
      bool exists = current_.step();
      // Tenant isolation: one organization may never overwrite another's resource.
      if (exists && current_.text(3) != write.organization) {
        throw BatchRefused{Status(StatusCode::kPermissionDenied,
                                  write.type + "/" + write.id + " belongs to another organization")};
      }
      std::int64_t version = exists ? current_.int64(0) : 0;
      if (exists) {
        old_index_rows = current_.text(4);
        prev_seq = current_.int64(5);
      }
      if (write.if_match_version && *write.if_match_version != version) {
        throw PreconditionError(write.type + "/" + write.id + " is at version " +
                                (exists ? std::to_string(version) : std::string("none (it does not exist)")) +
                                ", not " + std::to_string(*write.if_match_version) + " (If-Match)");
      }
      if (exists) {
        if (current_.blob(1) == write.hash) {
          written.version = version;
          written.last_updated = current_.text(2);
          written.outcome = WriteOutcome::kUnchanged;
          if (write.refresh_index) {
            std::string rows = replaceIndex(write, current_.text(4));
            ResetGuard set_guard{set_index_rows_};
            set_index_rows_.bind(1, write.type).bind(2, write.id).bind(3, rows).step();
          }
          return written;
        }
        written.version = version + 1;
        written.outcome = WriteOutcome::kUpdated;
      }
    }
    std::string body = tail_frame != nullptr
                           ? stored_text::compress(write.head + storeOwnedMeta(written.version, now)) + *tail_frame
                           : stored_text::compress(assembleResource(write, written.version, now));
    std::string index_rows = replaceIndex(write, old_index_rows);
    {
      ResetGuard guard{insert_version_};
      insert_version_.bindBorrowed(1, write.type);
      if (packId(write.id, packed_id_)) {
        insert_version_.bindBorrowedBlob(2, packed_id_);
      } else {
        insert_version_.bindBorrowed(2, write.id);
      }
      insert_version_.bind(3, written.version)
          .bindBorrowed(4, now)
          .bindBorrowedBlob(5, write.hash)
          .bindBorrowed(6, write.organization);
      if (payload_id) {
        insert_version_.bind(7, *payload_id);
      } else {
        insert_version_.bindNull(7);
      }
      insert_version_.bindBorrowed(8, write.source_locator).bindBorrowedBlob(9, body);
      if (prev_seq) {
        insert_version_.bind(10, *prev_seq);
      } else {
        insert_version_.bindNull(10);
      }
      insert_version_.step();
    }
    std::int64_t seq = sqlite3_last_insert_rowid(db_);
    if (outbox_enabled_) {
      // Same transaction as the version: a version is durable iff its outbox row is.
      ResetGuard outbox_guard{insert_outbox_};
      insert_outbox_.bind(1, seq).bind(2, write.type).bind(3, write.id).bind(4, written.version).bind(5, now).step();
    }
    ResetGuard guard{upsert_current_};
    upsert_current_.bindBorrowed(1, write.type)
        .bindBorrowed(2, write.id)
        .bind(3, written.version)
        .bind(4, seq)
        .bindBorrowedBlob(5, write.hash)
        .bindBorrowed(6, write.organization)
        .bindBorrowed(7, index_rows)
        .step();
    return written;
  }

  // Durability: marks reprocessed quarantine entries; an entry already
  // resolved keeps what it first produced (reprocessing is idempotent).
  void applyQuarantineUpdates(const WriteBatch& batch, const CommitResult& result, const std::string& now) {
    std::string produced = "[";
    for (size_t i = 0; i < result.resources.size(); ++i) {
      const auto& r = result.resources[i];
      if (i > 0) produced += ",";
      produced += "\"" + r.type + "/" + r.id + "/_history/" + std::to_string(r.version) + "\"";
    }
    produced += "]";
    for (const auto& update : batch.quarantine_updates) {
      bool newly_resolved = false;
      if (update.resolved) {
        ResetGuard guard{resolve_quarantine_};
        resolve_quarantine_.bind(1, update.id).step();
        newly_resolved = sqlite3_changes(db_) > 0;
      } else {
        ResetGuard guard{reoutcome_quarantine_};
        reoutcome_quarantine_.bind(1, update.id).bind(2, update.outcome_json).step();
      }
      ResetGuard guard{upsert_quarantine_state_};
      upsert_quarantine_state_.bind(1, update.id).bind(2, now);
      if (newly_resolved) {
        upsert_quarantine_state_.bind(3, now).bind(4, produced);
      } else {
        upsert_quarantine_state_.bindNull(3).bindNull(4);
      }
      upsert_quarantine_state_.step();
    }
  }

  // The search index rows of one resource sit in each index table at
  // consecutive rowids (they are inserted one after the other by this one
  // writer), so resource_current.index_rows records them as four ranges,
  // "first+count" per table in the order token, string, date, reference.
  // Replacing them deletes by rowid: no index on (type, id) to keep, whose
  // randomly placed keys cost a page written per resource and table.
  std::string replaceIndex(const ResourceWrite& write, const std::string& old_rows) {
    // The resource's id as its index rows keep it (sqlite_functions.h).
    std::string& packed = packed_id_;
    packId(write.id, packed);
    auto bindId = [](Statement& s, int index, const std::string& id, const std::string& packed_id) -> Statement& {
      return packed_id.empty() ? s.bindBorrowed(index, id) : s.bindBorrowedBlob(index, packed_id);
    };
    Statement* deletes[] = {&delete_tokens_, &delete_strings_, &delete_dates_, &delete_references_};
    std::istringstream old(old_rows);
    for (Statement* del : deletes) {
      std::int64_t first = 0;
      std::int64_t count = 0;
      char plus = 0;
      if (!old_rows.empty() && !(old >> first >> plus >> count && plus == '+')) {
        throw std::runtime_error("resource_current.index_rows of " + write.type + "/" + write.id + " is unreadable");
      }
      if (count == 0) continue;
      ResetGuard guard{*del};
      del->bindBorrowed(1, write.type);
      bindId(*del, 2, write.id, packed).bind(3, first).bind(4, first + count - 1).step();
    }
    static const std::string kNoQualifier;
    std::string rows;
    // fields(row): its parameter, qualifier and the one or two values the
    // table keeps; `a_is_id`: the first value is an id (a reference's target).
    auto insertAll = [&](Statement& s, const auto& entries, auto fields, bool a_is_id = false) {
      std::int64_t first = 0;
      std::int64_t count = 0;
      std::string& packed_a = packed_target_;
      for (const auto& r : entries) {
        auto [param, qualifier, a, b] = fields(r);
        std::int64_t key = searchKey(write.type, *param, *qualifier);
        ResetGuard guard{s};
        bindId(s, 1, write.id, packed).bind(2, key);
        if (a_is_id) {
          packId(*a, packed_a);
          bindId(s, 3, *a, packed_a);
        } else {
          s.bindBorrowed(3, *a);
        }
        if (b != nullptr) s.bindBorrowed(4, *b);
        s.step();
        std::int64_t rowid = sqlite3_last_insert_rowid(db_);
        if (count == 0) first = rowid;
        if (rowid != first + count) throw std::runtime_error("search index rows of one resource are not consecutive");
        ++count;
      }
      rows += (rows.empty() ? "" : " ") + std::to_string(first) + "+" + std::to_string(count);
    };
    const std::string* none = nullptr;
    insertAll(insert_token_, write.index.tokens,
              [&](const auto& r) { return std::tuple{&r.param, &r.system, &r.value, none}; });
    insertAll(insert_string_, write.index.strings,
              [&](const auto& r) { return std::tuple{&r.param, &kNoQualifier, &r.normalized, &r.exact}; });
    insertAll(insert_date_, write.index.dates,
              [&](const auto& r) { return std::tuple{&r.param, &kNoQualifier, &r.low, &r.high}; });
    insertAll(insert_reference_, write.index.references,
              [&](const auto& r) { return std::tuple{&r.param, &r.target_type, &r.target_id, none}; }, true);
    return rows;
  }

  sqlite3* db_;
  bool outbox_enabled_;
  Statement insert_outbox_;
  Statement resolve_quarantine_;
  Statement reoutcome_quarantine_;
  Statement upsert_quarantine_state_;
  Statement current_;
  Statement insert_version_;
  Statement upsert_current_;
  Statement set_index_rows_;
  Statement insert_payload_;
  Statement insert_quarantine_;
  Statement delete_tokens_;
  Statement delete_strings_;
  Statement delete_dates_;
  Statement delete_references_;
  Statement find_key_;
  Statement insert_key_;
  Statement insert_token_;
  Statement insert_string_;
  Statement insert_date_;
  Statement insert_reference_;
  Statement upsert_client_;
  Statement upsert_user_;
  Statement insert_session_;
  Statement touch_session_;
  Statement end_session_;
  Statement end_user_sessions_;
  Statement purge_sessions_;
  Statement insert_login_failure_;
  Statement clear_login_failures_;
  Statement purge_login_failures_;
  Statement insert_audit_;
  Statement upsert_head_;
  Statement read_head_;
  std::unordered_map<std::string, std::int64_t> keys_;  // search_key by "type\x1fparam\x1fqualifier"
  std::string key_text_;                                // reused by searchKey
  std::string packed_id_;                               // the resource's id packed, reused per write
  std::string packed_target_;                           // and a reference's target id, packed
};

constexpr const char* kQuarantineSelect =
    "SELECT q.id, q.payload_id, coalesce(p.adapter, ''), q.locator, q.source_key, q.outcome, q.created_at, "
    "q.status, coalesce(s.attempts, 0), coalesce(s.last_attempt_at, ''), coalesce(s.resolved_at, ''), "
    "coalesce(s.produced, ''), coalesce(p.organization, '') FROM quarantine q LEFT JOIN payload p ON p.id = q.payload_id "
    "LEFT JOIN quarantine_state s ON s.quarantine_id = q.id";

// superseded: a newer version exists and is no longer waiting (it was sent).
constexpr const char* kOutboxClaimSelect =
    "SELECT o.seq, o.type, o.id, o.version, o.attempts, o.created_at, v.body, "
    "(c.version > o.version AND NOT EXISTS (SELECT 1 FROM outbox n WHERE n.type = o.type AND n.id = o.id "
    "AND n.version = c.version))";
constexpr const char* kOutboxClaimFrom =
    "outbox o JOIN resource_version v ON v.seq = o.seq JOIN resource_current c ON c.type = o.type AND c.id = o.id";

constexpr const char* kPlatformLinkSelect =
    "SELECT type, id, organization, state, coalesce(platform_id, ''), coalesce(reason, ''), updated_at, "
    "next_check_ms FROM platform_link";

PlatformLink platformLinkRow(const Statement& s) {
  PlatformLink l;
  l.type = s.text(0);
  l.id = s.text(1);
  l.organization = s.text(2);
  l.state = s.text(3);
  l.platform_id = s.text(4);
  l.reason = s.text(5);
  l.updated_at = s.text(6);
  l.next_check_ms = s.int64(7);
  return l;
}

QuarantineEntry quarantineRow(const Statement& s) {
  QuarantineEntry e;
  e.id = s.int64(0);
  if (sqlite3_column_type(s.raw(), 1) != SQLITE_NULL) e.payload_id = s.int64(1);
  e.adapter = s.text(2);
  e.locator = s.text(3);
  e.source_key = s.text(4);
  e.outcome_json = s.text(5);
  e.created_at = s.text(6);
  e.status = s.text(7);
  e.attempts = static_cast<int>(s.int64(8));
  e.last_attempt_at = s.text(9);
  e.resolved_at = s.text(10);
  e.produced_json = s.text(11);
  e.organization = s.text(12);
  return e;
}

class SqliteStore final : public Store {
  // One piece of work for the writer: applied inside the group's transaction.
  using Apply = std::function<CommitResult(const std::string& now, AuditChain& chain)>;
  using Pending = GroupCommitQueue<Apply>::Pending;
  struct ReadConnection;  // below: a pooled read connection for one scope

 public:
  explicit SqliteStore(SqliteOptions options)
      : options_(std::move(options)), commits_(options_.batch_max), searches_(options_.concurrent_searches) {}

  ~SqliteStore() override {
    commits_.stop();
    if (writer_thread_.joinable()) writer_thread_.join();
    log_sync_.reset();  // answers what the writer committed last
    writer_.reset();
    checkpointer_.reset();
    if (write_db_ != nullptr) sqlite3_close(write_db_);
    for (auto& reader : readers_) {
      reader->statements.clear();  // finalized before their connection closes
      sqlite3_close(reader->db);
    }
  }

  void open() {
    write_db_ = openConnection(options_.path, true, options_.lock_wait);
    // page_size only takes effect before the first table exists. 4 KiB: a
    // visit touches pages all over the indexes, and every touched page is
    // written whole to the log and again by the checkpoint (bench/ingest_clients.sh:
    // 354 KB written per visit with 4 KiB pages, 437 KB with 8 KiB, 599 KB with 16 KiB).
    exec(write_db_, "PRAGMA page_size = 4096");
    exec(write_db_, "PRAGMA journal_mode = WAL");
    exec(write_db_, "PRAGMA synchronous = FULL");  // until the writer starts: migrations
    exec(write_db_, "PRAGMA foreign_keys = ON");
    // 16 MiB: the lookup indexes of a store in use soon outgrow any cache, and a
    // page that misses comes from the kernel's cache with one pread. Measured
    // at 64 posting clients (bench/ingest_clients.sh 45): 302-361 posts/s
    // with 16 MiB against 329-373 with 64 MiB, within the runs' noise, and a
    // peak resident size of 72-75 MB instead of 127 MB.
    exec(write_db_, "PRAGMA cache_size = -16384");
    // Each batch of a group runs in a savepoint; the pages a savepoint would
    // restore are kept in memory rather than in a temporary file.
    exec(write_db_, "PRAGMA temp_store = MEMORY");
    schema_version_ = migrateSchema(write_db_, options_.path);
    if (options_.max_page_count > 0) {
      exec(write_db_, ("PRAGMA max_page_count = " + std::to_string(options_.max_page_count)).c_str());
    }
    {
      // lastUpdated must keep increasing across restarts, even if the clock went back.
      Statement last(write_db_, "SELECT max(last_updated) FROM resource_version");
      if (last.step()) last_stamp_ = last.text(0);
    }
    // Bounds the log file once a checkpoint has rewound it.
    exec(write_db_, "PRAGMA journal_size_limit = 67108864");
    checkpointer_ = std::make_unique<SqliteCheckpointer>(options_.path, write_db_, options_.lock_wait, options_.checkpoint);
    writer_ = std::make_unique<Writer>(write_db_, options_.outbox);
    // From here on COMMIT only writes the log; log_sync_ fsyncs it before any
    // caller hears of the commit (sqlite_log_sync.h), while the writer goes on.
    exec(write_db_, "PRAGMA synchronous = NORMAL");
    log_sync_ = std::make_unique<SqliteLogSync>(options_.path);
    writer_thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "ilpgw-writer");
      writerLoop();
    });
  }

  int schemaVersion() const override { return schema_version_; }

  StatusOr<CommitResult> commit(WriteBatch batch) override {
    if (!batch.resources.empty()) {
      last_record_commit_.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                                   std::memory_order_relaxed);
    }
    CompressedBatch compressed = CompressedBatch::of(batch);
    return enqueue([this, &batch, &compressed](const std::string& now, AuditChain& chain) {
      return writer_->apply(batch, now, chain, &compressed);
    });
  }

  // Runs `apply` on the writer thread inside the next group's transaction and
  // returns once that transaction is durable (or failed).
  StatusOr<CommitResult> enqueue(Apply apply) { return commits_.submit(std::move(apply)); }

  StatusOr<std::optional<StoredResource>> read(std::string_view type, std::string_view id) override {
    return readOne(
        "SELECT v.type, c.id, v.version, v.last_updated, v.organization, v.seq, v.body FROM resource_current c "
        "JOIN resource_version v ON v.seq = c.seq WHERE c.type = ?1 AND c.id = ?2",
        type, id, std::nullopt);
  }

  StatusOr<std::optional<StoredResource>> readVersion(std::string_view type, std::string_view id,
                                                      std::int64_t version) override {
    static const std::string sql = sqliteVersionRead();
    return readOne(sql.c_str(), type, id, version);
  }

  // Whether the query's first index clause matches at most kFewMatches resources.
  static bool fewMatches(ReadConnection& conn, const SearchQuery& query) {
    std::vector<Binding> binds;
    SqliteDialect sqlite(binds);
    std::string rows = firstClauseRows(query, sqlite.dialect, kFewMatches + 1);
    if (rows.empty()) return false;
    Statement& count = conn.prepared("SELECT count(*) FROM (" + rows + ")");
    ResetGuard guard{count};
    bindAll(count, binds);
    count.step();
    return count.int64(0) <= kFewMatches;
  }

  StatusOr<SearchPage> search(const SearchQuery& query) override {
    auto turn = enterSearch();
    if (!turn) return searchesBusy();
    try {
      ReadConnection conn(*this);
      ReadTransaction txn(conn.db);
      SearchPage page;
      page.watermark = watermark(conn);
      std::vector<Binding> binds{query.type};
      std::string where = compileConditions(query, binds);
      if (query.want_total) {
        Statement& count = conn.prepared(std::string("SELECT count(*)") + kCurrentFrom + where);
        ResetGuard guard{count};
        bindAll(count, binds);
        count.step();
        page.total = count.int64(0);
      }
      if (query.limit > 0) {
        bool newest_first = query.order == SearchOrder::kNewestFirst;
        // SQLite keeps no statistics to choose a plan by. Walking the resources
        // in commit order and testing each is right when many match (the first
        // page comes soon); when the first index clause matches few (a
        // patient's records), the page is found from its rows and sorted:
        // "+c.seq" keeps SQLite off the commit-order index.
        std::string seq = fewMatches(conn, query) ? "+c.seq" : "c.seq";
        if (query.after_seq) {
          where += " AND " + seq + (newest_first ? " < ?" : " > ?");
          binds.emplace_back(*query.after_seq);
        }
        std::string sql = std::string("SELECT ") + kResourceColumns + kCurrentFrom + where + " ORDER BY " + seq +
                          (newest_first ? " DESC" : " ASC") + " LIMIT ?";
        binds.emplace_back(static_cast<std::int64_t>(query.limit) + 1);
        Statement& rows = conn.prepared(sql);
        ResetGuard guard{rows};
        bindAll(rows, binds);
        page.more = readPage(rows, query.limit, page.resources);
        // The statement is reused: its step count is read and restarted.
        static metrics::Counter& steps = metrics::storeSearchSteps().counter();
        steps.add(static_cast<std::uint64_t>(sqlite3_stmt_status(rows.raw(), SQLITE_STMTSTATUS_VM_STEP, 1)));
      }
      return page;
    } catch (const std::exception& e) {
      logLine(LogLevel::kError, std::string("store search: ") + e.what());
      return readFailure(e);
    }
  }

  StatusOr<HistoryPage> history(const HistoryQuery& query) override {
    auto turn = enterSearch();
    if (!turn) return searchesBusy();
    try {
      ReadConnection conn(*this);
      ReadTransaction txn(conn.db);
      HistoryPage page;
      page.watermark = watermark(conn);
      std::vector<Binding> binds;
      std::string sql;
      if (!query.id.empty()) {  // one resource's versions, along their chain
        sql = std::string(kVersionChain) + "SELECT " + kResourceColumns +
              " FROM resource_version v WHERE v.seq IN chain";
        binds.emplace_back(query.type);
        binds.emplace_back(query.id);
      } else {
        sql = std::string("SELECT ") + kResourceColumns + " FROM resource_version v WHERE 1 = 1";
        if (!query.type.empty()) {
          sql += " AND v.type = ?";
          binds.emplace_back(query.type);
        }
      }
      if (query.organization) {
        sql += " AND v.organization = ?";
        binds.emplace_back(*query.organization);
      }
      if (query.since) {
        sql += " AND v.last_updated >= ?";
        binds.emplace_back(*query.since);
      }
      bool newest_first = query.order == SearchOrder::kNewestFirst;
      if (query.after_seq) {
        sql += newest_first ? " AND v.seq < ?" : " AND v.seq > ?";
        binds.emplace_back(*query.after_seq);
      }
      sql += std::string(" ORDER BY v.seq ") + (newest_first ? "DESC" : "ASC") + " LIMIT ?";
      binds.emplace_back(static_cast<std::int64_t>(query.limit) + 1);
      Statement& rows = conn.prepared(sql);
      ResetGuard guard{rows};
      bindAll(rows, binds);
      page.more = readPage(rows, query.limit, page.versions);
      return page;
    } catch (const std::exception& e) {
      logLine(LogLevel::kError, std::string("store history: ") + e.what());
      return readFailure(e);
    }
  }

  StatusOr<std::vector<StoredResource>> readCurrent(const std::vector<ResourceKey>& keys) override {
    try {
      ReadConnection conn(*this);
      ReadTransaction txn(conn.db);
      std::string sql = std::string("SELECT ") + kResourceColumns + kCurrentFrom + " AND c.id = ?";
      Statement one(conn.db, sql.c_str());
      std::vector<StoredResource> found;
      for (const auto& key : keys) {
        ResetGuard guard{one};
        one.bind(1, key.type).bind(2, key.id);
        if (one.step()) found.push_back(resourceFrom(one));
      }
      return found;
    } catch (const std::exception& e) {
      logLine(LogLevel::kError, std::string("store read: ") + e.what());
      return readFailure(e);
    }
  }

  StatusOr<Watermark> scan(const std::vector<SearchQuery>& queries,
                           const std::function<bool(size_t, const StoredResource&)>& visit) override {
    try {
      // One read transaction: every query sees the same snapshot, and rows
      // are stepped one at a time, never collected.
      ReadConnection conn(*this);
      ReadTransaction txn(conn.db);
      Watermark mark = watermark(conn);
      for (size_t i = 0; i < queries.size(); ++i) {
        std::vector<Binding> binds{queries[i].type};
        std::string sql = std::string("SELECT ") + kResourceColumns + kCurrentFrom +
                          compileConditions(queries[i], binds) + " AND c.seq <= ? ORDER BY c.seq";
        binds.emplace_back(mark.seq);
        Statement rows(conn.db, sql.c_str());
        bindAll(rows, binds);
        while (rows.step()) {
          if (!visit(i, resourceFrom(rows))) return mark;
        }
      }
      return mark;
    } catch (const std::exception& e) {
      logLine(LogLevel::kError, std::string("store scan: ") + e.what());
      return readFailure(e);
    }
  }

  // Driven by search_date_lookup (key, low): only the index rows of
  // the window are read, then each resource by its primary key. A resource
  // with several rows of the parameter inside the window comes once per row.
  StatusOr<Watermark> scanDated(const std::vector<DatedScan>& scans,
                                const std::function<bool(size_t, const StoredResource&)>& visit) override {
    try {
      ReadConnection conn(*this);
      // A report reads tens of thousands of pages: mapped, not copied page by
      // page through the small page cache (measured: a third of the time).
      exec(conn.db, "PRAGMA mmap_size = 1073741824");
      ReadTransaction txn(conn.db);
      Watermark mark = watermark(conn);
      for (size_t i = 0; i < scans.size(); ++i) {
        const DatedScan& scan = scans[i];
        std::vector<Binding> binds{scan.type, scan.date_param, scan.from, scan.to, mark.seq};
        // CROSS JOIN keeps the date index as the outer loop (an IN subquery
        // made SQLite walk every current resource of the type instead).
        std::string sql = std::string("SELECT ") + kResourceColumns +
                          " FROM search_date d CROSS JOIN resource_current c ON c.type = ?1 AND c.id = unpacked_id(d.id)"
                          " JOIN resource_version v ON v.seq = c.seq"
                          " WHERE d.key = (SELECT key FROM search_key WHERE type = ?1 AND param = ?2 AND qualifier = '')"
                          " AND d.low >= ?3 AND d.low <= ?4 AND c.seq <= ?5";
        if (scan.organization) {
          sql += " AND c.organization = ?6";
          binds.emplace_back(*scan.organization);
        }
        sql += " ORDER BY c.seq";
        Statement rows(conn.db, sql.c_str());
        bindAll(rows, binds);
        while (rows.step()) {
          if (!visit(i, resourceFrom(rows))) return mark;
        }
      }
      return mark;
    } catch (const std::exception& e) {
      logLine(LogLevel::kError, std::string("store scan: ") + e.what());
      return readFailure(e);
    }
  }

  StatusOr<StoreStats> stats() override {
    try {
      ReadConnection conn(*this);
      StoreStats stats;
      auto count = [&](const char* sql) {
        Statement s(conn.db, sql);
        s.step();
        return s.int64(0);
      };
      stats.resources = count("SELECT count(*) FROM resource_current");
      stats.versions = count("SELECT count(*) FROM resource_version");
      stats.payloads = count("SELECT count(*) FROM payload");
      stats.quarantined_open = count("SELECT count(*) FROM quarantine WHERE status = 'open'");
      return stats;
    } catch (const std::exception& e) {
      logLine(LogLevel::kError, std::string("store stats: ") + e.what());
      return readFailure(e);
    }
  }

  Status checkWritable() override {
    auto result = commit(WriteBatch{});
    return result.isOk() ? Status::ok() : result.status();
  }

  StatusOr<std::optional<ClientRecord>> findClient(std::string_view client_id) override {
    try {
      ReadConnection conn(*this);
      Statement& s = conn.prepared(std::string(kClientSelect) + " WHERE client_id = ?1");
      ResetGuard guard{s};
      s.bind(1, client_id);
      if (!s.step()) return std::optional<ClientRecord>();
      return std::optional<ClientRecord>(clientFrom(s));
    } catch (const std::exception& e) {
      logLine(LogLevel::kError, std::string("store client read: ") + e.what());
      return readFailure(e);
    }
  }

  StatusOr<std::optional<UserRecord>> findUser(std::string_view username) override {
    try {
      ReadConnection conn(*this);
      Statement& s = conn.prepared(std::string(kUserSelect) + " WHERE username = ?1");
      ResetGuard guard{s};
      s.bind(1, username);
      if (!s.step()) return std::optional<UserRecord>();
      return std::optional<UserRecord>(userFrom(s));
    } catch (const std::exception& e) {
      logLine(LogLevel::kError, std::string("store user read: ") + e.what());
      return readFailure(e);
    }
  }

  StatusOr<std::vector<UserRecord>> listUsers() override {
    try {
      ReadConnection conn(*this);
      Statement s(conn.db, (std::string(kUserSelect) + " ORDER BY username").c_str());
      std::vector<UserRecord> out;
      while (s.step()) out.push_back(userFrom(s));
      return out;
    } catch (const std::exception& e) {
      logLine(LogLevel::kError, std::string("store user list: ") + e.what());
      return readFailure(e);
    }
  }

  StatusOr<std::optional<SessionRecord>> findSession(std::string_view id_hash) override {
    try {
      ReadConnection conn(*this);
      Statement& s = conn.prepared(
          "SELECT id_hash, username, created_at, idle_expires_at, expires_at FROM login_session WHERE id_hash = ?1");
      ResetGuard guard{s};
      s.bind(1, id_hash);
      if (!s.step()) return std::optional<SessionRecord>();
      return std::optional<SessionRecord>(SessionRecord{s.text(0), s.text(1), s.text(2), s.text(3), s.text(4)});
    } catch (const std::exception& e) {
      logLine(LogLevel::kError, std::string("store session read: ") + e.what());
      return readFailure(e);
    }
  }

  StatusOr<LoginFailures> loginFailures(std::string_view key_hash, std::int64_t since_ms) override {
    try {
      ReadConnection conn(*this);
      Statement& s = conn.prepared("SELECT count(*), coalesce(min(at_ms), 0) FROM login_failure "
                                   "WHERE key_hash = ?1 AND at_ms >= ?2");
      ResetGuard guard{s};
      s.bind(1, key_hash).bind(2, since_ms);
      LoginFailures out;
      if (s.step()) out = LoginFailures{s.int64(0), s.int64(1)};
      return out;
    } catch (const std::exception& e) {
      logLine(LogLevel::kError, std::string("store login failure read: ") + e.what());
      return readFailure(e);
    }
  }

  StatusOr<std::vector<ClientRecord>> listClients() override {
    try {
      ReadConnection conn(*this);
      Statement s(conn.db, (std::string(kClientSelect) + " ORDER BY client_id").c_str());
      std::vector<ClientRecord> out;
      while (s.step()) out.push_back(clientFrom(s));
      return out;
    } catch (const std::exception& e) {
      logLine(LogLevel::kError, std::string("store client list: ") + e.what());
      return readFailure(e);
    }
  }

  void recordAudit(std::vector<AuditWrite> events) override { commits_.recordAudit(std::move(events)); }

  StatusOr<std::vector<AuditRecord>> searchAudit(const AuditQuery& q) override {
    return auditRows(
        "SELECT seq, recorded, agent, entities, json, prev_hash, hash FROM audit_event WHERE seq > ?1 "
        "AND (?2 = '' OR recorded >= ?2) AND (?3 = '' OR recorded < ?3) AND (?4 = '' OR agent = ?4) "
        "AND (?5 = '' OR instr(stored_text(entities), '|' || ?5 || '|') > 0) ORDER BY seq LIMIT ?6",
        q.after_seq, q.limit, &q);
  }

  StatusOr<std::vector<AuditRecord>> scanAudit(std::int64_t after_seq, int limit) override {
    return auditRows(
        "SELECT seq, recorded, agent, entities, json, prev_hash, hash FROM audit_event WHERE seq > ?1 "
        "ORDER BY seq LIMIT ?6",
        after_seq, limit, nullptr);
  }

  StatusOr<std::optional<std::pair<std::int64_t, std::string>>> auditHead() override {
    try {
      ReadConnection conn(*this);
      Statement s(conn.db, "SELECT seq, hash FROM audit_head WHERE id = 1");
      if (!s.step()) return std::optional<std::pair<std::int64_t, std::string>>();
      return std::optional<std::pair<std::int64_t, std::string>>(std::make_pair(s.int64(0), s.text(1)));
    } catch (const std::exception& e) {
      logLine(LogLevel::kError, std::string("store audit head: ") + e.what());
      return readFailure(e);
    }
  }

  Status checkIntegrity() override {
    try {
      ReadConnection conn(*this);
      Statement s(conn.db, "PRAGMA integrity_check");
      std::string verdict = s.step() ? s.text(0) : "no answer";
      if (verdict != "ok") return Status(StatusCode::kInternal, "integrity check: " + verdict);
      return Status::ok();
    } catch (const std::exception& e) {
      return Status(StatusCode::kInternal, std::string("integrity check: ") + e.what());
    }
  }

  StatusOr<std::vector<QuarantineEntry>> listQuarantine(const QuarantineFilter& filter) override {
    try {
      ReadConnection conn(*this);
      Statement s(conn.db, (std::string(kQuarantineSelect) +
                            " WHERE q.id > ?1 AND (?2 = '' OR q.status = ?2) AND (?3 = '' OR p.adapter = ?3) "
                            "AND (?5 = '' OR p.organization = ?5) AND (?6 = '' OR q.created_at >= ?6) "
                            "ORDER BY q.id LIMIT ?4")
                               .c_str());
      s.bind(1, filter.after_id).bind(2, filter.status).bind(3, filter.adapter).bind(4, std::int64_t{filter.limit});
      s.bind(5, filter.organization).bind(6, filter.created_ge);
      std::vector<QuarantineEntry> out;
      while (s.step()) out.push_back(quarantineRow(s));
      return out;
    } catch (const std::exception& e) {
      logLine(LogLevel::kError, std::string("store quarantine list: ") + e.what());
      return readFailure(e);
    }
  }

  StatusOr<std::optional<QuarantineEntry>> readQuarantine(std::int64_t id) override {
    try {
      ReadConnection conn(*this);
      Statement s(conn.db, (std::string(kQuarantineSelect) + " WHERE q.id = ?1").c_str());
      s.bind(1, id);
      if (!s.step()) return std::optional<QuarantineEntry>();
      return std::optional<QuarantineEntry>(quarantineRow(s));
    } catch (const std::exception& e) {
      logLine(LogLevel::kError, std::string("store quarantine read: ") + e.what());
      return readFailure(e);
    }
  }

  StatusOr<std::optional<StoredPayload>> readPayload(std::int64_t id) override {
    try {
      ReadConnection conn(*this);
      Statement s(conn.db,
                  "SELECT id, received_at, adapter, organization, content_type, body FROM payload WHERE id = ?1");
      s.bind(1, id);
      if (!s.step()) return std::optional<StoredPayload>();
      return std::optional<StoredPayload>(
          StoredPayload{s.int64(0), s.text(1), s.text(2), s.text(3), s.text(4), s.blob(5)});
    } catch (const std::exception& e) {
      logLine(LogLevel::kError, std::string("store payload read: ") + e.what());
      return readFailure(e);
    }
  }

  StatusOr<std::vector<OutboxItem>> claimOutbox(const OutboxClaim& claim) override {
    std::vector<OutboxItem> items;
    auto done = enqueue([&](const std::string&, AuditChain&) {
      items.clear();  // a retried group must not keep rows of a rolled-back attempt
      sqlite3* db = writer_->db();
      std::string ready = "(o.next_attempt_ms <= ?1 AND (o.claimed_until_ms IS NULL OR o.claimed_until_ms < ?1))";
      std::string sql = std::string(kOutboxClaimSelect) + ", " + ready + ", v.organization FROM " + kOutboxClaimFrom +
                        " WHERE o.state = 'pending'";
      Statement update(db, "UPDATE outbox SET claimed_by = ?2, claimed_until_ms = ?3 WHERE seq = ?1");
      auto take = [&](Statement& s) {
        while (s.step()) {
          OutboxItem item;
          item.seq = s.int64(0);
          item.type = s.text(1);
          item.id = s.text(2);
          item.version = s.int64(3);
          item.attempts = static_cast<int>(s.int64(4));
          item.created_at = s.text(5);
          item.body = storedText(s, 6);
          item.superseded = s.int64(7) != 0;
          item.claimed = s.int64(8) != 0;
          item.organization = s.text(9);
          if (!item.claimed) item.body.clear();
          item.state = "pending";
          items.push_back(std::move(item));
        }
      };
      if (claim.resources.empty()) {
        Statement s(db, (sql + " AND " + ready + " ORDER BY o.seq LIMIT ?2").c_str());
        s.bind(1, claim.now_ms).bind(2, std::int64_t{claim.limit});
        take(s);
      } else {
        Statement s(db, (sql + " AND o.type = ?2 AND o.id = ?3 ORDER BY o.seq").c_str());
        for (const auto& [type, id] : claim.resources) {
          s.bind(1, claim.now_ms).bind(2, type).bind(3, id);
          take(s);
          s.reset();
        }
      }
      for (const auto& item : items) {
        if (!item.claimed) continue;
        update.bind(1, item.seq).bind(2, claim.claimer).bind(3, claim.now_ms + claim.lease_ms).step();
        update.reset();
      }
      return CommitResult{};
    });
    if (!done.isOk()) return done.status();
    return items;
  }

  Status completeOutbox(const std::vector<OutboxCompletion>& completions) override {
    if (completions.empty()) return Status::ok();
    auto done = enqueue([&](const std::string& now, AuditChain&) {
      sqlite3* db = writer_->db();
      Statement sent(db, "DELETE FROM outbox WHERE seq = ?1");
      Statement retry(db,
                      "UPDATE outbox SET attempts = attempts + ?2, next_attempt_ms = ?3, last_error = ?4, "
                      "claimed_by = NULL, claimed_until_ms = NULL WHERE seq = ?1");
      Statement release(db,
                        "UPDATE outbox SET next_attempt_ms = ?2, claimed_by = NULL, claimed_until_ms = NULL "
                        "WHERE seq = ?1");
      Statement dead(db,
                     "UPDATE outbox SET state = 'dead', attempts = attempts + 1, last_error = ?2, http_status = ?3, "
                     "outcome = ?4, dead_at = ?5, claimed_by = NULL, claimed_until_ms = NULL WHERE seq = ?1");
      for (const auto& c : completions) {
        switch (c.result) {
          case OutboxResult::kSent:
            sent.bind(1, c.seq).step();
            sent.reset();
            break;
          case OutboxResult::kRetry:
            retry.bind(1, c.seq)
                .bind(2, std::int64_t{c.count_attempt ? 1 : 0})
                .bind(3, c.next_attempt_ms)
                .bind(4, c.error)
                .step();
            retry.reset();
            break;
          case OutboxResult::kRelease:
            release.bind(1, c.seq).bind(2, c.next_attempt_ms).step();
            release.reset();
            break;
          case OutboxResult::kDead:
            dead.bind(1, c.seq)
                .bind(2, c.error)
                .bind(3, std::int64_t{c.http_status})
                .bind(4, c.outcome_json)
                .bind(5, now)
                .step();
            dead.reset();
            break;
        }
      }
      return CommitResult{};
    });
    return done.isOk() ? Status::ok() : done.status();
  }

  // An embedded store has exactly one serving instance: claims left by a
  // crashed predecessor are released when the forwarding gateway opens it,
  // instead of waiting for their leases.
  Status releaseOutboxClaims() {
    auto done = enqueue([&](const std::string&, AuditChain&) {
      exec(writer_->db(), "UPDATE outbox SET claimed_by = NULL, claimed_until_ms = NULL WHERE claimed_by IS NOT NULL");
      return CommitResult{};
    });
    return done.isOk() ? Status::ok() : done.status();
  }

  StatusOr<std::int64_t> resendOutbox(std::int64_t seq) override {
    std::int64_t changed = 0;
    auto done = enqueue([&](const std::string&, AuditChain&) {
      Statement s(writer_->db(),
                  "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_ms = 0, http_status = NULL, "
                  "outcome = NULL, dead_at = NULL WHERE state = 'dead' AND (?1 = 0 OR seq = ?1)");
      s.bind(1, seq).step();
      changed = sqlite3_changes(writer_->db());
      return CommitResult{};
    });
    if (!done.isOk()) return done.status();
    return changed;
  }

  StatusOr<std::vector<OutboxItem>> listOutbox(std::string_view state, std::int64_t after_seq, int limit) override {
    try {
      ReadConnection conn(*this);
      Statement s(conn.db,
                  "SELECT seq, type, id, version, state, attempts, created_at, coalesce(last_error, ''), "
                  "coalesce(http_status, 0), coalesce(outcome, '') FROM outbox "
                  "WHERE seq > ?1 AND (?2 = '' OR state = ?2) ORDER BY seq LIMIT ?3");
      s.bind(1, after_seq).bind(2, state).bind(3, std::int64_t{limit});
      std::vector<OutboxItem> out;
      while (s.step()) {
        OutboxItem item;
        item.seq = s.int64(0);
        item.type = s.text(1);
        item.id = s.text(2);
        item.version = s.int64(3);
        item.state = s.text(4);
        item.attempts = static_cast<int>(s.int64(5));
        item.created_at = s.text(6);
        item.last_error = s.text(7);
        item.http_status = static_cast<int>(s.int64(8));
        item.outcome_json = s.text(9);
        out.push_back(std::move(item));
      }
      return out;
    } catch (const std::exception& e) {
      logLine(LogLevel::kError, std::string("store outbox list: ") + e.what());
      return readFailure(e);
    }
  }

  StatusOr<OutboxStats> outboxStats() override {
    try {
      ReadConnection conn(*this);
      OutboxStats stats;
      Statement pending(conn.db, "SELECT count(*), min(created_at) FROM outbox WHERE state = 'pending'");
      pending.step();
      stats.pending = pending.int64(0);
      stats.oldest_pending_at = pending.text(1);
      Statement dead(conn.db, "SELECT count(*) FROM outbox WHERE state = 'dead'");
      dead.step();
      stats.dead = dead.int64(0);
      return stats;
    } catch (const std::exception& e) {
      logLine(LogLevel::kError, std::string("store outbox stats: ") + e.what());
      return readFailure(e);
    }
  }

  // ---- SigningKeys ----

  StatusOr<std::vector<SigningKey>> readSigningKeys() override {
    try {
      ReadConnection conn(*this);
      Statement s(conn.db, "SELECT kid, pem, can_sign, created_at, retired_at FROM signing_key ORDER BY kid");
      std::vector<SigningKey> out;
      while (s.step()) {
        out.push_back(SigningKey{s.text(0), s.text(1), s.int64(2) != 0, s.text(3), s.text(4)});
      }
      return out;
    } catch (const std::exception& e) {
      logLine(LogLevel::kError, std::string("store signing key read: ") + e.what());
      return readFailure(e);
    }
  }

  Status writeSigningKeys(const std::vector<SigningKey>& keys, const std::vector<std::string>& removed) override {
    if (keys.empty() && removed.empty()) return Status::ok();
    auto done = enqueue([&](const std::string&, AuditChain&) {
      Statement put(writer_->db(),
                    "INSERT INTO signing_key (kid, pem, can_sign, created_at, retired_at) VALUES (?1, ?2, ?3, ?4, ?5) "
                    "ON CONFLICT (kid) DO UPDATE SET pem = excluded.pem, can_sign = excluded.can_sign, "
                    "retired_at = excluded.retired_at");
      for (const auto& k : keys) {
        put.bind(1, k.kid).bind(2, k.pem).bind(3, std::int64_t{k.can_sign ? 1 : 0}).bind(4, k.created_at)
            .bind(5, k.retired_at).step();
        put.reset();
      }
      Statement del(writer_->db(), "DELETE FROM signing_key WHERE kid = ?1");
      for (const auto& kid : removed) {
        del.bind(1, kid).step();
        del.reset();
      }
      return CommitResult{};
    });
    return done.isOk() ? Status::ok() : done.status();
  }

  // ---- PlatformLinks ----

  StatusOr<std::vector<PlatformLink>> readLinks(
      const std::vector<std::pair<std::string, std::string>>& keys) override {
    try {
      ReadConnection conn(*this);
      Statement s(conn.db, (std::string(kPlatformLinkSelect) + " WHERE type = ?1 AND id = ?2").c_str());
      std::vector<PlatformLink> out;
      for (const auto& [type, id] : keys) {
        s.bind(1, type).bind(2, id);
        if (s.step()) out.push_back(platformLinkRow(s));
        s.reset();
      }
      return out;
    } catch (const std::exception& e) {
      logLine(LogLevel::kError, std::string("store platform link read: ") + e.what());
      return readFailure(e);
    }
  }

  Status writeLinks(const std::vector<PlatformLink>& links) override {
    if (links.empty()) return Status::ok();
    auto done = enqueue([&](const std::string& now, AuditChain&) {
      Statement s(writer_->db(),
                  "INSERT INTO platform_link (type, id, organization, state, platform_id, reason, updated_at, "
                  "next_check_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (type, id) DO UPDATE SET "
                  "organization = excluded.organization, state = excluded.state, platform_id = excluded.platform_id, "
                  "reason = excluded.reason, updated_at = excluded.updated_at, next_check_ms = excluded.next_check_ms");
      for (const auto& l : links) {
        s.bind(1, l.type).bind(2, l.id).bind(3, l.organization).bind(4, l.state).bind(5, l.platform_id)
            .bind(6, l.reason).bind(7, now).bind(8, l.next_check_ms).step();
        s.reset();
      }
      return CommitResult{};
    });
    return done.isOk() ? Status::ok() : done.status();
  }

  Status removeLinks(const std::vector<std::pair<std::string, std::string>>& keys) override {
    if (keys.empty()) return Status::ok();
    auto done = enqueue([&](const std::string&, AuditChain&) {
      Statement s(writer_->db(), "DELETE FROM platform_link WHERE type = ?1 AND id = ?2");
      for (const auto& [type, id] : keys) {
        s.bind(1, type).bind(2, id).step();
        s.reset();
      }
      return CommitResult{};
    });
    return done.isOk() ? Status::ok() : done.status();
  }

  StatusOr<std::vector<PlatformLink>> listLinks(std::string_view state, std::string_view after_type,
                                                std::string_view after_id, int limit) override {
    try {
      ReadConnection conn(*this);
      Statement s(conn.db, (std::string(kPlatformLinkSelect) +
                            " WHERE (?1 = '' OR state = ?1) AND (type > ?2 OR (type = ?2 AND id > ?3)) "
                            "ORDER BY type, id LIMIT ?4")
                               .c_str());
      s.bind(1, state).bind(2, after_type).bind(3, after_id).bind(4, std::int64_t{limit});
      std::vector<PlatformLink> out;
      while (s.step()) out.push_back(platformLinkRow(s));
      return out;
    } catch (const std::exception& e) {
      logLine(LogLevel::kError, std::string("store platform link list: ") + e.what());
      return readFailure(e);
    }
  }

  StatusOr<std::int64_t> retryWaiting(std::string_view type, std::string_view id) override {
    std::int64_t changed = 0;
    auto done = enqueue([&](const std::string&, AuditChain&) {
      Statement s(writer_->db(),
                  "UPDATE outbox SET next_attempt_ms = 0 WHERE state = 'pending' AND EXISTS (SELECT 1 FROM "
                  "platform_link l WHERE l.state = 'waiting' AND l.type = outbox.type AND l.id = outbox.id AND "
                  "(?1 = '' OR (l.type = ?1 AND l.id = ?2)))");
      s.bind(1, type).bind(2, id).step();
      changed = sqlite3_changes(writer_->db());
      return CommitResult{};
    });
    if (!done.isOk()) return done.status();
    return changed;
  }

  Status createExportJob(const ExportJob& job) override {
    auto done = enqueue([&](const std::string&, AuditChain&) {
      Statement s(writer_->db(),
                  "INSERT INTO export_job (id, client_id, level, types, since, organization, request_url, state, "
                  "attempts, exported, bytes, transaction_time, error, created_at, finished_at, expires_at, "
                  "lease_owner, lease_until) "
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)");
      std::string types;
      for (const auto& type : job.types) types += (types.empty() ? "" : ",") + type;
      s.bind(1, job.id).bind(2, job.client_id).bind(3, job.level).bind(4, types);
      if (job.since) {
        s.bind(5, *job.since);
      } else {
        s.bindNull(5);
      }
      if (job.organization) {
        s.bind(6, *job.organization);
      } else {
        s.bindNull(6);
      }
      s.bind(7, job.request_url).bind(14, job.created_at);
      bindExportProgress(s, job, 8);
      s.bind(17, job.lease_owner).bind(18, job.lease_until);
      s.step();
      writeExportOutput(job);
      return CommitResult{};
    });
    return done.isOk() ? Status::ok() : done.status();
  }

  Status updateExportJob(const ExportJob& job) override {
    auto done = enqueue([&](const std::string&, AuditChain&) {
      sqlite3* db = writer_->db();
      Statement s(db,
                  "UPDATE export_job SET state = ?8, attempts = ?9, exported = ?10, bytes = ?11, "
                  "transaction_time = ?12, error = ?13, finished_at = ?15, expires_at = ?16, lease_until = ?18 "
                  "WHERE id = ?1 AND lease_owner = ?17");
      s.bind(1, job.id);
      bindExportProgress(s, job, 8);
      s.bind(17, job.lease_owner).bind(18, job.lease_until);
      s.step();
      if (sqlite3_changes(db) == 0) {
        Statement exists(db, "SELECT 1 FROM export_job WHERE id = ?1");
        exists.bind(1, job.id);
        if (exists.step()) {
          throw BatchRefused{Status(StatusCode::kConflict, "export job " + job.id + " is run by another instance")};
        }
        throw BatchRefused{Status(StatusCode::kNotFound, "no export job " + job.id)};
      }
      writeExportOutput(job);
      return CommitResult{};
    });
    return done.isOk() ? Status::ok() : done.status();
  }

  StatusOr<std::optional<ExportJob>> claimExportJob(std::string_view owner, std::string_view now,
                                                    std::string_view until) override {
    // Most calls find nothing: a read first keeps them off the writer.
    auto waiting = exportJobs(kClaimableExportJob, now);
    if (!waiting.isOk()) return waiting.status();
    if (waiting.value().empty()) return std::optional<ExportJob>();
    std::string claimed;
    auto done = enqueue([&](const std::string&, AuditChain&) {
      sqlite3* db = writer_->db();
      Statement pick(db, (std::string("SELECT id FROM export_job") + kClaimableExportJob +
                          " ORDER BY created_at, id LIMIT 1").c_str());
      pick.bind(1, now);
      if (!pick.step()) return CommitResult{};
      claimed = pick.text(0);
      Statement take(db, "UPDATE export_job SET lease_owner = ?2, lease_until = ?3 WHERE id = ?1");
      take.bind(1, claimed).bind(2, owner).bind(3, until).step();
      return CommitResult{};
    });
    if (!done.isOk()) return done.status();
    if (claimed.empty()) return std::optional<ExportJob>();
    return readExportJob(claimed);
  }

  StatusOr<std::optional<ExportJob>> readExportJob(std::string_view id) override {
    auto jobs = exportJobs(" WHERE id = ?1", id);
    if (!jobs.isOk()) return jobs.status();
    if (jobs.value().empty()) return std::optional<ExportJob>();
    return std::optional<ExportJob>(std::move(jobs.value().front()));
  }

  StatusOr<std::vector<ExportJob>> listExportJobs() override { return exportJobs("", ""); }

  StatusOr<std::vector<ExportJob>> listExpiredExportJobs(std::string_view now) override {
    return exportJobs(" WHERE expires_at <> '' AND expires_at <= ?1", now);
  }

  Status deleteExportJob(std::string_view id) override {
    auto done = enqueue([&](const std::string&, AuditChain&) {
      Statement output(writer_->db(), "DELETE FROM export_output WHERE job_id = ?1");
      output.bind(1, id).step();
      Statement job(writer_->db(), "DELETE FROM export_job WHERE id = ?1");
      job.bind(1, id).step();
      return CommitResult{};
    });
    return done.isOk() ? Status::ok() : done.status();
  }

 private:

  // A read transaction: everything read inside it comes from one snapshot.
  struct ReadTransaction {
    explicit ReadTransaction(sqlite3* db) : db(db) { exec(db, "BEGIN"); }
    ~ReadTransaction() { sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr); }
    sqlite3* db;
  };

  // Reads up to `limit` rows of a query that asked for limit + 1; returns
  // whether the extra row exists (there is a next page).
  static bool readPage(Statement& rows, int limit, std::vector<StoredResource>& out) {
    while (rows.step()) {
      if (static_cast<int>(out.size()) == limit) return true;
      out.push_back(resourceFrom(rows));
    }
    return false;
  }

  static StoredResource resourceFrom(const Statement& s) {
    return StoredResource{s.text(0), s.text(1), s.int64(2), s.text(3), s.text(4), s.int64(5), storedText(s, 6)};
  }

  // The newest commit visible in the current read transaction. With one
  // writer and strictly increasing lastUpdated, no later commit can carry a
  // smaller seq or an equal or earlier lastUpdated.
  static Watermark watermark(ReadConnection& conn) {
    Statement& s = conn.prepared("SELECT seq, last_updated FROM resource_version ORDER BY seq DESC LIMIT 1");
    ResetGuard guard{s};
    Watermark mark;
    if (s.step()) {
      mark.seq = s.int64(0);
      mark.last_updated = s.text(1);
    }
    return mark;
  }

  // Leave to answer a search or history page (query_gate.h): a turn while
  // records are being written, counted when the caller had to wait for it or
  // got none; otherwise a pass.
  QueryGate::Turn enterSearch() {
    static metrics::Counter& waited = metrics::storeSearchWaits().counter({"waited"});
    static metrics::Counter& refused = metrics::storeSearchWaits().counter({"refused"});
    auto since_commit = std::chrono::steady_clock::now().time_since_epoch() -
                        std::chrono::steady_clock::duration(last_record_commit_.load(std::memory_order_relaxed));
    if (since_commit >= options_.searches_bounded_for) return QueryGate::pass();
    auto turn = searches_.enter(options_.lock_wait);
    if (!turn) {
      refused.add();
    } else if (turn.waited()) {
      waited.add();
    }
    return turn;
  }

  static Status searchesBusy() {
    return Status(StatusCode::kUnavailable, "the store is answering too many searches at once; retry in a moment");
  }

  // A pooled read connection with the statements prepared on it, so hot
  // reads (read, vread, client lookup, search and history pages) skip SQL
  // compilation: compiling a search statement was a third of its answer.
  static constexpr size_t kCachedStatements = 32;  // per read connection
  struct Reader {
    sqlite3* db = nullptr;
    std::unordered_map<std::string, std::unique_ptr<Statement>> statements;
  };

  // Borrows a read connection from the pool for one scope.
  struct ReadConnection {
    explicit ReadConnection(SqliteStore& store) : store(store) {
      {
        std::lock_guard lock(store.readers_mutex_);
        if (!store.idle_readers_.empty()) {
          reader = store.idle_readers_.back();
          store.idle_readers_.pop_back();
        }
      }
      if (reader == nullptr) {
        auto fresh = std::make_unique<Reader>();
        fresh->db = openConnection(store.options_.path, false, store.options_.lock_wait);
        reader = fresh.get();
        std::lock_guard lock(store.readers_mutex_);
        store.readers_.push_back(std::move(fresh));
      }
      db = reader->db;
      // Bounded: search and history statements differ by the query's shape
      // (its values are bound, not in the text), so a few dozen cover what
      // clients ask; a connection that saw more starts over. Cleared here,
      // before any statement of this scope is handed out.
      if (reader->statements.size() >= kCachedStatements) reader->statements.clear();
    }
    ~ReadConnection() {
      std::lock_guard lock(store.readers_mutex_);
      store.idle_readers_.push_back(reader);
    }
    // The connection's cached statement for `sql`; reset it after use (ResetGuard).
    Statement& prepared(const std::string& sql) {
      auto& slot = reader->statements[sql];
      if (!slot) slot = std::make_unique<Statement>(db, sql.c_str());
      return *slot;
    }
    SqliteStore& store;
    Reader* reader = nullptr;
    sqlite3* db = nullptr;
  };

  static const char* exportStateName(ExportJobState state) {
    switch (state) {
      case ExportJobState::kQueued: return "queued";
      case ExportJobState::kRunning: return "running";
      case ExportJobState::kCompleted: return "completed";
      case ExportJobState::kFailed: return "failed";
    }
    return "failed";
  }

  static ExportJobState exportStateFrom(std::string_view name) {
    if (name == "queued") return ExportJobState::kQueued;
    if (name == "running") return ExportJobState::kRunning;
    if (name == "completed") return ExportJobState::kCompleted;
    return ExportJobState::kFailed;
  }

  // Binds where a job stands to placeholders first..first+8 (created_at,
  // first+6, is the caller's: it never changes).
  static void bindExportProgress(Statement& s, const ExportJob& job, int first) {
    s.bind(first, std::string_view(exportStateName(job.state)))
        .bind(first + 1, std::int64_t{job.attempts})
        .bind(first + 2, job.exported)
        .bind(first + 3, job.bytes)
        .bind(first + 4, job.transaction_time)
        .bind(first + 5, job.error)
        .bind(first + 7, job.finished_at)
        .bind(first + 8, job.expires_at);
  }

  // Replaces the job's file list (writer thread, inside the open transaction).
  void writeExportOutput(const ExportJob& job) {
    sqlite3* db = writer_->db();
    Statement clear(db, "DELETE FROM export_output WHERE job_id = ?1");
    clear.bind(1, job.id).step();
    Statement insert(db, "INSERT INTO export_output (job_id, position, type, name, count) VALUES (?1, ?2, ?3, ?4, ?5)");
    for (size_t i = 0; i < job.files.size(); ++i) {
      const auto& file = job.files[i];
      insert.bind(1, job.id).bind(2, static_cast<std::int64_t>(i)).bind(3, file.type).bind(4, file.name).bind(5, file.count);
      insert.step();
      insert.reset();
    }
  }

  // Jobs matching `where` (with ?1 bound to `arg` when it uses it), oldest
  // first, with their files, from one snapshot.
  static constexpr const char* kClaimableExportJob =
      " WHERE state IN ('queued', 'running') AND lease_until < ?1";

  StatusOr<std::vector<ExportJob>> exportJobs(const char* where, std::string_view arg) {
    try {
      ReadConnection conn(*this);
      ReadTransaction txn(conn.db);
      Statement s(conn.db, (std::string("SELECT id, client_id, level, types, since, organization, request_url, state, "
                                        "attempts, exported, bytes, transaction_time, error, created_at, "
                                        "finished_at, expires_at, lease_owner, lease_until FROM export_job") +
                            where + " ORDER BY created_at, id")
                               .c_str());
      if (*where != '\0') s.bind(1, arg);
      std::vector<ExportJob> jobs;
      while (s.step()) {
        ExportJob job;
        job.id = s.text(0);
        job.client_id = s.text(1);
        job.level = s.text(2);
        std::string types = s.text(3);
        for (size_t start = 0; start < types.size();) {
          size_t comma = types.find(',', start);
          if (comma == std::string::npos) comma = types.size();
          job.types.push_back(types.substr(start, comma - start));
          start = comma + 1;
        }
        if (sqlite3_column_type(s.raw(), 4) != SQLITE_NULL) job.since = s.text(4);
        if (sqlite3_column_type(s.raw(), 5) != SQLITE_NULL) job.organization = s.text(5);
        job.request_url = s.text(6);
        job.state = exportStateFrom(s.text(7));
        job.attempts = static_cast<int>(s.int64(8));
        job.exported = s.int64(9);
        job.bytes = s.int64(10);
        job.transaction_time = s.text(11);
        job.error = s.text(12);
        job.created_at = s.text(13);
        job.finished_at = s.text(14);
        job.expires_at = s.text(15);
        job.lease_owner = s.text(16);
        job.lease_until = s.text(17);
        jobs.push_back(std::move(job));
      }
      Statement files(conn.db, "SELECT type, name, count FROM export_output WHERE job_id = ?1 ORDER BY position");
      for (auto& job : jobs) {
        files.bind(1, job.id);
        while (files.step()) job.files.push_back({files.text(0), files.text(1), files.int64(2)});
        files.reset();
      }
      return jobs;
    } catch (const std::exception& e) {
      logLine(LogLevel::kError, std::string("store export jobs: ") + e.what());
      return readFailure(e);
    }
  }

  static UserRecord userFrom(const Statement& s) {
    return UserRecord{s.text(0), s.text(1), s.text(2), s.text(3), s.text(4), s.text(5), s.text(6)};
  }

  static ClientRecord clientFrom(const Statement& s) {
    return ClientRecord{s.text(0), s.text(1), s.text(2), s.text(3), s.text(4), s.int64(5) != 0,
                        s.text(6), s.text(7), s.text(8), s.text(9)};
  }

  StatusOr<std::vector<AuditRecord>> auditRows(const char* sql, std::int64_t after_seq, int limit,
                                               const AuditQuery* q) {
    try {
      ReadConnection conn(*this);
      Statement s(conn.db, sql);
      s.bind(1, after_seq).bind(6, std::int64_t{limit});
      if (q != nullptr) s.bind(2, q->recorded_ge).bind(3, q->recorded_lt).bind(4, q->agent).bind(5, q->entity);
      std::vector<AuditRecord> out;
      while (s.step()) {
        out.push_back(AuditRecord{s.int64(0), AuditWrite{s.text(1), s.text(2), storedText(s, 3), storedText(s, 4)},
                                  auditHash(s, 5), auditHash(s, 6)});
      }
      return out;
    } catch (const std::exception& e) {
      logLine(LogLevel::kError, std::string("store audit read: ") + e.what());
      return readFailure(e);
    }
  }

  StatusOr<std::optional<StoredResource>> readOne(const char* sql, std::string_view type, std::string_view id,
                                                  std::optional<std::int64_t> version) {
    try {
      ReadConnection conn(*this);
      Statement& s = conn.prepared(sql);
      ResetGuard guard{s};
      s.bind(1, type).bind(2, id);
      if (version) s.bind(3, *version);
      if (!s.step()) return std::optional<StoredResource>();
      return std::optional<StoredResource>(
          StoredResource{s.text(0), s.text(1), s.int64(2), s.text(3), s.text(4), s.int64(5), storedText(s, 6)});
    } catch (const std::exception& e) {
      logLine(LogLevel::kError, std::string("store read: ") + e.what());
      return readFailure(e);
    }
  }

  void writerLoop() {
    GroupCommitQueue<Apply>::Group group;
    while (commits_.next(group)) {
      commitGroup(group.pending, group.audit);
      checkpointer_->rewindIfLong();
    }
  }

  // Applies the group inside the open transaction; the results go to
  // `results`. With `isolated`, each batch runs in its own savepoint and a
  // failing one is rolled back alone and answered with its error. Without, the
  // first failure stops the attempt: false, and the transaction must be rolled
  // back. Errors after which SQLite may have given up the whole transaction
  // are thrown either way.
  bool applyGroup(const std::vector<Pending*>& group, const std::vector<AuditWrite>& audit, const std::string& now,
                  std::vector<std::optional<StatusOr<CommitResult>>>& results, bool isolated) {
    AuditChain chain = writer_->loadChain();
    auto fatal = [this](const SqliteError& e) {
      return isTransactionFatal(e.code) || sqlite3_get_autocommit(write_db_) != 0;
    };
    for (size_t i = 0; i < group.size(); ++i) {
      if (!isolated) {
        try {
          results[i] = group[i]->work(now, chain);
        } catch (const SqliteError& e) {
          if (fatal(e)) throw;
          return false;
        } catch (...) {  // BatchRefused, PreconditionError, anything else: answered by the isolated attempt
          return false;
        }
        continue;
      }
      exec(write_db_, "SAVEPOINT batch");
      AuditChain before = chain;
      try {
        results[i] = group[i]->work(now, chain);
        exec(write_db_, "RELEASE batch");
        continue;
      } catch (const BatchRefused& refused) {
        results[i] = StatusOr<CommitResult>(refused.status);
      } catch (const PreconditionError& e) {
        results[i] = StatusOr<CommitResult>(Status(StatusCode::kPreconditionFailed, e.what()));
      } catch (const SqliteError& e) {
        // Disk full, I/O error, ...: SQLite may already have rolled the whole
        // transaction back, so no batch of this group may be acknowledged.
        if (fatal(e)) throw;
        logLine(LogLevel::kError, std::string("store write: ") + e.what());
        results[i] = StatusOr<CommitResult>(Status(StatusCode::kInternal, "store write failed"));
      } catch (const std::exception& e) {
        logLine(LogLevel::kError, std::string("store write: ") + e.what());
        results[i] = StatusOr<CommitResult>(Status(StatusCode::kInternal, "store write failed"));
      }
      exec(write_db_, "ROLLBACK TO batch");
      exec(write_db_, "RELEASE batch");
      writer_->forgetKeys();
      chain = before;
    }
    if (audit.empty()) return true;
    if (!isolated) {
      try {
        writer_->applyAudit(audit, chain);
      } catch (const SqliteError& e) {
        if (fatal(e)) throw;
        return false;
      } catch (...) {
        return false;
      }
      return true;
    }
    exec(write_db_, "SAVEPOINT audit");
    try {
      writer_->applyAudit(audit, chain);
      exec(write_db_, "RELEASE audit");
    } catch (const std::exception& e) {
      logLine(LogLevel::kError, std::string("store audit write: ") + e.what() + "; " + std::to_string(audit.size()) +
                                    " audit events lost");
      exec(write_db_, "ROLLBACK TO audit");
      exec(write_db_, "RELEASE audit");
    }
    return true;
  }

  // One transaction for the whole group; a failing batch does not take its
  // neighbours down (applyGroup).
  void commitGroup(const std::vector<Pending*>& group, const std::vector<AuditWrite>& audit) {
    static metrics::Counter& cpu = metrics::storeWriterCpu().counter();
    metrics::ThreadCpuScope timed(cpu);
    std::string now = nowInstant();
    // Strictly increasing, so lastUpdated order is commit order and a puller's
    // `_lastUpdated=gt{last seen}` can never miss a later commit.
    if (now <= last_stamp_) now = instantFromMillis(millisFromInstant(last_stamp_).value_or(0) + 1);
    last_stamp_ = now;
    std::vector<std::optional<StatusOr<CommitResult>>> results(group.size());
    auto started = std::chrono::steady_clock::now();
    if (Status broken = log_sync_->failure(); !broken.isOk()) {
      for (auto* pending : group) pending->promise.set_value(broken);
      return;
    }
    try {
      exec(write_db_, "BEGIN IMMEDIATE");
      // First without savepoints, which cost a journal copy of every page a
      // batch touches; should any batch fail, the whole attempt is rolled back
      // and the group applied again with one savepoint per batch, so only the
      // failing batches are left out. The work of a batch is rerunnable.
      if (!applyGroup(group, audit, now, results, false)) {
        exec(write_db_, "ROLLBACK");
        writer_->forgetKeys();
        exec(write_db_, "BEGIN IMMEDIATE");
        applyGroup(group, audit, now, results, true);
      }
      exec(write_db_, "COMMIT");  // synchronous=NORMAL: in the log, durable once log_sync_ says so
      metrics::commitBatchSize().histogram().observe(static_cast<double>(group.size()));
      log_sync_->whenDurable([group, results = std::move(results), started](const Status& synced) mutable {
        metrics::commitDuration().histogram().observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
        for (size_t i = 0; i < group.size(); ++i) {
          group[i]->promise.set_value(synced.isOk() ? std::move(*results[i]) : StatusOr<CommitResult>(synced));
        }
      });
      return;
    } catch (const std::exception& e) {
      logLine(LogLevel::kError, std::string("store commit: ") + e.what());
      sqlite3_exec(write_db_, "ROLLBACK", nullptr, nullptr, nullptr);
      writer_->forgetKeys();
      for (auto& r : results) r = StatusOr<CommitResult>(Status(StatusCode::kUnavailable, "store commit failed"));
    }
    for (size_t i = 0; i < group.size(); ++i) group[i]->promise.set_value(std::move(*results[i]));
  }

  SqliteOptions options_;
  int schema_version_ = 0;
  sqlite3* write_db_ = nullptr;
  std::unique_ptr<SqliteCheckpointer> checkpointer_;
  std::unique_ptr<SqliteLogSync> log_sync_;
  std::unique_ptr<Writer> writer_;
  std::thread writer_thread_;
  GroupCommitQueue<Apply> commits_;
  std::string last_stamp_;  // writer thread only (after open())

  std::mutex readers_mutex_;
  std::vector<std::unique_ptr<Reader>> readers_;
  std::vector<Reader*> idle_readers_;
  QueryGate searches_;
  // When a commit of records was last asked for (steady_clock ticks; the
  // clock's epoch when none was): searches are bounded for a while after it.
  std::atomic<std::chrono::steady_clock::rep> last_record_commit_{0};
};

}  // namespace

std::span<const char* const> sqliteIndexRowDeletes() { return kIndexRowDeletes; }

std::string sqliteSearchIndexRows(const SearchQuery& query) {
  std::vector<Binding> binds;
  SqliteDialect sqlite(binds);
  return firstClauseRows(query, sqlite.dialect, kFewMatches + 1);
}

std::string sqliteVersionRead() {
  return std::string(kVersionChain) +
         "SELECT type, unpacked_id(id), version, last_updated, organization, seq, body FROM resource_version "
         "WHERE seq IN chain AND version = ?3";
}

StatusOr<std::unique_ptr<Store>> openSqliteStore(const SqliteOptions& options) {
  auto store = std::make_unique<SqliteStore>(options);
  try {
    store->open();
  } catch (const SchemaTooNew& e) {
    return Status(StatusCode::kUnavailable, e.what());
  } catch (const std::exception& e) {
    return Status(StatusCode::kUnavailable, std::string("store: ") + e.what());
  }
  if (options.outbox) {
    Status released = store->releaseOutboxClaims();
    if (!released.isOk()) return released;
  }
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace ilpgw
