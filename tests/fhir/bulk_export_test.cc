// BulkExporter over a real SQLite store, in process: jobs kept in the store
// run again after a restart, finished jobs expire with their files, a job
// over export.max_bytes fails, and a job the gateway keeps dying in gives up.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "base/json.h"
#include "base/time_util.h"
#include "fhir/bulk_export.h"
#include "fhir/resource_text.h"
#include "store/store.h"
#include "test_support.h"

namespace ilpgw {
namespace {

namespace fs = std::filesystem;

class BulkExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.data_dir = dir_.file("data");
    auto store = openStore(config_);
    ASSERT_TRUE(store.isOk()) << store.status().message();
    store_ = std::move(store.value());
    for (int i = 0; i < 20; ++i) {
      commit("Patient", "p" + std::to_string(i), R"(,"gender":"female")");
    }
    commit("Organization", "org1", R"(,"name":"Puskesmas Uji")");
  }

  void commit(const std::string& type, const std::string& id, const std::string& rest) {
    rapidjson::Document doc;
    std::string text = R"({"resourceType":")" + type + R"(","id":")" + id + "\"" + rest + "}";
    ASSERT_FALSE(json::parse(text, doc).has_value()) << text;
    WriteBatch batch;
    batch.resources.push_back(prepareResource(doc));
    batch.resources.back().organization = "org-a";
    ASSERT_TRUE(store_->commit(std::move(batch)).isOk());
  }

  ExportOptions options() const {
    ExportOptions o = exportOptions(config_);
    o.retention_ms = 60'000;
    return o;
  }

  static ExportRequest request(std::vector<std::string> types = {"Patient", "Organization"}) {
    ExportRequest r;
    r.types = std::move(types);
    r.request_url = "https://gw/fhir/$export";
    r.client_id = "puller-1";
    return r;
  }

  // Polls until the job is no longer queued or running.
  static std::optional<ExportStatus> waitDone(BulkExporter& exporter, const std::string& id) {
    for (int i = 0; i < 400; ++i) {
      auto status = exporter.status(id, "puller-1");
      EXPECT_TRUE(status.isOk());
      if (!status.isOk() || !status.value()) return std::nullopt;
      if (status.value()->state != ExportState::kQueued && status.value()->state != ExportState::kRunning) {
        return status.value();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "export " << id << " did not finish";
    return std::nullopt;
  }

  fs::path jobDir(const std::string& id) const { return fs::path(config_.data_dir) / "exports" / id; }

  testing::TempDir dir_;
  Config config_;
  std::unique_ptr<Store> store_;
};

TEST_F(BulkExportTest, CompletedJobIsKeptInTheStoreAndOnDisk) {
  std::string id;
  {
    BulkExporter exporter(*store_, *store_, options());
    auto started = exporter.start(request());
    ASSERT_TRUE(started.isOk()) << started.status().message();
    id = started.value();
    auto done = waitDone(exporter, id);
    ASSERT_TRUE(done);
    EXPECT_EQ(done->state, ExportState::kCompleted);
    EXPECT_EQ(done->exported, 21);
    ASSERT_EQ(done->files.size(), 2u);
    // Another client does not see it.
    auto foreign = exporter.status(id, "puller-2");
    ASSERT_TRUE(foreign.isOk());
    EXPECT_FALSE(foreign.value());
  }
  auto job = store_->readExportJob(id);
  ASSERT_TRUE(job.isOk() && job.value());
  EXPECT_EQ(job.value()->state, ExportJobState::kCompleted);
  EXPECT_EQ(job.value()->attempts, 1);
  EXPECT_GT(job.value()->bytes, 0);
  EXPECT_FALSE(job.value()->expires_at.empty());
  // A new exporter (the next start) serves the same job and files.
  BulkExporter again(*store_, *store_, options());
  auto status = again.status(id, "puller-1");
  ASSERT_TRUE(status.isOk() && status.value());
  EXPECT_EQ(status.value()->state, ExportState::kCompleted);
  auto path = again.filePath(id, "Patient.ndjson", "puller-1");
  ASSERT_TRUE(path.isOk() && path.value());
  std::string text = testing::readFile(*path.value());
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 20);
}

TEST_F(BulkExportTest, JobRunningWhenTheGatewayDiedRunsAgain) {
  // What a crash mid-run leaves: the job marked running after one attempt
  // and part of its output on disk.
  ExportJob job;
  job.id = "0123456789abcdef0123456789abcdef";
  job.client_id = "puller-1";
  job.level = "system";
  job.types = {"Patient"};
  job.request_url = "https://gw/fhir/$export?_type=Patient";
  job.state = ExportJobState::kRunning;
  job.attempts = 1;
  job.exported = 5;
  job.created_at = nowInstant();
  ASSERT_TRUE(store_->createExportJob(job).isOk());
  fs::create_directories(jobDir(job.id) / "1");
  testing::writeFile(jobDir(job.id) / "1" / "Patient.ndjson", "{\"resourceType\":\"Patient\",\"id\":\"trunc");

  BulkExporter exporter(*store_, *store_, options());
  auto done = waitDone(exporter, job.id);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->state, ExportState::kCompleted);
  ASSERT_EQ(done->files.size(), 1u);
  EXPECT_EQ(done->files[0].count, 20);
  auto path = exporter.filePath(job.id, "Patient.ndjson", "puller-1");
  ASSERT_TRUE(path.isOk() && path.value());
  std::string text = testing::readFile(*path.value());
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 20);
  EXPECT_EQ(text.find("trunc"), std::string::npos);
  EXPECT_FALSE(fs::exists(jobDir(job.id) / "1")) << "the interrupted run's folder is removed";
  auto stored = store_->readExportJob(job.id);
  ASSERT_TRUE(stored.isOk() && stored.value());
  EXPECT_EQ(stored.value()->attempts, 2);
}

