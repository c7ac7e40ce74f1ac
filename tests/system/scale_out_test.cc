// Scale-out: three real `ilp-gateway serve` processes on one PostgreSQL
// database (tests/support/postgres_server.h), all forwarding to one upstream.
// Posters spread visits over the instances while a puller follows
// `_history?_since=` page by page, each page from another instance. One
// instance is killed with -9 under load. Afterwards: the puller got every
// acknowledged version exactly once (and nothing that is not stored), every
// acknowledged version is readable on the survivors and reached the upstream,
// and the store passes its check.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>

#include "base/json.h"
#include "base/time_util.h"
#include "durability_helpers.h"
#include "postgres_server.h"
#include "store/store.h"
#include "test_support.h"
#include "upstream_server.h"

namespace ilpgw {
namespace {

using testing::GatewayOptions;
using testing::GatewayProcess;
using testing::PostgresServer;
using testing::UpstreamServer;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr int kInstances = 3;
constexpr int kPosters = 6;

class ScaleOutTest : public ::testing::Test {
 protected:
  ScaleOutTest() : server_(PostgresServer::shared()), database_(server_.createDatabase()) {}

  GatewayOptions options(const UpstreamServer& upstream) const {
    GatewayOptions o;
    o.server_config = R"("threads": 24)";
    o.store_config = R"("backend": "postgresql", "pool_size": 6, "url": ")" + server_.url(database_) + "\"";
    // Short leases: rows claimed by the killed instance are taken over soon.
    o.extra_config = upstream.gatewayConfig(R"("lease_s": 3)");
    return o;
  }

  PostgresServer& server_;
  std::string database_;
};

// Versions as Type/id/_history/v.
std::string versionKey(const rapidjson::Value& resource) {
  return std::string(resource["resourceType"].GetString()) + "/" + resource["id"].GetString() + "/_history/" +
         resource["meta"]["versionId"].GetString();
}

// An incremental puller: each pull starts at `_since` = one millisecond after
// the watermark (Bundle.meta.lastUpdated) of the previous pull's last page, and
// follows next links, every page from the next live instance.
class Puller {
 public:
  explicit Puller(std::vector<std::unique_ptr<GatewayProcess>>& gateways) : gateways_(gateways) {}

  // One pull to the end of the history; false when no instance answered.
  bool pull() {
    std::string url = "/fhir/_history?_sort=_lastUpdated&_count=50";
    if (!since_.empty()) url += "&_since=" + since_;
    std::string watermark;
    for (int page = 0;; ++page) {
      auto body = get(url);
      if (!body) return false;
      auto doc = testing::parseJson(*body);
      if (doc.HasMember("meta") && doc["meta"].HasMember("lastUpdated")) watermark = doc["meta"]["lastUpdated"].GetString();
      if (doc.HasMember("entry")) {
        for (const auto& entry : doc["entry"].GetArray()) {
          std::string key = versionKey(entry["resource"]);
          std::lock_guard lock(mutex_);
          ++seen_[key];
        }
      }
      std::string next;
      if (doc.HasMember("link")) {
        for (const auto& link : doc["link"].GetArray()) {
          if (std::string(link["relation"].GetString()) == "next") next = link["url"].GetString();
        }
      }
      if (next.empty()) break;
      url = next.substr(next.find("/fhir/"));
    }
    if (!watermark.empty()) since_ = instantFromMillis(millisFromInstant(watermark).value_or(0) + 1);
    ++pulls_;
    return true;
  }

  std::map<std::string, int> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }
  int pulls() const { return pulls_; }

 private:
  std::optional<std::string> get(const std::string& url) {
    for (size_t tries = 0; tries < gateways_.size() * 2; ++tries) {
      auto& gateway = gateways_[next_++ % gateways_.size()];
      if (!gateway || gateway->pid() <= 0) continue;
      auto res = gateway->client()->Get(url.c_str());
      if (res && res->status == 200) return res->body;
    }
    return std::nullopt;
  }

  std::vector<std::unique_ptr<GatewayProcess>>& gateways_;
  std::string since_;
  size_t next_ = 0;
  std::mutex mutex_;
  std::map<std::string, int> seen_;
  std::atomic<int> pulls_{0};
};

