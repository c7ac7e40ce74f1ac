// ilp-gateway: the command-line entry point. Sub-commands:
//   serve           run the HTTPS gateway
//   map             map a file offline with one adapter and print the Bundle
//   adapter check   load an adapter in a child process and run its samples
//   adapter new     start a new adapter from the template
//   config-reference print every gateway.json key
//   quarantine       list, show and reprocess quarantined payloads/records
//   outbox           list and resend store-and-forward dead letters
//   store check      integrity check of the data directory
//   client, key, audit  security administration (docs/security.md)
//   version
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "adapter_tools.h"
#include "audit.h"
#include "clients.h"
#include "config.h"
#include "token_service.h"
#include "gateway.h"
#include "quarantine.h"
#include "log.h"
#include "outcome.h"
#include "server.h"

namespace {

constexpr const char* kUsage = R"(usage: ilp-gateway <command> [options]

commands:
  serve                       run the gateway
  map --adapter NAME FILE     map FILE offline; prints a FHIR Bundle, or an
                              OperationOutcome and exit 1 when a record fails
  adapter check FILE.so       load the adapter in a child process, report its
                              name, version, ABI, formats and options, map its
                              samples and validate the output; exit 1 on any
                              problem (ABI mismatch, missing symbol, crash,
                              hang, invalid FHIR, golden-file mismatch)
      --samples DIR           sample payloads (default: <dir of FILE>/samples/<name>);
                              golden files beside them: X.expected.json, X.outcome.json
      --options JSON          the adapter's config block to check (default {})
      --timeout SECONDS       kill the adapter after this long (default 60)
      --update-golden         (re)write the golden files from the current output
                              (samples map as organization dev-puskesmas, +07:00,
                              unless --organization is given)
  adapter new NAME [DIR]      copy the adapter template to DIR (default ./NAME)
      --template-dir DIR      template to use (default: the installed one)
  config-reference            print every gateway.json key
  quarantine list [--status open|resolved] [--adapter NAME] [--after ID] [--limit N]
                              quarantined payloads and records, one JSON per line
  quarantine show ID          one entry with its OperationOutcome
  quarantine reprocess ID|--all [--adapter NAME]
                              run entries again through the current adapters and
                              mappings; exit 1 when some are still failing
  outbox list [--state pending|dead] [--after SEQ] [--limit N]
  outbox resend SEQ|--all     send dead letters again (a running gateway picks
                              them up at its next poll)
  store check                 integrity check of the store (--data DIR)
  client add --role ROLE [--org ORG] [--id ID] [--cert PEM] [--local-only]
                              register a client (ROLE: clinic, puller, admin;
                              clinic needs --org); prints the secret once
  client list                 registered clients (never secrets)
  client revoke ID            revoke a client; its tokens stop working at once
  client rotate ID            new secret for a client; prints it once
  key rotate                  new token signing key; old keys verify until
                              their tokens expire
  audit verify                recompute the audit hash chain; exit 1 and name
                              the first broken event when edited or deleted
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

signals (serve): SIGTERM/SIGINT finish in-flight requests and stop; SIGHUP
reloads the plugin list, adapter libraries and mapping files (like
POST /admin/plugins/reload) and keeps the old set if the new one is broken.
)";

