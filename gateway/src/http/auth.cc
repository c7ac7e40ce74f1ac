#include "http/auth.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cmath>

#include "security/audit.h"
#include "security/clients.h"
#include "security/smart_configuration.h"
#include "http/client.h"
#include "security/token_request.h"
#include "base/crypto.h"
#include "base/json.h"
#include "base/log.h"
#include "base/metrics.h"
#include "fhir/outcome.h"
#include "http/errors.h"
#include "http/guarded_connection.h"
#include "http/request_log.h"
#include "http/people_pages.h"
#include "base/time_util.h"

namespace ilpgw {
namespace {

constexpr const char* kFhirJson = "application/fhir+json";

// Per-thread state of the request being handled: cpp-httplib runs the
// pre-routing handler, the route and the post-routing handler of one request
// on one worker thread, and the Request is const in the pre-routing handler.
struct Slot {
  bool active = false;      // set by the pre-routing handler, consumed by the audit hook
  bool skip_audit = false;  // open endpoints that touch no data
  bool auth_event = false;  // an authentication attempt (token endpoint, bad bearer token)
  std::string description;  // why it failed; never a token, secret or identifier
  RequestContext ctx;
};
thread_local Slot t_slot;

bool isLoopbackAddress(const std::string& addr) {
  return addr == "::1" || addr.rfind("127.", 0) == 0 || addr.rfind("::ffff:127.", 0) == 0;
}

bool startsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A client id as claimed, fit for the audit trail (it may be anything).
std::string claimedId(std::string_view id) {
  if (id.empty()) return "anonymous";
  std::string out = "unverified:";
  for (char c : id.substr(0, 64)) {
    out.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ? c : '?');
  }
  return out;
}

void sendOutcome(httplib::Response& res, int status, std::string_view code, std::string_view text) {
  res.status = status;
  res.set_content(outcomeJson(sdk::Severity::kError, code, text), kFhirJson);
}

// The request body was not read: the connection cannot be reused safely.
void closeIfBody(const httplib::Request& req, httplib::Response& res) {
  if (req.has_header("Content-Length") || req.has_header("Transfer-Encoding")) {
    res.set_header("Connection", "close");
    closeAfterThisResponse();
  }
}

struct RestKind {
  std::string subtype;
  char action = 'R';
};

RestKind restKind(const std::string& method, const std::string& path) {
  if (path.find("$export") != std::string::npos) return {"operation", 'E'};
  if (startsWith(path, "/ingest/")) return {"create", 'C'};
  if (startsWith(path, "/admin/")) return {"operation", method == "GET" ? 'R' : 'E'};
  // /fhir/..., split into segments after /fhir
  std::vector<std::string> seg;
  for (size_t at = 6; at < path.size();) {
    size_t end = path.find('/', at);
    if (end == std::string::npos) end = path.size();
    seg.push_back(path.substr(at, end - at));
    at = end + 1;
  }
  if (method == "POST" && !seg.empty() && seg.back() == "_search") return {"search-type", 'E'};
  if (method == "PUT") return {"update", 'U'};
  if (method == "DELETE") return {"delete", 'D'};
  if (method == "PATCH") return {"patch", 'U'};
  if (method == "POST") return {seg.size() <= 1 && (seg.empty() || seg[0].empty()) ? "batch" : "create", 'C'};
  if (seg.size() == 1) return {seg[0] == "_history" ? "history-system" : "search-type", seg[0] == "_history" ? 'R' : 'E'};
  if (seg.empty() || seg[0].empty()) return {"search-system", 'E'};
  if (seg.size() == 2) return {seg[1] == "_history" ? "history-type" : "read", 'R'};
  if (seg.size() == 3 && seg[2] == "_history") return {"history-instance", 'R'};
  if (seg.size() == 4 && seg[2] == "_history") return {"vread", 'R'};
  return {"operation", 'E'};
}

// Type/id named by a /fhir path, "" when it names none.
std::string pathEntity(const std::string& path) {
  if (!startsWith(path, "/fhir/")) return "";
  size_t type_end = path.find('/', 6);
  if (type_end == std::string::npos) return "";
  size_t id_end = path.find('/', type_end + 1);
  std::string id = path.substr(type_end + 1, id_end == std::string::npos ? std::string::npos : id_end - type_end - 1);
  if (id.empty() || id[0] == '_' || id[0] == '$') return "";
  return path.substr(6, type_end - 6) + "/" + id;
}

}  // namespace

