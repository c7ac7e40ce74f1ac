#include "store/store_copy.h"

#include <sqlite3.h>

#include <filesystem>

#include "base/crypto.h"
#include "base/log.h"
#include "store/pg_connection.h"
#include "store/sqlite_functions.h"
#include "store/sqlite_store.h"
#include "store/stored_text.h"

namespace ilpgw {
namespace {

// kStoredText: text the SQLite store may keep compressed (stored_text.h);
// copied and compared as the text itself.
enum class Kind { kText, kBlob, kBool, kStoredText };

struct Column {
  const char* name;
  Kind kind = Kind::kText;  // integers read and written as text
  const char* sqlite = nullptr;  // its expression on the SQLite side when not the column of that name
};

struct Table {
  const char* name;
  std::vector<Column> columns;
  const char* order;                  // a key whose columns are never NULL
  const char* sqlite_from = nullptr;  // the SQLite side's FROM when not the table of that name
};

// SQLite's index tables name type, parameter and qualifier by a search_key
// and keep UUID-shaped ids packed (sqlite_functions.h).
constexpr const char* kKeyedFrom = " t JOIN search_key k ON k.key = t.key";

// Every table both backends have, in an order that respects nothing in
// particular (PostgreSQL has no foreign keys between them).
const std::vector<Table>& tables() {
  static const std::vector<Table> kTables = {
      {"resource_version",
       {{"seq"}, {"type"}, {"id", Kind::kText, "unpacked_id(id)"}, {"version"}, {"last_updated"}, {"hash", Kind::kBlob}, {"organization"},
        {"payload_id"}, {"source_locator"}, {"body", Kind::kStoredText}},
       "seq"},
      {"resource_current",
       {{"type"}, {"id"}, {"version"}, {"seq"}, {"hash", Kind::kBlob}, {"organization"}},
       "type, id"},
      {"search_token",
       {{"type", Kind::kText, "k.type"}, {"id", Kind::kText, "unpacked_id(t.id)"}, {"param", Kind::kText, "k.param"},
        {"system", Kind::kText, "k.qualifier"}, {"value", Kind::kText, "t.value"}},
       "type, id, param, system, value", kKeyedFrom},
      {"search_string",
       {{"type", Kind::kText, "k.type"}, {"id", Kind::kText, "unpacked_id(t.id)"}, {"param", Kind::kText, "k.param"},
        {"normalized", Kind::kText, "t.normalized"}, {"exact", Kind::kText, "t.exact"}},
       "type, id, param, normalized, exact", kKeyedFrom},
      {"search_date",
       {{"type", Kind::kText, "k.type"}, {"id", Kind::kText, "unpacked_id(t.id)"}, {"param", Kind::kText, "k.param"},
        {"low", Kind::kText, "t.low"}, {"high", Kind::kText, "t.high"}},
       "type, id, param, low, high", kKeyedFrom},
      {"search_reference",
       {{"type", Kind::kText, "k.type"}, {"id", Kind::kText, "unpacked_id(t.id)"}, {"param", Kind::kText, "k.param"},
        {"target_type", Kind::kText, "k.qualifier"}, {"target_id", Kind::kText, "unpacked_id(t.target_id)"}},
       "type, id, param, target_type, target_id", kKeyedFrom},
      {"payload",
       {{"id"}, {"received_at"}, {"adapter"}, {"organization"}, {"content_type"}, {"body", Kind::kBlob}},
       "id"},
      {"quarantine", {{"id"}, {"payload_id"}, {"locator"}, {"source_key"}, {"outcome"}, {"created_at"}, {"status"}}, "id"},
      {"quarantine_state",
       {{"quarantine_id"}, {"attempts"}, {"last_attempt_at"}, {"resolved_at"}, {"produced"}},
       "quarantine_id"},
      {"outbox",
       {{"seq"}, {"type"}, {"id"}, {"version"}, {"created_at"}, {"state"}, {"attempts"}, {"next_attempt_ms"},
        {"claimed_by"}, {"claimed_until_ms"}, {"last_error"}, {"http_status"}, {"outcome"}, {"dead_at"}},
       "seq"},
      {"client",
       {{"client_id"}, {"role"}, {"organization"}, {"secret_hash"}, {"cert_thumbprint"}, {"local_only", Kind::kBool},
        {"created_at"}, {"revoked_at"}, {"jwks"}, {"jwks_url"}},
       "client_id"},
      {"login_user",
       {{"username"}, {"role"}, {"organizations"}, {"password_hash"}, {"created_at"}, {"disabled_at"},
        {"password_changed_at"}},
       "username"},
      {"login_session", {{"id_hash"}, {"username"}, {"created_at"}, {"idle_expires_at"}, {"expires_at"}}, "id_hash"},
      {"audit_event",
       {{"seq"}, {"recorded"}, {"agent"}, {"entities", Kind::kStoredText}, {"json", Kind::kStoredText},
        {"prev_hash", Kind::kText, "CASE typeof(prev_hash) WHEN 'blob' THEN lower(hex(prev_hash)) ELSE prev_hash END"},
        {"hash", Kind::kText, "CASE typeof(hash) WHEN 'blob' THEN lower(hex(hash)) ELSE hash END"}},
       "seq"},
      {"audit_head", {{"id"}, {"seq"}, {"hash"}}, "id"},
      {"export_job",
       {{"id"}, {"client_id"}, {"level"}, {"types"}, {"since"}, {"organization"}, {"request_url"}, {"state"},
        {"attempts"}, {"exported"}, {"bytes"}, {"transaction_time"}, {"error"}, {"created_at"}, {"finished_at"},
        {"expires_at"}, {"lease_owner"}, {"lease_until"}},
       "id"},
      {"export_output", {{"job_id"}, {"position"}, {"type"}, {"name"}, {"count"}}, "job_id, position"},
      {"platform_link",
       {{"type"}, {"id"}, {"organization"}, {"state"}, {"platform_id"}, {"reason"}, {"updated_at"},
        {"next_check_ms"}},
       "type, id"},
      {"signing_key", {{"kid"}, {"pem"}, {"can_sign", Kind::kBool}, {"created_at"}, {"retired_at"}}, "kid"},
  };
  return kTables;
}

// The SELECT of `table` on either side, every column as comparable text:
// blobs as upper-case hex, booleans as 0/1.
std::string selectSql(const Table& table, bool postgres) {
  std::string sql = "SELECT ";
  for (size_t i = 0; i < table.columns.size(); ++i) {
    const Column& c = table.columns[i];
    if (i > 0) sql += ", ";
    if (!postgres && c.sqlite != nullptr) {
      sql += std::string(c.sqlite) + " AS " + c.name;
      continue;
    }
    switch (c.kind) {
      case Kind::kText:
      case Kind::kStoredText: sql += c.name; break;
      case Kind::kBlob: sql += postgres ? std::string("upper(encode(") + c.name + ", 'hex'))" : std::string("hex(") + c.name + ")"; break;
      case Kind::kBool: sql += postgres ? std::string(c.name) + "::int" : std::string(c.name); break;
    }
  }
  sql += std::string(" FROM ") + table.name;
  if (!postgres && table.sqlite_from != nullptr) sql += table.sqlite_from;
  return sql + " ORDER BY " + table.order;
}

// A running digest over rows; NULL and "" differ, no two rows collide.
class Digest {
 public:
  void row(const std::vector<std::optional<std::string>>& values) {
    std::string text = state_;
    for (const auto& v : values) {
      if (!v) {
        text += "N;";
      } else {
        text += std::to_string(v->size()) + ":" + *v + ";";
      }
    }
    state_ = sha256(text);
    ++rows_;
  }
  std::string hexDigest() const { return hex(state_); }
  std::int64_t rows() const { return rows_; }

