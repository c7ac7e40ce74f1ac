#include "base/config.h"

#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "base/json.h"

namespace ilpgw {
namespace {

enum class KeyType { kString, kInteger, kBoolean, kPlugins };

struct KeySpec {
  const char* path;  // dotted path in gateway.json
  KeyType type;
  const char* default_text;
  const char* description;
  std::function<void(Config&, const rapidjson::Value&)> apply;
};

const char* typeName(KeyType type) {
  switch (type) {
    case KeyType::kString: return "string";
    case KeyType::kInteger: return "integer";
    case KeyType::kBoolean: return "boolean";
    case KeyType::kPlugins: return "array";
  }
  return "";
}

template <typename Field>
void assign(Field& target, const rapidjson::Value& value) {
  if constexpr (std::is_same_v<Field, std::string>) {
    target = std::string(value.GetString(), value.GetStringLength());
  } else if constexpr (std::is_same_v<Field, bool>) {
    target = value.GetBool();
  } else {
    target = static_cast<Field>(value.GetInt64());
  }
}

// Setter for a member of Config::upstream.
template <typename Field>
std::function<void(Config&, const rapidjson::Value&)> setUpstream(Field UpstreamConfig::*field) {
  return [field](Config& config, const rapidjson::Value& value) { assign(config.upstream.*field, value); };
}

template <typename Field>
std::function<void(Config&, const rapidjson::Value&)> set(Field Config::*field) {
  return [field](Config& config, const rapidjson::Value& value) {
    if constexpr (std::is_same_v<Field, std::string>) {
      config.*field = std::string(value.GetString(), value.GetStringLength());
    } else if constexpr (std::is_same_v<Field, bool>) {
      config.*field = value.GetBool();
    } else {
      config.*field = static_cast<Field>(value.GetInt64());
    }
  };
}

void applyPlugins(Config& config, const rapidjson::Value& value);

// Every key of gateway.json. Keep descriptions true: they are the reference.
const std::vector<KeySpec>& keys() {
  static const std::vector<KeySpec> kKeys = {
      {"server.listen", KeyType::kString, "127.0.0.1:8443",
       "Address and port to serve on (HOST:PORT, [::1]:PORT for IPv6). Port 0 picks a free port.",
       [](Config& c, const rapidjson::Value& v) { (void)applyListen(c, v.GetString()); }},
      {"server.threads", KeyType::kInteger, "64",
       "Worker threads. cpp-httplib holds one thread per open connection, so size it for concurrent clients.",
       set(&Config::threads)},
      {"server.payload_max_bytes", KeyType::kInteger, "16777216",
       "Largest accepted request body; larger posts get 413.", set(&Config::payload_max_bytes)},
      {"server.read_timeout_s", KeyType::kInteger, "10",
       "Longest wait for any single read; whole heads and bodies are bounded by `server.header_timeout_ms` and "
       "`server.min_body_bytes_per_s`.",
       set(&Config::read_timeout_s)},
      {"server.write_timeout_s", KeyType::kInteger, "10", "Socket write timeout in seconds.",
       set(&Config::write_timeout_s)},
      {"server.keep_alive_max_count", KeyType::kInteger, "10000",
       "Requests per keep-alive connection before it is closed (cpp-httplib's default of 5 forces a TLS "
       "handshake every 5 requests).",
       set(&Config::keep_alive_max_count)},
      {"server.keep_alive_timeout_s", KeyType::kInteger, "5",
       "Idle seconds before a keep-alive connection closes (at most `server.header_timeout_ms`). Idle "
       "connections are closed first when accepted connections wait for a worker, and at once on SIGTERM.",
       set(&Config::keep_alive_timeout_s)},
      {"server.listen_backlog", KeyType::kInteger, "512", "Listen queue length for pending connections.",
       set(&Config::listen_backlog)},
      {"server.header_timeout_ms", KeyType::kInteger, "10000",
       "Deadline for the TLS handshake plus the whole request head, counted from when a worker takes the "
       "connection or from the end of the previous response (not per read: a client trickling bytes is closed "
       "when it passes). 100..600000.",
       set(&Config::header_timeout_ms)},
      {"server.min_body_bytes_per_s", KeyType::kInteger, "1024",
       "Slowest average rate of a request body, and of a response being read by the client, once "
       "`server.body_grace_ms` has passed; a slower body gets 408 and the connection is closed. 0 = no minimum.",
       set(&Config::min_body_bytes_per_s)},
      {"server.body_grace_ms", KeyType::kInteger, "10000",
       "Time a request body or a response may take before `server.min_body_bytes_per_s` applies.",
       set(&Config::body_grace_ms)},
      {"server.max_connections_per_peer", KeyType::kInteger, "32",
       "Open connections one client address may hold; more are closed as soon as a worker takes them, before "
       "any TLS work. Clients behind one NAT share the cap. 0 = no cap.",
       set(&Config::max_connections_per_peer)},
      {"server.plain_http", KeyType::kBoolean, "false",
       "Serve plain HTTP instead of HTTPS. Only for local experiments; refused on non-loopback addresses.",
       set(&Config::plain_http)},
      {"server.public_base_url", KeyType::kString, "",
       "Base URL put in Bundle links and Location headers, e.g. https://gw.example.id. Empty: derived from the "
       "Host header.",
       set(&Config::public_base_url)},
      {"tls.cert", KeyType::kString, "certs/dev/server.crt", "PEM server certificate (chain).",
       set(&Config::tls_cert)},
      {"tls.key", KeyType::kString, "certs/dev/server.key", "PEM private key of the server certificate.",
       set(&Config::tls_key)},
      {"tls.client_ca", KeyType::kString, "",
       "PEM CA bundle for client certificates. When set, clients must present a certificate it signed (mutual "
       "TLS).",
       set(&Config::tls_client_ca)},
      {"store.backend", KeyType::kString, "sqlite",
       "Storage backend: `sqlite` (one database file in `store.data_dir`, one gateway instance) or `postgresql` "
       "(a PostgreSQL 15 database that several gateway instances share; see docs/scale-out.md).",
       set(&Config::store_backend)},
      {"store.data_dir", KeyType::kString, "data",
       "Directory of the SQLite database (gateway.db), of `$export` output and of the signing keys (with either "
       "backend).",
       set(&Config::data_dir)},
      {"store.batch_max", KeyType::kInteger, "256",
       "Most write requests committed together in one durable transaction (group commit).",
       set(&Config::store_batch_max)},
      {"store.concurrent_searches", KeyType::kInteger, "0",
       "sqlite: most searches and history pages the store answers at once while records are being written (a post "
       "within the last second); the others wait their turn (up to 5 s, then 503). Searches beyond the machine's "
       "cores only take CPU from the thread that makes posts durable. 0: as many as this machine has CPUs. Bulk "
       "export and reports are not counted. 0..256.",
       set(&Config::store_concurrent_searches)},
      {"store.url", KeyType::kString, "",
       "postgresql: the libpq connection URI or key=value string, e.g. "
       "`postgresql://ilpgw@db.example.id/ilpgw?sslmode=verify-full`. Empty: libpq's PG* environment variables "
       "(PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, PGSSLMODE, ...), which also fill in what the URL leaves out. "
       "Put no password here; use `store.password_file`, PGPASSWORD or ~/.pgpass.",
       set(&Config::store_url)},
      {"store.password_file", KeyType::kString, "",
       "postgresql: file whose first line is the database password, read at start-up. Empty: the URL, PGPASSWORD "
       "or ~/.pgpass.",
       set(&Config::store_password_file)},
      {"store.pool_size", KeyType::kInteger, "8",
       "postgresql: connections each instance keeps for reads, outbox claims and export jobs, besides its one "
       "writer connection. 1..256.",
       set(&Config::store_pool_size)},
      {"export.retention_hours", KeyType::kInteger, "24",
       "Hours a finished Bulk Data `$export` job (its status and files under `export.directory`) is kept; "
       "then it is deleted and its status URL answers 404. 1..8760.",
       set(&Config::export_retention_hours)},
      {"export.max_bytes", KeyType::kInteger, "2147483648",
       "Most bytes the NDJSON files of one `$export` job may take on disk; a job that would write more fails "
       "(its status URL answers 500 with an OperationOutcome saying so). At most 16 jobs are kept at a time.",
       set(&Config::export_max_bytes)},
      {"export.directory", KeyType::kString, "",
       "Directory of the `$export` output files, one folder per job, readable only by the gateway's user. Empty: "
       "`<store.data_dir>/exports`. Instances sharing a PostgreSQL database must all name one shared directory "
       "(for example one NFS mount): a job runs on one instance and is downloaded from any.",
       set(&Config::export_directory)},
      {"export.lease_s", KeyType::kInteger, "60",
       "How long a running `$export` job stays reserved for the instance running it; that instance renews it "
       "every second. Another instance takes over a job only once its lease ran out (the instance died). 2..3600.",
       set(&Config::export_lease_s)},
      {"backup.dir", KeyType::kString, "",
       "Directory where `ilp-gateway serve` writes a backup of the SQLite store every `backup.interval_s` "
       "(files `ilp-gateway-<UTC date and time>.ilpbak`, as `ilp-gateway backup` makes them; "
       "docs/operations.md). Put it on another disk than `store.data_dir`. Empty: no scheduled backups. Not with "
       "`store.backend` `postgresql` (use pg_dump).",
       set(&Config::backup_dir)},
      {"backup.interval_s", KeyType::kInteger, "86400",
       "Seconds between scheduled backups; the first is taken one interval after start-up. 1..2592000.",
       set(&Config::backup_interval_s)},
      {"backup.keep", KeyType::kInteger, "7",
       "Scheduled backups kept in `backup.dir`; the oldest are deleted after each new one. 1..1000.",
       set(&Config::backup_keep)},
      {"facility.organization_id", KeyType::kString, "dev-puskesmas",
       "FHIR Organization id of the facility this gateway posts for (SATUSEHAT organization id).",
       set(&Config::organization_id)},
      {"facility.timezone", KeyType::kString, "+07:00",
       "UTC offset of local times in posted records: +07:00 WIB, +08:00 WITA, +09:00 WIT.",
       set(&Config::timezone_offset)},
      {"mappings_dir", KeyType::kString, "mappings", "Directory of mapping files and ConceptMaps.",
       set(&Config::mappings_dir)},
      {"plugin_dir", KeyType::kString, "build/plugins", "Directory that relative plugin library paths start from.",
       set(&Config::plugin_dir)},
      {"plugins", KeyType::kPlugins, "[]",
       "Adapters to load: [{\"name\": \"epuskesmas-json\", \"library\": \"epuskesmas-json.so\", \"config\": {}}]. "
       "`config` holds the adapter's own options (see GET /admin/plugins); `enabled` (boolean, default true) "
       "set to false keeps an adapter unloaded, e.g. one that crashed the gateway; `timeout_ms` (integer, "
       "default 10000, 0 = none) is the deadline of one call of the adapter. Re-read on SIGHUP and "
       "POST /admin/plugins/reload.",
       applyPlugins},
      {"log_level", KeyType::kString, "info", "debug, info, warning or error.", set(&Config::log_level)},
      {"log.format", KeyType::kString, "text",
       "`text`: lines `time level message` on stderr. `json`: one JSON object per line on stdout (for journald): "
       "`time`, `level`, `message`, and for each answered request `request_id`, `client_id`, `method`, `route` "
       "(the route pattern, e.g. /fhir/Patient/{id}), `status` and `latency_ms`. Request lines are level info in "
       "`json`, debug in `text`. Read at start-up.",
       set(&Config::log_format)},
      // ---- store-and-forward to the upstream ----
      {"upstream.enabled", KeyType::kBoolean, "false",
       "Forward every stored resource version to the upstream FHIR server (outbox filled in the same transaction "
       "as the store; see docs/durability.md). Versions stored while disabled are not forwarded later.",
       setUpstream(&UpstreamConfig::enabled)},
      {"upstream.base_url", KeyType::kString, "",
       "FHIR base URL of the upstream (national platform or provincial hub); resources go to PUT "
       "{base_url}/{type}/{id}. https only, except on loopback.",
       setUpstream(&UpstreamConfig::base_url)},
      {"upstream.token_url", KeyType::kString, "",
       "OAuth2 token endpoint (client-credentials grant, client authenticated with HTTP Basic). Empty: requests "
       "carry no token.",
       setUpstream(&UpstreamConfig::token_url)},
      {"upstream.client_id", KeyType::kString, "", "OAuth2 client id.", setUpstream(&UpstreamConfig::client_id)},
      {"upstream.client_secret", KeyType::kString, "",
       "OAuth2 client secret. Prefer `client_secret_file` so the secret stays out of gateway.json.",
       setUpstream(&UpstreamConfig::client_secret)},
      {"upstream.client_secret_file", KeyType::kString, "",
       "File holding the OAuth2 client secret (trailing whitespace ignored).",
       setUpstream(&UpstreamConfig::client_secret_file)},
      {"upstream.ca_file", KeyType::kString, "",
       "PEM CA bundle that signs the upstream's certificate. Empty: the system's trust store.",
       setUpstream(&UpstreamConfig::ca_file)},
      {"upstream.batch_size", KeyType::kInteger, "100", "Outbox rows the sender claims at a time.",
       setUpstream(&UpstreamConfig::batch_size)},
      {"upstream.backoff_initial_ms", KeyType::kInteger, "500",
       "First retry delay after a network error or 5xx; doubles per failure, with jitter.",
       setUpstream(&UpstreamConfig::backoff_initial_ms)},
      {"upstream.backoff_max_ms", KeyType::kInteger, "60000", "Longest retry delay.",
       setUpstream(&UpstreamConfig::backoff_max_ms)},
      {"upstream.timeout_s", KeyType::kInteger, "10", "Connect, read and write timeout of upstream requests.",
       setUpstream(&UpstreamConfig::timeout_s)},
      {"upstream.lease_s", KeyType::kInteger, "60",
       "How long a claimed outbox row stays reserved for this instance (instances sharing a database).",
       setUpstream(&UpstreamConfig::lease_s)},
      {"upstream.poll_interval_ms", KeyType::kInteger, "1000",
       "How often an idle sender looks for new rows (new commits wake it at once).",
       setUpstream(&UpstreamConfig::poll_interval_ms)},
      {"upstream.profile", KeyType::kString, "fhir",
       "`fhir`: PUT of the gateway's own ids to a generic FHIR server. `satusehat`: the national platform's own "
       "terms (docs/satusehat.md): patients and practitioners looked up by NIK, POST with platform-assigned ids "
       "then PUT, per-puskesmas credentials from `upstream.organizations_file`.",
       setUpstream(&UpstreamConfig::profile)},
      {"upstream.environment", KeyType::kString, "",
       "satusehat: `development`, `staging` or `production` fills `base_url` and `auth_url` with that "
       "environment's public addresses when they are empty.",
       setUpstream(&UpstreamConfig::environment)},
      {"upstream.auth_url", KeyType::kString, "",
       "satusehat: OAuth2 base URL; tokens come from POST {auth_url}/accesstoken?grant_type=client_credentials.",
       setUpstream(&UpstreamConfig::auth_url)},
      {"upstream.organizations_file", KeyType::kString, "",
       "satusehat: JSON file naming each puskesmas forwarded for: platform organization id, client id, where "
       "its secret is (file or environment variable) and its poli -> platform Location ids (docs/satusehat.md).",
       setUpstream(&UpstreamConfig::organizations_file)},
      {"upstream.wait_retry_s", KeyType::kInteger, "3600",
       "satusehat: how often a record waiting for platform data (a patient not yet in the master patient "
       "index) is tried again.",
       setUpstream(&UpstreamConfig::wait_retry_s)},
      {"upstream.register_newborns", KeyType::kBoolean, "false",
       "satusehat: register a newborn without NIK in the master patient index through the mother's NIK "
       "(POST Patient with `nik-ibu`, name, birth date, sex, birth order and address) when the index does not know "
       "the child yet. `false`: the gateway never creates a Patient; the child's records wait until the platform "
       "knows it.",
       setUpstream(&UpstreamConfig::register_newborns)},
      // ---- clients, tokens and limits; see docs/security.md ----
      {"auth.enabled", KeyType::kBoolean, "true",
       "Require OAuth2 bearer tokens (POST /oauth2/token) on every API call. `false` is accepted only on a "
       "loopback address and logs a warning at start-up.",
       set(&Config::auth_enabled)},
      {"auth.token_ttl_s", KeyType::kInteger, "900", "Lifetime of issued access tokens in seconds (60..86400).",
       set(&Config::token_ttl_s)},
      {"auth.signing_key_dir", KeyType::kString, "",
       "Directory of the ES256 token signing keys (created with mode 0700, a key is generated on first start). "
       "Empty: `<store.data_dir>/keys`.",
       set(&Config::signing_key_dir)},
      {"auth.signing_keys", KeyType::kString, "",
       "Where the token signing keys live: `directory` (`auth.signing_key_dir`, one instance) or `store` (the "
       "database: every instance sharing it signs and verifies with the same keys, and `ilp-gateway key rotate` "
       "on one reaches all). Empty: `store` with `store.backend` postgresql, `directory` with sqlite.",
       set(&Config::signing_keys)},
      {"auth.jwks_ca_file", KeyType::kString, "",
       "PEM CA bundle trusted when fetching the JWKS URL of a private_key_jwt client (`client add --jwks-url`). "
       "Empty: the system trust store.",
       set(&Config::jwks_ca_file)},
      // ---- people's logins to the pages; see docs/pws.md ----
      {"people.session_idle_s", KeyType::kInteger, "1800",
       "A login session unused this many seconds ends (1..86400); the person logs in again.",
       set(&Config::session_idle_s)},
      {"people.session_max_s", KeyType::kInteger, "43200",
       "Any login session ends this many seconds after the login, used or not (1..604800).",
       set(&Config::session_max_s)},
      {"people.login_failures_account", KeyType::kInteger, "5",
       "Failed logins of one user name within `people.login_window_s` after which further attempts are refused "
       "(429) without checking the password.",
       set(&Config::login_failures_account)},
      {"people.login_failures_address", KeyType::kInteger, "20",
       "Failed logins from one client address within `people.login_window_s` after which its attempts are refused.",
       set(&Config::login_failures_address)},
      {"people.login_window_s", KeyType::kInteger, "900", "The window of the failed-login limits, in seconds.",
       set(&Config::login_window_s)},
      {"limits.rate_per_s", KeyType::kInteger, "50",
       "Requests per second each client may make on average (token bucket); beyond it 429 with Retry-After.",
       set(&Config::rate_per_s)},
      {"limits.rate_burst", KeyType::kInteger, "200", "Requests a client may make in one burst (bucket size).",
       set(&Config::rate_burst)},
      {"limits.batch_max_records", KeyType::kInteger, "5000",
       "Most native records in one post to /ingest; larger posts get 413 and nothing is stored.",
       set(&Config::batch_max_records)},
      {"limits.search_count_max", KeyType::kInteger, "1000",
       "Largest page size (`_count`) of a search or history page; larger requests are capped.",
       set(&Config::search_count_max)},
  };
  return kKeys;
}

void applyPlugins(Config& config, const rapidjson::Value& value) {
  config.plugins.clear();
  for (const auto& item : value.GetArray()) {
    PluginConfig plugin;
    plugin.name = std::string(json::string(item, "name"));
    plugin.library = std::string(json::string(item, "library"));
    const rapidjson::Value* options = json::member(item, "config");
    plugin.config_json = options != nullptr ? json::write(*options) : "{}";
    if (const rapidjson::Value* enabled = json::member(item, "enabled")) plugin.enabled = enabled->GetBool();
    if (const rapidjson::Value* timeout = json::member(item, "timeout_ms")) {
      plugin.timeout_ms = static_cast<int>(timeout->GetInt64());
    }
    config.plugins.push_back(std::move(plugin));
  }
}

Status checkPlugins(const rapidjson::Value& value) {
  if (!value.IsArray()) return Status(StatusCode::kInvalidArgument, "config key plugins: expected an array");
  for (rapidjson::SizeType i = 0; i < value.Size(); ++i) {
    const auto& item = value[i];
    std::string where = "config key plugins[" + std::to_string(i) + "]";
    if (!item.IsObject()) return Status(StatusCode::kInvalidArgument, where + ": expected an object");
    for (const auto& m : item.GetObject()) {
      std::string key(m.name.GetString());
      if (key != "name" && key != "library" && key != "config" && key != "enabled" && key != "timeout_ms") {
        return Status(StatusCode::kInvalidArgument,
                      where + ": unknown key \"" + key + "\" (expected name, library, config, enabled, timeout_ms)");
      }
    }
    if (json::string(item, "name").empty() || json::string(item, "library").empty()) {
      return Status(StatusCode::kInvalidArgument, where + ": name and library are required strings");
    }
    const rapidjson::Value* options = json::member(item, "config");
    if (options != nullptr && !options->IsObject()) {
      return Status(StatusCode::kInvalidArgument, where + ".config: expected an object");
    }
    const rapidjson::Value* enabled = json::member(item, "enabled");
    if (enabled != nullptr && !enabled->IsBool()) {
      return Status(StatusCode::kInvalidArgument, where + ".enabled: expected boolean");
    }
    const rapidjson::Value* timeout = json::member(item, "timeout_ms");
    if (timeout != nullptr && (!timeout->IsInt64() || timeout->GetInt64() < 0 || timeout->GetInt64() > 3600000)) {
      return Status(StatusCode::kInvalidArgument, where + ".timeout_ms: expected an integer 0..3600000");
    }
  }
  return Status::ok();
}

Status walk(const rapidjson::Value& object, const std::string& prefix, Config& config) {
  for (const auto& m : object.GetObject()) {
    std::string path = prefix + m.name.GetString();
    const KeySpec* spec = nullptr;
    bool is_section = false;
    for (const auto& k : keys()) {
      std::string_view kp(k.path);
      if (kp == path) spec = &k;
      if (kp.size() > path.size() && kp.substr(0, path.size()) == path && kp[path.size()] == '.') is_section = true;
    }
    if (spec == nullptr && is_section) {
      if (!m.value.IsObject()) return Status(StatusCode::kInvalidArgument, "config key " + path + ": expected an object");
      Status s = walk(m.value, path + ".", config);
      if (!s.isOk()) return s;
      continue;
    }
    if (spec == nullptr) {
      return Status(StatusCode::kInvalidArgument,
                    "unknown config key \"" + path + "\" (see `ilp-gateway config-reference`)");
    }
    bool type_ok = false;
    switch (spec->type) {
      case KeyType::kString: type_ok = m.value.IsString(); break;
      case KeyType::kInteger: type_ok = m.value.IsInt64(); break;
      case KeyType::kBoolean: type_ok = m.value.IsBool(); break;
      case KeyType::kPlugins: {
        Status s = checkPlugins(m.value);
        if (!s.isOk()) return s;
        type_ok = true;
        break;
      }
    }
    if (!type_ok) {
      return Status(StatusCode::kInvalidArgument,
                    "config key " + path + ": expected " + typeName(spec->type));
    }
    if (spec->type == KeyType::kString && path == "server.listen") {
      Status s = applyListen(config, m.value.GetString());
      if (!s.isOk()) return s;
      continue;
    }
    spec->apply(config, m.value);
  }
  return Status::ok();
}

}  // namespace

Status applyListen(Config& config, std::string_view host_port) {
  auto colon = host_port.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == host_port.size()) {
    return Status(StatusCode::kInvalidArgument, "listen address must be HOST:PORT, got \"" +
                                                    std::string(host_port) + "\"");
  }
  std::string host(host_port.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    size_t used = 0;
    port = std::stoi(std::string(host_port.substr(colon + 1)), &used);
    if (used != host_port.size() - colon - 1) throw std::invalid_argument("port");
  } catch (...) {
    return Status(StatusCode::kInvalidArgument, "listen port is not a number: \"" + std::string(host_port) + "\"");
  }
  if (port < 0 || port > 65535) return Status(StatusCode::kInvalidArgument, "listen port out of range");
  config.listen_host = host;
  config.listen_port = port;
  return Status::ok();
}

