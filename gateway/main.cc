// ilp-gateway: the command-line entry point. Sub-commands:
//   serve           run the HTTPS gateway
//   map             map a file offline with one adapter and print the Bundle
//   config-reference print every gateway.json key
//   version
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "config.h"
#include "gateway.h"
#include "log.h"
#include "outcome.h"
#include "server.h"

namespace {

constexpr const char* kUsage = R"(usage: ilp-gateway <command> [options]

commands:
  serve                       run the gateway
  map --adapter NAME FILE     map FILE offline; prints a FHIR Bundle, or an
                              OperationOutcome and exit 1 when a record fails
  config-reference            print every gateway.json key
  version

options (override gateway.json):
  --config FILE               configuration file (default: gateway.json if present)
  --listen HOST:PORT          address to serve on
  --data DIR                  data directory (SQLite database)
  --plugin-dir DIR            where relative plugin paths start
  --mappings DIR              mapping files and ConceptMaps
  --organization ID           facility Organization id
  --threads N                 worker threads
  --log-level LEVEL           debug, info, warning, error
)";

struct Args {
  std::string command;
  std::string config_path;
  std::vector<std::pair<std::string, std::string>> overrides;
  std::string adapter;
  std::vector<std::string> files;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "ilp-gateway: %s\n", message.c_str());
  return 2;
}

ilpgw::StatusOr<ilpgw::Config> buildConfig(const Args& args) {
  ilpgw::Config config;
  std::string path = args.config_path;
  if (path.empty() && std::ifstream("gateway.json")) path = "gateway.json";
  if (!path.empty()) {
    auto loaded = ilpgw::loadConfigFile(path);
    if (!loaded.isOk()) return loaded.status();
    config = loaded.value();
  }
  for (const auto& [flag, value] : args.overrides) {
    if (flag == "--listen") {
      ilpgw::Status s = ilpgw::applyListen(config, value);
      if (!s.isOk()) return s;
    } else if (flag == "--data") {
      config.data_dir = value;
    } else if (flag == "--plugin-dir") {
      config.plugin_dir = value;
    } else if (flag == "--mappings") {
      config.mappings_dir = value;
    } else if (flag == "--organization") {
      config.organization_id = value;
    } else if (flag == "--log-level") {
      config.log_level = value;
    } else if (flag == "--threads") {
      try {
        config.threads = std::stoi(value);
      } catch (...) {
        return ilpgw::Status(ilpgw::StatusCode::kInvalidArgument, "--threads needs a number");
      }
    }
  }
  if (config.log_level == "debug") ilpgw::setLogLevel(ilpgw::LogLevel::kDebug);
  else if (config.log_level == "warning") ilpgw::setLogLevel(ilpgw::LogLevel::kWarning);
  else if (config.log_level == "error") ilpgw::setLogLevel(ilpgw::LogLevel::kError);
  else if (config.log_level != "info") {
    return ilpgw::Status(ilpgw::StatusCode::kInvalidArgument, "unknown log level " + config.log_level);
  }
  return config;
}

int serve(const Args& args) {
  // Block termination signals in every thread; one thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto config = buildConfig(args);
  if (!config.isOk()) return fail(config.status().message());
  auto gateway = ilpgw::Gateway::start(config.value());
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
                                             " adapter(s), store " + c.storePath());
  // The line tests and scripts wait for; stdout so it is easy to capture.
  std::printf("ilp-gateway listening port=%d\n", port.value());
  std::fflush(stdout);

  std::thread waiter([&server, signals] {
    int received = 0;
    sigwait(&signals, &received);
    ilpgw::logLine(ilpgw::LogLevel::kInfo, "signal " + std::to_string(received) + ": finishing in-flight requests");
    server.value()->stop();
  });
  server.value()->serve();
  // serve() returned: either a signal stopped it or the listener failed.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  server.value().reset();   // joins worker threads: in-flight requests finish
  gateway.value().reset();  // the store drains its queue and closes
  ilpgw::logLine(ilpgw::LogLevel::kInfo, "stopped");
  return 0;
}

int map(const Args& args) {
  if (args.adapter.empty() || args.files.size() != 1) return fail("map needs --adapter NAME and one FILE");
  auto config = buildConfig(args);
  if (!config.isOk()) return fail(config.status().message());
  auto set = ilpgw::loadAdapterSet(config.value());
  if (!set.isOk()) return fail(set.status().message());
  auto it = set.value()->adapters.find(args.adapter);
  if (it == set.value()->adapters.end()) return fail("no adapter named " + args.adapter + " in the configuration");
  std::ifstream in(args.files[0], std::ios::binary);
  if (!in) return fail("cannot read " + args.files[0]);
  std::stringstream text;
  text << in.rdbuf();
  ilpgw::MappedPayload mapped = ilpgw::mapPayload(it->second, *set.value(), config.value(), text.str(), "");
  std::vector<ilpgw::sdk::Issue> problems = mapped.payload_issues;
  bool failed = ilpgw::isBlocking(mapped.payload_issues);
  for (const auto& record : mapped.records) {
    problems.insert(problems.end(), record.issues.begin(), record.issues.end());
    if (!record.accepted) failed = true;
  }
  if (failed) {
    std::cout << ilpgw::outcomeJson(problems) << "\n";
    return 1;
  }
  std::cout << ilpgw::collectionBundle(mapped) << "\n";
  if (!problems.empty()) std::cerr << ilpgw::outcomeJson(problems) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return argv[++i];
    };
    try {
      if (arg == "-h" || arg == "--help") {
        std::fputs(kUsage, stdout);
        return 0;
      } else if (arg == "--config") {
        args.config_path = value();
      } else if (arg == "--adapter") {
        args.adapter = value();
      } else if (arg == "--listen" || arg == "--data" || arg == "--plugin-dir" || arg == "--mappings" ||
                 arg == "--organization" || arg == "--threads" || arg == "--log-level") {
        args.overrides.emplace_back(arg, value());
      } else if (arg.rfind("--", 0) == 0) {
        return fail("unknown option " + arg + "\n" + kUsage);
      } else if (args.command.empty()) {
        args.command = arg;
      } else {
        args.files.push_back(arg);
      }
    } catch (const std::exception& e) {
      return fail(e.what());
    }
  }
  if (args.command == "serve") return serve(args);
  if (args.command == "map") return map(args);
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
