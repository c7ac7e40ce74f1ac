// ilp-gateway serve: the gateway until a signal stops it.
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "ingest/adapter_tools.h"
#include "security/audit.h"
#include "security/clients.h"
#include "base/config.h"
#include "security/token_service.h"
#include "ingest/gateway.h"
#include "ingest/quarantine.h"
#include "base/log.h"
#include "base/time_util.h"
#include "fhir/outcome.h"
#include "http/server.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/scheduled_backups.h"

namespace ilpgw::cli {

int serveCommand(const Args& args) {
  // Block termination signals in every thread; one thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto config = buildConfig(args);
  if (!config.isOk()) return fail(config.status().message());
  // Read once: a reload keeps the format the running gateway started with.
  ilpgw::setLogFormat(config->log_format == "json" ? ilpgw::LogFormat::kJson : ilpgw::LogFormat::kText);
  // A reload re-reads gateway.json and re-applies the same command-line
  // overrides, so --plugin-dir and --mappings keep meaning what they meant.
  auto gateway = ilpgw::Gateway::start(config.value(), [args] { return buildConfig(args); });
  if (!gateway.isOk()) return fail(gateway.status().message());
  auto server = ilpgw::makeServer(*gateway.value());
  if (!server.isOk()) return fail(server.status().message());
  auto port = server.value()->bind();
  if (!port.isOk()) return fail(port.status().message());

  const ilpgw::Config& c = gateway.value()->config();
  std::string scheme = c.plain_http ? "http" : "https";
  std::string host = c.listen_host.find(':') != std::string::npos ? "[" + c.listen_host + "]" : c.listen_host;
  ilpgw::logLine(ilpgw::LogLevel::kInfo, "listening on " + scheme + "://" + host + ":" + std::to_string(port.value()) +
                                             " with " + std::to_string(gateway.value()->adapters()->adapters.size()) +
                                             " adapter(s), store " + ilpgw::storeLocation(c));
  // The line tests and scripts wait for, on stdout so it is easy to capture,
  // whatever the log level; a JSON line too when logs are JSON.
  std::string ready = "ilp-gateway listening port=" + std::to_string(port.value());
  if (ilpgw::logFormat() == ilpgw::LogFormat::kJson) {
    ready = ilpgw::formatLogLine(ilpgw::LogFormat::kJson, ilpgw::nowInstant(), ilpgw::LogLevel::kInfo, ready,
                                 {{"port", port.value()}});
  }
  std::printf("%s\n", ready.c_str());
  std::fflush(stdout);

  ilpgw::Gateway& running = *gateway.value();
  auto backups = startScheduledBackups(running);
  std::thread waiter([&server, &running, signals] {
    int received = 0;
    for (;;) {
      sigwait(&signals, &received);
      if (received != SIGHUP) break;
      ilpgw::logLine(ilpgw::LogLevel::kInfo, "SIGHUP: reloading the config, plugins and mappings");
      (void)running.reload();  // logs success or the reason it was refused
    }
    ilpgw::logLine(ilpgw::LogLevel::kInfo, "signal " + std::to_string(received) + ": finishing in-flight requests");
    server.value()->stop();
  });
  server.value()->serve();
  // serve() returned: either a signal stopped it or the listener failed.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  server.value().reset();   // joins worker threads: in-flight requests finish
  backups.reset();          // before the store closes
  gateway.value().reset();  // the store drains its queue and closes
  ilpgw::logLine(ilpgw::LogLevel::kInfo, "stopped");
  return 0;
}

}  // namespace ilpgw::cli