TEST_F(BulkExportTest, JobTheGatewayKeepsDyingInFails) {
  ExportJob job;
  job.id = "fedcba9876543210fedcba9876543210";
  job.client_id = "puller-1";
  job.level = "system";
  job.types = {"Patient"};
  job.state = ExportJobState::kRunning;
  job.attempts = 3;
  job.created_at = nowInstant();
  ASSERT_TRUE(store_->createExportJob(job).isOk());
  BulkExporter exporter(*store_, *store_, options());
  auto status = exporter.status(job.id, "puller-1");
  ASSERT_TRUE(status.isOk() && status.value());
  EXPECT_EQ(status.value()->state, ExportState::kFailed);
  EXPECT_NE(status.value()->error.find("stopped during this export 3 times"), std::string::npos)
      << status.value()->error;
}

TEST_F(BulkExportTest, FinishedJobsExpireWithTheirFiles) {
  ExportOptions short_lived = options();
  short_lived.retention_ms = 300;
  BulkExporter exporter(*store_, *store_, short_lived);
  auto started = exporter.start(request());
  ASSERT_TRUE(started.isOk());
  auto done = waitDone(exporter, started.value());
  ASSERT_TRUE(done);
  ASSERT_EQ(done->state, ExportState::kCompleted);
  EXPECT_TRUE(fs::exists(jobDir(started.value())));
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  // Expired: unknown at once, whether or not the sweep has run yet.
  auto status = exporter.status(started.value(), "puller-1");
  ASSERT_TRUE(status.isOk());
  EXPECT_FALSE(status.value());
  auto file = exporter.filePath(started.value(), "Patient.ndjson", "puller-1");
  ASSERT_TRUE(file.isOk());
  EXPECT_FALSE(file.value());
  // The sweep deletes the row and the files.
  for (int i = 0; i < 100 && fs::exists(jobDir(started.value())); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(fs::exists(jobDir(started.value())));
  auto row = store_->readExportJob(started.value());
  ASSERT_TRUE(row.isOk());
  EXPECT_FALSE(row.value());
}

TEST_F(BulkExportTest, JobOverMaxBytesFailsAndLeavesNoFiles) {
  ExportOptions small = options();
  small.max_bytes = 500;  // a few Patients
  BulkExporter exporter(*store_, *store_, small);
  auto started = exporter.start(request());
  ASSERT_TRUE(started.isOk());
  auto done = waitDone(exporter, started.value());
  ASSERT_TRUE(done);
  EXPECT_EQ(done->state, ExportState::kFailed);
  EXPECT_NE(done->error.find("export.max_bytes (500 bytes)"), std::string::npos) << done->error;
  EXPECT_TRUE(done->files.empty());
  EXPECT_FALSE(fs::exists(jobDir(started.value())));
}

TEST_F(BulkExportTest, DeletedJobsAndStrayFilesAreRemoved) {
  fs::create_directories(fs::path(config_.data_dir) / "exports" / "00000000000000000000000000000000");
  fs::create_directories(fs::path(config_.data_dir) / "export" / "legacy");  // in-memory jobs of older builds
  BulkExporter exporter(*store_, *store_, options());
  EXPECT_FALSE(fs::exists(fs::path(config_.data_dir) / "exports" / "00000000000000000000000000000000"));
  EXPECT_FALSE(fs::exists(fs::path(config_.data_dir) / "export"));
  auto started = exporter.start(request());
  ASSERT_TRUE(started.isOk());
  ASSERT_TRUE(waitDone(exporter, started.value()));
  auto foreign = exporter.cancel(started.value(), "puller-2");
  ASSERT_TRUE(foreign.isOk());
  EXPECT_FALSE(foreign.value());
  auto cancelled = exporter.cancel(started.value(), "puller-1");
  ASSERT_TRUE(cancelled.isOk());
  EXPECT_TRUE(cancelled.value());
  EXPECT_FALSE(fs::exists(jobDir(started.value())));
  auto row = store_->readExportJob(started.value());
  ASSERT_TRUE(row.isOk());
  EXPECT_FALSE(row.value());
}

TEST_F(BulkExportTest, AtMostSixteenJobsAreKept) {
  BulkExporter exporter(*store_, *store_, options());
  std::vector<std::string> ids;
  for (int i = 0; i < 16; ++i) {
    auto started = exporter.start(request({"Organization"}));
    ASSERT_TRUE(started.isOk()) << started.status().message();
    ids.push_back(started.value());
  }
  auto refused = exporter.start(request());
  ASSERT_FALSE(refused.isOk());
  EXPECT_EQ(refused.status().code(), StatusCode::kTooManyRequests);
  for (const auto& id : ids) waitDone(exporter, id);
  ASSERT_TRUE(exporter.cancel(ids[0], "puller-1").isOk());
  EXPECT_TRUE(exporter.start(request()).isOk());
}

}  // namespace
}  // namespace ilpgw
