// libpq, wrapped for the PostgreSQL backend (pg_store.cc): connections that
// prepare each statement once and bind every value as a parameter, results
// read as text, errors as exceptions carrying the SQLSTATE, and a small pool.
// Only the store layer includes this header.
#pragma once

#include <libpq-fe.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"

namespace ilpgw::pg {

// What a connection is opened with. `url` is a libpq connection string or
// URI (postgresql://...); empty: libpq's PG* environment variables alone.
struct ConnectOptions {
  std::string url;
  std::string password;  // from store.password_file; empty = libpq's own (URL, PGPASSWORD, ~/.pgpass)
  // Statements run when a connection opens (session settings).
  std::vector<std::string> session_setup;
};

// One bound value. Text values go as text; `binary` values (bytea) as bytes.
struct Param {
  std::string value;
  bool null = false;
  bool binary = false;
};
inline Param text(std::string_view value) { return Param{std::string(value), false, false}; }
inline Param integer(std::int64_t value) { return Param{std::to_string(value), false, false}; }
inline Param bytes(std::string_view value) { return Param{std::string(value), false, true}; }
inline Param null() { return Param{{}, true, false}; }
inline Param optionalText(const std::optional<std::string>& value) { return value ? text(*value) : null(); }
// A text[] literal of `values` (for unnest($n::text[])).
Param textArray(const std::vector<std::string_view>& values);

// A failed statement or connection. `sqlstate` is empty when the server
// never answered (the connection is gone).
struct Error : std::runtime_error {
  Error(const std::string& message, std::string sqlstate, bool connection_lost)
      : std::runtime_error(message), sqlstate(std::move(sqlstate)), connection_lost(connection_lost) {}
  std::string sqlstate;
  bool connection_lost;
  // The database cannot serve now (gone, shutting down, overloaded, a lock or
  // statement timeout, a read-only standby): retry later, 503.
  bool unavailable() const;
};

class Result {
 public:
  Result() = default;
  explicit Result(PGresult* result) : result_(result, PQclear) {}
  int rows() const { return result_ ? PQntuples(result_.get()) : 0; }
  bool isNull(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  std::string text(int row, int column) const {
    return std::string(PQgetvalue(result_.get(), row, column),
                       static_cast<size_t>(PQgetlength(result_.get(), row, column)));
  }
  std::int64_t int64(int row, int column) const;
  // A bytea column (text output "\x<hex>") as its bytes.
  std::string bytea(int row, int column) const;
  // Rows changed by an INSERT / UPDATE / DELETE.
  std::int64_t affected() const;

 private:
  std::shared_ptr<PGresult> result_;
};

class Connection {
 public:
  // Connects and runs the session setup; throws Error.
  static std::unique_ptr<Connection> open(const ConnectOptions& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs SQL without parameters (may hold several statements; the result
  // is the last one's); throws Error.
  Result exec(std::string_view sql);
  // Runs one statement, prepared on this connection the first time its text
  // is seen; every value is a bound parameter. Throws Error.
  Result run(const std::string& sql, const std::vector<Param>& params = {});
  // Runs one statement without keeping it prepared (one-off, generated SQL).
  Result runOnce(const std::string& sql, const std::vector<Param>& params = {});
  // COPY ... FROM STDIN: beginCopy(sql), then rows in COPY text format
  // through putCopy(), then endCopy(). Throw Error.
  void beginCopy(const std::string& sql);
  void putCopy(std::string_view data);
  void endCopy();
  // Whether the connection can still be used (not lost).
  bool healthy() const;
  PGconn* raw() const { return conn_; }

 private:
  explicit Connection(PGconn* conn) : conn_(conn) {}
  Result check(PGresult* result, std::string_view what);

  PGconn* conn_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL text -> statement name
};

// Up to `size` connections, opened on demand; a lost connection is dropped
// and replaced by the next acquire().
class Pool {
 public:
  Pool(ConnectOptions options, int size) : options_(std::move(options)), size_(size < 1 ? 1 : size) {}
  ~Pool();

  class Lease {
   public:
    Lease(Pool& pool, std::unique_ptr<Connection> conn) : pool_(&pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    ~Lease();
    Connection* operator->() const { return conn_.get(); }
    Connection& operator*() const { return *conn_; }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  // Waits for a free connection (at most `size` are open); throws Error when
  // a new one cannot be opened.
  Lease acquire();
  // Closes every idle connection (after one was found lost: the others
  // most likely went with it).
  void dropIdle();
  const ConnectOptions& options() const { return options_; }

 private:
  void release(std::unique_ptr<Connection> conn);

  ConnectOptions options_;
  int size_;
  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;  // idle + leased
};

// The connection string without its password, for messages.
std::string describeTarget(const ConnectOptions& options);

}  // namespace ilpgw::pg