TEST_F(ScaleOutTest, ThreeInstancesOnePullerKillNineLosesNothing) {
  UpstreamServer upstream;
  std::vector<std::unique_ptr<GatewayProcess>> gateways;
  for (int i = 0; i < kInstances; ++i) gateways.push_back(std::make_unique<GatewayProcess>(options(upstream)));
  std::vector<int> ports;
  for (const auto& g : gateways) ports.push_back(g->port());

  std::mutex mutex;
  std::set<std::string> acknowledged;
  std::atomic<int> posts{0};
  std::atomic<int> refused{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> posters;
  for (int t = 0; t < kPosters; ++t) {
    posters.emplace_back([&, t] {
      // One client per instance; visits go round-robin over them.
      std::vector<std::unique_ptr<httplib::Client>> clients;
      for (const auto& g : gateways) {
        clients.push_back(g->client());
        clients.back()->set_keep_alive(true);
        clients.back()->set_read_timeout(5);
      }
      for (int i = 0; !stop && i < 1500; ++i) {
        auto& client = clients[(t + i) % clients.size()];
        auto res = client->Post("/ingest/epuskesmas-json", testing::distinctVisit(t * 1500 + i + 1), "application/json");
        if (!res || res->status != 201) {
          ++refused;  // killed mid-request, or 503: not acknowledged
          continue;
        }
        auto locations = testing::bundleLocations(res->body);
        std::lock_guard lock(mutex);
        acknowledged.insert(locations.begin(), locations.end());
        ++posts;
      }
    });
  }
  Puller puller(gateways);
  std::atomic<bool> pulling{true};
  std::thread follower([&] {
    while (pulling) {
      puller.pull();
      std::this_thread::sleep_for(20ms);
    }
  });

  ASSERT_TRUE(testing::waitFor([&] { return posts >= 150; }, 60s)) << posts << " posts";
  gateways[1]->kill9();  // under load
  int at_kill = posts;
  ASSERT_TRUE(testing::waitFor([&] { return posts >= at_kill + 150; }, 60s)) << "the survivors stopped taking posts";
  stop = true;
  for (auto& t : posters) t.join();
  pulling = false;
  follower.join();
  ASSERT_TRUE(puller.pull());  // to the end, now that nothing is written
  std::printf("[   INFO   ] %d posts acknowledged (%d at the kill), %d not, %zu versions, %d pulls\n", posts.load(),
              at_kill, refused.load(), acknowledged.size(), puller.pulls());

  // The puller: every acknowledged version exactly once, nothing twice.
  auto seen = puller.seen();
  int missing = 0;
  int duplicates = 0;
  for (const auto& key : acknowledged) {
    if (!seen.contains(key)) ++missing;
  }
  for (const auto& [key, count] : seen) {
    if (count != 1) ++duplicates;
  }
  EXPECT_EQ(missing, 0) << "acknowledged versions the puller never got";
  EXPECT_EQ(duplicates, 0) << "versions the puller got more than once";

  // Readable on every survivor, at version 1 (nothing stored twice).
  for (int i : {0, 2}) {
    auto client = gateways[i]->client();
    client->set_keep_alive(true);
    int unreadable = 0;
    for (const auto& location : acknowledged) {
      EXPECT_NE(location.find("/_history/1"), std::string::npos) << location << ": stored twice?";
      auto res = client->Get(("/fhir/" + location).c_str());
      if (!res || res->status != 200) ++unreadable;
    }
    EXPECT_EQ(unreadable, 0) << "acknowledged but not readable on instance " << i;
  }

  // Forwarded: the survivors take over the killed instance's leased rows.
  ASSERT_TRUE(testing::waitFor([&] { return testing::outboxCount(*gateways[0], "pending") == 0; }, 90s))
      << testing::outboxCount(*gateways[0], "pending") << " still pending";
  auto counts = upstream.acceptedCounts();
  int not_forwarded = 0;
  for (const auto& location : acknowledged) {
    if (counts[location] == 0) ++not_forwarded;
  }
  EXPECT_EQ(not_forwarded, 0) << "acknowledged but never forwarded";

  std::string out, err;
  EXPECT_EQ(testing::runGateway({"store", "check", "--config", gateways[0]->configPath()}, out, &err), 0) << out << err;
  EXPECT_NE(out.find(": ok"), std::string::npos) << out;
}

// Every instance signs with the keys in the database: a token issued by one
// is accepted by the others, and a rotation made with the CLI reaches them.
TEST_F(ScaleOutTest, TokenFromOneInstanceWorksOnEveryInstanceAndRotationReachesThem) {
  GatewayOptions o;
  o.auth = true;
  o.store_config = R"("backend": "postgresql", "pool_size": 2, "url": ")" + server_.url(database_) + "\"";
  GatewayProcess a(o);
  GatewayProcess b(o);  // its own data directory: nothing shared but the database
  std::string token = a.token("clinic", "pkm-selat");
  auto posted = b.client(token)->Post("/ingest/epuskesmas-json", testing::distinctVisit(1), "application/json");
  ASSERT_TRUE(posted && posted->status == 201) << (posted ? posted->body : "no answer");

  std::string out, err;
  ASSERT_EQ(testing::runGateway({"key", "rotate", "--config", a.configPath()}, out, &err), 0) << out << err;
  EXPECT_NE(out.find("in the store"), std::string::npos) << out;
  GatewayProcess c(o);  // started after the rotation: signs with the new key
  std::string fresh = c.token("clinic", "pkm-selat");
  EXPECT_NE(fresh.substr(0, fresh.find('.')), token.substr(0, token.find('.'))) << "another kid in the header";
  int visit = 2;
  for (GatewayProcess* gateway : {&a, &b}) {
    auto res = gateway->client(fresh)->Post("/ingest/epuskesmas-json", testing::distinctVisit(visit++), "application/json");
    EXPECT_TRUE(res && res->status == 201) << (res ? res->body : "no answer");
    res = gateway->client(token)->Post("/ingest/epuskesmas-json", testing::distinctVisit(visit++), "application/json");
    EXPECT_TRUE(res && res->status == 201) << "the retired key still verifies: " << (res ? res->body : "no answer");
  }
  auto forged = a.client(fresh + "x")->Post("/ingest/epuskesmas-json", testing::distinctVisit(visit), "application/json");
  EXPECT_TRUE(forged && forged->status == 401);
}

