#include "store/sqlite_lock_wait.h"

#include <cstdint>
#include <thread>

namespace ilpgw {
namespace {

constexpr std::chrono::milliseconds kPollEvery{1};

// `count` is how many times this wait has already retried; each retry slept
// kPollEvery, so count * kPollEvery is a lower bound of the time waited.
int retryUntilWaited(void* wait_ms, int count) {
  auto limit = reinterpret_cast<std::intptr_t>(wait_ms);
  if (static_cast<std::intptr_t>(count) * kPollEvery.count() >= limit) return 0;
  std::this_thread::sleep_for(kPollEvery);
  return 1;
}

}  // namespace

void setLockWait(sqlite3* db, std::chrono::milliseconds wait) {
  sqlite3_busy_handler(db, &retryUntilWaited, reinterpret_cast<void*>(static_cast<std::intptr_t>(wait.count())));
}

}  // namespace ilpgw
