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
#include "fhir/outcome.h"
#include "http/server.h"
#include "cli/args.h"
#include "cli/commands.h"

namespace ilpgw::cli {

const char* const kUsage = R"(usage: ilp-gateway <command> [options]

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
  store reindex               rewrite the search index of every resource from
                              today's search parameters (--data DIR)
  store copy --from sqlite:DIR --to postgresql:URL
                              copy a stopped gateway's SQLite store into an
                              empty PostgreSQL store, verified table by table
                              (password: store.password_file of --config)
  client add --role ROLE [--org ORG] [--id ID] [--cert PEM] [--local-only]
             [--jwks FILE | --jwks-url URL]
                              register a client (ROLE: clinic, puller, admin;
                              clinic needs --org); prints the secret once, or
                              with a JWKS no secret: the client signs RS384 or
                              ES384 assertions (SMART Backend Services)
  client list                 registered clients (never secrets)
  client revoke ID            revoke a client; its tokens stop working at once
  client rotate ID            new secret for a client; prints it once
  user add NAME --role ROLE [--org ORG[,ORG...]] [--password-file FILE|-]
                              a person who logs in to the pages (ROLE:
                              district: every organization or the --org list;
                              puskesmas: exactly one --org; admin); the
                              password is read from FILE, stdin (-) or asked
                              on the terminal, never from the command line
  user list                   users, their roles and organizations (never passwords)
  user disable NAME           the user can no longer log in; open sessions end
  user passwd NAME [--password-file FILE|-]
                              new password; open sessions end
  key rotate                  new token signing key; old keys verify until
                              their tokens expire
  audit verify                recompute the audit hash chain; exit 1 and name
                              the first broken event when edited or deleted
  sasaran import FILE.csv     load the yearly PWS targets (sasaran) per
                              puskesmas, desa and indicator (docs/pws.md)
  backup FILE                 copy the store into FILE while the gateway runs
                              (SQLite only; for PostgreSQL use pg_dump)
  restore FILE --data DIR [--force]
                              check FILE, write its store into DIR (must be
                              empty unless --force), then check the restored
                              store and its audit chain
  doctor [--lang id|en] [--min-free-mb N]
                              check config, TLS certificate and key, data
                              directory and disk (default limit 1024 MB free),
                              upstream and adapters; says what is wrong and
                              how to fix it; exit 1 when something is wrong
  version

options (override gateway.json):
  --config FILE               configuration file (default: gateway.json if present;
                              for the installed /usr/bin/ilp-gateway then
                              /etc/ilp-gateway/gateway.json)
  --listen HOST:PORT          address to serve on
  --data DIR                  data directory (SQLite database)
  --plugin-dir DIR            where relative plugin paths start
  --mappings DIR              mapping files and ConceptMaps
  --organization ID           facility Organization id
  --threads N                 worker threads
  --log-level LEVEL           debug, info, warning, error

signals (serve): SIGTERM/SIGINT finish in-flight requests and stop; SIGHUP
(systemctl reload ilp-gateway) re-reads the config and reloads the plugin
list, adapter libraries, mapping files and log_level (like
POST /admin/plugins/reload) and keeps the old set if the new one is broken.
)";

// The Debian package's binary reads the package's config unless told otherwise.
constexpr const char* kInstalledConfig = "/etc/ilp-gateway/gateway.json";

bool installedBinary() {
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/self/exe", ec) == "/usr/bin/ilp-gateway" && !ec;
}

int fail(const std::string& message) {
  std::fprintf(stderr, "ilp-gateway: %s\n", message.c_str());
  return 2;
}

ilpgw::StatusOr<ilpgw::Config> buildConfig(const Args& args) {
  ilpgw::Config config;
  std::string path = args.config_path;
  if (path.empty() && std::ifstream("gateway.json")) path = "gateway.json";
  if (path.empty() && installedBinary() && std::ifstream(kInstalledConfig)) path = kInstalledConfig;
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

bool parseId(const std::string& text, long long& out) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos) return false;
  out = std::stoll(text);
  return true;
}

// Who ran an administrative command, for the audit trail.
std::string cliActor() {
  const passwd* pw = getpwuid(getuid());
  return std::string("cli:") + (pw != nullptr ? pw->pw_name : std::to_string(getuid()));
}

StatusOr<Args> parseArgs(int argc, char** argv, int& exit_code) {
  Args args;
  exit_code = 0;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return argv[++i];
    };
    try {
      if (arg == "-h" || arg == "--help") {
        std::fputs(kUsage, stdout);
        exit_code = 0;
        return Status(StatusCode::kNotFound, "help");
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
        if (!parseId(text, number)) { exit_code = fail(arg + " needs a number"); return Status(StatusCode::kInvalidArgument, "usage"); }
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
      } else if (arg == "--force") {
        args.force = true;
      } else if (arg == "--lang") {
        args.lang = value();
      } else if (arg == "--min-free-mb") {
        long long number = 0;
        if (!parseId(value(), number)) { exit_code = fail("--min-free-mb needs a number"); return Status(StatusCode::kInvalidArgument, "usage"); }
        args.min_free_mb = number;
      } else if (arg == "--jwks") {
        args.jwks_file = value();
      } else if (arg == "--jwks-url") {
        args.jwks_url = value();
      } else if (arg == "--password-file") {
        args.password_file = value();
      } else if (arg == "--from") {
        args.from = value();
      } else if (arg == "--to") {
        args.to = value();
      } else if (arg == "--listen" || arg == "--data" || arg == "--plugin-dir" || arg == "--mappings" ||
                 arg == "--organization" || arg == "--threads" || arg == "--log-level") {
        args.overrides.emplace_back(arg, value());
      } else if (arg.rfind("--", 0) == 0) {
        { exit_code = fail("unknown option " + arg + "\n" + kUsage); return Status(StatusCode::kInvalidArgument, "usage"); }
      } else if (args.command.empty()) {
        args.command = arg;
      } else {
        args.files.push_back(arg);
      }
    } catch (const std::exception& e) {
      { exit_code = fail(e.what()); return Status(StatusCode::kInvalidArgument, "usage"); }
    }
  }
  return args;
}

}  // namespace ilpgw::cli