struct Args {
  std::string command;
  std::string config_path;
  std::vector<std::pair<std::string, std::string>> overrides;
  std::string adapter;
  std::vector<std::string> files;
  // durability commands
  std::string status;
  std::string state;
  long long after = 0;
  int limit = 100;
  bool all = false;
  // adapter check / new
  std::string samples_dir;
  std::string options_json = "{}";
  int timeout_s = 60;
  bool update_golden = false;
  std::string template_dir;
  // client add
  std::string role;
  std::string org;
  std::string client_id;
  std::string cert;
  bool local_only = false;
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
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto config = buildConfig(args);
  if (!config.isOk()) return fail(config.status().message());
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
                                             " adapter(s), store " + c.storePath());
  // The line tests and scripts wait for; stdout so it is easy to capture.
  std::printf("ilp-gateway listening port=%d\n", port.value());
  std::fflush(stdout);

  ilpgw::Gateway& running = *gateway.value();
  std::thread waiter([&server, &running, signals] {
    int received = 0;
    for (;;) {
      sigwait(&signals, &received);
      if (received != SIGHUP) break;
      ilpgw::logLine(ilpgw::LogLevel::kInfo, "SIGHUP: reloading plugins and mappings");
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
  gateway.value().reset();  // the store drains its queue and closes
  ilpgw::logLine(ilpgw::LogLevel::kInfo, "stopped");
  return 0;
}

// Who ran an administrative command, for the audit trail.
std::string cliActor() {
  const passwd* pw = getpwuid(getuid());
  return std::string("cli:") + (pw != nullptr ? pw->pw_name : std::to_string(getuid()));
}

ilpgw::StatusOr<std::unique_ptr<ilpgw::Store>> openStore(const ilpgw::Config& config) {
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  return ilpgw::openSqliteStore(ilpgw::SqliteOptions{config.storePath(), config.store_batch_max});
}

void printCredentials(const ilpgw::IssuedCredentials& issued) {
  const auto& r = issued.record;
  std::printf("client_id=%s\nclient_secret=%s\nrole=%s\n", r.client_id.c_str(), issued.secret.c_str(), r.role.c_str());
  if (!r.organization.empty()) std::printf("organization=%s\n", r.organization.c_str());
  if (!r.cert_thumbprint.empty()) std::printf("cert_x5t_s256=%s\n", r.cert_thumbprint.c_str());
  if (r.local_only) std::printf("local_only=true\n");
  std::fprintf(stderr, "The secret is shown only now and stored only as a salted hash: keep it safe.\n");
}

int client(const Args& args) {
  if (args.files.empty()) return fail("client needs add, list, revoke or rotate");
  auto config = buildConfig(args);
  if (!config.isOk()) return fail(config.status().message());
  auto store = openStore(config.value());
  if (!store.isOk()) return fail(store.status().message());
  ilpgw::Store& s = *store.value();
  const std::string& action = args.files[0];
  if (action == "add" && args.files.size() == 1) {
    auto issued = ilpgw::addClient(s, {args.client_id, args.role, args.org, args.cert, args.local_only}, cliActor());
    if (!issued.isOk()) return fail(issued.status().message());
    printCredentials(issued.value());
    return 0;
  }
  if (action == "list" && args.files.size() == 1) {
    auto clients = s.listClients();
    if (!clients.isOk()) return fail(clients.status().message());
    std::printf("%-32s %-7s %-24s %-6s %-5s %s\n", "client_id", "role", "organization", "cert", "local", "status");
    for (const auto& c : clients.value()) {
      std::printf("%-32s %-7s %-24s %-6s %-5s %s\n", c.client_id.c_str(), c.role.c_str(),
                  c.organization.empty() ? "*" : c.organization.c_str(), c.cert_thumbprint.empty() ? "-" : "bound",
                  c.local_only ? "yes" : "no", c.revoked_at.empty() ? "active" : ("revoked " + c.revoked_at).c_str());
    }
    return 0;
  }
  if (action == "revoke" && args.files.size() == 2) {
    ilpgw::Status revoked = ilpgw::revokeClient(s, args.files[1], cliActor());
    if (!revoked.isOk()) return fail(revoked.message());
    std::printf("revoked %s\n", args.files[1].c_str());
    return 0;
  }
  if (action == "rotate" && args.files.size() == 2) {
    auto issued = ilpgw::rotateClientSecret(s, args.files[1], cliActor());
    if (!issued.isOk()) return fail(issued.status().message());
    printCredentials(issued.value());
    return 0;
  }
  return fail("usage: client add|list|revoke ID|rotate ID");
}

int key(const Args& args) {
  if (args.files != std::vector<std::string>{"rotate"}) return fail("usage: key rotate");
  auto config = buildConfig(args);
  if (!config.isOk()) return fail(config.status().message());
  auto kid = ilpgw::rotateSigningKey(config.value().signingKeyDir(), config.value().token_ttl_s);
  if (!kid.isOk()) return fail(kid.status().message());
  std::printf("new signing key %s in %s\n", kid.value().c_str(), config.value().signingKeyDir().c_str());
  return 0;
}

int audit(const Args& args) {
  if (args.files != std::vector<std::string>{"verify"}) return fail("usage: audit verify");
  auto config = buildConfig(args);
  if (!config.isOk()) return fail(config.status().message());
  if (!std::ifstream(config.value().storePath())) return fail("no database at " + config.value().storePath());
  auto store = openStore(config.value());
  if (!store.isOk()) return fail(store.status().message());
  auto result = ilpgw::verifyAuditChain(*store.value());
  if (!result.isOk()) return fail(result.status().message());
  if (!result.value().ok) {
    std::printf("audit chain BROKEN at event %lld: %s\n", static_cast<long long>(result.value().broken_seq),
                result.value().problem.c_str());
    return 1;
  }
  std::printf("audit chain ok: %lld events, head %s\n", static_cast<long long>(result.value().checked),
              result.value().head_hash.empty() ? "(empty)" : result.value().head_hash.c_str());
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

// ---- durability commands ---------------------------------------------------

bool parseId(const std::string& text, long long& out) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos) return false;
  out = std::stoll(text);
  return true;
}

int storeCommand(const Args& args) {
  if (args.files.size() != 1 || args.files[0] != "check") return fail("usage: store check --data DIR");
  auto config = buildConfig(args);
  if (!config.isOk()) return fail(config.status().message());
  std::string path = config.value().storePath();
  if (!std::ifstream(path)) return fail("no store at " + path);
  auto store = ilpgw::openSqliteStore(ilpgw::SqliteOptions{path, 1});
  if (!store.isOk()) return fail(store.status().message());
  ilpgw::Status integrity = store.value()->checkIntegrity();
  if (!integrity.isOk()) {
    std::printf("%s: %s\n", path.c_str(), integrity.message().c_str());
    return 1;
  }
  auto stats = store.value()->stats();
  std::printf("%s: ok", path.c_str());
  if (stats.isOk()) {
    std::printf(" (%lld resources, %lld versions, %lld payloads, %lld open quarantine entries)",
                static_cast<long long>(stats->resources), static_cast<long long>(stats->versions),
                static_cast<long long>(stats->payloads), static_cast<long long>(stats->quarantined_open));
  }
  std::printf("\n");
  return 0;
}

int quarantineCommand(const Args& args) {
  std::string sub = args.files.empty() ? "" : args.files[0];
  auto config = buildConfig(args);
  if (!config.isOk()) return fail(config.status().message());
  if (sub == "list" || sub == "show") {
    auto store = ilpgw::openSqliteStore(ilpgw::SqliteOptions{config.value().storePath(), 1});
    if (!store.isOk()) return fail(store.status().message());
    if (sub == "show") {
      long long id = 0;
      if (args.files.size() != 2 || !parseId(args.files[1], id)) return fail("usage: quarantine show ID");
      auto entry = store.value()->readQuarantine(id);
      if (!entry.isOk()) return fail(entry.status().message());
      if (!entry.value()) return fail("quarantine entry " + args.files[1] + " does not exist");
      std::cout << ilpgw::quarantineEntryJson(*entry.value(), true) << "\n";
      return 0;
    }
    ilpgw::QuarantineFilter filter{args.status, args.adapter, args.after, args.limit};
    auto page = store.value()->listQuarantine(filter);
    if (!page.isOk()) return fail(page.status().message());
    for (const auto& entry : page.value()) std::cout << ilpgw::quarantineEntryJson(entry, false) << "\n";
    return 0;
  }
  if (sub != "reprocess") return fail("usage: quarantine list|show|reprocess (see --help)");
  long long id = 0;
  bool one = args.files.size() == 2 && parseId(args.files[1], id);
  if (one == args.all) return fail("usage: quarantine reprocess ID|--all [--adapter NAME]");
  auto gateway = ilpgw::Gateway::start(config.value(), {}, false);
  if (!gateway.isOk()) return fail(gateway.status().message());
  std::vector<ilpgw::ReprocessResult> results;
  if (one) {
    results.push_back(ilpgw::reprocessQuarantine(*gateway.value(), id));
  } else {
    ilpgw::QuarantineFilter filter;
    filter.adapter = args.adapter;
    results = ilpgw::reprocessQuarantineMatching(*gateway.value(), filter, 1000000);
  }
  int code = 0;
  for (const auto& r : results) {
    std::cout << ilpgw::reprocessResultJson(r) << "\n";
    if (r.http_status != 200) code = 2;
    else if (r.status != "resolved" && code == 0) code = 1;
  }
  return code;
}

int outboxCommand(const Args& args) {
  std::string sub = args.files.empty() ? "" : args.files[0];
  auto config = buildConfig(args);
  if (!config.isOk()) return fail(config.status().message());
  auto store = ilpgw::openSqliteStore(ilpgw::SqliteOptions{config.value().storePath(), 1});
  if (!store.isOk()) return fail(store.status().message());
  if (sub == "list") {
    auto page = store.value()->listOutbox(args.state, args.after, args.limit);
    if (!page.isOk()) return fail(page.status().message());
    for (const auto& item : page.value()) {
      std::printf("%lld %s/%s/_history/%lld %s attempts=%d %s\n", static_cast<long long>(item.seq), item.type.c_str(),
                  item.id.c_str(), static_cast<long long>(item.version), item.state.c_str(), item.attempts,
                  item.last_error.c_str());
    }
    return 0;
  }
  if (sub == "resend") {
    long long seq = 0;
    bool one = args.files.size() == 2 && parseId(args.files[1], seq);
    if (one == args.all) return fail("usage: outbox resend SEQ|--all");
    auto changed = store.value()->resendOutbox(one ? seq : 0);
    if (!changed.isOk()) return fail(changed.status().message());
    std::printf("requeued %lld\n", static_cast<long long>(changed.value()));
    return one && changed.value() == 0 ? 1 : 0;
  }
  return fail("usage: outbox list|resend (see --help)");
}

int adapterCommand(const Args& args) {
  if (args.files.empty()) return fail("adapter needs a sub-command: check FILE.so | new NAME [DIR]");
  const std::string& sub = args.files[0];
  if (sub == "check") {
    if (args.files.size() != 2) return fail("adapter check needs one FILE.so");
    auto config = buildConfig(args);
    if (!config.isOk()) return fail(config.status().message());
    // Golden files must not depend on which gateway.json happens to be in the
    // working directory: samples map as the default facility unless
    // --organization says otherwise.
    bool organization_given = false;
    for (const auto& [flag, value] : args.overrides) organization_given |= flag == "--organization";
    if (!organization_given) config.value().organization_id = ilpgw::Config{}.organization_id;
    config.value().timezone_offset = ilpgw::Config{}.timezone_offset;
    ilpgw::AdapterCheckOptions options;
    options.library = args.files[1];
    options.samples_dir = args.samples_dir;
    options.options_json = args.options_json;
    options.timeout_s = args.timeout_s;
    options.update_golden = args.update_golden;
    return ilpgw::checkAdapter(options, config.value(), stdout);
  }
  if (sub == "new") {
    if (args.files.size() < 2 || args.files.size() > 3) return fail("adapter new needs NAME and optionally DIR");
    std::string dir = args.files.size() == 3 ? args.files[2] : args.files[1];
    std::string template_dir = args.template_dir.empty() ? ilpgw::defaultTemplateDir() : args.template_dir;
    ilpgw::Status made = ilpgw::newAdapterFromTemplate(args.files[1], dir, template_dir);
    if (!made.isOk()) return fail(made.message());
    std::printf("created adapter %s in %s; next: see %s/README.md\n", args.files[1].c_str(), dir.c_str(), dir.c_str());
    return 0;
  }
  return fail("unknown adapter sub-command " + sub + " (check, new)");
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
      } else if (arg == "--status") {
        args.status = value();
      } else if (arg == "--state") {
        args.state = value();
      } else if (arg == "--all") {
        args.all = true;
      } else if (arg == "--after" || arg == "--limit") {
        long long number = 0;
        std::string text = value();
        if (!parseId(text, number)) return fail(arg + " needs a number");
        if (arg == "--after") args.after = number;
        else args.limit = static_cast<int>(std::min<long long>(number, 100000));
      } else if (arg == "--samples") {
        args.samples_dir = value();
      } else if (arg == "--options") {
        args.options_json = value();
      } else if (arg == "--template-dir") {
        args.template_dir = value();
      } else if (arg == "--update-golden") {
        args.update_golden = true;
      } else if (arg == "--timeout") {
        args.timeout_s = std::stoi(value());
      } else if (arg == "--role") {
        args.role = value();
      } else if (arg == "--org") {
        args.org = value();
      } else if (arg == "--id") {
        args.client_id = value();
      } else if (arg == "--cert") {
        args.cert = value();
      } else if (arg == "--local-only") {
        args.local_only = true;
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
  if (args.command == "quarantine") return quarantineCommand(args);
  if (args.command == "outbox") return outboxCommand(args);
  if (args.command == "store") return storeCommand(args);
  if (args.command == "adapter") return adapterCommand(args);
  if (args.command == "client") return client(args);
  if (args.command == "key") return key(args);
  if (args.command == "audit") return audit(args);
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
