// Hot reload and crash identification in a real gateway process over HTTPS:
// POST /admin/plugins/reload, SIGHUP, a request in flight across a reload,
// a refused broken version, and the adapter named after it crashed the process.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "base/json.h"
#include "test_support.h"

namespace ilpgw {
namespace {

namespace fs = std::filesystem;
using ilpgw::testing::GatewayOptions;
using ilpgw::testing::GatewayProcess;
using ilpgw::testing::TempDir;

std::string fixture(const std::string& name) { return std::string(ILPGW_FIXTURE_PLUGIN_DIR) + "/" + name + ".so"; }

class LiveReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(plugins_.path());
    install("good-v1", "fixture-good");
  }
  // Operators install with copy-beside-and-rename; never cp over a live .so.
  void install(const std::string& fixture_name, const std::string& adapter) {
    std::string target = plugins_.file(adapter + ".so");
    fs::copy_file(fixture(fixture_name), target + ".tmp", fs::copy_options::overwrite_existing);
    fs::rename(target + ".tmp", target);
  }
  GatewayOptions options(std::vector<std::string> plugins, std::string data_dir = {}) {
    GatewayOptions o;
    o.plugins = std::move(plugins);
    // Later keys win: point the generated config at our plugin directory.
    o.extra_config = "\"plugin_dir\": \"" + plugins_.path().string() + "\"";
    o.data_dir = std::move(data_dir);
    return o;
  }
  // Edits the running gateway's config file (what an operator does before reloading).
  static void editConfig(const GatewayProcess& gateway, const std::string& from, const std::string& to) {
    std::string text = ilpgw::testing::readFile(gateway.configPath());
    auto at = text.find(from);
    ASSERT_NE(at, std::string::npos) << text;
    text.replace(at, from.size(), to);
    ilpgw::testing::writeFile(gateway.configPath(), text);
  }
  static std::string source(httplib::Client& client, const httplib::Result& posted) {
    rapidjson::Document bundle;
    if (!posted || json::parse(posted->body, bundle) || !bundle.HasMember("entry")) return "no bundle";
    std::string location(json::string(bundle["entry"][0]["response"], "location"));
    auto read = client.Get(("/fhir/" + location.substr(0, location.find("/_history"))).c_str());
    rapidjson::Document resource;
    if (!read || json::parse(read->body, resource)) return "unreadable";
    return std::string(json::string(resource["meta"], "source"));
  }
  TempDir plugins_;
};

TEST_F(LiveReloadTest, ReloadEndpointSwapsVersionsAndRefusesBrokenOnes) {
  GatewayProcess gateway(options({"fixture-good"}));
  auto client = gateway.client();
  auto first = client->Post("/ingest/fixture-good", "A1\n", "text/plain");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 201) << first->body;
  EXPECT_EQ(source(*client, first), "ilp-gateway/fixture-good@1.0.0");

  install("good-v2", "fixture-good");
  auto reloaded = client->Post("/admin/plugins/reload", "", "application/json");
  ASSERT_TRUE(reloaded);
  ASSERT_EQ(reloaded->status, 200) << reloaded->body;
  EXPECT_NE(reloaded->body.find("\"version\":\"2.0.0\""), std::string::npos) << reloaded->body;
  auto second = client->Post("/ingest/fixture-good", "A1\n", "text/plain");
  EXPECT_EQ(source(*client, second), "ilp-gateway/fixture-good@2.0.0");

  install("wrong-abi", "fixture-good");
  auto refused = client->Post("/admin/plugins/reload", "", "application/json");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 422) << refused->body;
  EXPECT_NE(refused->body.find("OperationOutcome"), std::string::npos);
  EXPECT_NE(refused->body.find("ABI version"), std::string::npos) << refused->body;
  EXPECT_EQ(client->Post("/ingest/fixture-good", "C3\n", "text/plain")->status, 201) << "old set stopped serving";
  auto plugins = client->Get("/admin/plugins");
  ASSERT_TRUE(plugins);
  EXPECT_NE(plugins->body.find("\"version\":\"2.0.0\""), std::string::npos) << plugins->body;
  EXPECT_NE(plugins->body.find("\"name\":\"greeting\""), std::string::npos) << "options not shown";
  EXPECT_NE(gateway.log().find("reload refused"), std::string::npos);
}

