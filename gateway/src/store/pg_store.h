// The PostgreSQL backend: several gateway instances share one database. Each
// instance has one writer connection with group commit (like the SQLite
// backend) and a small pool for reads, outbox claims and export jobs. Every
// commit takes the single commit_clock row FOR UPDATE first and holds it
// until COMMIT, so commits of all instances are serialised: seq and
// lastUpdated are assigned in commit order (store.h; docs/scale-out.md says
// why this is enough). Only the store layer (and its tests) include this header; it needs no libpq headers.
#pragma once

#include <memory>
#include <string>

#include "store/store.h"

namespace ilpgw {

struct PgOptions {
  // libpq connection URI or key=value string; empty = the PG* environment.
  std::string url;
  std::string password;  // from store.password_file; empty = libpq's own (URL, PGPASSWORD, ~/.pgpass)
  int pool_size = 8;    // read / outbox / export-job connections (the writer has its own)
  int batch_max = 256;  // most WriteBatches in one transaction
  bool outbox = false;  // queue every new version for the upstream sender
  bool must_exist = false;  // refuse a database without the gateway's schema
};

StatusOr<std::unique_ptr<Store>> openPgStore(const PgOptions& options);

// The schema version this build creates and migrates to.
int pgSchemaVersion();

// The connection string with any password replaced by ***, for messages.
std::string pgDescribeTarget(const std::string& url);

}  // namespace ilpgw
