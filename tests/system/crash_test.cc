// Crash safety: kill -9 under full ingest load and in the middle of sending;
// after a restart every acknowledged record is stored and forwarded, nothing
// is stored or forwarded twice, and the store passes its integrity check.
// Graceful shutdown: SIGTERM with posts in flight answers them all.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>

#include "durability_helpers.h"
#include "test_support.h"
#include "upstream_server.h"

namespace ilpgw {
namespace {

using testing::GatewayOptions;
using testing::GatewayProcess;
using testing::UpstreamServer;
using namespace std::chrono_literals;

constexpr int kPosters = 6;
constexpr int kVisitsPerPoster = 1500;  // NIK serials stay distinct (< 10000)

class CrashTest : public ::testing::Test {
 protected:
  GatewayOptions options(const UpstreamServer* upstream, const std::string& extra = "") const {
    GatewayOptions o;
    o.data_dir = data_.file("data");
    o.server_config = R"("threads": 32)";
    if (upstream != nullptr) o.extra_config = upstream->gatewayConfig(extra);
    return o;
  }
  void expectStoreIntact() const {
    std::string out, err;
    EXPECT_EQ(testing::runGateway({"store", "check", "--data", data_.file("data")}, out, &err), 0) << out << err;
    EXPECT_NE(out.find(": ok"), std::string::npos) << out;
  }
  // Every acknowledged version can be read back, at version 1 (nothing twice).
  static void expectAllStored(const GatewayProcess& gateway, const std::set<std::string>& acknowledged) {
    auto client = gateway.client();
    client->set_keep_alive(true);  // one TLS handshake, not one per read
    int missing = 0;
    for (const auto& location : acknowledged) {
      EXPECT_NE(location.find("/_history/1"), std::string::npos) << location << ": stored twice?";
      auto res = client->Get(("/fhir/" + location).c_str());
      if (!res || res->status != 200) ++missing;
    }
    EXPECT_EQ(missing, 0) << "acknowledged but not stored";
  }
  // Every acknowledged version reached the upstream, and the upstream holds one
  // content per resource (a resend after a crash is the same PUT again).
  static void expectAllForwarded(const UpstreamServer& upstream, const std::set<std::string>& acknowledged) {
    auto counts = upstream.acceptedCounts();
    int missing = 0;
    int duplicates = 0;
    for (const auto& location : acknowledged) {
      if (counts[location] == 0) ++missing;
      if (counts[location] > 1) ++duplicates;
    }
    EXPECT_EQ(missing, 0) << "acknowledged but never forwarded";
    for (const auto& [key, contents] : upstream.storedContents()) {
      EXPECT_EQ(contents.size(), 1u) << key << " arrived with different contents";
    }
    std::printf("[   INFO   ] %zu acknowledged versions forwarded, %d re-sent after the crash (idempotent PUT)\n",
                acknowledged.size(), duplicates);
  }
  testing::TempDir data_;
};

// Posts distinct visits from several threads until `stop`; returns the
// locations of every acknowledged (201) answer.
class Posters {
 public:
  explicit Posters(const GatewayProcess& gateway) {
    for (int t = 0; t < kPosters; ++t) {
      threads_.emplace_back([this, &gateway, t] {
        auto client = gateway.client();
        client->set_keep_alive(true);
        client->set_read_timeout(5);
        for (int i = 0; i < kVisitsPerPoster && !stop_; ++i) {
          auto res = client->Post("/ingest/epuskesmas-json", testing::distinctVisit(t * kVisitsPerPoster + i + 1),
                                  "application/json");
          if (!res) continue;  // killed mid-request: not acknowledged
          if (res->status == 201) {
            auto locations = testing::bundleLocations(res->body);
            std::lock_guard lock(mutex_);
            acknowledged_.insert(locations.begin(), locations.end());
            ++acknowledged_posts_;
          }
        }
      });
    }
  }
  std::set<std::string> stop() {
    stop_ = true;
    for (auto& t : threads_) t.join();
    return acknowledged_;
  }
  int acknowledgedPosts() {
    std::lock_guard lock(mutex_);
    return acknowledged_posts_;
  }

