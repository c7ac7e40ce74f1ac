// Hot reload and containment, in process: a Gateway over a temp data dir
// whose config source the test edits between reloads.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <thread>

#include "ingest/gateway.h"
#include "base/json.h"
#include "test_support.h"

namespace ilpgw {
namespace {

namespace fs = std::filesystem;
using ilpgw::testing::TempDir;

std::string fixture(const std::string& name) { return std::string(ILPGW_FIXTURE_PLUGIN_DIR) + "/" + name + ".so"; }

class ReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_.file("plugins"));
    fs::create_directories(dir_.file("mappings"));
    install("good-v1", "fixture-good.so");
    config_.data_dir = dir_.file("data");
    config_.mappings_dir = dir_.file("mappings");
    config_.plugin_dir = dir_.file("plugins");
    config_.plugins = {PluginConfig{"fixture-good", "fixture-good.so", "{}"}};
  }

  // Installs a build the way an operator should: copy beside, rename over.
  void install(const std::string& fixture_name, const std::string& as) {
    fs::copy_file(fixture(fixture_name), dir_.file("plugins/" + as + ".tmp"), fs::copy_options::overwrite_existing);
    fs::rename(dir_.file("plugins/" + as + ".tmp"), dir_.file("plugins/" + as));
  }

  std::unique_ptr<Gateway> start() {
    auto gateway = Gateway::start(config_, [this]() -> StatusOr<Config> {
      if (!config_error_.empty()) return Status(StatusCode::kInvalidArgument, config_error_);
      return config_;
    });
    EXPECT_TRUE(gateway.isOk()) << gateway.status().message();
    return gateway.isOk() ? std::move(gateway.value()) : nullptr;
  }

  // meta.source of the resource the ingest answer's first entry points at.
  std::string storedSource(Gateway& gateway, const IngestResponse& answer, std::string* json_out = nullptr) {
    rapidjson::Document doc;
    EXPECT_FALSE(json::parse(answer.body, doc));
    std::string location(json::string(doc["entry"][0]["response"], "location"));
    auto slash = location.find('/');
    std::string type = location.substr(0, slash);
    std::string id = location.substr(slash + 1, location.find('/', slash + 1) - slash - 1);
    auto stored = gateway.store().read(type, id);
    EXPECT_TRUE(stored.isOk() && stored.value().has_value());
    if (!stored.isOk() || !stored.value()) return {};
    if (json_out != nullptr) *json_out = stored.value()->json;
    rapidjson::Document resource;
    EXPECT_FALSE(json::parse(stored.value()->json, resource));
    return std::string(json::string(resource["meta"], "source"));
  }

  TempDir dir_;
  Config config_;
  std::string config_error_;
};

TEST_F(ReloadTest, SwapsInNewVersionAndUnloadsOldOneWhenLastUserLetsGo) {
  auto gateway = start();
  ASSERT_TRUE(gateway);
  auto first = gateway->ingest(ilpgw::developmentCaller(gateway->config().organization_id), "fixture-good", "A1\n", "text/plain");
  ASSERT_EQ(first.http_status, 201) << first.body;
  EXPECT_EQ(storedSource(*gateway, first), "ilp-gateway/fixture-good@1.0.0");

  // A request "in flight" holds the set it started with.
  std::shared_ptr<const AdapterSet> in_flight = gateway->adapters();
  std::weak_ptr<const LoadedAdapter> v1 = in_flight->adapters.at("fixture-good").loaded;

  install("good-v2", "fixture-good.so");
  ASSERT_TRUE(gateway->reload().isOk());
  EXPECT_EQ(gateway->adapters()->adapters.at("fixture-good").loaded->info().version, "2.0.0");
  EXPECT_FALSE(v1.expired()) << "unloaded while a request still uses it";
  // The old version still maps correctly for the request that holds it.
  MappedPayload old_mapped =
      mapPayload(in_flight->adapters.at("fixture-good"), *in_flight, gateway->config(), "B2\n", "text/plain");
  ASSERT_EQ(old_mapped.records.size(), 1u);
  EXPECT_TRUE(old_mapped.records[0].accepted);
  in_flight.reset();
  EXPECT_TRUE(v1.expired()) << "old library kept after its last user let go";

  auto second = gateway->ingest(ilpgw::developmentCaller(gateway->config().organization_id), "fixture-good", "A1\n", "text/plain");
  ASSERT_EQ(second.http_status, 201) << second.body;
  std::string stored;
  EXPECT_EQ(storedSource(*gateway, second, &stored), "ilp-gateway/fixture-good@2.0.0");
  EXPECT_NE(stored.find("\"active\":true"), std::string::npos);
  EXPECT_NE(stored.find("\"versionId\":\"2\""), std::string::npos) << stored;
}