Access requiredAccess(std::string_view method, std::string_view path) {
  if (path == "/health" || path == "/ready" || path == "/fhir/metadata") return Access::kOpen;
  if (path == "/metrics") return Access::kOpen;  // loopback callers only (metrics_routes.cc)
  if (path == "/.well-known/smart-configuration" || path == "/fhir/.well-known/smart-configuration") {
    return Access::kOpen;  // SMART discovery: read before a client holds any token
  }
  if (path == "/oauth2/token") return Access::kTokenEndpoint;
  if (isPagePath(path)) return Access::kPage;
  if (path == "/admin" || startsWith(path, "/admin/")) return Access::kAdmin;
  if (path == "/fhir/AuditEvent" || startsWith(path, "/fhir/AuditEvent/")) return Access::kAdmin;
  if (startsWith(path, "/ingest/")) return Access::kWrite;
  if (path == "/fhir" || startsWith(path, "/fhir/")) {
    if (method == "GET" || method == "HEAD") return Access::kRead;
    if (method == "POST" && path.size() >= 8 && path.substr(path.size() - 8) == "/_search") return Access::kRead;
    // Bulk export jobs (status, files, cancel) belong to reading, whatever the method.
    if (startsWith(path, "/fhir/_export/")) return Access::kRead;
    return Access::kWrite;
  }
  return Access::kAuthenticated;  // unknown routes: 404 only for callers with a valid token
}

int RateLimiter::take(const std::string& key) {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  if (buckets_.size() > 100000) {
    // Forget clients whose bucket has refilled: they lose nothing.
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      double elapsed = std::chrono::duration<double>(now - it->second.at).count();
      it = it->second.tokens + elapsed * rate_ >= burst_ ? buckets_.erase(it) : std::next(it);
    }
  }
  auto [it, inserted] = buckets_.try_emplace(key, Bucket{burst_, now});
  Bucket& b = it->second;
  double elapsed = std::chrono::duration<double>(now - b.at).count();
  b.tokens = std::min(burst_, b.tokens + elapsed * rate_);
  b.at = now;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return 0;
  }
  return std::max(1, static_cast<int>(std::ceil((1.0 - b.tokens) / rate_)));
}

RequestContext& currentRequest() { return t_slot.ctx; }

std::string peerCertThumbprint(const httplib::Request& req) {
  if (req.ssl == nullptr) return "";
  X509* cert = SSL_get1_peer_certificate(req.ssl);
  if (cert == nullptr) return "";
  unsigned char* der = nullptr;
  int length = i2d_X509(cert, &der);
  X509_free(cert);
  if (length <= 0) return "";
  std::string out = certificateThumbprintDer(std::string_view(reinterpret_cast<char*>(der), static_cast<size_t>(length)));
  OPENSSL_free(der);
  return out;
}

StatusOr<std::unique_ptr<Security>> Security::create(Gateway& gateway) {
  const Config& c = gateway.config();
  std::unique_ptr<TokenService> tokens;
  if (c.auth_enabled) {
    auto opened = c.signingKeysInStore() ? TokenService::open(gateway.store(), c.token_ttl_s)
                                         : TokenService::open(c.signingKeyDir(), c.token_ttl_s);
    if (!opened.isOk()) return opened.status();
    tokens = std::move(opened.value());
  } else {
    logLine(LogLevel::kWarning,
            "AUTH DISABLED (auth.enabled=false): every caller on " + c.listen_host +
                " may read and write everything. Development only; refused on non-loopback addresses.");
  }
  return std::unique_ptr<Security>(new Security(gateway, std::move(tokens)));
}

Security::Security(Gateway& gateway, std::unique_ptr<TokenService> tokens)
    : gateway_(gateway),
      tokens_(std::move(tokens)),
      assertions_([ca_file = gateway.config().jwks_ca_file](const std::string& url) {
        return http::fetchDocument(url, {ca_file, 10});
      }),
      limiter_(gateway.config().rate_per_s, gateway.config().rate_burst) {}

std::string Security::baseUrl(const httplib::Request& req) const {
  const Config& c = gateway_.config();
  if (!c.public_base_url.empty()) return c.public_base_url;
  return std::string(c.plain_http ? "http://" : "https://") + req.get_header_value("Host");
}

