// The ilp-gateway command line: offline mapping, start-up failures, and the
// store's schema version (`store check`, a store from a newer version).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "base/json.h"
#include "test_support.h"

namespace ilpgw {
namespace {

using testing::runGateway;

class CliTest : public ::testing::Test {
 protected:
  std::vector<std::string> common() {
    return {"--plugin-dir", testing::pluginDir(), "--mappings", testing::mappingsDir(), "--config", config_};
  }
  void SetUp() override {
    config_ = dir_.file("gateway.json");
    testing::writeFile(config_, R"({"plugins": [{"name": "epuskesmas-json", "library": "epuskesmas-json.so"}]})");
  }
  testing::TempDir dir_;
  std::string config_;
};

TEST_F(CliTest, MapPrintsABundleForAGoodFile) {
  std::vector<std::string> args = {"map", "--adapter", "epuskesmas-json",
                                   testing::sourceDir() + "/docs/examples/epuskesmas-visit.json"};
  auto more = common();
  args.insert(args.end(), more.begin(), more.end());
  std::string out;
  ASSERT_EQ(runGateway(args, out), 0) << out;
  rapidjson::Document doc;
  ASSERT_FALSE(json::parse(out, doc).has_value()) << out;
  EXPECT_STREQ(doc["resourceType"].GetString(), "Bundle");
  EXPECT_GT(doc["entry"].Size(), 5u);
}

TEST_F(CliTest, MapPrintsAnOutcomeAndFailsForABadRecord) {
  std::string file = dir_.file("bad.json");
  testing::writeFile(file, R"({"id_kunjungan": "X1", "waktu": "2024-11-26T10:00:00", "pasien": {"nama": "A"}})");
  std::vector<std::string> args = {"map", "--adapter", "epuskesmas-json", file};
  auto more = common();
  args.insert(args.end(), more.begin(), more.end());
  std::string out;
  EXPECT_NE(runGateway(args, out), 0);
  rapidjson::Document doc;
  ASSERT_FALSE(json::parse(out, doc).has_value()) << out;
  EXPECT_STREQ(doc["resourceType"].GetString(), "OperationOutcome");
}

TEST_F(CliTest, MissingPluginFileStopsStartUpWithOneLine) {
  testing::writeFile(config_, R"({"plugins": [{"name": "x", "library": "no-such-adapter.so"}]})");
  std::vector<std::string> args = {"serve", "--listen", "127.0.0.1:0", "--data", dir_.file("data")};
  auto more = common();
  args.insert(args.end(), more.begin(), more.end());
  std::string out, err;
  EXPECT_NE(runGateway(args, out, &err), 0);
  EXPECT_NE(err.find("no-such-adapter.so: file not found"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

TEST_F(CliTest, UnknownConfigKeyStopsStartUp) {
  testing::writeFile(config_, R"({"sever": {}})");
  std::vector<std::string> args = {"serve"};
  auto more = common();
  args.insert(args.end(), more.begin(), more.end());
  std::string out, err;
  EXPECT_NE(runGateway(args, out, &err), 0);
  EXPECT_NE(err.find("unknown config key \"sever\""), std::string::npos) << err;
}

TEST_F(CliTest, RefusesDevCertificatesOnAPublicAddress) {
  std::vector<std::string> args = {"serve", "--listen", "0.0.0.0:0", "--data", dir_.file("data")};
  auto more = common();
  args.insert(args.end(), more.begin(), more.end());
  std::string out, err;
  EXPECT_NE(runGateway(args, out, &err), 0);
  EXPECT_NE(err.find("refusing development certificates"), std::string::npos) << err;
}

// The SQLite schema version this ilp-gateway writes (sqlite_store.cc).
constexpr int kSqliteSchemaVersion = 17;

TEST_F(CliTest, StoreCheckPrintsTheSchemaVersion) {
  std::string data = dir_.file("data");
  std::string out, err;
  EXPECT_NE(runGateway({"store", "check", "--data", data}, out, &err), 0) << "no store there yet";
  ASSERT_EQ(runGateway({"client", "add", "--data", data, "--role", "puller"}, out, &err), 0) << err;
  ASSERT_EQ(runGateway({"store", "check", "--data", data}, out, &err), 0) << out << err;
  EXPECT_NE(out.find("gateway.db: ok, schema version " + std::to_string(kSqliteSchemaVersion) + " ("), std::string::npos)
      << out;
}

TEST_F(CliTest, StoreFromANewerVersionIsRefusedWithOneLine) {
  std::string data = dir_.file("data");
  std::string out, err;
  ASSERT_EQ(runGateway({"client", "add", "--data", data, "--role", "puller"}, out, &err), 0) << err;
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((data + "/gateway.db").c_str(), &db), SQLITE_OK);
  std::string newer = std::to_string(kSqliteSchemaVersion + 1);
  EXPECT_EQ(sqlite3_exec(db, ("PRAGMA user_version = " + newer).c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  const std::string refusal = "store schema version " + newer + " is newer than this ilp-gateway supports (" +
                              std::to_string(kSqliteSchemaVersion) + "); upgrade ilp-gateway";
  EXPECT_NE(runGateway({"store", "check", "--data", data}, out, &err), 0);
  EXPECT_NE(err.find(refusal), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  std::vector<std::string> serve = {"serve", "--listen", "127.0.0.1:0", "--data", data};
  auto more = common();
  serve.insert(serve.end(), more.begin(), more.end());
  EXPECT_NE(runGateway(serve, out, &err), 0);
  EXPECT_NE(err.find(refusal), std::string::npos) << err;
}

}  // namespace
}  // namespace ilpgw
