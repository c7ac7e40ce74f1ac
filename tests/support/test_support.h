// Test support: temporary directories, development certificates and a real
// gateway process on a loopback port with a TLS client for it. Tests use the
// real binary, real plugins from disk and a real SQLite store.
#pragma once

#include <httplib.h>
#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace ilpgw::testing {

// A fresh directory removed (with its contents) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Development CA, server and client certificates made once per test process
// with certs/make-dev-certs.sh.
const std::filesystem::path& devCertDir();

std::string readFile(const std::filesystem::path& path);
void writeFile(const std::filesystem::path& path, const std::string& text);

// Where bundled adapters, mappings and sources are.
std::string pluginDir();
std::string mappingsDir();
std::string sourceDir();
std::string gatewayBinary();

struct GatewayOptions {
  // Adapters to load: names of bundled plugins (library <name>.so).
  std::vector<std::string> plugins = {"epuskesmas-json"};
  // Extra plugin entries as raw JSON objects, for adapters with a config block
  // or a library under another name: {"name":"x","library":"mapping.so","config":{...}}.
  std::vector<std::string> plugin_entries;
  // Extra top-level members spliced into gateway.json, e.g. R"("log_level": "debug")".
  std::string extra_config;
  // Server section members (besides listen), e.g. R"("payload_max_bytes": 4096)".
  std::string server_config;
  bool plain_http = false;
  // Port on 127.0.0.1; 0 = an ephemeral one. Fixed to restart a gateway on
  // the port it had (tests/forward/upstream_gateway_test.cc).
  int port = 0;
  std::string organization_id = "test-puskesmas";
  // Reuse an existing data directory (restart tests); empty = a fresh one.
  std::string data_dir;
  // Mapping files to load instead of the bundled mappings/ (empty = bundled).
  std::string mappings_dir;
  // Authentication. false: `auth.enabled: false`, which the
  // gateway accepts only on loopback (the fixture's address), so tests that
  // are not about security need no tokens. true: every API call needs a
  // token; get one with token() or addClient() + fetchToken().
  bool auth = false;
  std::string auth_config;  // extra members of "auth", e.g. R"("token_ttl_s": 60)"
  std::string tls_config;   // extra members of "tls", e.g. "\"client_ca\": \"...\""
  // Extra members of "store", e.g. R"("backend": "postgresql", "url": "...")" (postgres_server.h).
  std::string store_config;
};

// Credentials printed by `ilp-gateway client add`.
struct ClientCredentials {
  std::string id;
  std::string secret;
};

// The real ilp-gateway binary, started with a generated gateway.json on
// 127.0.0.1 and an ephemeral port. Stopped (SIGTERM, then SIGKILL) on
// destruction.
class GatewayProcess {
 public:
  explicit GatewayProcess(GatewayOptions options = {});
  ~GatewayProcess();
  GatewayProcess(const GatewayProcess&) = delete;
  GatewayProcess& operator=(const GatewayProcess&) = delete;

  int port() const { return port_; }
  const std::string& dataDir() const { return data_dir_; }
  const std::string& configPath() const { return config_path_; }
  // Everything the process wrote to stderr so far (its log in text format).
  std::string log() const;
  // Everything it wrote to stdout so far: the listening line, and the log
  // when `"log": {"format": "json"}`.
  std::string output() const;

  // A TLS client that trusts the dev CA, with sensible timeouts; with a
  // bearer token when given, and a client certificate when cert/key are given.
  std::unique_ptr<httplib::Client> client(const std::string& bearer = {}, const std::string& cert = {},
                                          const std::string& key = {}) const;

  // Registers a client with `ilp-gateway client add` against this gateway's
  // database (works while it runs). `extra` are more CLI arguments, e.g.
  // {"--cert", path}. Throws when the command fails.
  ClientCredentials addClient(const std::string& role, const std::string& organization = {},
                              const std::vector<std::string>& extra = {}) const;
  // POST /oauth2/token with client_credentials; throws unless 200.
  std::string fetchToken(const ClientCredentials& credentials, const std::string& scope = {}) const;
  // A new client of `role` (bound to `organization` for clinics) and a token for it.
  std::string token(const std::string& role, const std::string& organization = {}) const;

  // Sends SIGTERM and waits; returns the exit status (or -signal).
  int terminate();
  // kill -9, for crash tests.
  void kill9();
  pid_t pid() const { return pid_; }

 private:
  TempDir dir_;
  std::string data_dir_;
  std::string config_path_;
  std::string log_path_;
  std::string output_path_;
  bool plain_http_ = false;
  pid_t pid_ = -1;
  int port_ = 0;
};

// Runs the gateway binary with `args` (no shell) and collects stdout; returns
// the exit code. stderr goes to `stderr_text` when given.
int runGateway(const std::vector<std::string>& args, std::string& stdout_text, std::string* stderr_text = nullptr,
               const std::string& working_dir = {});

// Runs `command` with /bin/sh and returns what it printed on stdout; its exit
// code goes to `exit_code` (-1 when it could not be started or did not exit).
std::string runShell(const std::string& command, int& exit_code);

// Stores `count` Organizations org-<first>... ("Puskesmas <n>") through FHIR
// transactions of up to 200 entries; false (with a test failure) when one is refused.
bool putOrganizations(const GatewayProcess& gateway, int first, int count);

}  // namespace ilpgw::testing
