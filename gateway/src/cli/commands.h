// The commands of ilp-gateway, one function per command; main.cc dispatches.
#pragma once

#include <chrono>

#include "cli/args.h"
#include "store/store.h"

namespace ilpgw::cli {

// How a command opens the store: one commit at a time, and patient with a
// gateway that may be serving from the same store meanwhile.
inline ilpgw::StoreOpenOptions commandStore(bool must_exist = true) {
  return {.batch_max = 1, .must_exist = must_exist, .lock_wait = std::chrono::seconds(60)};
}

int serveCommand(const Args& args);
int mapCommand(const Args& args);
int adapterCommand(const Args& args);
int storeCommand(const Args& args);
int quarantineCommand(const Args& args);
int outboxCommand(const Args& args);
int clientCommand(const Args& args);
int userCommand(const Args& args);
int keyCommand(const Args& args);
int auditCommand(const Args& args);
int sasaranCommand(const Args& args);
int backupCommand(const Args& args);
int restoreCommand(const Args& args);
int doctorCommand(const Args& args);

}  // namespace ilpgw::cli