 private:
  std::string state_;
  std::int64_t rows_ = 0;
};

struct SqliteError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class SqliteReader {
 public:
  explicit SqliteReader(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      db_ = nullptr;
      throw SqliteError("cannot open " + path + ": " + message);
    }
    sqlite3_busy_timeout(db_, 10000);
    try {
      registerStoreFunctions(db_);
    } catch (const std::exception& e) {
      sqlite3_close(db_);
      db_ = nullptr;
      throw SqliteError(e.what());
    }
    exec("BEGIN");  // one snapshot for the copy and its verification
    exec("SELECT count(*) FROM sqlite_master");  // takes the snapshot now
  }
  ~SqliteReader() {
    if (db_ != nullptr) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      sqlite3_close(db_);
    }
  }
  void exec(const char* sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
      std::string message = error != nullptr ? error : "?";
      sqlite3_free(error);
      throw SqliteError(message);
    }
  }
  // Calls `visit` with each row of `sql`, a selectSql() of `table`.
  void rows(const Table& table, const std::string& sql,
            const std::function<void(const std::vector<std::optional<std::string>>&)>& visit) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      throw SqliteError(std::string(sqlite3_errmsg(db_)) + " in: " + sql);
    }
    std::vector<std::optional<std::string>> values(static_cast<size_t>(sqlite3_column_count(stmt)));
    int rc = 0;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      for (int i = 0; i < static_cast<int>(values.size()); ++i) {
        if (sqlite3_column_type(stmt, i) == SQLITE_NULL) {
          values[static_cast<size_t>(i)].reset();
        } else if (table.columns[static_cast<size_t>(i)].kind == Kind::kStoredText &&
                   sqlite3_column_type(stmt, i) == SQLITE_BLOB) {
          const auto* frame = static_cast<const char*>(sqlite3_column_blob(stmt, i));
          values[static_cast<size_t>(i)] =
              stored_text::decompress(std::string_view(frame, static_cast<size_t>(sqlite3_column_bytes(stmt, i))));
        } else {
          const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
          values[static_cast<size_t>(i)] = std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt, i)));
        }
      }
      visit(values);
    }
    std::string message = sqlite3_errmsg(db_);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) throw SqliteError(message + " in: " + sql);
  }

 private:
  sqlite3* db_ = nullptr;
};