TEST_F(LiveReloadTest, RequestInFlightFinishesOnTheOldVersion) {
  GatewayProcess gateway(options({"fixture-good"}));
  editConfig(gateway, R"({"name":"fixture-good","library":"fixture-good.so"})",
             R"({"name":"fixture-good","library":"fixture-good.so","config":{"sleep_ms":1500}})");
  auto client = gateway.client();
  ASSERT_EQ(client->Post("/admin/plugins/reload", "", "application/json")->status, 200);

  auto slow = std::async(std::launch::async, [&] {
    auto own = gateway.client();
    auto res = own->Post("/ingest/fixture-good", "SLOW1\n", "text/plain");
    return std::make_pair(res ? res->status : 0, source(*own, res));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  install("good-v2", "fixture-good");
  editConfig(gateway, R"("sleep_ms":1500)", R"("sleep_ms":0)");
  auto started = std::chrono::steady_clock::now();
  auto reloaded = client->Post("/admin/plugins/reload", "", "application/json");
  ASSERT_TRUE(reloaded);
  EXPECT_EQ(reloaded->status, 200) << reloaded->body;
  auto fast = client->Post("/ingest/fixture-good", "FAST1\n", "text/plain");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(1000)) << "reload waited for the slow request";
  EXPECT_EQ(source(*client, fast), "ilp-gateway/fixture-good@2.0.0");
  auto [status, slow_source] = slow.get();
  EXPECT_EQ(status, 201);
  EXPECT_EQ(slow_source, "ilp-gateway/fixture-good@1.0.0");
}

// The pid of the gateway started with `config_path` (unique per test).
pid_t gatewayPid(const std::string& config_path) {
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = ilpgw::testing::readFile(entry.path() / "cmdline");
    if (cmdline.find(config_path) != std::string::npos && cmdline.find("serve") != std::string::npos) {
      return static_cast<pid_t>(std::stoi(name));
    }
  }
  return -1;
}

TEST_F(LiveReloadTest, SighupReloads) {
  GatewayProcess gateway(options({"fixture-good"}));
  pid_t pid = gatewayPid(gateway.configPath());
  ASSERT_GT(pid, 0);
  install("good-v2", "fixture-good");
  ASSERT_EQ(::kill(pid, SIGHUP), 0);
  auto client = gateway.client();
  bool swapped = false;
  for (int i = 0; i < 100 && !swapped; ++i) {
    auto plugins = client->Get("/admin/plugins");
    swapped = plugins && plugins->body.find("\"version\":\"2.0.0\"") != std::string::npos;
    if (!swapped) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(swapped) << gateway.log();
  EXPECT_NE(gateway.log().find("SIGHUP: reloading"), std::string::npos);
}

TEST_F(LiveReloadTest, CrashingAdapterIsNamedOnRestartAndCanBeDisabled) {
  install("crash", "fixture-crash");
  TempDir data;
  {
    GatewayProcess gateway(options({"fixture-good", "fixture-crash"}, data.file("data")));
    auto client = gateway.client();
    auto res = client->Post("/ingest/fixture-crash", "A1\n", "text/plain");
    EXPECT_FALSE(res && res->status == 201) << "the crash fixture did not crash";
  }
  GatewayProcess restarted(options({"fixture-good", "fixture-crash"}, data.file("data")));
  EXPECT_NE(restarted.log().find("adapter fixture-crash@1.0.0 was still running a call"), std::string::npos)
      << restarted.log();
  editConfig(restarted, R"({"name":"fixture-crash","library":"fixture-crash.so"})",
             R"({"name":"fixture-crash","library":"fixture-crash.so","enabled":false})");
  auto client = restarted.client();
  auto reloaded = client->Post("/admin/plugins/reload", "", "application/json");
  ASSERT_TRUE(reloaded);
  EXPECT_EQ(reloaded->status, 200) << reloaded->body;
  EXPECT_NE(reloaded->body.find("\"name\":\"fixture-crash\",\"library\":\"fixture-crash.so\",\"enabled\":false"),
            std::string::npos)
      << reloaded->body;
  EXPECT_EQ(client->Post("/ingest/fixture-crash", "A1\n", "text/plain")->status, 404);
  EXPECT_EQ(client->Post("/ingest/fixture-good", "A1\n", "text/plain")->status, 201);
}

}  // namespace
}  // namespace ilpgw