void Security::install(httplib::Server& server) {
  server.set_pre_routing_handler(
      [this](const httplib::Request& req, httplib::Response& res) { return authorize(req, res); });
  server.set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) { audit(req, res); });
  server.Post("/oauth2/token", [this](const httplib::Request& req, httplib::Response& res) { handleToken(req, res); });
  for (const char* path : {"/.well-known/smart-configuration", "/fhir/.well-known/smart-configuration"}) {
    server.Get(path, [this](const httplib::Request& req, httplib::Response& res) {
      res.status = 200;
      res.set_content(smartConfigurationJson(baseUrl(req)), "application/json");
    });
  }
  server.Get("/fhir/AuditEvent",
             [this](const httplib::Request& req, httplib::Response& res) { handleAuditSearch(req, res); });
  server.Get(R"(/fhir/AuditEvent/([0-9]{1,18}))",
             [this](const httplib::Request& req, httplib::Response& res) { handleAuditRead(req, res); });
}

httplib::Server::HandlerResponse Security::authorize(const httplib::Request& req, httplib::Response& res) {
  using HR = httplib::Server::HandlerResponse;
  const Config& config = gateway_.config();
  t_slot = Slot{};
  t_slot.active = true;
  RequestContext& ctx = t_slot.ctx;
  ctx.client_id = "anonymous";
  ctx.remote_addr = req.remote_addr;
  ctx.request_id = requestId();
  Access access = requiredAccess(req.method, req.path);
  if (access == Access::kOpen) {
    t_slot.skip_audit = true;
    return HR::Unhandled;
  }
  if (access == Access::kTokenEndpoint) return HR::Unhandled;  // the handler authenticates the client
  if (access == Access::kPage) {
    t_slot.skip_audit = true;  // the page audits the login, logout or report view itself
    return HR::Unhandled;
  }
  if (!config.auth_enabled) {
    std::string remote_addr = std::move(ctx.remote_addr);
    std::string request_id = std::move(ctx.request_id);
    ctx = developmentCaller(config.organization_id);
    ctx.remote_addr = std::move(remote_addr);
    ctx.request_id = std::move(request_id);
    return HR::Unhandled;
  }

  auto reject = [&](std::string description, bool token_present) {
    t_slot.auth_event = true;
    metrics::tokenFailures().counter({"bearer"}).add();
    t_slot.description = description;
    closeIfBody(req, res);
    // Failed attempts are limited per address: guessing tokens gets slow.
    if (int wait = limiter_.take("ip:" + req.remote_addr); wait > 0) {
      res.set_header("Retry-After", std::to_string(wait));
      sendOutcome(res, 429, "throttled", "too many requests; retry later");
      return HR::Handled;
    }
    res.set_header("WWW-Authenticate",
                   token_present ? "Bearer realm=\"ilp-gateway\", error=\"invalid_token\", error_description=\"" +
                                       description + "\""
                                 : std::string("Bearer realm=\"ilp-gateway\""));
    sendOutcome(res, 401, "login", (token_present ? "invalid access token: " : "") + description);
    return HR::Handled;
  };

  std::string header = req.get_header_value("Authorization");
  if (header.empty()) return reject("an access token is required (Authorization: Bearer; see POST /oauth2/token)", false);
  if (lower(header.substr(0, 7)) != "bearer ") return reject("the Authorization header must be Bearer", true);
  std::string_view token = std::string_view(header).substr(7);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  auto claims = tokens_->verify(token);
  if (!claims.isOk()) return reject(claims.status().message(), true);
  ctx.client_id = claims->client_id;
  auto client = gateway_.store().findClient(claims->client_id);
  if (!client.isOk()) {
    closeIfBody(req, res);
    sendStatus(res, client.status());
    return HR::Handled;
  }
  if (!client.value() || !client.value()->revoked_at.empty()) return reject("client revoked", true);
  const ClientRecord& record = *client.value();
  if (record.organization != claims->organization || record.role != claims->role) {
    return reject("client registration changed", true);
  }
  if (!claims->cert_thumbprint.empty() || !record.cert_thumbprint.empty()) {
    // RFC 8705: a certificate-bound token is only good over a TLS connection
    // authenticated with that certificate.
    std::string peer = peerCertThumbprint(req);
    if (claims->cert_thumbprint.empty() || peer != claims->cert_thumbprint ||
        (!record.cert_thumbprint.empty() && record.cert_thumbprint != claims->cert_thumbprint)) {
      return reject("token is bound to a client certificate that this connection did not present", true);
    }
  }
  auto role = parseRole(record.role);
  if (!role) return reject("client registration has no known role", true);
  ctx.authenticated = true;
  ctx.role = *role;
  ctx.organization = record.organization;
  ctx.scopes = claims->scopes;

  if (int wait = limiter_.take(ctx.client_id); wait > 0) {
    closeIfBody(req, res);
    res.set_header("Retry-After", std::to_string(wait));
    sendOutcome(res, 429, "throttled", "rate limit of this client exceeded; retry after the given seconds");
    return HR::Handled;
  }
  std::string_view needed;
  switch (access) {
    case Access::kRead: needed = kScopeRead; break;
    case Access::kWrite: needed = kScopeWrite; break;
    case Access::kAdmin: needed = kScopeAdmin; break;
    default: break;
  }
  if (!needed.empty() && !ctx.hasScope(needed)) {
    closeIfBody(req, res);
    res.set_header("WWW-Authenticate", "Bearer realm=\"ilp-gateway\", error=\"insufficient_scope\", scope=\"" +
                                           std::string(needed) + "\"");
    sendOutcome(res, 403, "forbidden", "this client lacks the scope " + std::string(needed));
    return HR::Handled;
  }
  return HR::Unhandled;
}

