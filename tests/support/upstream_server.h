// A test double of the upstream FHIR server (national platform): an OAuth2
// client-credentials token endpoint and `PUT /fhir/{type}/{id}` over TLS on
// 127.0.0.1, with fault injection (429, 5xx, 4xx refusals, slowness, being
// stopped and restarted on the same port) and a record of everything it
// received. tests/forward/upstream_gateway_test.cc also runs the same stories
// against a second real ilp-gateway.
#pragma once

#include <httplib.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace ilpgw::testing {

class UpstreamServer {
 public:
  static constexpr const char* kClientId = "gateway-test";
  static constexpr const char* kClientSecret = "s3cret:with/odd chars";

  UpstreamServer();
  ~UpstreamServer();

  int port() const { return port_; }
  std::string baseUrl() const { return "https://127.0.0.1:" + std::to_string(port_) + "/fhir"; }
  std::string tokenUrl() const { return "https://127.0.0.1:" + std::to_string(port_) + "/oauth2/token"; }
  // The gateway.json `upstream` section pointing here, with short backoffs.
  std::string gatewayConfig(const std::string& extra = "") const;

  void stop();   // connections are refused until start()
  void start();  // listens again on the same port

  // The next `count` PUTs answer `status` (with Retry-After when given).
  void failNext(int count, int status, const std::string& retry_after = "");
  // PUTs of `type_id` ("Observation/abc") answer `status` with an OperationOutcome.
  void refuse(const std::string& type_id, int status);
  void clearRefusals();
  void setDelayMs(int ms) { delay_ms_ = ms; }
  void setTokenLifetimeS(int s) { token_lifetime_s_ = s; }

  struct Put {
    std::string key;      // Type/id
    std::string version;  // meta.versionId of the body
    std::string hash;     // of the whole body
    int status = 0;       // what we answered
    std::int64_t at_ms = 0;
  };
  std::vector<Put> puts() const;
  // Accepted PUTs per Type/id/_history/v.
  std::map<std::string, int> acceptedCounts() const;
  // Distinct stored contents per Type/id (what a real server would version).
  std::map<std::string, std::set<std::string>> storedContents() const;
  int tokenRequests() const { return token_requests_; }
  int unauthorized() const { return unauthorized_; }

 private:
  void listen();
  void handleToken(const httplib::Request& req, httplib::Response& res);
  void handlePut(const httplib::Request& req, httplib::Response& res);

  int port_ = 0;
  std::unique_ptr<httplib::SSLServer> server_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<Put> puts_;
  std::map<std::string, std::int64_t> tokens_;  // token -> expiry ms
  std::map<std::string, int> refusals_;
  int fail_count_ = 0;
  int fail_status_ = 0;
  std::string fail_retry_after_;
  std::atomic<int> delay_ms_{0};
  std::atomic<int> token_lifetime_s_{3600};
  std::atomic<int> token_requests_{0};
  std::atomic<int> unauthorized_{0};
};

}  // namespace ilpgw::testing
