// How a SQLite connection waits for a lock another connection or process holds.
//
// SQLite's own busy timeout sleeps ever longer between attempts (up to 100 ms
// each). A serving gateway's writer holds the write lock for most of every busy
// second and releases it for microseconds between two group commits, so a
// command run beside it (backup, a client added, targets imported) that
// retries every 100 ms can miss every gap and fail with "database is locked".
// This handler retries every millisecond instead, until `wait` has passed.
#pragma once

#include <sqlite3.h>

#include <chrono>

namespace ilpgw {

void setLockWait(sqlite3* db, std::chrono::milliseconds wait);

}  // namespace ilpgw