// PostgreSQL stopped and started again while two instances take posts:
// during the outage every post answers 503 with an OperationOutcome and
// Retry-After, /ready says why, nothing is acknowledged; afterwards the
// instances recover by themselves and every acknowledged version is stored
// exactly once.
TEST(ScaleOutOutageTest, DatabaseStoppedAndStartedUnderLoadLosesAndDuplicatesNothing) {
  PostgresServer server;  // its own: this test stops it
  std::string database = server.createDatabase();
  GatewayOptions o;
  o.server_config = R"("threads": 16)";
  o.store_config = R"("backend": "postgresql", "pool_size": 4, "url": ")" + server.url(database) + "\"";
  std::vector<std::unique_ptr<GatewayProcess>> gateways;
  for (int i = 0; i < 2; ++i) gateways.push_back(std::make_unique<GatewayProcess>(o));

  std::mutex mutex;
  std::set<std::string> acknowledged;
  std::atomic<int> posts{0}, unavailable{0}, no_answer{0}, other{0};
  std::atomic<bool> stop{false};
  std::string outage_answer;
  std::vector<std::thread> posters;
  for (int t = 0; t < 4; ++t) {
    posters.emplace_back([&, t] {
      std::vector<std::unique_ptr<httplib::Client>> clients;
      for (const auto& g : gateways) {
        clients.push_back(g->client());
        clients.back()->set_read_timeout(15);
      }
      // Like a clinic: a visit not acknowledged is posted again until it is
      // (a commit whose answer was lost answers 200, unchanged, the second
      // time). Visits 1..8000: distinctVisit's patients repeat after 9999.
      for (int i = 0, tries = 0; !stop && i < 2000; ++tries) {
        auto res = clients[(t + tries) % clients.size()]->Post(
            "/ingest/epuskesmas-json", testing::distinctVisit(t * 2000 + i + 1), "application/json");
        if (res && (res->status == 201 || res->status == 200)) {
          auto locations = testing::bundleLocations(res->body);
          std::lock_guard lock(mutex);
          acknowledged.insert(locations.begin(), locations.end());
          ++posts;
          ++i;
        } else if (res && res->status == 503) {
          ++unavailable;
          std::lock_guard lock(mutex);
          if (outage_answer.empty()) outage_answer = res->get_header_value("Retry-After") + " " + res->body;
          std::this_thread::sleep_for(50ms);
        } else {
          ++(res ? other : no_answer);
          std::this_thread::sleep_for(50ms);
        }
      }
    });
  }
  ASSERT_TRUE(testing::waitFor([&] { return posts >= 100; }, 60s)) << posts << " posts";
  server.stop();
  ASSERT_TRUE(testing::waitFor([&] { return unavailable >= 8; }, 30s)) << unavailable << " answers 503";
  auto ready = gateways[0]->client()->Get("/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503) << ready->body;
  int at_restart = posts;
  server.start();
  ASSERT_TRUE(testing::waitFor([&] { return posts >= at_restart + 100; }, 60s)) << "the instances did not recover";
  stop = true;
  for (auto& t : posters) t.join();
  std::printf("[   INFO   ] %d posts acknowledged, %d answered 503 during the outage, %d without an answer\n",
              posts.load(), unavailable.load(), no_answer.load());
  {
    std::lock_guard lock(mutex);
    EXPECT_NE(outage_answer.find("OperationOutcome"), std::string::npos) << outage_answer;
    EXPECT_TRUE(!outage_answer.empty() && std::isdigit(static_cast<unsigned char>(outage_answer[0])))
        << "Retry-After: " << outage_answer;
  }
  EXPECT_EQ(other.load(), 0) << "answers other than 200, 201 and 503";
  auto res = gateways[1]->client()->Get("/ready");
  EXPECT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");

  // Every acknowledged version once, at version 1, readable from the other instance.
  auto client = gateways[1]->client();
  client->set_keep_alive(true);
  int unreadable = 0;
  for (const auto& location : acknowledged) {
    EXPECT_NE(location.find("/_history/1"), std::string::npos) << location << ": stored twice?";
    auto read = client->Get(("/fhir/" + location).c_str());
    if (!read || read->status != 200) ++unreadable;
  }
  EXPECT_EQ(unreadable, 0) << "acknowledged but not stored";
  int stored = std::stoi(server.sql(database, "SELECT count(*) FROM resource_version WHERE type = 'Encounter'"));
  int acknowledged_encounters = 0;
  for (const auto& location : acknowledged) acknowledged_encounters += location.rfind("Encounter/", 0) == 0 ? 1 : 0;
  EXPECT_EQ(stored, acknowledged_encounters) << "an Encounter stored that was never acknowledged, or twice";
  std::string out, err;
  EXPECT_EQ(testing::runGateway({"store", "check", "--config", gateways[0]->configPath()}, out, &err), 0) << out << err;
}

