// ilp-gateway: the command-line entry point; each command group lives in
// its own file in this folder (kUsage in args.cc lists them).
#include <cstdio>

#include "cli/args.h"
#include "cli/commands.h"
#include "ingest/gateway.h"

int main(int argc, char** argv) {
  using namespace ilpgw::cli;
  int exit_code = 0;
  auto parsed = parseArgs(argc, argv, exit_code);
  if (!parsed.isOk()) return exit_code;
  const Args& args = parsed.value();
  if (args.command == "serve") return serveCommand(args);
  if (args.command == "map") return mapCommand(args);
  if (args.command == "quarantine") return quarantineCommand(args);
  if (args.command == "outbox") return outboxCommand(args);
  if (args.command == "store") return storeCommand(args);
  if (args.command == "adapter") return adapterCommand(args);
  if (args.command == "client") return clientCommand(args);
  if (args.command == "user") return userCommand(args);
  if (args.command == "key") return keyCommand(args);
  if (args.command == "audit") return auditCommand(args);
  if (args.command == "sasaran") return sasaranCommand(args);
  if (args.command == "backup") return backupCommand(args);
  if (args.command == "restore") return restoreCommand(args);
  if (args.command == "doctor") return doctorCommand(args);
  if (args.command == "config-reference") {
    std::fputs(ilpgw::configReference().c_str(), stdout);
    return 0;
  }
  if (args.command == "version") {
    std::printf("ilp-gateway %s (adapter ABI %u)\n", ILPGW_VERSION, ilpgw::sdk::kAbiVersion);
    return 0;
  }
  std::fputs(kUsage, stderr);
  return 2;
}
