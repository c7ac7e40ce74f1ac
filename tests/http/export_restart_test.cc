// Bulk Data $export jobs survive a restart, end to end over real TLS with the
// real binary: a finished job's status URL and files answer after the
// gateway comes back, a job that was running when it died runs again, and a
// failed, deleted or expired job answers as it should (500, 404) afterwards.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <sstream>
#include <thread>

#include "base/json.h"
#include "store/store.h"
#include "test_support.h"

namespace ilpgw {
namespace {

namespace fs = std::filesystem;
using testing::GatewayOptions;
using testing::GatewayProcess;

constexpr const char* kFhirJson = "application/fhir+json";

rapidjson::Document parse(const std::string& text) {
  rapidjson::Document doc;
  EXPECT_FALSE(json::parse(text, doc).has_value()) << text;
  return doc;
}

class ExportRestartTest : public ::testing::Test {
 protected:
  GatewayOptions options(const std::string& export_config = "") const {
    GatewayOptions o;
    o.plugins = {};
    o.data_dir = data_.file("data");
    if (!export_config.empty()) o.extra_config = "\"export\": {" + export_config + "}";
    return o;
  }

  static void createOrganizations(const GatewayProcess& gateway, int first, int count) {
    ASSERT_TRUE(testing::putOrganizations(gateway, first, count));
  }

  // Kicks off an export; returns the status URL's path.
  static std::string kickOff(const GatewayProcess& gateway, const std::string& url = "/fhir/$export") {
    auto res = gateway.client()->Get(url.c_str(), {{"Prefer", "respond-async"}});
    EXPECT_TRUE(res);
    if (!res) return "";
    EXPECT_EQ(res->status, 202) << res->body;
    std::string location = res->get_header_value("Content-Location");
    EXPECT_NE(location.find("/fhir/_export/"), std::string::npos) << location;
    return location.substr(location.find("/fhir/_export/"));
  }

  // Polls the status URL until it answers something other than 202.
  static httplib::Result poll(const GatewayProcess& gateway, const std::string& path) {
    auto client = gateway.client();
    auto res = client->Get(path.c_str());
    for (int i = 0; i < 600 && res && res->status == 202; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      res = client->Get(path.c_str());
    }
    return res;
  }

  // Downloads every file of a manifest: {type: file text}.
  static std::map<std::string, std::string> download(const GatewayProcess& gateway, const std::string& manifest) {
    std::map<std::string, std::string> files;
    auto doc = parse(manifest);
    if (!doc.IsObject() || !doc.HasMember("output")) return files;
    auto client = gateway.client();
    for (const auto& item : doc["output"].GetArray()) {
      std::string url(json::string(item, "url"));
      auto res = client->Get(url.substr(url.find("/fhir/")).c_str());
      EXPECT_TRUE(res);
      if (!res) continue;
      EXPECT_EQ(res->status, 200) << url;
      EXPECT_EQ(res->get_header_value("Content-Type"), "application/fhir+ndjson");
      std::int64_t lines = std::count(res->body.begin(), res->body.end(), '\n');
      EXPECT_EQ(lines, item["count"].GetInt64()) << url;
      files[std::string(json::string(item, "type"))] = res->body;
    }
    return files;
  }

  static std::string jobId(const std::string& status_path) { return status_path.substr(status_path.rfind('/') + 1); }

  // The store of the stopped gateway, to change a job the way a crash or
  // the passing of time would have.
  std::unique_ptr<Store> openStopped() const {
    Config config;
    config.data_dir = data_.file("data");
    auto store = openStore(config, {.batch_max = 1, .must_exist = true});
    EXPECT_TRUE(store.isOk()) << store.status().message();
    return store.isOk() ? std::move(store.value()) : nullptr;
  }

  static void expectOutcome(const httplib::Result& res, int status, const std::string& text) {
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, status) << res->body;
    auto doc = parse(res->body);
    ASSERT_TRUE(doc.IsObject());
    EXPECT_EQ(json::string(doc, "resourceType"), "OperationOutcome");
    EXPECT_NE(res->body.find(text), std::string::npos) << res->body;
  }

