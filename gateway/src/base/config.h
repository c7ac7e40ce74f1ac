// Gateway configuration: one JSON file (gateway.json), every key declared once
// in kConfigKeys (config.cc) with its type, default and description. The same
// table validates the file (unknown keys are errors), fills Config, and prints
// the reference (`ilp-gateway config-reference`).
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace ilpgw {

struct PluginConfig {
  std::string name;            // adapter name, also the ingest route
  std::string library;         // path of the .so; relative to plugin_dir
  std::string config_json;     // the adapter's own option block, as JSON text ("{}" if absent)
  bool enabled = true;         // false: not loaded (e.g. after it crashed the gateway)
  int timeout_ms = 10000;      // per-call deadline of map(); 0 = none
};

// Store-and-forward: where the outbox sender forwards stored
// resources (the national platform or a provincial hub).
struct UpstreamConfig {
  bool enabled = false;
  std::string base_url;           // FHIR base, e.g. https://api.example.id/fhir-r4/v1
  std::string token_url;          // OAuth2 token endpoint; empty = no authentication
  std::string client_id;
  std::string client_secret;
  std::string client_secret_file;  // alternative to client_secret (read at start-up)
  std::string ca_file;             // PEM CA bundle; empty = system default
  int batch_size = 100;
  int backoff_initial_ms = 500;
  int backoff_max_ms = 60000;
  int timeout_s = 10;
  int lease_s = 60;
  int poll_interval_ms = 1000;
  // The national platform SATUSEHAT (docs/satusehat.md): "fhir" forwards by
  // PUT of our ids to a generic FHIR server; "satusehat" looks patients and
  // practitioners up by NIK, creates with POST, keeps the platform's ids and
  // authenticates per organization.
  std::string profile = "fhir";
  std::string environment;         // satusehat: development | staging | production (fills the URLs)
  std::string auth_url;            // satusehat: OAuth2 base ({auth_url}/accesstoken)
  std::string organizations_file;  // satusehat: the puskesmas, their credentials and Location ids
  int wait_retry_s = 3600;         // satusehat: how often a waiting record is tried again
  // satusehat: a newborn without NIK whom the master patient index does not
  // know through the mother's NIK is registered (POST Patient); otherwise
  // it waits until the platform knows the child.
  bool register_newborns = false;
};

struct Config {
  // server
  std::string listen_host = "127.0.0.1";
  int listen_port = 8443;
  int threads = 64;
  long long payload_max_bytes = 16 * 1024 * 1024;
  int read_timeout_s = 10;
  int write_timeout_s = 10;
  int keep_alive_max_count = 10000;
  int keep_alive_timeout_s = 5;
  int listen_backlog = 512;
  // slow and idle clients (http/connection_guard.h)
  int header_timeout_ms = 10000;
  long long min_body_bytes_per_s = 1024;
  int body_grace_ms = 10000;
  int max_connections_per_peer = 32;
  bool plain_http = false;
  // tls
  std::string tls_cert = "certs/dev/server.crt";
  std::string tls_key = "certs/dev/server.key";
  std::string tls_client_ca;
  // store
  std::string store_backend = "sqlite";  // sqlite | postgresql
  std::string data_dir = "data";
  int store_batch_max = 256;
  std::string store_url;            // postgresql: libpq connection URI or string; empty = PG* environment
  std::string store_password_file;  // postgresql: file holding the password (read at start-up)
  int store_concurrent_searches = 0;  // sqlite: 0 = as many as the machine's CPUs
  int store_pool_size = 8;          // postgresql: pooled connections besides the writer's
  // Bulk Data $export
  int export_retention_hours = 24;                       // finished jobs' output kept this long
  long long export_max_bytes = 2LL * 1024 * 1024 * 1024;  // most bytes of one job's files
  std::string export_directory;  // empty = <data_dir>/exports
  int export_lease_s = 60;       // a running job's lease, renewed while it runs
  // scheduled backups (cli/scheduled_backups.h)
  std::string backup_dir;  // empty = none
  int backup_interval_s = 86400;
  int backup_keep = 7;
  // facility
  std::string organization_id = "dev-puskesmas";
  std::string timezone_offset = "+07:00";
  // adapters and terminology
  std::string mappings_dir = "mappings";
  std::string plugin_dir = "build/plugins";
  std::vector<PluginConfig> plugins;
  // logging
  std::string log_level = "info";
  std::string log_format = "text";  // text (stderr) | json (stdout, one object per line)
  // base URL used in Bundle links and Locations; empty = derived from the request
  std::string public_base_url;
  // store-and-forward
  UpstreamConfig upstream;
  // ---- clients, tokens and limits ----
  bool auth_enabled = true;
  int token_ttl_s = 900;
  std::string signing_key_dir;  // empty = <data_dir>/keys
  // Where the token signing keys live: "directory" (signing_key_dir) or
  // "store" (the database, shared by instances); empty = "store" on
  // PostgreSQL, "directory" on SQLite.
  std::string signing_keys;
  std::string jwks_ca_file;     // trust for clients' JWKS URLs; empty = system trust store
  int rate_per_s = 50;          // per-client token bucket refill
  int rate_burst = 200;         // per-client bucket size
  // ---- people's logins to the pages (security/sessions.h) ----
  int session_idle_s = 1800;
  int session_max_s = 43200;
  int login_failures_account = 5;
  int login_failures_address = 20;
  int login_window_s = 900;
  int batch_max_records = 5000;  // native records per post
  int search_count_max = 1000;   // largest _count of a search or history page

  std::string exportDirectory() const { return export_directory.empty() ? data_dir + "/exports" : export_directory; }
  std::string signingKeyDir() const { return signing_key_dir.empty() ? data_dir + "/keys" : signing_key_dir; }
  bool signingKeysInStore() const {
    return signing_keys == "store" || (signing_keys.empty() && store_backend == "postgresql");
  }

  std::string storePath() const { return data_dir + "/gateway.db"; }
};

// Parses the JSON text of gateway.json. Relative paths stay relative to the
// working directory. Unknown keys and wrong types are errors naming the key.
StatusOr<Config> parseConfig(std::string_view text);
StatusOr<Config> loadConfigFile(const std::string& path);

// Markdown table of every key (the config reference in docs/configuration.md).
std::string configReference();

// Applies a `--listen HOST:PORT` override.
Status applyListen(Config& config, std::string_view host_port);

}  // namespace ilpgw