StatusOr<Config> parseConfig(std::string_view text) {
  rapidjson::Document doc;
  if (auto error = json::parse(text, doc)) return Status(StatusCode::kInvalidArgument, "config: " + *error);
  if (!doc.IsObject()) return Status(StatusCode::kInvalidArgument, "config: top level must be a JSON object");
  Config config;
  Status s = walk(doc, "", config);
  if (!s.isOk()) return s;
  if (config.threads < 1 || config.threads > 4096) {
    return Status(StatusCode::kInvalidArgument, "config key server.threads: must be 1..4096");
  }
  if (config.header_timeout_ms < 100 || config.header_timeout_ms > 600000) {
    return Status(StatusCode::kInvalidArgument, "config key server.header_timeout_ms: must be 100..600000");
  }
  if (config.min_body_bytes_per_s < 0 || config.body_grace_ms < 0 || config.body_grace_ms > 600000) {
    return Status(StatusCode::kInvalidArgument,
                  "config keys server.min_body_bytes_per_s and server.body_grace_ms: must be >= 0 (grace <= 600000)");
  }
  if (config.max_connections_per_peer < 0) {
    return Status(StatusCode::kInvalidArgument, "config key server.max_connections_per_peer: must be >= 0");
  }
  if (config.payload_max_bytes < 1024) {
    return Status(StatusCode::kInvalidArgument, "config key server.payload_max_bytes: must be at least 1024");
  }
  const std::string& tz = config.timezone_offset;
  if (tz.size() != 6 || (tz[0] != '+' && tz[0] != '-') || !std::isdigit(static_cast<unsigned char>(tz[1])) ||
      !std::isdigit(static_cast<unsigned char>(tz[2])) || tz[3] != ':' ||
      !std::isdigit(static_cast<unsigned char>(tz[4])) || !std::isdigit(static_cast<unsigned char>(tz[5]))) {
    return Status(StatusCode::kInvalidArgument, "config key facility.timezone: expected an offset like +07:00");
  }
  if (config.upstream.profile != "fhir" && config.upstream.profile != "satusehat") {
    return Status(StatusCode::kInvalidArgument, "config key upstream.profile: expected \"fhir\" or \"satusehat\"");
  }
  if (!config.signing_keys.empty() && config.signing_keys != "directory" && config.signing_keys != "store") {
    return Status(StatusCode::kInvalidArgument, "config key auth.signing_keys: expected \"directory\" or \"store\"");
  }
  if (config.upstream.register_newborns && config.upstream.profile != "satusehat") {
    return Status(StatusCode::kInvalidArgument, "config key upstream.register_newborns: only with profile satusehat");
  }
  if (config.upstream.profile == "satusehat") {
    UpstreamConfig& u = config.upstream;
    // The platform's public environments (docs/satusehat.md names the sources).
    static const std::map<std::string, std::string> kHosts = {
        {"development", "https://api-satusehat-dev.dto.kemkes.go.id"},
        {"staging", "https://api-satusehat-stg.dto.kemkes.go.id"},
        {"production", "https://api-satusehat.kemkes.go.id"}};
    if (!u.environment.empty()) {
      auto host = kHosts.find(u.environment);
      if (host == kHosts.end()) {
        return Status(StatusCode::kInvalidArgument,
                      "config key upstream.environment: expected development, staging or production");
      }
      if (u.base_url.empty()) u.base_url = host->second + "/fhir-r4/v1";
      if (u.auth_url.empty()) u.auth_url = host->second + "/oauth2/v1";
    }
    if (u.enabled && (u.auth_url.empty() || u.organizations_file.empty())) {
      return Status(StatusCode::kInvalidArgument,
                    "config section upstream: profile satusehat needs auth_url (or environment) and "
                    "organizations_file");
    }
    if (!u.token_url.empty() || !u.client_id.empty() || !u.client_secret.empty() || !u.client_secret_file.empty()) {
      return Status(StatusCode::kInvalidArgument,
                    "config section upstream: with profile satusehat each puskesmas has its own credentials in "
                    "organizations_file; remove token_url, client_id and client_secret(_file)");
    }
    if (u.wait_retry_s < 1) return Status(StatusCode::kInvalidArgument, "config key upstream.wait_retry_s: must be >= 1");
  }
  if (config.upstream.enabled) {
    const UpstreamConfig& u = config.upstream;
    if (u.base_url.rfind("https://", 0) != 0 && u.base_url.rfind("http://127.", 0) != 0 &&
        u.base_url.rfind("http://localhost", 0) != 0) {
      return Status(StatusCode::kInvalidArgument,
                    "config key upstream.base_url: an https:// URL is required when upstream.enabled is true");
    }
    if (!u.token_url.empty() && u.client_id.empty()) {
      return Status(StatusCode::kInvalidArgument, "config key upstream.client_id: required with upstream.token_url");
    }
    if (!u.client_secret.empty() && !u.client_secret_file.empty()) {
      return Status(StatusCode::kInvalidArgument,
                    "config keys upstream.client_secret and upstream.client_secret_file: set only one");
    }
    if (u.batch_size < 1 || u.backoff_initial_ms < 1 || u.backoff_max_ms < u.backoff_initial_ms ||
        u.timeout_s < 1 || u.lease_s < 1 || u.poll_interval_ms < 1) {
      return Status(StatusCode::kInvalidArgument,
                    "config section upstream: batch_size, timeouts and delays must be positive and "
                    "backoff_max_ms >= backoff_initial_ms");
    }
  }
  if (config.token_ttl_s < 60 || config.token_ttl_s > 86400) {
    return Status(StatusCode::kInvalidArgument, "config key auth.token_ttl_s: must be 60..86400");
  }
  if (config.session_idle_s < 1 || config.session_idle_s > 86400 || config.session_max_s < 1 ||
      config.session_max_s > 604800) {
    return Status(StatusCode::kInvalidArgument,
                  "config keys people.session_idle_s and people.session_max_s: must be 1..86400 and 1..604800");
  }
  if (config.login_failures_account < 1 || config.login_failures_address < 1 || config.login_window_s < 1) {
    return Status(StatusCode::kInvalidArgument,
                  "config keys people.login_failures_account, people.login_failures_address, people.login_window_s: "
                  "must be >= 1");
  }
  if (config.rate_per_s < 1 || config.rate_burst < 1) {
    return Status(StatusCode::kInvalidArgument, "config keys limits.rate_per_s and limits.rate_burst: must be >= 1");
  }
  if (config.batch_max_records < 1 || config.search_count_max < 1) {
    return Status(StatusCode::kInvalidArgument,
                  "config keys limits.batch_max_records and limits.search_count_max: must be >= 1");
  }
  if (config.export_retention_hours < 1 || config.export_retention_hours > 8760) {
    return Status(StatusCode::kInvalidArgument, "config key export.retention_hours: must be 1..8760");
  }
  if (config.export_max_bytes < 1) {
    return Status(StatusCode::kInvalidArgument, "config key export.max_bytes: must be >= 1");
  }
  if (config.export_lease_s < 2 || config.export_lease_s > 3600) {
    return Status(StatusCode::kInvalidArgument, "config key export.lease_s: must be 2..3600");
  }
  if (config.backup_interval_s < 1 || config.backup_interval_s > 2592000) {
    return Status(StatusCode::kInvalidArgument, "config key backup.interval_s: must be 1..2592000");
  }
  if (config.backup_keep < 1 || config.backup_keep > 1000) {
    return Status(StatusCode::kInvalidArgument, "config key backup.keep: must be 1..1000");
  }
  if (config.log_format != "text" && config.log_format != "json") {
    return Status(StatusCode::kInvalidArgument, "config key log.format: expected \"text\" or \"json\"");
  }
  if (config.store_backend != "sqlite" && config.store_backend != "postgresql") {
    return Status(StatusCode::kInvalidArgument, "config key store.backend: expected \"sqlite\" or \"postgresql\"");
  }
  if (config.store_concurrent_searches < 0 || config.store_concurrent_searches > 256) {
    return Status(StatusCode::kInvalidArgument, "config key store.concurrent_searches: must be 0..256");
  }
  if (config.store_pool_size < 1 || config.store_pool_size > 256) {
    return Status(StatusCode::kInvalidArgument, "config key store.pool_size: must be 1..256");
  }
  if (config.store_backend == "sqlite" && (!config.store_url.empty() || !config.store_password_file.empty())) {
    return Status(StatusCode::kInvalidArgument,
                  "config keys store.url and store.password_file: only with store.backend \"postgresql\"");
  }
  if (config.store_backend == "postgresql" && !config.backup_dir.empty()) {
    return Status(StatusCode::kInvalidArgument,
                  "config key backup.dir: only with store.backend \"sqlite\"; back PostgreSQL up with pg_dump");
  }
  return config;
}

StatusOr<Config> loadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(StatusCode::kNotFound, "config file not found: " + path);
  std::stringstream text;
  text << in.rdbuf();
  auto config = parseConfig(text.str());
  if (!config.isOk()) return Status(config.status().code(), path + ": " + config.status().message());
  return config;
}

std::string configReference() {
  std::string out = "| key | type | default | description |\n|---|---|---|---|\n";
  for (const auto& k : keys()) {
    out += std::string("| `") + k.path + "` | " + typeName(k.type) + " | `" + k.default_text + "` | " +
           k.description + " |\n";
  }
  return out;
}

}  // namespace ilpgw
