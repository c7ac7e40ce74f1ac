// The commands of ilp-gateway, one function per command; main.cc dispatches.
#pragma once

#include "cli/args.h"

namespace ilpgw::cli {

int serveCommand(const Args& args);
int mapCommand(const Args& args);
int adapterCommand(const Args& args);
int storeCommand(const Args& args);
int quarantineCommand(const Args& args);
int outboxCommand(const Args& args);
int clientCommand(const Args& args);
int keyCommand(const Args& args);
int auditCommand(const Args& args);
int sasaranCommand(const Args& args);
int backupCommand(const Args& args);
int restoreCommand(const Args& args);
int doctorCommand(const Args& args);

}  // namespace ilpgw::cli