// Bulk Data export across instances sharing the database and one export
// directory: a job kicked off on one instance is polled and downloaded on
// another; a job whose instance died under a live lease waits for the lease
// to run out, then another instance runs it again from the start.
TEST_F(ScaleOutTest, ExportStartedOnOneInstanceIsDownloadedOnAnotherAndADeadInstancesJobIsTakenOver) {
  testing::TempDir shared;
  const std::string exports = shared.file("exports");
  constexpr int kLeaseS = 4;
  GatewayOptions o;
  o.plugins = {};
  o.store_config = R"("backend": "postgresql", "pool_size": 2, "url": ")" + server_.url(database_) + "\"";
  o.extra_config = R"("export": {"directory": ")" + exports + R"(", "lease_s": )" + std::to_string(kLeaseS) + "}";
  GatewayProcess a(o);
  GatewayProcess b(o);  // its own data directory: the database and the export directory are shared
  ASSERT_TRUE(testing::putOrganizations(a, 0, 600));

  auto poll = [](const GatewayProcess& gateway, const std::string& path) {
    auto client = gateway.client();
    auto res = client->Get(path.c_str());
    for (int i = 0; i < 600 && res && res->status == 202; ++i) {
      std::this_thread::sleep_for(50ms);
      res = client->Get(path.c_str());
    }
    return res;
  };
  // The Organization lines of every file in the manifest, downloaded from `gateway`.
  auto download = [](const GatewayProcess& gateway, const std::string& manifest) {
    std::string lines;
    rapidjson::Document doc;
    EXPECT_FALSE(json::parse(manifest, doc).has_value()) << manifest;
    if (!doc.IsObject() || !doc.HasMember("output")) return lines;
    for (const auto& item : doc["output"].GetArray()) {
      std::string url(json::string(item, "url"));
      auto res = gateway.client()->Get(url.substr(url.find("/fhir/")).c_str());
      EXPECT_TRUE(res && res->status == 200) << url << (res ? res->body : "");
      if (res && res->status == 200) lines += res->body;
    }
    return lines;
  };

  auto kicked = a.client()->Get("/fhir/$export?_type=Organization", {{"Prefer", "respond-async"}});
  ASSERT_TRUE(kicked && kicked->status == 202) << (kicked ? kicked->body : "no answer");
  std::string location = kicked->get_header_value("Content-Location");
  std::string status_path = location.substr(location.find("/fhir/_export/"));
  auto done = poll(b, status_path);
  ASSERT_TRUE(done && done->status == 200) << (done ? done->body : "no answer") << a.log() << b.log();
  std::string text = download(b, done->body);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 600);

  // What an instance killed in the middle of that job leaves behind: the job
  // running under its lease, part of a file in its run's folder.
  std::string job_id = status_path.substr(status_path.rfind('/') + 1);
  std::string orphan_id = std::string(32 - 6, '0') + "dead01";
  {
    Config config;
    config.store_backend = "postgresql";
    config.store_url = server_.url(database_);
    auto store = openStore(config);
    ASSERT_TRUE(store.isOk()) << store.status().message();
    auto job = store.value()->readExportJob(job_id);
    ASSERT_TRUE(job.isOk() && job.value());
    ExportJob orphan = *job.value();
    orphan.id = orphan_id;
    orphan.state = ExportJobState::kRunning;
    orphan.attempts = 1;
    orphan.files.clear();
    orphan.exported = 250;
    orphan.finished_at.clear();
    orphan.expires_at.clear();
    orphan.lease_owner = "host-gone:4242:abcdef";
    orphan.lease_until = instantFromMillis(millisFromInstant(nowInstant()).value_or(0) + kLeaseS * 1000);
    ASSERT_TRUE(store.value()->createExportJob(orphan).isOk());
  }
  testing::writeFile(fs::path(exports) / orphan_id / "1" / "Organization.ndjson",
                     R"({"resourceType":"Organization","id":"cut-)");
  auto planted = std::chrono::steady_clock::now();
  std::string orphan_path = "/fhir/_export/" + orphan_id;
  auto waiting = b.client()->Get(orphan_path.c_str());
  ASSERT_TRUE(waiting);
  EXPECT_EQ(waiting->status, 202) << "a live lease is not taken: " << waiting->body;
  auto resumed = poll(a, orphan_path);
  ASSERT_TRUE(resumed && resumed->status == 200) << (resumed ? resumed->body : "no answer") << a.log() << b.log();
  auto waited = std::chrono::steady_clock::now() - planted;
  EXPECT_GE(waited, std::chrono::seconds(kLeaseS - 1)) << "taken over before the lease ran out";
  text = download(b, resumed->body);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 600);
  EXPECT_EQ(text.find("\"cut-"), std::string::npos);
  EXPECT_FALSE(fs::exists(fs::path(exports) / orphan_id / "1")) << "the dead run's folder is removed";
  std::string logs = a.log() + b.log();
  EXPECT_NE(logs.find("was running when the gateway stopped; runs again from the start"), std::string::npos) << logs;

  // Deleted on the instance that did not run it: gone everywhere, files too.
  auto deleted = b.client()->Delete(status_path.c_str());
  ASSERT_TRUE(deleted && deleted->status == 202) << (deleted ? deleted->body : "no answer");
  auto gone = a.client()->Get(status_path.c_str());
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->status, 404);
  EXPECT_FALSE(fs::exists(fs::path(exports) / job_id));
}

TEST_F(ScaleOutTest, UnreachableDatabaseAtStartIsOneLineAndNonZeroExit) {
  testing::TempDir dir;
  std::string config = R"({"store": {"backend": "postgresql", "data_dir": ")" + dir.file("data") +
                       R"(", "url": "postgresql://ilpgw@/ilpgw?host=)" + dir.path().string() +
                       R"(&port=5432"}, "server": {"listen": "127.0.0.1:0", "plain_http": true},
                          "auth": {"enabled": false}, "plugin_dir": ")" + testing::pluginDir() + R"(",
                          "mappings_dir": ")" + testing::mappingsDir() + R"(", "plugins": []})";
  testing::writeFile(dir.path() / "gateway.json", config);
  std::string out, err;
  int code = testing::runGateway({"serve", "--config", dir.file("gateway.json")}, out, &err);
  EXPECT_NE(code, 0);
  EXPECT_NE(err.find("cannot connect to PostgreSQL"), std::string::npos) << err;
  std::string last_line = err.substr(err.rfind('\n', err.size() - 2) + 1);
  EXPECT_NE(last_line.find("ilp-gateway: "), std::string::npos) << err;
}

}  // namespace
}  // namespace ilpgw
