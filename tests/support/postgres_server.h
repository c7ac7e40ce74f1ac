// A real PostgreSQL server for tests: a private cluster in a temporary
// directory, reachable only through a Unix socket in that directory, run as
// an unprivileged user when the tests run as root (postgres refuses root),
// stopped and removed when the test process exits, and killed with it if the
// process dies (PR_SET_PDEATHSIG). The cluster is copied from a template made
// once per machine with initdb (under a file lock), so each test process
// starts in well under a second.
//
// PostgreSQL missing is a test failure, never a skip: install it with
// scripts/install-deps.sh (Debian 12: postgresql-15), or point
// ILPGW_POSTGRES_BIN at a directory holding initdb, postgres and psql.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "test_support.h"

namespace ilpgw::testing {

struct PostgresOptions {
  bool fsync = true;  // the durability the gateway relies on; off only for speed-only tests
  int max_connections = 200;
};

class PostgresServer {
 public:
  explicit PostgresServer(PostgresOptions options = {});
  ~PostgresServer();  // immediate shutdown, directory removed
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // The test process's shared server, started on first use. Call it from the
  // main thread: the server is tied to the thread that started it.
  static PostgresServer& shared();

  // A new, empty database; returns its name.
  std::string createDatabase();
  // The libpq URI of `database` on this server.
  std::string url(const std::string& database) const;
  // Runs SQL with psql against `database`; returns what it printed
  // (unaligned, tuples only). Throws when psql fails.
  std::string sql(const std::string& database, const std::string& statement) const;

  // Outages: stop (fast shutdown: sessions are disconnected) and start again.
  void stop();
  void start();
  bool running() const { return pid_ > 0; }
  std::string log() const;

 private:
  void waitReady();

  PostgresOptions options_;
  TempDir dir_;
  std::string data_dir_;
  std::string socket_dir_;
  std::string log_path_;
  pid_t pid_ = -1;
  int next_database_ = 0;
};

// Where initdb, postgres and psql are ("" when PostgreSQL is not installed).
std::string postgresBinDir();

}  // namespace ilpgw::testing