// One value in COPY text format.
void appendCopyValue(std::string& out, const std::optional<std::string>& value, Kind kind) {
  if (!value) {
    out += "\\N";
    return;
  }
  if (kind == Kind::kBlob) {
    out += "\\\\x";  // bytea hex input "\x...", its backslash escaped for COPY
    out += *value;
    return;
  }
  for (char c : *value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out += c;
    }
  }
}

}  // namespace

StatusOr<std::vector<CopiedTable>> copySqliteToPostgres(const std::string& sqlite_path, const PgOptions& target) {
  if (!std::filesystem::exists(sqlite_path)) return Status(StatusCode::kNotFound, "no store at " + sqlite_path);
  {
    // Brings the source to the current schema (as opening it for serving
    // would), and the target's schema into existence.
    auto source = openSqliteStore(SqliteOptions{sqlite_path, 1});
    if (!source.isOk()) return source.status();
    auto destination = openPgStore(target);
    if (!destination.isOk()) return destination.status();
  }
  std::vector<CopiedTable> copied;
  try {
    SqliteReader source(sqlite_path);
    auto conn = pg::Connection::open(pg::ConnectOptions{target.url, target.password,
                                                        {"SET synchronous_commit = on", "SET lock_timeout = '15s'"}});
    pg::Connection& c = *conn;
    c.exec("BEGIN");
    // Holds off every gateway writer until the copy is committed.
    c.run("SELECT seq FROM commit_clock WHERE id = 1 FOR UPDATE");
    pg::Result used = c.run(
        "SELECT (SELECT count(*) FROM resource_version) + (SELECT count(*) FROM payload) + (SELECT count(*) FROM "
        "quarantine) + (SELECT count(*) FROM outbox) + (SELECT count(*) FROM client) + (SELECT count(*) FROM "
        "audit_event) + (SELECT count(*) FROM export_job)");
    if (used.int64(0, 0) > 0) {
      c.exec("ROLLBACK");
      return Status(StatusCode::kConflict, "the target store " + pgDescribeTarget(target.url) +
                                               " already holds data; copy only into an empty store");
    }
    for (const auto& table : tables()) {
      std::string columns;
      for (const auto& col : table.columns) columns += (columns.empty() ? "" : ", ") + std::string(col.name);
      // Rows stream from the SQLite statement into the COPY, ~1 MB at a time.
      c.beginCopy("COPY " + std::string(table.name) + " (" + columns + ") FROM STDIN");
      std::string chunk;
      source.rows(table, selectSql(table, false), [&](const std::vector<std::optional<std::string>>& values) {
        for (size_t i = 0; i < values.size(); ++i) {
          if (i > 0) chunk += '\t';
          appendCopyValue(chunk, values[i], table.columns[i].kind);
        }
        chunk += '\n';
        if (chunk.size() > (1 << 20)) {
          c.putCopy(chunk);
          chunk.clear();
        }
      });
      c.putCopy(chunk);
      c.endCopy();
    }
    // After the copied rows: the commit clock, and the id sequences.
    c.exec("UPDATE commit_clock SET seq = (SELECT coalesce(max(seq), 0) FROM resource_version), "
           "last_updated = (SELECT coalesce(max(last_updated), '') FROM resource_version) WHERE id = 1");
    for (const char* table : {"payload", "quarantine"}) {
      c.exec(std::string("SELECT setval(pg_get_serial_sequence('") + table + "', 'id'), coalesce((SELECT max(id) FROM " +
             table + "), 1), (SELECT max(id) FROM " + table + ") IS NOT NULL)");
    }
    // Verification inside the transaction: anything unequal rolls it back.
    for (const auto& table : tables()) {
      Digest from;
      source.rows(table, selectSql(table, false), [&](const std::vector<std::optional<std::string>>& values) { from.row(values); });
      Digest to;
      c.exec("DECLARE verify_rows NO SCROLL CURSOR FOR " + selectSql(table, true));
      for (;;) {
        pg::Result rows = c.exec("FETCH 2000 FROM verify_rows");
        for (int r = 0; r < rows.rows(); ++r) {
          std::vector<std::optional<std::string>> values;
          for (size_t i = 0; i < table.columns.size(); ++i) {
            int col = static_cast<int>(i);
            values.push_back(rows.isNull(r, col) ? std::nullopt : std::optional<std::string>(rows.text(r, col)));
          }
          to.row(values);
        }
        if (rows.rows() < 2000) break;
      }
      c.exec("CLOSE verify_rows");
      if (from.rows() != to.rows() || from.hexDigest() != to.hexDigest()) {
        c.exec("ROLLBACK");
        return Status(StatusCode::kInternal, std::string("store copy: table ") + table.name + " differs after the copy (" +
                                                 std::to_string(from.rows()) + " rows in SQLite, " +
                                                 std::to_string(to.rows()) + " in PostgreSQL); nothing was copied");
      }
      copied.push_back({table.name, to.rows(), to.hexDigest()});
    }
    c.exec("COMMIT");
  } catch (const pg::Error& e) {
    return Status(StatusCode::kUnavailable, std::string("store copy: ") + e.what() + "; nothing was copied");
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, std::string("store copy: ") + e.what() + "; nothing was copied");
  }
  logLine(LogLevel::kInfo, "store copy: " + sqlite_path + " -> " + pgDescribeTarget(target.url) + ": " +
                               std::to_string(copied.size()) + " tables copied and verified");
  return copied;
}

}  // namespace ilpgw