void Security::audit(const httplib::Request& req, httplib::Response& res) {
  requestAnswering(res, t_slot.active ? std::string_view(t_slot.ctx.client_id) : std::string_view());
  if (!t_slot.active) return;  // failed before routing (malformed request): nothing was accessed
  Slot slot = std::move(t_slot);
  t_slot = Slot{};
  if (slot.skip_audit || slot.ctx.audited) return;
  AuditInfo info;
  info.agent = slot.ctx.client_id;
  info.organization = slot.ctx.organization;
  info.remote_addr = slot.ctx.remote_addr;
  info.request_id = slot.ctx.request_id;
  info.http_status = res.status;
  info.description = slot.description;
  if (slot.auth_event) {
    info.kind = AuditKind::kAuthentication;
    info.action = 'E';
    info.subtype = "login";
  } else {
    RestKind kind = restKind(req.method, req.path);
    info.subtype = kind.subtype;
    info.action = kind.action;
    info.entities = slot.ctx.audit_entities;
    if (info.entities.empty()) {
      std::string entity = pathEntity(req.path);
      if (!entity.empty()) info.entities.push_back(entity);
    }
    size_t q = req.target.find('?');
    if (q != std::string::npos) info.query = req.target.substr(q + 1);
    if (info.description.empty()) info.description = req.method + " " + req.path;
  }
  try {
    gateway_.store().recordAudit({makeAuditEvent(info)});
  } catch (const std::exception& e) {
    logLine(LogLevel::kError, std::string("audit event not recorded: ") + e.what());
  }
}