 private:
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::set<std::string> acknowledged_;
  int acknowledged_posts_ = 0;
};

TEST_F(CrashTest, KillNineUnderLoadLosesNothingAcknowledged) {
  UpstreamServer upstream;
  std::set<std::string> acknowledged;
  int posts = 0;
  {
    GatewayProcess gateway(options(&upstream));
    Posters posters(gateway);
    ASSERT_TRUE(testing::waitFor([&] { return posters.acknowledgedPosts() >= 50; }, 30s));
    std::this_thread::sleep_for(1500ms);
    gateway.kill9();
    posts = posters.acknowledgedPosts();
    acknowledged = posters.stop();
  }
  std::printf("[   INFO   ] %d posts acknowledged before kill -9\n", posts);
  ASSERT_GT(acknowledged.size(), 100u);
  expectStoreIntact();

  GatewayProcess gateway(options(&upstream));
  expectAllStored(gateway, acknowledged);
  ASSERT_TRUE(testing::waitFor([&] { return testing::outboxCount(gateway, "pending") == 0; }, 60s))
      << testing::outboxCount(gateway, "pending") << " still pending";
  expectAllForwarded(upstream, acknowledged);
}

TEST_F(CrashTest, SenderKilledMidSendResendsIdempotently) {
  UpstreamServer upstream;
  std::set<std::string> acknowledged;
  {
    GatewayProcess gateway(options(&upstream, "\"batch_size\": 50"));
    upstream.stop();
    auto client = gateway.client();
    for (int i = 0; i < 40; ++i) {
      auto res = client->Post("/ingest/epuskesmas-json", testing::distinctVisit(9000 + i), "application/json");
      ASSERT_TRUE(res && res->status == 201);
      auto locations = testing::bundleLocations(res->body);
      acknowledged.insert(locations.begin(), locations.end());
    }
    upstream.setDelayMs(3);
    upstream.start();
    ASSERT_TRUE(testing::waitFor([&] { return upstream.acceptedCounts().size() >= 60; }, 30s));
    gateway.kill9();  // mid-drain: some PUTs done but not yet marked sent
  }
  auto before_restart = upstream.acceptedCounts().size();
  ASSERT_LT(before_restart, acknowledged.size()) << "the backlog should not have drained yet";
  upstream.setDelayMs(0);
  expectStoreIntact();
  GatewayProcess gateway(options(&upstream));
  ASSERT_TRUE(testing::waitFor([&] { return testing::outboxCount(gateway, "pending") == 0; }, 60s));
  expectAllStored(gateway, acknowledged);
  expectAllForwarded(upstream, acknowledged);
}

TEST_F(CrashTest, SigtermFinishesInFlightPostsAndExitsZero) {
  std::set<std::string> acknowledged;
  std::atomic<int> answered{0};
  std::atomic<int> failed{0};
  {
    GatewayProcess gateway(options(nullptr));
    // Large posts (an array of 100 visits each) keep the server busy long
    // enough for SIGTERM to arrive while they are being processed.
    std::vector<std::thread> threads;
    std::mutex mutex;
    std::atomic<int> sent{0};
    std::atomic<std::int64_t> last_answer_ns{0};
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        std::string body = "[";
        for (int i = 0; i < 100; ++i) body += (i ? "," : "") + testing::distinctVisit(t * 100 + i + 1);
        body += "]";
        auto client = gateway.client();
        ++sent;
        auto res = client->Post("/ingest/epuskesmas-json", body, "application/json");
        last_answer_ns = std::max<std::int64_t>(last_answer_ns, std::chrono::steady_clock::now().time_since_epoch().count());
        if (res && res->status == 201) {
          ++answered;
          auto locations = testing::bundleLocations(res->body);
          std::lock_guard lock(mutex);
          acknowledged.insert(locations.begin(), locations.end());
        } else {
          ++failed;
        }
      });
    }
    ASSERT_TRUE(testing::waitFor([&] { return sent == 4; }, 10s));
    std::this_thread::sleep_for(150ms);
    auto sigterm_at = std::chrono::steady_clock::now().time_since_epoch().count();
    int code = gateway.terminate();
    for (auto& t : threads) t.join();
    EXPECT_EQ(code, 0) << gateway.log();
    EXPECT_GT(last_answer_ns.load(), sigterm_at) << "no post was in flight when SIGTERM arrived";
    EXPECT_NE(gateway.log().find("finishing in-flight requests"), std::string::npos);
  }
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(answered, 4);
  expectStoreIntact();
  GatewayProcess gateway(options(nullptr));
  expectAllStored(gateway, acknowledged);
  EXPECT_GT(acknowledged.size(), 4u * 100u * 5u);
}

}  // namespace
}  // namespace ilpgw
