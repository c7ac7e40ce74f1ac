#include "upstream_server.h"

#include <chrono>
#include <stdexcept>

#include "base/crypto.h"
#include "base/json.h"
#include "base/url.h"
#include "test_support.h"

namespace ilpgw::testing {
namespace {

std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

UpstreamServer::UpstreamServer() { start(); }

UpstreamServer::~UpstreamServer() { stop(); }

std::string UpstreamServer::gatewayConfig(const std::string& extra) const {
  std::string config = "\"upstream\": {\"enabled\": true, \"base_url\": \"" + baseUrl() + "\", \"token_url\": \"" +
                       tokenUrl() + "\", \"client_id\": \"" + kClientId + "\", \"client_secret\": \"" +
                       kClientSecret + "\", \"ca_file\": \"" + (devCertDir() / "ca.crt").string() +
                       "\", \"backoff_initial_ms\": 100, \"backoff_max_ms\": 400, \"poll_interval_ms\": 100, "
                       "\"timeout_s\": 5";
  if (!extra.empty()) config += ", " + extra;
  return config + "}";
}

void UpstreamServer::start() {
  if (server_) return;
  const auto& certs = devCertDir();
  server_ = std::make_unique<httplib::SSLServer>((certs / "server.crt").c_str(), (certs / "server.key").c_str());
  if (!server_->is_valid()) throw std::runtime_error("upstream double: TLS set-up failed");
  server_->set_keep_alive_timeout(1);  // stop() waits for idle keep-alive connections
  server_->set_tcp_nodelay(true);
  server_->Post("/oauth2/token", [this](const httplib::Request& req, httplib::Response& res) { handleToken(req, res); });
  server_->Put(R"(/fhir/([A-Za-z]+)/([A-Za-z0-9\-\.]+))",
               [this](const httplib::Request& req, httplib::Response& res) { handlePut(req, res); });
  if (port_ == 0) {
    port_ = server_->bind_to_any_port("127.0.0.1");
  } else {
    for (int i = 0; i < 50 && !server_->bind_to_port("127.0.0.1", port_); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  if (port_ <= 0) throw std::runtime_error("upstream double: cannot bind");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

void UpstreamServer::stop() {
  if (!server_) return;
  server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

void UpstreamServer::failNext(int count, int status, const std::string& retry_after) {
  std::lock_guard lock(mutex_);
  fail_count_ = count;
  fail_status_ = status;
  fail_retry_after_ = retry_after;
}

void UpstreamServer::refuse(const std::string& type_id, int status) {
  std::lock_guard lock(mutex_);
  refusals_[type_id] = status;
}

void UpstreamServer::clearRefusals() {
  std::lock_guard lock(mutex_);
  refusals_.clear();
}

std::vector<UpstreamServer::Put> UpstreamServer::puts() const {
  std::lock_guard lock(mutex_);
  return puts_;
}

std::map<std::string, int> UpstreamServer::acceptedCounts() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, int> out;
  for (const auto& p : puts_) {
    if (p.status / 100 == 2) ++out[p.key + "/_history/" + p.version];
  }
  return out;
}

std::map<std::string, std::set<std::string>> UpstreamServer::storedContents() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, std::set<std::string>> out;
  for (const auto& p : puts_) {
    if (p.status / 100 == 2) out[p.key].insert(p.hash);
  }
  return out;
}

void UpstreamServer::handleToken(const httplib::Request& req, httplib::Response& res) {
  ++token_requests_;
  auto expected = httplib::make_basic_authentication_header(percentEncode(kClientId), percentEncode(kClientSecret));
  if (req.get_header_value("Authorization") != expected.second ||
      req.get_param_value("grant_type") != "client_credentials" ||
      req.get_header_value("Content-Type").rfind("application/x-www-form-urlencoded", 0) != 0) {
    res.status = 401;
    res.set_content(R"({"error":"invalid_client"})", "application/json");
    return;
  }
  std::string token = "tok-" + std::to_string(token_requests_.load()) + "-" + std::to_string(nowMs());
  {
    std::lock_guard lock(mutex_);
    tokens_[token] = nowMs() + token_lifetime_s_ * 1000LL;
  }
  // expires_in as a string, the way SATUSEHAT sends it.
  res.set_content(R"({"access_token":")" + token + R"(","token_type":"Bearer","expires_in":")" +
                      std::to_string(token_lifetime_s_.load()) + "\"}",
                  "application/json");
}

void UpstreamServer::handlePut(const httplib::Request& req, httplib::Response& res) {
  if (delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_.load()));
  Put put;
  put.key = std::string(req.matches[1]) + "/" + std::string(req.matches[2]);
  put.at_ms = nowMs();
  put.hash = hex(sha256(req.body));
  rapidjson::Document doc;
  if (!json::parse(req.body, doc) && doc.IsObject() && doc.HasMember("meta") && doc["meta"].IsObject()) {
    put.version = std::string(json::string(doc["meta"], "versionId"));
  }
  std::lock_guard lock(mutex_);
  std::string auth = req.get_header_value("Authorization");
  auto token = tokens_.find(auth.rfind("Bearer ", 0) == 0 ? auth.substr(7) : "");
  if (token == tokens_.end() || token->second < nowMs()) {
    ++unauthorized_;
    put.status = 401;
  } else if (fail_count_ > 0) {
    --fail_count_;
    put.status = fail_status_;
    if (!fail_retry_after_.empty()) res.set_header("Retry-After", fail_retry_after_);
  } else if (auto refusal = refusals_.find(put.key); refusal != refusals_.end()) {
    put.status = refusal->second;
    res.set_content(R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"business-rule",)"
                    R"("diagnostics":"upstream refuses this resource, a test refusal"}]})",
                    "application/fhir+json");
  } else if (!doc.IsObject() || json::string(doc, "id") != std::string(req.matches[2])) {
    put.status = 400;
  } else {
    put.status = 200;
    res.set_content(req.body, "application/fhir+json");
  }
  res.status = put.status;
  puts_.push_back(put);
}

}  // namespace ilpgw::testing