  testing::TempDir data_;
};

TEST_F(ExportRestartTest, FinishedJobAnswersAfterARestartUntilDeleted) {
  std::string status_path;
  std::string manifest;
  std::map<std::string, std::string> files;
  {
    GatewayProcess gateway(options());
    createOrganizations(gateway, 0, 300);
    status_path = kickOff(gateway);
    auto done = poll(gateway, status_path);
    ASSERT_TRUE(done);
    ASSERT_EQ(done->status, 200) << done->body;
    manifest = done->body;
    files = download(gateway, manifest);
    ASSERT_EQ(files.size(), 1u);
    ASSERT_EQ(std::count(files["Organization"].begin(), files["Organization"].end(), '\n'), 300);
    gateway.kill9();  // not even a clean stop
  }
  {
    GatewayProcess gateway(options());
    auto again = poll(gateway, status_path);
    ASSERT_TRUE(again);
    ASSERT_EQ(again->status, 200) << again->body;
    auto before = parse(manifest);
    auto after = parse(again->body);
    EXPECT_EQ(json::string(after, "transactionTime"), json::string(before, "transactionTime"));
    EXPECT_EQ(json::string(after, "request"), json::string(before, "request"));
    EXPECT_EQ(download(gateway, again->body), files);
    // DELETE: gone now and after the next restart.
    auto del = gateway.client()->Delete(status_path.c_str());
    ASSERT_TRUE(del);
    EXPECT_EQ(del->status, 202);
    expectOutcome(gateway.client()->Get(status_path.c_str()), 404, "no export job");
    EXPECT_EQ(gateway.terminate(), 0);
  }
  GatewayProcess gateway(options());
  expectOutcome(gateway.client()->Get(status_path.c_str()), 404, "no export job");
  expectOutcome(gateway.client()->Get((status_path + "/Organization.ndjson").c_str()), 404, "no such export file");
  EXPECT_FALSE(fs::exists(fs::path(data_.file("data")) / "exports" / jobId(status_path)));
}

TEST_F(ExportRestartTest, JobRunningWhenTheGatewayDiedRunsAgainAfterTheRestart) {
  std::string killed_path;
  std::string status_path;
  {
    GatewayProcess gateway(options());
    createOrganizations(gateway, 0, 2000);
    // Killed right after the kick-off: queued, running or done, the job
    // must come back finished and whole.
    killed_path = kickOff(gateway);
    gateway.kill9();
  }
  {
    GatewayProcess gateway(options());
    auto done = poll(gateway, killed_path);
    ASSERT_TRUE(done);
    ASSERT_EQ(done->status, 200) << done->body << gateway.log();
    auto files = download(gateway, done->body);
    EXPECT_EQ(std::count(files["Organization"].begin(), files["Organization"].end(), '\n'), 2000);
    // A second job, finished, then turned into what a death mid-run leaves
    // behind: marked running, part of a file on disk.
    status_path = kickOff(gateway, "/fhir/$export?_type=Organization");
    auto second = poll(gateway, status_path);
    ASSERT_TRUE(second);
    ASSERT_EQ(second->status, 200) << second->body;
    EXPECT_EQ(gateway.terminate(), 0);
  }
  {
    auto store = openStopped();
    ASSERT_TRUE(store);
    auto job = store->readExportJob(jobId(status_path));
    ASSERT_TRUE(job.isOk() && job.value());
    job.value()->state = ExportJobState::kRunning;
    job.value()->files.clear();
    job.value()->exported = 700;
    job.value()->finished_at.clear();
    job.value()->expires_at.clear();
    ASSERT_TRUE(store->updateExportJob(*job.value()).isOk());
  }
  fs::path dir = fs::path(data_.file("data")) / "exports" / jobId(status_path);
  testing::writeFile(dir / "Organization.ndjson", R"({"resourceType":"Organization","id":"cut-)");
  GatewayProcess gateway(options());
  auto resumed = poll(gateway, status_path);
  ASSERT_TRUE(resumed);
  ASSERT_EQ(resumed->status, 200) << resumed->body;
  auto files = download(gateway, resumed->body);
  const std::string& text = files["Organization"];
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2000);
  EXPECT_EQ(text.find("\"cut-"), std::string::npos);
  EXPECT_NE(gateway.log().find("was running when the gateway stopped; runs again from the start"), std::string::npos)
      << gateway.log();
}

TEST_F(ExportRestartTest, FailedAndExpiredJobsAnswerAfterARestart) {
  std::string too_large;
  {
    GatewayProcess gateway(options("\"max_bytes\": 2000"));
    createOrganizations(gateway, 0, 100);
    too_large = kickOff(gateway);
    expectOutcome(poll(gateway, too_large), 500, "export.max_bytes (2000 bytes)");
    EXPECT_EQ(gateway.terminate(), 0);
  }
  std::string finished;
  {
    GatewayProcess gateway(options());
    // Still failed, with the same reason, after the restart.
    expectOutcome(gateway.client()->Get(too_large.c_str()), 500, "export.max_bytes (2000 bytes)");
    finished = kickOff(gateway);
    auto done = poll(gateway, finished);
    ASSERT_TRUE(done);
    ASSERT_EQ(done->status, 200) << done->body;
    EXPECT_EQ(gateway.terminate(), 0);
  }
  fs::path dir = fs::path(data_.file("data")) / "exports" / jobId(finished);
  EXPECT_TRUE(fs::exists(dir / "1" / "Organization.ndjson"));
  {
    // export.retention_hours passes while the gateway is down.
    auto store = openStopped();
    ASSERT_TRUE(store);
    auto job = store->readExportJob(jobId(finished));
    ASSERT_TRUE(job.isOk() && job.value());
    job.value()->expires_at = "2000-01-01T00:00:00.000Z";
    ASSERT_TRUE(store->updateExportJob(*job.value()).isOk());
  }
  GatewayProcess gateway(options());
  expectOutcome(gateway.client()->Get(finished.c_str()), 404, "no export job");
  EXPECT_FALSE(fs::exists(dir));  // deleted at start-up
}

}  // namespace
}  // namespace ilpgw
