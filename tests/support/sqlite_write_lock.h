// Holds SQLite's write lock on a gateway's database from outside the gateway,
// as another program or a stuck backup would: the gateway's writer waits for
// it, gives up and answers 503 until the lock is released.
#pragma once

#include <string>

struct sqlite3;

namespace ilpgw::testing {

class SqliteWriteLock {
 public:
  explicit SqliteWriteLock(const std::string& db_path);  // throws if the lock cannot be taken
  ~SqliteWriteLock();
  SqliteWriteLock(const SqliteWriteLock&) = delete;
  SqliteWriteLock& operator=(const SqliteWriteLock&) = delete;

  void release();

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace ilpgw::testing
