#include "store/pg_connection.h"

#include <cstring>

namespace ilpgw::pg {
namespace {

// The first line of a libpq message (they end with newlines and may carry
// DETAIL/HINT lines).
std::string firstLine(const char* message) {
  std::string text = message != nullptr ? message : "";
  auto end = text.find('\n');
  if (end != std::string::npos) text.resize(end);
  return text.empty() ? "unknown error" : text;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool Error::unavailable() const {
  if (connection_lost || sqlstate.empty()) return true;
  // 08 connection exception, 53 insufficient resources, 57P0x shutdown /
  // cannot connect now, 58 system (I/O) errors, 55P03 lock timeout, 57014
  // statement timeout, 40001/40P01 serialization failure / deadlock, 25006
  // read-only transaction (a standby), 25P03 idle-in-transaction timeout.
  std::string_view s = sqlstate;
  return s.starts_with("08") || s.starts_with("53") || s.starts_with("57P0") || s.starts_with("58") ||
         s == "55P03" || s == "57014" || s == "40001" || s == "40P01" || s == "25006" || s == "25P03";
}

Param textArray(const std::vector<std::string_view>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return text(out);
}

std::int64_t Result::int64(int row, int column) const {
  const char* value = PQgetvalue(result_.get(), row, column);
  return value == nullptr || *value == '\0' ? 0 : std::strtoll(value, nullptr, 10);
}

std::string Result::bytea(int row, int column) const {
  std::string hex = text(row, column);
  if (!hex.starts_with("\\x")) return hex;
  std::string out;
  out.reserve((hex.size() - 2) / 2);
  for (size_t i = 2; i + 1 < hex.size(); i += 2) {
    int high = hexValue(hex[i]);
    int low = hexValue(hex[i + 1]);
    if (high < 0 || low < 0) break;
    out.push_back(static_cast<char>(high * 16 + low));
  }
  return out;
}

std::int64_t Result::affected() const {
  const char* count = PQcmdTuples(result_.get());
  return count == nullptr || *count == '\0' ? 0 : std::strtoll(count, nullptr, 10);
}

std::unique_ptr<Connection> Connection::open(const ConnectOptions& options) {
  // Defaults first: what the URL (expanded from dbname) says overrides them;
  // the password file, last, overrides the URL.
  std::vector<const char*> keys = {"connect_timeout", "application_name", "dbname"};
  std::vector<const char*> values = {"5", "ilp-gateway", options.url.empty() ? nullptr : options.url.c_str()};
  if (options.url.empty()) {
    keys.pop_back();
    values.pop_back();
  }
  if (!options.password.empty()) {
    keys.push_back("password");
    values.push_back(options.password.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* conn = PQconnectdbParams(keys.data(), values.data(), 1);
  if (conn == nullptr) throw Error("cannot connect to PostgreSQL: out of memory", "", true);
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = "cannot connect to PostgreSQL (" + describeTarget(options) + "): " + firstLine(PQerrorMessage(conn));
    PQfinish(conn);
    throw Error(message, "", true);
  }
  std::unique_ptr<Connection> connection(new Connection(conn));
  for (const auto& sql : options.session_setup) connection->exec(sql);
  return connection;
}

Connection::~Connection() { PQfinish(conn_); }

bool Connection::healthy() const { return PQstatus(conn_) == CONNECTION_OK; }

Result Connection::check(PGresult* result, std::string_view what) {
  ExecStatusType status = result == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(result);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY) return Result(result);
  std::string sqlstate;
  std::string message;
  if (result != nullptr) {
    const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    if (state != nullptr) sqlstate = state;
    message = firstLine(PQresultErrorMessage(result));
    PQclear(result);
  } else {
    message = firstLine(PQerrorMessage(conn_));
  }
  bool lost = PQstatus(conn_) != CONNECTION_OK;
  std::string where(what.substr(0, 80));
  throw Error(message + (sqlstate.empty() ? "" : " [" + sqlstate + "]") + " in: " + where, sqlstate, lost);
}

Result Connection::exec(std::string_view sql) {
  std::string text(sql);
  return check(PQexec(conn_, text.c_str()), text);
}

namespace {

struct Bound {
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
};

Bound bind(const std::vector<Param>& params) {
  Bound b;
  for (const auto& p : params) {
    b.values.push_back(p.null ? nullptr : p.value.c_str());
    b.lengths.push_back(static_cast<int>(p.value.size()));
    b.formats.push_back(p.binary ? 1 : 0);
  }
  return b;
}

}  // namespace

Result Connection::run(const std::string& sql, const std::vector<Param>& params) {
  auto found = prepared_.find(sql);
  if (found == prepared_.end()) {
    if (prepared_.size() >= 512) return runOnce(sql, params);  // generated SQL: do not grow without bound
    std::string name = "s" + std::to_string(prepared_.size() + 1);
    check(PQprepare(conn_, name.c_str(), sql.c_str(), static_cast<int>(params.size()), nullptr), sql);
    found = prepared_.emplace(sql, name).first;
  }
  Bound b = bind(params);
  return check(PQexecPrepared(conn_, found->second.c_str(), static_cast<int>(params.size()), b.values.data(),
                              b.lengths.data(), b.formats.data(), 0),
               sql);
}

Result Connection::runOnce(const std::string& sql, const std::vector<Param>& params) {
  Bound b = bind(params);
  return check(PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr, b.values.data(),
                            b.lengths.data(), b.formats.data(), 0),
               sql);
}

void Connection::beginCopy(const std::string& sql) {
  PGresult* start = PQexec(conn_, sql.c_str());
  if (start != nullptr && PQresultStatus(start) == PGRES_COPY_IN) {
    PQclear(start);
    return;
  }
  check(start, sql);  // throws for an error
  throw Error("COPY did not start in: " + sql.substr(0, 80), "", false);
}

void Connection::putCopy(std::string_view data) {
  if (!data.empty() && PQputCopyData(conn_, data.data(), static_cast<int>(data.size())) != 1) {
    throw Error("COPY failed: " + firstLine(PQerrorMessage(conn_)), "", PQstatus(conn_) != CONNECTION_OK);
  }
}

void Connection::endCopy() {
  if (PQputCopyEnd(conn_, nullptr) != 1) {
    throw Error("COPY failed: " + firstLine(PQerrorMessage(conn_)), "", PQstatus(conn_) != CONNECTION_OK);
  }
  for (PGresult* result = PQgetResult(conn_); result != nullptr; result = PQgetResult(conn_)) check(result, "COPY");
}

Pool::~Pool() = default;

Pool::Lease::~Lease() {
  if (conn_ && pool_ != nullptr) pool_->release(std::move(conn_));
}

Pool::Lease Pool::acquire() {
  std::unique_lock lock(mutex_);
  freed_.wait(lock, [&] { return !idle_.empty() || open_ < size_; });
  if (!idle_.empty()) {
    auto conn = std::move(idle_.back());
    idle_.pop_back();
    return Lease(*this, std::move(conn));
  }
  ++open_;
  lock.unlock();
  try {
    return Lease(*this, Connection::open(options_));
  } catch (...) {
    lock.lock();
    --open_;
    freed_.notify_one();
    throw;
  }
}

void Pool::dropIdle() {
  std::vector<std::unique_ptr<Connection>> closing;
  {
    std::lock_guard lock(mutex_);
    closing.swap(idle_);
    open_ -= static_cast<int>(closing.size());
  }
  freed_.notify_all();
}

void Pool::release(std::unique_ptr<Connection> conn) {
  bool keep = conn->healthy() && PQtransactionStatus(conn->raw()) == PQTRANS_IDLE;
  if (!keep) conn.reset();  // closed outside the lock would be nicer; it is quick
  std::lock_guard lock(mutex_);
  if (keep) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  freed_.notify_one();
}

std::string describeTarget(const ConnectOptions& options) {
  if (options.url.empty()) return "from the PG* environment";
  // Drop a password from URI userinfo (postgresql://user:secret@host/db) and
  // from key=value strings (password=secret).
  std::string url = options.url;
  auto scheme = url.find("://");
  if (scheme != std::string::npos) {
    auto at = url.find('@', scheme + 3);
    auto slash = url.find('/', scheme + 3);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      auto colon = url.find(':', scheme + 3);
      if (colon != std::string::npos && colon < at) url.replace(colon + 1, at - colon - 1, "***");
    }
    auto query = url.find("password=");
    if (query != std::string::npos) {
      auto end = url.find('&', query);
      url.replace(query + 9, (end == std::string::npos ? url.size() : end) - query - 9, "***");
    }
    return url;
  }
  auto key = url.find("password=");
  if (key != std::string::npos) {
    auto end = url.find(' ', key);
    url.replace(key + 9, (end == std::string::npos ? url.size() : end) - key - 9, "***");
  }
  return url;
}

}  // namespace ilpgw::pg
