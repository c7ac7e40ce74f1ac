// Store-and-forward against a REAL upstream: a second ilp-gateway process
// (U) plays the national platform with its own token endpoint, auth, tenant
// check, rate limiter and SQLite store; the gateway under test (D) forwards
// to it over TLS on loopback. Unlike outbox_test.cc (a test double that counts
// PUTs), what is checked here is what the national platform actually stored:
// every resource D stored is at U under the same id, at version 1 (a resend
// never made a second version), and U holds exactly as many resources of each
// type as D.
//
// Which client D uses at U: a `clinic` client bound (`client add --org`) to
// the organization D posts for. Only clinic clients write (puller and admin
// get 403 even with a write scope), and binding it to D's organization means
// U's tenant check accepts D's resources and nothing else: a compromised
// puskesmas gateway cannot write another puskesmas' data at the national
// platform. A hub forwarding several organizations would need one such client
// per organization.
//
// Faults, all produced by the real U:
//  - outage: U is stopped (SIGTERM), D's outbox grows, U restarts on the same
//    data directory and port;
//  - 429: U runs with limits.rate_per_s = rate_burst = 2, so D's PUTs are
//    throttled with Retry-After;
//  - 503: the test holds SQLite's write lock on U's database (BEGIN
//    EXCLUSIVE from another connection, as a backup or a long CLI command
//    would); U's group-commit writer gives up after its busy timeout (5 s) and
//    answers 503 with nothing stored. Releasing the lock lifts the fault.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>

#include "durability_helpers.h"
#include "sqlite_write_lock.h"
#include "test_support.h"

namespace ilpgw {
namespace {

using testing::GatewayOptions;
using testing::GatewayProcess;
using testing::TempDir;
using namespace std::chrono_literals;

constexpr const char* kDownstreamOrg = "test-puskesmas";  // GatewayOptions' default

std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

// The national platform: auth on, its own organization, a persistent data
// directory (owned by the test, so it survives restarts) and, after the first
// start, a fixed port.
class Upstream {
 public:
  explicit Upstream(std::string extra_config = "") : extra_config_(std::move(extra_config)) {
    start();
    // D's credentials at U, and a national puller to check what arrived.
    credentials_ = process_->addClient("clinic", kDownstreamOrg);
    puller_token_ = process_->fetchToken(process_->addClient("puller"));
  }

  void start() {
    GatewayOptions options;
    options.auth = true;
    options.organization_id = "national-platform";
    options.data_dir = data_.file("u-data");
    options.extra_config = extra_config_;
    options.port = port_;  // 0 the first time
    // cpp-httplib 0.11.4 lets an idle keep-alive connection (D's sender keeps
    // one open) hold a worker until keep_alive_timeout_s even after SIGTERM:
    // with the default 30 s every stop of U would take 30 s.
    options.server_config = R"("keep_alive_timeout_s": 2)";
    // A restart right after a stop may find the port briefly busy.
    for (int attempt = 0;; ++attempt) {
      try {
        process_ = std::make_unique<GatewayProcess>(options);
        break;
      } catch (const std::exception&) {
        if (port_ == 0 || attempt >= 20) throw;
        std::this_thread::sleep_for(250ms);
      }
    }
    port_ = process_->port();
  }
  int stop() {
    int status = process_->terminate();
    last_log_ += process_->log();
    process_.reset();
    return status;
  }
  void restart(std::string extra_config) {
    extra_config_ = std::move(extra_config);
    start();
  }

  GatewayProcess& process() { return *process_; }
  int port() const { return port_; }
  std::string dbPath() const { return data_.file("u-data") + "/gateway.db"; }
  std::string log() const { return last_log_ + (process_ ? process_->log() : ""); }

  // D's `upstream` section: short backoffs, a timeout longer than U's store
  // busy timeout (5 s) so a locked U answers 503 rather than timing out.
  std::string forwardingConfig() const {
    std::string origin = "https://127.0.0.1:" + std::to_string(port_);
    return "\"upstream\": {\"enabled\": true, \"base_url\": " + jsonString(origin + "/fhir") +
           ", \"token_url\": " + jsonString(origin + "/oauth2/token") +
           ", \"client_id\": " + jsonString(credentials_.id) +
           ", \"client_secret\": " + jsonString(credentials_.secret) +
           ", \"ca_file\": " + jsonString((testing::devCertDir() / "ca.crt").string()) +
           ", \"backoff_initial_ms\": 100, \"backoff_max_ms\": 400, \"poll_interval_ms\": 100, \"timeout_s\": 20}";
  }

  // GET as the national puller, waiting out U's own 429s (the puller shares
  // U's rate limits in the throttling test).
  httplib::Result get(const std::string& path) {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    for (;;) {
      auto res = process_->client(puller_token_)->Get(path.c_str());
      if (!res || res->status != 429 || std::chrono::steady_clock::now() > deadline) return res;
      std::this_thread::sleep_for(
          std::chrono::seconds(std::max(1, std::atoi(res->get_header_value("Retry-After").c_str()))));
    }
  }

