// The security layer of the HTTP server: one enforcement point every route
// goes through. A pre-routing handler authenticates the bearer token,
// applies the per-client rate limit and the scope the route needs, and
// leaves a RequestContext for the handlers (currentRequest()); a
// post-routing handler records one AuditEvent per request. Also serves
// POST /oauth2/token and the admin-only AuditEvent API.
#pragma once

#include <httplib.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "ingest/gateway.h"
#include "security/request_context.h"
#include "security/client_assertion.h"
#include "security/token_service.h"

namespace ilpgw {

// What a route needs; decided from method and path alone, before routing,
// so a route added later is covered without being listed anywhere.
// kPage: pages for people (http/people_pages.h), which check the session
// cookie themselves; a cookie never counts anywhere else.
enum class Access { kOpen, kTokenEndpoint, kPage, kAuthenticated, kRead, kWrite, kAdmin };
Access requiredAccess(std::string_view method, std::string_view path);

// Per-key token bucket.
class RateLimiter {
 public:
  RateLimiter(double rate_per_s, double burst) : rate_(rate_per_s), burst_(burst) {}
  // 0 when the request may go ahead, else whole seconds until it may.
  int take(const std::string& key);

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point at;
  };
  double rate_;
  double burst_;
  std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
};

// The caller of the request being handled on this thread. Valid inside route
// handlers (set by the pre-routing handler of the same request).
RequestContext& currentRequest();

// RFC 8705 thumbprint of the TLS client certificate, "" without one.
std::string peerCertThumbprint(const httplib::Request& req);

class Security {
 public:
  // Fails when auth is enabled and the signing keys cannot be loaded.
  static StatusOr<std::unique_ptr<Security>> create(Gateway& gateway);

  // Call before registerRoutes(): the AuditEvent routes must be matched
  // before the generic /fhir/{type}/{id} routes.
  void install(httplib::Server& server);

 private:
  Security(Gateway& gateway, std::unique_ptr<TokenService> tokens);
  httplib::Server::HandlerResponse authorize(const httplib::Request& req, httplib::Response& res);
  // Also the last hook before the answer is written: it echoes X-Request-ID.
  void audit(const httplib::Request& req, httplib::Response& res);
  void handleToken(const httplib::Request& req, httplib::Response& res);
  // The scheme and authority clients reach this gateway at: public_base_url,
  // else taken from the request.
  std::string baseUrl(const httplib::Request& req) const;
  void handleAuditSearch(const httplib::Request& req, httplib::Response& res);
  void handleAuditRead(const httplib::Request& req, httplib::Response& res);

  Gateway& gateway_;
  std::unique_ptr<TokenService> tokens_;  // null when auth is disabled
  ClientAssertionVerifier assertions_;    // private_key_jwt at the token endpoint
  RateLimiter limiter_;
};

}  // namespace ilpgw
