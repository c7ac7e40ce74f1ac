#include "http/server.h"

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <httplib.h>

#include "base/log.h"
#include "fhir/outcome.h"
#include "http/routes.h"
#include "http/auth.h"
#include "http/connection_guard.h"
#include "http/guarded_connection.h"
#include "http/metrics_routes.h"
#include "http/people_pages.h"
#include "http/pws_page.h"
#include "http/status_page.h"
#include "http/sweeping_page.h"
#include "http/console_pages.h"
#include "http/pws_routes.h"
#include "http/request_log.h"
#include "report/measure.h"

namespace ilpgw {
namespace {

constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

ConnectionLimits limitsOf(const Config& c) {
  ConnectionLimits limits;
  limits.header_timeout = std::chrono::milliseconds(c.header_timeout_ms);
  limits.min_bytes_per_s = c.min_body_bytes_per_s;
  limits.rate_grace = std::chrono::milliseconds(c.body_grace_ms);
  limits.max_per_peer = c.max_connections_per_peer;
  return limits;
}

// cpp-httplib 0.11.4 listens with a backlog of 5; re-listening on the bound
// socket raises it so bursts of new connections are not dropped. Its
// per-connection loop (a private virtual, which C++ lets us override) is
// replaced by serveConnection(), which holds every connection to the guard's
// limits; parsing and routing remain cpp-httplib's process_request().
template <typename Base>
class TunedServer : public Base {
 public:
  template <typename... Args>
  TunedServer(const Config& config, Args&&... args)
      : Base(std::forward<Args>(args)...), guard_(limitsOf(config)) {
    options_.read_timeout = std::chrono::seconds(config.read_timeout_s);
    options_.write_timeout = std::chrono::seconds(config.write_timeout_s);
    options_.keep_alive_timeout = std::chrono::seconds(config.keep_alive_timeout_s);
    options_.keep_alive_max_count = config.keep_alive_max_count;
  }
  void setBacklog(int backlog) { ::listen(this->svr_sock_, backlog); }
  ConnectionGuard& guard() { return guard_; }

 private:
  bool process_and_close_socket(socket_t sock) override {
    SSL_CTX* tls = nullptr;
    if constexpr (std::is_base_of_v<httplib::SSLServer, Base>) tls = this->ssl_context();
    serveConnection(sock, tls, guard_, options_, this->svr_sock_,
                    [this](httplib::Stream& strm, bool close_connection, bool& connection_closed, SSL* ssl,
                           const std::function<void()>& head_complete) {
                      return this->process_request(strm, close_connection, connection_closed,
                                                   [&](httplib::Request& req) {
                                                     if (ssl != nullptr) req.ssl = ssl;
                                                     requestHeadRead();
                                                     requestStarted(req);
                                                     head_complete();
                                                   });
                    });
    return true;
  }

  ConnectionGuard guard_;
  ConnectionOptions options_;
};

bool isLoopback(const std::string& host) {
  return host == "127.0.0.1" || host == "::1" || host == "localhost" || host.rfind("127.", 0) == 0;
}

template <typename Base>
class ServerImpl final : public HttpServer {
 public:
  template <typename... Args>
  ServerImpl(Gateway& gateway, Args&&... args)
      : gateway_(gateway), server_(gateway.config(), std::forward<Args>(args)...) {}

  TunedServer<Base>& raw() { return server_; }
  // The security layer lives exactly as long as the server whose handlers use it.
  void adopt(std::unique_ptr<Security> security) { security_ = std::move(security); }

  StatusOr<int> bind() override {
    const Config& c = gateway_.config();
    int port = c.listen_port;
    if (port == 0) {
      port = server_.bind_to_any_port(c.listen_host);
      if (port < 0) return Status(StatusCode::kUnavailable, "cannot bind " + c.listen_host);
    } else if (!server_.bind_to_port(c.listen_host, port)) {
      return Status(StatusCode::kUnavailable,
                    "cannot bind " + c.listen_host + ":" + std::to_string(port) + " (in use or not permitted)");
    }
    server_.setBacklog(c.listen_backlog);
    return port;
  }

  void serve() override { server_.listen_after_bind(); }
  void stop() override {
    server_.stop();
    server_.guard().closeUnbusy();  // idle keep-alive and unfinished heads need not delay the exit
  }

