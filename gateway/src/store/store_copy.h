// `ilp-gateway store copy`: an embedded SQLite store into an empty
// PostgreSQL store, every table with its keys as they are (seq, versions,
// lastUpdated, payload and quarantine ids, the audit chain), in one
// PostgreSQL transaction that commits only after verification: per table,
// the same row count and the same SHA-256 over all rows in key order on both
// sides. Run it with the gateway stopped (the SQLite side is read in one
// snapshot either way).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "store/pg_store.h"

namespace ilpgw {

struct CopiedTable {
  std::string table;
  std::int64_t rows = 0;
  std::string digest;  // hex SHA-256 of the rows in key order, equal on both sides
};

// Copies the SQLite store at `sqlite_path` (migrated forward first, as
// opening it does) into the PostgreSQL database of `target` (schema created
// if new; refused unless it holds no data).
StatusOr<std::vector<CopiedTable>> copySqliteToPostgres(const std::string& sqlite_path, const PgOptions& target);

}  // namespace ilpgw