 private:
  TempDir data_;
  std::string extra_config_;
  int port_ = 0;
  std::unique_ptr<GatewayProcess> process_;
  testing::ClientCredentials credentials_;
  std::string puller_token_;
  std::string last_log_;
};

GatewayOptions forwardingTo(const Upstream& upstream) {
  GatewayOptions options;  // auth disabled: the tests are about forwarding
  options.extra_config = upstream.forwardingConfig();
  return options;
}

// Posts visits first..first+count-1 to D; returns the Type/id of every
// resource version D stored.
std::set<std::string> postVisits(const GatewayProcess& gateway, int first, int count) {
  std::set<std::string> stored;
  auto client = gateway.client();
  for (int i = first; i < first + count; ++i) {
    auto res = client->Post("/ingest/epuskesmas-json", testing::distinctVisit(i), "application/json");
    EXPECT_TRUE(res && res->status == 201) << (res ? res->body : httplib::to_string(res.error()));
    if (!res) continue;
    for (const auto& location : testing::bundleLocations(res->body)) {
      EXPECT_NE(location.find("/_history/1"), std::string::npos) << "distinct visits make first versions";
      stored.insert(location.substr(0, location.find("/_history")));
    }
  }
  return stored;
}

bool drained(const GatewayProcess& gateway) { return testing::outboxCount(gateway, "pending") == 0; }

std::int64_t summaryCount(const httplib::Result& res) {
  if (!res || res->status != 200) return -1;
  auto doc = testing::parseJson(res->body);
  return doc.IsObject() && doc.HasMember("total") ? doc["total"].GetInt64() : -1;
}

// What U stored equals what D stored: the same Type/ids, each at version 1,
// one version in its history, and per type U's total equals D's total. A
// byte-identical resend would be absorbed by U (PUT by id, unchanged content
// makes no new version), so the tests also check D's sentSinceStart: one
// successful PUT per resource.
void expectSameAtUpstream(const GatewayProcess& downstream, Upstream& upstream, const std::set<std::string>& stored) {
  std::map<std::string, std::set<std::string>> by_type;
  for (const auto& key : stored) by_type[key.substr(0, key.find('/'))].insert(key);
  size_t seen = 0;
  for (const auto& [type, keys] : by_type) {
    auto d_count = summaryCount(downstream.client()->Get(("/fhir/" + type + "?_summary=count").c_str()));
    auto u_count = summaryCount(upstream.get("/fhir/" + type + "?_summary=count"));
    EXPECT_EQ(d_count, static_cast<std::int64_t>(keys.size())) << type << " at D";
    EXPECT_EQ(u_count, d_count) << type << ": U holds a different number than D";

    auto res = upstream.get("/fhir/" + type + "?_count=1000");
    ASSERT_TRUE(res && res->status == 200) << type << " " << (res ? res->body : httplib::to_string(res.error()));
    auto bundle = testing::parseJson(res->body);
    std::map<std::string, std::string> at_u;  // Type/id -> versionId
    if (bundle.HasMember("entry")) {
      for (const auto& entry : bundle["entry"].GetArray()) {
        const auto& resource = entry["resource"];
        at_u[type + "/" + resource["id"].GetString()] = resource["meta"]["versionId"].GetString();
      }
    }
    for (const auto& key : keys) {
      auto it = at_u.find(key);
      if (it == at_u.end()) {
        ADD_FAILURE() << key << " never arrived at U";
        continue;
      }
      EXPECT_EQ(it->second, "1") << key << " was stored more than once at U";
      ++seen;
    }
    EXPECT_EQ(at_u.size(), keys.size()) << type << ": U holds resources D never sent";
  }
  EXPECT_EQ(seen, stored.size());
  // The history agrees: one version of the first resource, not two.
  const std::string& one = *stored.begin();
  auto history = upstream.get("/fhir/" + one + "/_history");
  ASSERT_TRUE(history && history->status == 200) << one;
  auto doc = testing::parseJson(history->body);
  EXPECT_EQ(doc["entry"].Size(), 1u) << one << " has more than one version at U: " << history->body;
}

TEST(UpstreamGatewayTest, EveryResourceArrivesExactlyOnceThroughAnOutage) {
  Upstream upstream;
  GatewayProcess downstream(forwardingTo(upstream));

  auto stored = postVisits(downstream, 1, 5);
  ASSERT_GT(stored.size(), 20u);
  ASSERT_TRUE(testing::waitFor([&] { return drained(downstream); }, 60s)) << downstream.log() << upstream.log();
  expectSameAtUpstream(downstream, upstream, stored);
  auto ready = testing::readyState(downstream);
  EXPECT_EQ(ready["outbox"]["dead"].GetInt64(), 0) << downstream.log();
  EXPECT_EQ(ready["outbox"]["sentSinceStart"].GetInt64(), static_cast<std::int64_t>(stored.size()))
      << "one PUT per resource";

  // Outage: U stops cleanly; D keeps accepting and its outbox grows.
  int port = upstream.port();
  EXPECT_EQ(upstream.stop(), 0);
  auto more = postVisits(downstream, 100, 10);
  ASSERT_GT(more.size(), 50u);
  std::int64_t new_rows = 0;
  for (const auto& key : more) new_rows += stored.count(key) == 0 ? 1 : 0;  // the shared Practitioner is old
  ASSERT_TRUE(testing::waitFor([&] { return testing::outboxCount(downstream, "pending") == new_rows; }, 10s))
      << testing::outboxCount(downstream, "pending") << " pending, expected " << new_rows;
  std::this_thread::sleep_for(1s);  // a few failed attempts against the closed port
  ready = testing::readyState(downstream);
  EXPECT_EQ(ready["outbox"]["pending"].GetInt64(), new_rows) << "nothing leaves while U is down";
  EXPECT_TRUE(ready["outbox"].HasMember("lastError")) << downstream.log();
  EXPECT_EQ(ready["status"], "ready") << "a backlog does not make D unready";

  // U comes back on the same port and data directory; the backlog drains.
  upstream.restart("");
  ASSERT_EQ(upstream.port(), port);
  ASSERT_TRUE(testing::waitFor([&] { return drained(downstream); }, 60s)) << downstream.log() << upstream.log();
  stored.insert(more.begin(), more.end());
  expectSameAtUpstream(downstream, upstream, stored);
  ready = testing::readyState(downstream);
  EXPECT_EQ(ready["outbox"]["dead"].GetInt64(), 0) << downstream.log();
  EXPECT_EQ(ready["outbox"]["sentSinceStart"].GetInt64(), static_cast<std::int64_t>(stored.size()))
      << "nothing was sent twice";
}

TEST(UpstreamGatewayTest, ThrottledByUpstreamWaitsForRetryAfterAndDeliversOnce) {
  Upstream upstream(R"("limits": {"rate_per_s": 2, "rate_burst": 2})");
  GatewayProcess downstream(forwardingTo(upstream));

  auto started = std::chrono::steady_clock::now();
  auto stored = postVisits(downstream, 200, 1);  // about 18 resources: 9 s at 2 PUTs/s
  ASSERT_GT(stored.size(), 10u);
  ASSERT_TRUE(testing::waitFor([&] { return drained(downstream); }, 60s)) << downstream.log();
  auto took = std::chrono::steady_clock::now() - started;

  std::string log = downstream.log();
  EXPECT_NE(log.find("upstream answered 429"), std::string::npos) << log;
  // At 2 PUTs per second after a burst of 2, and Retry-After >= 1 s, draining
  // this many resources cannot be quick: D waited instead of hammering U.
  EXPECT_GE(took, std::chrono::seconds(static_cast<long>(stored.size() / 2 - 2) / 2)) << log;
  auto ready = testing::readyState(downstream);
  EXPECT_EQ(ready["outbox"]["dead"].GetInt64(), 0) << "429 is never a refusal";
  EXPECT_EQ(ready["outbox"]["sentSinceStart"].GetInt64(), static_cast<std::int64_t>(stored.size()));
  expectSameAtUpstream(downstream, upstream, stored);
}

TEST(UpstreamGatewayTest, UpstreamStoreFailure503IsRetriedAndDeliversOnce) {
  Upstream upstream;
  GatewayProcess downstream(forwardingTo(upstream));

  // U's store cannot take writes: its writer waits 5 s for the lock, rolls
  // back and answers 503.
  testing::SqliteWriteLock lock(upstream.dbPath());
  auto stored = postVisits(downstream, 300, 3);
  ASSERT_GT(stored.size(), 15u);
  ASSERT_TRUE(
      testing::waitFor([&] { return downstream.log().find("upstream answered 503") != std::string::npos; }, 30s))
      << downstream.log() << upstream.log();
  EXPECT_GT(testing::outboxCount(downstream, "pending"), 0);
  EXPECT_EQ(testing::outboxCount(downstream, "dead"), 0) << "503 is never a refusal";
  auto ready = testing::readyState(downstream);
  ASSERT_TRUE(ready["outbox"].HasMember("lastError"));
  EXPECT_NE(std::string(ready["outbox"]["lastError"].GetString()).find("503"), std::string::npos);
  // Nothing reached U's store while it answered 503.
  EXPECT_EQ(summaryCount(upstream.get("/fhir/Patient?_summary=count")), 0);

  // The fault is lifted: everything arrives, once.
  lock.release();
  ASSERT_TRUE(testing::waitFor([&] { return drained(downstream); }, 60s)) << downstream.log() << upstream.log();
  EXPECT_NE(upstream.log().find("database is locked"), std::string::npos) << "U's own log names the cause";
  ready = testing::readyState(downstream);
  EXPECT_EQ(ready["outbox"]["dead"].GetInt64(), 0);
  EXPECT_EQ(ready["outbox"]["sentSinceStart"].GetInt64(), static_cast<std::int64_t>(stored.size()));
  expectSameAtUpstream(downstream, upstream, stored);
}

}  // namespace
}  // namespace ilpgw