TEST_F(ReloadTest, ReloadBuildsFreshAdaptersAndOldOnesLiveWhileHeld) {
  auto gateway = start();
  ASSERT_TRUE(gateway);
  std::shared_ptr<const ilpgw::LoadedAdapter> before = gateway->adapters()->adapters.at("fixture-good").loaded;
  ASSERT_TRUE(gateway->reload().isOk());
  auto after = gateway->adapters()->adapters.at("fixture-good").loaded;
  EXPECT_NE(after, before) << "setup() runs again against the new mappings and Host";
  EXPECT_EQ(after->contentHash(), before->contentHash());
  EXPECT_EQ(before->info().name, "fixture-good") << "the old adapter stays usable while someone holds it";
}

TEST_F(ReloadTest, RefusesBrokenNewVersionAndOldKeepsServing) {
  auto gateway = start();
  ASSERT_TRUE(gateway);
  auto serving = gateway->adapters();
  struct Case {
    std::string what;
    std::function<void()> breakIt;
    std::string expected;
  };
  std::vector<Case> cases = {
      {"wrong ABI", [&] { install("wrong-abi", "fixture-good.so"); }, "ABI version"},
      {"missing create", [&] { install("no-create", "fixture-good.so"); }, "missing symbol ilpgw_create_adapter"},
      {"null adapter", [&] { install("null-create", "fixture-good.so"); }, "returned no adapter"},
      {"not a library", [&] { ilpgw::testing::writeFile(dir_.file("plugins/fixture-good.so"), "junk"); },
       "cannot load"},
      {"library removed", [&] { fs::remove(dir_.file("plugins/fixture-good.so")); }, "file not found"},
      {"unknown option", [&] { config_.plugins[0].config_json = R"({"nope":1})"; }, "unknown option \"nope\""},
      {"wrong option type", [&] { config_.plugins[0].config_json = R"({"strict":1})"; }, "must be boolean"},
      {"broken ConceptMap", [&] { ilpgw::testing::writeFile(dir_.file("mappings/bad.json"), "{\"resourceType\":"); },
       "bad.json"},
      {"broken config file", [&] { config_error_ = "gateway.json: unknown config key \"x\""; }, "unknown config key"},
  };
  for (auto& c : cases) {
    SetUp();  // restore a good state first (v1 installed, clean config)
    config_error_.clear();
    fs::remove(dir_.file("mappings/bad.json"));
    c.breakIt();
    Status reloaded = gateway->reload();
    ASSERT_FALSE(reloaded.isOk()) << c.what;
    EXPECT_NE(reloaded.message().find(c.expected), std::string::npos) << c.what << ": " << reloaded.message();
    EXPECT_EQ(gateway->adapters(), serving) << c.what << ": the set was replaced";
    auto answer = gateway->ingest(ilpgw::developmentCaller(gateway->config().organization_id), "fixture-good", "C3\n", "text/plain");
    EXPECT_EQ(answer.http_status, 201) << c.what << ": " << answer.body;
  }
}

TEST_F(ReloadTest, DisablingAnAdapterRemovesItsRoute) {
  auto gateway = start();
  ASSERT_TRUE(gateway);
  config_.plugins[0].enabled = false;
  ASSERT_TRUE(gateway->reload().isOk());
  EXPECT_EQ(gateway->ingest(ilpgw::developmentCaller(gateway->config().organization_id), "fixture-good", "A1\n", "text/plain").http_status, 404);
  EXPECT_EQ(gateway->adapters()->disabled.size(), 1u);
}

TEST_F(ReloadTest, InvalidOutputFailsOnlyThatRecord) {
  install("invalid-json", "fixture-invalid-json.so");
  install("invalid-fhir", "fixture-invalid-fhir.so");
  config_.plugins.push_back(PluginConfig{"fixture-invalid-json", "fixture-invalid-json.so", "{}"});
  config_.plugins.push_back(PluginConfig{"fixture-invalid-fhir", "fixture-invalid-fhir.so", "{}"});
  auto gateway = start();
  ASSERT_TRUE(gateway);
  auto bad_json = gateway->ingest(ilpgw::developmentCaller(gateway->config().organization_id), "fixture-invalid-json", "A1\n", "text/plain");
  EXPECT_EQ(bad_json.http_status, 422);
  EXPECT_NE(bad_json.body.find("adapter produced invalid JSON"), std::string::npos) << bad_json.body;
  auto bad_fhir = gateway->ingest(ilpgw::developmentCaller(gateway->config().organization_id), "fixture-invalid-fhir", "A1\n", "text/plain");
  EXPECT_EQ(bad_fhir.http_status, 422);
  EXPECT_NE(bad_fhir.body.find("Patient.gender"), std::string::npos) << bad_fhir.body;
  auto stats = gateway->store().stats();
  ASSERT_TRUE(stats.isOk());
  EXPECT_EQ(stats.value().quarantined_open, 2);
  EXPECT_EQ(gateway->ingest(ilpgw::developmentCaller(gateway->config().organization_id), "fixture-good", "A1\n", "text/plain").http_status, 201);
}