void Security::handleToken(const httplib::Request& req, httplib::Response& res) {
  t_slot.auth_event = true;
  RequestContext& ctx = t_slot.ctx;
  bool used_basic = false;
  auto oauthError = [&](int status, const char* error, const std::string& description) {
    t_slot.description = description;
    metrics::tokenFailures().counter({"token_request"}).add();
    res.status = status;
    res.set_header("Cache-Control", "no-store");
    res.set_header("Pragma", "no-cache");
    if (status == 401 && used_basic) res.set_header("WWW-Authenticate", "Basic realm=\"ilp-gateway\"");
    rapidjson::Document doc(rapidjson::kObjectType);
    auto& a = doc.GetAllocator();
    doc.AddMember("error", rapidjson::StringRef(error), a);
    doc.AddMember("error_description", json::str(description, a), a);
    res.set_content(json::write(doc), "application/json");
  };
  if (!tokens_) return oauthError(404, "invalid_request", "tokens are not issued: auth.enabled is false");
  if (int wait = limiter_.take("ip:" + req.remote_addr); wait > 0) {
    res.set_header("Retry-After", std::to_string(wait));
    return oauthError(429, "slow_down", "too many token requests; retry later");
  }
  if (!isFormContentType(req.get_header_value("Content-Type"))) {
    return oauthError(400, "invalid_request", "the body must be application/x-www-form-urlencoded");
  }
  auto form = parseForm(req.body);
  if (form["grant_type"] != "client_credentials") {
    return oauthError(400, "unsupported_grant_type", "grant_type must be client_credentials");
  }
  std::string id = form["client_id"];
  std::string secret = form["client_secret"];
  std::string authorization = req.get_header_value("Authorization");
  if (auto basic = parseBasicCredentials(authorization)) {
    used_basic = true;
    if (!secret.empty()) return oauthError(400, "invalid_request", "use one client authentication method, not two");
    if (basic->malformed) return oauthError(401, "invalid_client", "malformed Basic credentials");
    if (!id.empty() && id != basic->id) return oauthError(400, "invalid_request", "client_id differs from Basic credentials");
    id = basic->id;
    secret = basic->secret;
  }
  std::optional<ClientRecord> client;
  if (form.count("client_assertion") != 0 || form.count("client_assertion_type") != 0) {
    // private_key_jwt (RFC 7523 2.2, SMART Backend Services): every refusal
    // is invalid_client, as the SMART specification asks.
    if (used_basic || !secret.empty()) {
      return oauthError(400, "invalid_request", "use one client authentication method, not two");
    }
    if (form["client_assertion_type"] != kJwtBearerAssertionType) {
      return oauthError(400, "invalid_request",
                        "client_assertion_type must be " + std::string(kJwtBearerAssertionType));
    }
    auto assertion = parseClientAssertion(form["client_assertion"]);
    ctx.client_id = claimedId(assertion.isOk() ? assertion->iss : id);
    if (!assertion.isOk()) return oauthError(401, "invalid_client", assertion.status().message());
    if (!id.empty() && id != assertion->iss) {
      return oauthError(401, "invalid_client", "client_id differs from the client assertion's iss");
    }
    auto verified = assertions_.authenticate(gateway_.store(), assertion.value(), tokenEndpointUrl(baseUrl(req)));
    if (!verified.isOk() && verified.status().code() == StatusCode::kUnavailable) {
      res.set_header("Retry-After", "5");
      return oauthError(503, "temporarily_unavailable", verified.status().message());
    }
    if (!verified.isOk()) return oauthError(401, "invalid_client", verified.status().message());
    client = std::move(verified.value());
  } else {
    ctx.client_id = claimedId(id);
    if (id.empty() || secret.empty()) return oauthError(401, "invalid_client", "client credentials are required");
    client = authenticateClient(gateway_.store(), id, secret);
    if (!client) return oauthError(401, "invalid_client", "client authentication failed");
  }
  ctx.client_id = client->client_id;
  ctx.organization = client->organization;
  if (client->local_only && !isLoopbackAddress(req.remote_addr)) {
    return oauthError(401, "invalid_client", "this client may only be used on the gateway host");
  }
  std::string peer = peerCertThumbprint(req);
  if (!client->cert_thumbprint.empty() && peer != client->cert_thumbprint) {
    return oauthError(401, "invalid_client", "this client must present its registered TLS client certificate");
  }
  std::vector<std::string> allowed = roleScopes(client->role);
  std::vector<std::string> granted;
  std::string requested = form["scope"];
  for (size_t at = 0; at < requested.size();) {
    size_t end = requested.find(' ', at);
    if (end == std::string::npos) end = requested.size();
    std::string scope = requested.substr(at, end - at);
    at = end + 1;
    if (scope.empty()) continue;
    if (std::find(allowed.begin(), allowed.end(), scope) == allowed.end()) {
      return oauthError(400, "invalid_scope", "scope " + scope + " is not granted to role " + client->role);
    }
    if (std::find(granted.begin(), granted.end(), scope) == granted.end()) granted.push_back(scope);
  }
  if (granted.empty()) granted = allowed;
  TokenClaims claims;
  claims.client_id = client->client_id;
  claims.role = client->role;
  claims.organization = client->organization;
  claims.scopes = granted;
  claims.cert_thumbprint = peer;  // bind to the TLS client certificate whenever there is one
  auto token = tokens_->issue(claims);
  if (!token.isOk()) return oauthError(500, "server_error", "token could not be issued");
  std::string scope_text;
  for (const auto& s : granted) scope_text += (scope_text.empty() ? "" : " ") + s;
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("access_token", json::str(token.value(), a), a);
  doc.AddMember("token_type", "Bearer", a);
  doc.AddMember("expires_in", tokens_->ttlSeconds(), a);
  doc.AddMember("scope", json::str(scope_text, a), a);
  res.status = 200;
  res.set_header("Cache-Control", "no-store");
  res.set_header("Pragma", "no-cache");
  res.set_content(json::write(doc), "application/json");
  t_slot.description = "token issued, scope " + scope_text;
}

