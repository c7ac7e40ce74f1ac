// Store-and-forward against the upstream test double: exactly-once arrival
// through outages, dependency order, 429 Retry-After, 5xx retries, 4xx dead
// letters and their resend, token refresh.
#include <gtest/gtest.h>

#include <map>

#include "durability_helpers.h"
#include "forward/outbox_sender.h"
#include "test_support.h"
#include "upstream_server.h"

namespace ilpgw {
namespace {

using testing::GatewayOptions;
using testing::GatewayProcess;
using testing::UpstreamServer;
using namespace std::chrono_literals;

GatewayOptions forwardingTo(const UpstreamServer& upstream, const std::string& extra = "") {
  GatewayOptions options;
  options.extra_config = upstream.gatewayConfig(extra);
  return options;
}

std::vector<std::string> postVisits(const GatewayProcess& gateway, int first, int count) {
  std::vector<std::string> stored;
  auto client = gateway.client();
  for (int i = first; i < first + count; ++i) {
    auto res = client->Post("/ingest/epuskesmas-json", testing::distinctVisit(i), "application/json");
    EXPECT_TRUE(res && res->status == 201) << (res ? res->body : httplib::to_string(res.error()));
    if (res) {
      for (const auto& l : testing::bundleLocations(res->body)) stored.push_back(l);
    }
  }
  return stored;
}

bool drained(const GatewayProcess& gateway) { return testing::outboxCount(gateway, "pending") == 0; }

// Every stored version arrived exactly once.
void expectExactlyOnce(const UpstreamServer& upstream, const std::vector<std::string>& stored) {
  auto counts = upstream.acceptedCounts();
  std::set<std::string> unique(stored.begin(), stored.end());
  for (const auto& location : unique) EXPECT_EQ(counts[location], 1) << location;
  EXPECT_EQ(counts.size(), unique.size());
}

TEST(OutboxTest, ForwardsEveryResourceOnceInDependencyOrder) {
  UpstreamServer upstream;
  GatewayProcess gateway(forwardingTo(upstream));
  auto stored = postVisits(gateway, 1, 5);
  ASSERT_TRUE(testing::waitFor([&] { return drained(gateway); }, 20s)) << gateway.log();
  ASSERT_TRUE(testing::waitFor([&] { return upstream.acceptedCounts().size() >= 5; }, 5s));
  expectExactlyOnce(upstream, stored);
  // Every resource is PUT after the resources it references (Patient and
  // Practitioner before the Encounter, the Encounter before its Observations).
  std::map<std::string, size_t> first_put;
  auto puts = upstream.puts();
  for (size_t i = 0; i < puts.size(); ++i) first_put.emplace(puts[i].key, i);
  std::map<std::string, std::set<std::string>> refs;
  for (const auto& location : stored) {
    std::string key = location.substr(0, location.find("/_history"));
    auto read = gateway.client()->Get(("/fhir/" + key).c_str());
    ASSERT_TRUE(read && read->status == 200);
    for (const auto& [type, id] : resourceReferences(read->body)) refs[key].insert(type + "/" + id);
  }
  int checked = 0;
  for (const auto& [key, targets] : refs) {
    for (const auto& ref : targets) {
      if (first_put.count(ref) == 0) continue;  // e.g. the Organization: not produced here
      if (refs[ref].count(key) != 0) {
        // A cycle (Encounter.diagnosis <-> Condition.encounter): rank decides.
        if (dependencyRank(key.substr(0, key.find('/'))) > dependencyRank(ref.substr(0, ref.find('/')))) {
          EXPECT_LT(first_put[ref], first_put[key]) << ref << " should precede " << key;
        }
        continue;
      }
      EXPECT_LT(first_put[ref], first_put[key]) << key << " was sent before " << ref;
      ++checked;
    }
  }
  EXPECT_GT(checked, 20);
  EXPECT_EQ(upstream.unauthorized(), 0);
  EXPECT_EQ(upstream.tokenRequests(), 1) << "the token is cached";
  auto ready = testing::readyState(gateway);
  EXPECT_EQ(ready["outbox"]["dead"].GetInt64(), 0);
  EXPECT_EQ(ready["outbox"]["sentSinceStart"].GetInt64(), static_cast<std::int64_t>(upstream.acceptedCounts().size()));
}

TEST(OutboxTest, OutageBacklogDrainsExactlyOnceAfterRestart) {
  UpstreamServer upstream;
  GatewayProcess gateway(forwardingTo(upstream, "\"batch_size\": 16"));
  upstream.stop();
  auto stored = postVisits(gateway, 100, 20);
  ASSERT_TRUE(testing::waitFor([&] { return testing::outboxCount(gateway, "pending") > 0; }, 5s));
  std::this_thread::sleep_for(500ms);  // a few failed attempts
  auto ready = testing::readyState(gateway);
  EXPECT_TRUE(ready["outbox"].HasMember("lastError")) << testing::outboxCount(gateway, "pending");
  EXPECT_GE(ready["outbox"]["oldestPendingAgeSeconds"].GetInt64(), 0);
  EXPECT_EQ(ready["status"], "ready") << "a backlog does not make the gateway unready";

  upstream.start();
  ASSERT_TRUE(testing::waitFor([&] { return drained(gateway); }, 30s)) << gateway.log();
  expectExactlyOnce(upstream, stored);
  EXPECT_EQ(upstream.unauthorized(), 0);
}

TEST(OutboxTest, HonoursRetryAfterOn429) {
  UpstreamServer upstream;
  GatewayProcess gateway(forwardingTo(upstream));
  upstream.failNext(1, 429, "1");
  auto stored = postVisits(gateway, 200, 1);
  ASSERT_TRUE(testing::waitFor([&] { return drained(gateway); }, 20s)) << gateway.log();
  auto puts = upstream.puts();
  ASSERT_GE(puts.size(), 2u);
  EXPECT_EQ(puts[0].status, 429);
  EXPECT_GE(puts[1].at_ms - puts[0].at_ms, 950) << "the sender waited for Retry-After";
  expectExactlyOnce(upstream, stored);
}

TEST(OutboxTest, RetriesServerErrorsWithBackoff) {
  UpstreamServer upstream;
  GatewayProcess gateway(forwardingTo(upstream));
  upstream.failNext(3, 503);
  auto stored = postVisits(gateway, 300, 2);
  ASSERT_TRUE(testing::waitFor([&] { return drained(gateway); }, 20s)) << gateway.log();
  auto puts = upstream.puts();
  ASSERT_GE(puts.size(), 4u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(puts[static_cast<size_t>(i)].status, 503);
  // Backoff grows: 100 ms nominal, then 200, then 400 (each with jitter >= half).
  EXPECT_GE(puts[1].at_ms - puts[0].at_ms, 45);
  EXPECT_GE(puts[3].at_ms - puts[2].at_ms, 190);
  expectExactlyOnce(upstream, stored);
}

TEST(OutboxTest, RefusalIsDeadLetteredVisibleAndResendable) {
  UpstreamServer upstream;
  GatewayProcess gateway(forwardingTo(upstream));
  auto stored = postVisits(gateway, 400, 1);
  ASSERT_TRUE(testing::waitFor([&] { return drained(gateway); }, 20s));
  // The upstream will refuse the visit's Conditions; only the one that changes
  // below is sent again.
  std::vector<std::string> conditions;
  for (const auto& l : stored) {
    if (l.rfind("Condition/", 0) == 0) conditions.push_back(l.substr(0, l.find("/_history")));
  }
  ASSERT_EQ(conditions.size(), 2u);
  for (const auto& c : conditions) upstream.refuse(c, 422);
  // A changed visit makes version 2 of its Conditions: the upstream refuses one.
  std::string changed = testing::distinctVisit(400);
  testing::replaceOnce(changed, "\"kasus\": \"lama\"", "\"kasus\": \"baru\"");
  auto res = gateway.client()->Post("/ingest/epuskesmas-json", changed, "application/json");
  ASSERT_TRUE(res && res->status == 201);
  ASSERT_TRUE(testing::waitFor([&] { return testing::outboxCount(gateway, "dead") >= 1; }, 20s)) << gateway.log();
  ASSERT_TRUE(testing::waitFor([&] { return drained(gateway); }, 20s));

  auto dead = gateway.client()->Get("/admin/outbox?state=dead");
  ASSERT_TRUE(dead && dead->status == 200);
  auto doc = testing::parseJson(dead->body);
  ASSERT_EQ(doc["entries"].Size(), 1u) << dead->body;
  const auto& entry = doc["entries"][0];
  std::string dead_resource = entry["resource"].GetString();
  EXPECT_TRUE(dead_resource.rfind(conditions[0], 0) == 0 || dead_resource.rfind(conditions[1], 0) == 0)
      << dead->body;
  EXPECT_NE(dead_resource.find("/_history/2"), std::string::npos);
  EXPECT_EQ(entry["httpStatus"].GetInt(), 422);
  EXPECT_STREQ(entry["outcome"]["issue"][0]["code"].GetString(), "business-rule");
  std::string resend = entry["resend"].GetString();

  upstream.clearRefusals();
  auto again = gateway.client()->Post(resend.c_str(), "", "application/json");
  ASSERT_TRUE(again && again->status == 200) << (again ? again->body : "");
  ASSERT_TRUE(testing::waitFor([&] { return drained(gateway) && testing::outboxCount(gateway, "dead") == 0; }, 20s));
  std::string dead_version = entry["resource"].GetString();
  EXPECT_EQ(upstream.acceptedCounts()[dead_version], 1) << dead_version;
  auto missing = gateway.client()->Post("/admin/outbox/999999/$resend", "", "application/json");
  EXPECT_EQ(missing->status, 404);
}

TEST(OutboxTest, RefreshesTheTokenBeforeItExpires) {
  UpstreamServer upstream;
  upstream.setTokenLifetimeS(2);  // refreshed with a fifth (400 ms) left
  GatewayProcess gateway(forwardingTo(upstream));
  std::vector<std::string> stored;
  for (int i = 0; i < 6; ++i) {
    auto more = postVisits(gateway, 500 + i, 1);
    stored.insert(stored.end(), more.begin(), more.end());
    std::this_thread::sleep_for(600ms);
  }
  ASSERT_TRUE(testing::waitFor([&] { return drained(gateway); }, 20s));
  EXPECT_GE(upstream.tokenRequests(), 2);
  EXPECT_EQ(upstream.unauthorized(), 0) << "no request went out with an expired token";
  expectExactlyOnce(upstream, stored);
}

}  // namespace
}  // namespace ilpgw