TEST_F(ReloadTest, SlowAdapterFailsOnlyThatPayloadAndIsMarkedUnhealthy) {
  install("slow", "fixture-slow.so");
  config_.plugins.push_back(PluginConfig{"fixture-slow", "fixture-slow.so", R"({"sleep_ms":1500})", true, 100});
  auto gateway = start();
  ASSERT_TRUE(gateway);
  auto started = std::chrono::steady_clock::now();
  auto answer = gateway->ingest(ilpgw::developmentCaller(gateway->config().organization_id), "fixture-slow", "A1\n", "text/plain");
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(answer.http_status, 504) << answer.body;
  EXPECT_NE(answer.body.find("did not answer within 100 ms"), std::string::npos) << answer.body;
  EXPECT_LT(took, std::chrono::milliseconds(1000));
  const auto& slow = *gateway->adapters()->adapters.at("fixture-slow").loaded;
  EXPECT_EQ(slow.hung_calls.load(), 1);
  auto stats = gateway->store().stats();
  ASSERT_TRUE(stats.isOk());
  EXPECT_EQ(stats.value().quarantined_open, 1);
  // Other adapters are unaffected.
  EXPECT_EQ(gateway->ingest(ilpgw::developmentCaller(gateway->config().organization_id), "fixture-good", "A1\n", "text/plain").http_status, 201);
  // More hung calls than the limit: refused at once with 503.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(gateway->ingest(ilpgw::developmentCaller(gateway->config().organization_id), "fixture-slow", "A1\n", "text/plain").http_status, 504);
  EXPECT_EQ(slow.hung_calls.load(), 4);
  started = std::chrono::steady_clock::now();
  EXPECT_EQ(gateway->ingest(ilpgw::developmentCaller(gateway->config().organization_id), "fixture-slow", "A1\n", "text/plain").http_status, 503);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(50));
  // The stuck calls return eventually and the adapter is healthy again.
  for (int i = 0; i < 50 && slow.hung_calls.load() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(slow.hung_calls.load(), 0);
  EXPECT_EQ(slow.timed_out_calls.load(), 4);
}

TEST_F(ReloadTest, LeftoverCallMarkerNamesTheAdapterOnStart) {
  fs::create_directories(adapterCallMarkerDir(config_));
  ilpgw::testing::writeFile(adapterCallMarkerDir(config_) + "/1234-1", "R\nfixture-crash@1.0.0\n2024-01-01T00:00:00Z\n");
  ilpgw::testing::writeFile(adapterCallMarkerDir(config_) + "/1234-2", "I\nfixture-good@1.0.0\n2024-01-01T00:00:00Z\n");
  auto labels = reportLeftoverAdapterCalls(adapterCallMarkerDir(config_));
  ASSERT_EQ(labels.size(), 1u);
  EXPECT_EQ(labels[0], "fixture-crash@1.0.0");
  EXPECT_TRUE(fs::is_empty(adapterCallMarkerDir(config_)));
  // A call is marked running only while it runs.
  install("slow", "fixture-slow.so");
  config_.plugins.push_back(PluginConfig{"fixture-slow", "fixture-slow.so", R"({"sleep_ms":600})", true, 5000});
  auto gateway = start();
  ASSERT_TRUE(gateway);
  EXPECT_EQ(gateway->ingest(ilpgw::developmentCaller(gateway->config().organization_id), "fixture-good", "A1\n", "text/plain").http_status, 201);
  EXPECT_TRUE(runningAdapterCalls(adapterCallMarkerDir(config_)).empty());
  auto slow = std::async(std::launch::async, [&] { return gateway->ingest(ilpgw::developmentCaller(gateway->config().organization_id), "fixture-slow", "A1\n", "text/plain"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto running = runningAdapterCalls(adapterCallMarkerDir(config_));
  ASSERT_EQ(running.size(), 1u);
  EXPECT_EQ(running[0].first, "fixture-slow@1.0.0");
  EXPECT_EQ(slow.get().http_status, 201);
  EXPECT_TRUE(runningAdapterCalls(adapterCallMarkerDir(config_)).empty());
}

}  // namespace
}  // namespace ilpgw