void Security::handleAuditSearch(const httplib::Request& req, httplib::Response& res) {
  const Config& config = gateway_.config();
  AuditQuery query;
  int count = 50;
  for (const auto& [name, value] : req.params) {
    if (name == "date") {
      // FHIR date prefixes over the UTC instant text: "~" sorts after every
      // character of an instant, so value + "~" bounds "everything starting
      // with value".
      std::string prefix = value.size() > 2 ? value.substr(0, 2) : "";
      bool has_prefix = prefix == "ge" || prefix == "gt" || prefix == "le" || prefix == "lt" || prefix == "eq";
      std::string v = has_prefix ? value.substr(2) : value;
      if (v.empty() || !std::isdigit(static_cast<unsigned char>(v[0]))) {
        return sendOutcome(res, 400, "invalid", "date must look like [ge|gt|le|lt|eq]2024-11-26[T10:00:00Z]");
      }
      if (!has_prefix) prefix = "eq";
      auto lower_bound = [&](std::string b) { if (b > query.recorded_ge) query.recorded_ge = b; };
      auto upper_bound = [&](std::string b) { if (query.recorded_lt.empty() || b < query.recorded_lt) query.recorded_lt = b; };
      if (prefix == "ge") lower_bound(v);
      if (prefix == "gt") lower_bound(v + "~");
      if (prefix == "lt") upper_bound(v);
      if (prefix == "le") upper_bound(v + "~");
      if (prefix == "eq") {
        lower_bound(v);
        upper_bound(v + "~");
      }
    } else if (name == "agent") {
      query.agent = value.substr(value.find('|') == std::string::npos ? 0 : value.find('|') + 1);
    } else if (name == "entity") {
      query.entity = value;
    } else if (name == "_count") {
      try {
        count = std::stoi(value);
      } catch (...) {
        return sendOutcome(res, 400, "invalid", "_count must be a number");
      }
      count = std::clamp(count, 1, config.search_count_max);
    } else if (name == "_cursor") {
      try {
        query.after_seq = std::stoll(value);
      } catch (...) {
        return sendOutcome(res, 400, "invalid", "_cursor is not valid");
      }
    } else {
      return sendOutcome(res, 400, "not-supported",
                         "AuditEvent search supports date, agent, entity, _count and _cursor, not " + name);
    }
  }
  query.limit = count + 1;  // one more tells whether a next page exists
  auto found = gateway_.store().searchAudit(query);
  if (!found.isOk()) return sendStatus(res, found.status());
  auto& rows = found.value();
  bool more = static_cast<int>(rows.size()) > count;
  if (more) rows.resize(static_cast<size_t>(count));

  std::string base = config.public_base_url.empty() ? "https://" + req.get_header_value("Host")
                                                    : config.public_base_url;
  auto link = [&](std::int64_t cursor) {
    std::string url = base + "/fhir/AuditEvent?";
    for (const auto& [name, value] : req.params) {
      if (name != "_cursor") url += httplib::detail::encode_query_param(name) + "=" + httplib::detail::encode_query_param(value) + "&";
    }
    return url + "_cursor=" + std::to_string(cursor);
  };
  std::string body = "{\"resourceType\":\"Bundle\",\"type\":\"searchset\",\"link\":[";
  body += "{\"relation\":\"self\",\"url\":" + json::write(rapidjson::Value(rapidjson::StringRef(link(query.after_seq).c_str()))) + "}";
  if (more) {
    std::string next = link(rows.back().seq);
    body += ",{\"relation\":\"next\",\"url\":" + json::write(rapidjson::Value(rapidjson::StringRef(next.c_str()))) + "}";
  }
  body += "],\"entry\":[";
  std::vector<std::string> entities;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i > 0) body += ",";
    body += "{\"fullUrl\":\"" + base + "/fhir/AuditEvent/" + std::to_string(rows[i].seq) +
            "\",\"resource\":" + auditEventJson(rows[i]) + ",\"search\":{\"mode\":\"match\"}}";
  }
  body += "]}";
  res.status = 200;
  res.set_content(body, kFhirJson);
}

void Security::handleAuditRead(const httplib::Request& req, httplib::Response& res) {
  std::int64_t seq = std::stoll(req.matches[1]);
  auto found = gateway_.store().scanAudit(seq - 1, 1);
  if (!found.isOk()) return sendStatus(res, found.status());
  if (found.value().empty() || found.value()[0].seq != seq) {
    return sendOutcome(res, 404, "not-found", "AuditEvent/" + std::to_string(seq) + " does not exist");
  }
  res.status = 200;
  res.set_content(auditEventJson(found.value()[0]), kFhirJson);
}

}  // namespace ilpgw