 private:
  Gateway& gateway_;
  std::unique_ptr<Security> security_;  // declared before server_: outlives its handlers
  TunedServer<Base> server_;
};

void tune(httplib::Server& server, ConnectionGuard& guard, const Config& c) {
  server.new_task_queue = [threads = c.threads, &guard] { return new WorkerPool(static_cast<size_t>(threads), guard); };
  server.set_tcp_nodelay(true);  // without it keep-alive replies stall ~40 ms (Nagle + delayed ACK)
  server.set_keep_alive_max_count(static_cast<size_t>(c.keep_alive_max_count));
  server.set_keep_alive_timeout(c.keep_alive_timeout_s);
  server.set_read_timeout(c.read_timeout_s);
  server.set_write_timeout(c.write_timeout_s);
  server.set_payload_max_length(static_cast<size_t>(c.payload_max_bytes));
  server.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    // Log the cause, answer without internals (0.11.4 would copy e.what() into a header).
    std::string what = "unknown";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    logLine(LogLevel::kError, "unhandled exception on " + req.method + " " + routePattern(req.path) + ": " + what,
            {{"request_id", requestId()}});
    res.status = 500;
    res.set_content(outcomeJson(sdk::Severity::kError, "exception", "internal error; see the gateway log"),
                    "application/fhir+json");
  });
  server.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req,
                                                                   httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (res.status == 400 && requestBodyTooSlow()) {  // cpp-httplib reports any failed body read as 400
      res.status = 408;
      res.set_header("Connection", "close");
    }
    std::string text;
    std::string code = "processing";
    switch (res.status) {
      case 404: text = "no such endpoint: " + req.method + " " + req.path; code = "not-found"; break;
      case 405: text = "method not allowed"; code = "not-supported"; break;
      case 413: text = "payload too large"; code = "too-costly"; break;
      case 400: text = "malformed HTTP request"; code = "invalid"; break;
      case 408: text = "request body arrived too slowly (server.min_body_bytes_per_s)"; code = "timeout"; break;
      default: text = "request failed"; break;
    }
    res.set_content(outcomeJson(sdk::Severity::kError, code, text), "application/fhir+json");
    return httplib::Server::HandlerResponse::Handled;
  }));
  server.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    requestAnswered(req, res);
    requestFinished(req, res);  // the request log line: route pattern, never the raw path or query
  });
}

// Login pages and the PWS page; they live as long as the server's handlers.
void registerPeoplePages(httplib::Server& server, Gateway& gateway, std::shared_ptr<report::PwsService> pws,
                         std::shared_ptr<const report::MeasureLibrary> sweeping) {
  auto pages = std::make_shared<PeoplePages>(gateway);
  pages->install(server);  // its handlers use `pages`, which the PWS pages' handlers keep alive
  registerPwsPage(server, pages, pws);
  registerSweepingPage(server, pages, std::move(pws), std::move(sweeping));
  registerStatusPage(server, pages);
  registerConsolePages(server, pages);
}

}  // namespace

Status checkDeploymentSafety(const Config& config) {
  if (isLoopback(config.listen_host)) return Status::ok();
  if (!config.auth_enabled) {
    return Status(StatusCode::kInvalidArgument, "refusing auth.enabled=false on non-loopback address " +
                                                    config.listen_host + " (every caller could read everything)");
  }
  if (config.plain_http) {
    return Status(StatusCode::kInvalidArgument,
                  "refusing plain HTTP on non-loopback address " + config.listen_host + " (health data needs TLS)");
  }
  if (config.tls_cert.find("certs/dev/") != std::string::npos) {
    return Status(StatusCode::kInvalidArgument, "refusing development certificates on non-loopback address " +
                                                    config.listen_host + "; configure tls.cert and tls.key");
  }
  return Status::ok();
}

StatusOr<std::unique_ptr<HttpServer>> makeServer(Gateway& gateway) {
  const Config& c = gateway.config();
  Status safe = checkDeploymentSafety(c);
  if (!safe.isOk()) return safe;
  // PWS indicators: a malformed Measure file stops start-up, naming file and field.
  auto library = report::MeasureLibrary::load(c.mappings_dir + "/measures");
  if (!library.isOk()) return library.status();
  // Sweeping lists (daftar sasaran) for the pages, in the same language.
  auto sweeping = report::MeasureLibrary::load(c.mappings_dir + "/sweeping");
  if (!sweeping.isOk()) return sweeping.status();
  auto security = Security::create(gateway);
  if (!security.isOk()) return security.status();
  if (c.plain_http) {
    auto server = std::make_unique<ServerImpl<httplib::Server>>(gateway);
    tune(server->raw(), server->raw().guard(), c);
    security.value()->install(server->raw());  // before the routes: one enforcement point for all
    server->adopt(std::move(security.value()));
    auto pws = registerPwsRoutes(server->raw(), gateway, library.value(), false);  // before the generic /fhir routes
    registerPeoplePages(server->raw(), gateway, pws, sweeping.value());
    registerRoutes(server->raw(), gateway, false);
    return std::unique_ptr<HttpServer>(std::move(server));
  }
  for (const auto& path : {c.tls_cert, c.tls_key}) {
    if (FILE* f = std::fopen(path.c_str(), "rb")) {
      std::fclose(f);
    } else {
      return Status(StatusCode::kInvalidArgument, "TLS file not readable: " + path);
    }
  }
  const char* client_ca = c.tls_client_ca.empty() ? nullptr : c.tls_client_ca.c_str();
  auto server = std::make_unique<ServerImpl<httplib::SSLServer>>(gateway, c.tls_cert.c_str(), c.tls_key.c_str(),
                                                                 client_ca);
  if (!server->raw().is_valid()) {
    return Status(StatusCode::kInvalidArgument,
                  "TLS set-up failed: certificate " + c.tls_cert + " and key " + c.tls_key +
                      " must be PEM files that belong together");
  }
  SSL_CTX* ctx = server->raw().ssl_context();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_cipher_list(ctx, kTls12Ciphers);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  tune(server->raw(), server->raw().guard(), c);
  security.value()->install(server->raw());  // before the routes: one enforcement point for all
  server->adopt(std::move(security.value()));
  auto pws = registerPwsRoutes(server->raw(), gateway, library.value(), true);  // before the generic /fhir routes
  registerPeoplePages(server->raw(), gateway, pws, sweeping.value());
  registerRoutes(server->raw(), gateway, true);
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace ilpgw
