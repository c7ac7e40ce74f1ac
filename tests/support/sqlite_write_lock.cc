#include "sqlite_write_lock.h"

#include <sqlite3.h>

#include <stdexcept>

namespace ilpgw::testing {

SqliteWriteLock::SqliteWriteLock(const std::string& db_path) {
  if (sqlite3_open(db_path.c_str(), &db_) != SQLITE_OK) {
    sqlite3_close(db_);
    throw std::runtime_error("cannot open " + db_path);
  }
  sqlite3_busy_timeout(db_, 10000);
  char* error = nullptr;
  if (sqlite3_exec(db_, "BEGIN EXCLUSIVE", nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error != nullptr ? error : "?";
    sqlite3_free(error);
    sqlite3_close(db_);
    throw std::runtime_error("BEGIN EXCLUSIVE on " + db_path + ": " + message);
  }
}

SqliteWriteLock::~SqliteWriteLock() { release(); }

void SqliteWriteLock::release() {
  if (db_ == nullptr) return;
  sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(db_);
  db_ = nullptr;
}

}  // namespace ilpgw::testing
