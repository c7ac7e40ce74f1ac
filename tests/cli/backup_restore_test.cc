// ilp-gateway backup | restore, run as an operator would: a backup taken
// while a real gateway takes posts over TLS holds every record acknowledged
// before it started; the restored copy passes `store check` and `audit
// verify`; a damaged, truncated or foreign file and a non-empty target
// directory are refused before anything is written.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "durability_helpers.h"
#include "test_support.h"

namespace ilpgw {
namespace {

using testing::GatewayOptions;
using testing::GatewayProcess;
using testing::runGateway;
using namespace std::chrono_literals;

// Posts distinct visits from a few threads until stopped; records the
// locations of every acknowledged (201) answer.
class Posters {
 public:
  Posters(const GatewayProcess& gateway, int threads) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, &gateway, t] {
        auto client = gateway.client();
        client->set_keep_alive(true);
        for (int i = 0; i < 2000 && !stop_; ++i) {
          auto res = client->Post("/ingest/epuskesmas-json", testing::distinctVisit(t * 2000 + i + 1),
                                  "application/json");
          if (!res || res->status != 201) {
            ++failed_;
            continue;
          }
          auto locations = testing::bundleLocations(res->body);
          std::lock_guard lock(mutex_);
          acknowledged_.insert(locations.begin(), locations.end());
          ++posts_;
        }
      });
    }
  }
  ~Posters() { stop(); }
  void stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  std::set<std::string> acknowledged() {
    std::lock_guard lock(mutex_);
    return acknowledged_;
  }
  int posts() {
    std::lock_guard lock(mutex_);
    return posts_;
  }
  int failed() const { return failed_; }

 private:
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<int> failed_{0};
  std::mutex mutex_;
  std::set<std::string> acknowledged_;
  int posts_ = 0;
};

class BackupRestoreTest : public ::testing::Test {
 protected:
  // A stopped gateway's store with a few visits in it.
  std::string smallStore() {
    GatewayOptions options;
    options.data_dir = dir_.file("data");
    GatewayProcess gateway(options);
    auto client = gateway.client();
    for (int i = 1; i <= 3; ++i) {
      auto res = client->Post("/ingest/epuskesmas-json", testing::distinctVisit(i), "application/json");
      EXPECT_TRUE(res && res->status == 201);
    }
    return options.data_dir;
  }
  std::string backupOf(const std::string& data_dir) {
    std::string file = dir_.file("store.ilpbak");
    std::string out, err;
    EXPECT_EQ(runGateway({"backup", file, "--data", data_dir}, out, &err), 0) << out << err;
    return file;
  }
  // Runs restore into `target`; returns the exit code, stderr in `err`.
  static int restore(const std::string& file, const std::string& target, std::string& err,
                     bool force = false) {
    std::string out;
    std::vector<std::string> args = {"restore", file, "--data", target};
    if (force) args.push_back("--force");
    return runGateway(args, out, &err);
  }
  static void expectChecksPass(const std::string& data_dir) {
    std::string out, err;
    EXPECT_EQ(runGateway({"store", "check", "--data", data_dir}, out, &err), 0) << out << err;
    EXPECT_NE(out.find(": ok"), std::string::npos) << out;
    EXPECT_EQ(runGateway({"audit", "verify", "--data", data_dir}, out, &err), 0) << out << err;
    EXPECT_NE(out.find("audit chain ok"), std::string::npos) << out;
  }
  testing::TempDir dir_;
};

TEST_F(BackupRestoreTest, BackupUnderLoadHoldsEveryRecordAcknowledgedBeforeIt) {
  GatewayOptions options;
  options.data_dir = dir_.file("live");
  GatewayProcess gateway(options);
  Posters posters(gateway, 4);
  ASSERT_TRUE(testing::waitFor([&] { return posters.posts() >= 200; }, 60s)) << posters.posts() << " posts";

  std::set<std::string> before = posters.acknowledged();
  int posts_before = posters.posts();
  std::string file = dir_.file("live.ilpbak");
  std::string out, err;
  auto started = std::chrono::steady_clock::now();
  ASSERT_EQ(runGateway({"backup", file, "--data", options.data_dir}, out, &err), 0) << out << err;
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  std::set<std::string> by_end = posters.acknowledged();
  int posts_during = posters.posts() - posts_before;
  // The gateway kept serving: posts go on being acknowledged after the backup.
  ASSERT_TRUE(testing::waitFor([&] { return posters.posts() > posts_before + posts_during + 20; }, 30s));
  posters.stop();
  EXPECT_EQ(posters.failed(), 0) << "posts refused while the backup ran";
  std::printf("[   INFO   ] backup of %zu acknowledged versions took %lld ms; %d posts acknowledged meanwhile\n%s",
              before.size(), static_cast<long long>(took.count()), posts_during, out.c_str());

  std::string restored = dir_.file("restored");
  ASSERT_EQ(restore(file, restored, err), 0) << err;
  expectChecksPass(restored);

  gateway.terminate();
  GatewayOptions again;
  again.data_dir = restored;
  GatewayProcess from_backup(again);
  auto client = from_backup.client();
  client->set_keep_alive(true);
  int missing = 0;
  for (const auto& location : before) {
    auto res = client->Get(("/fhir/" + location).c_str());
    if (!res || res->status != 200) ++missing;
  }
  EXPECT_EQ(missing, 0) << "acknowledged before the backup but not in it";
  // The copy is a snapshot: what was acknowledged after the command
  // returned is not in it.
  std::set<std::string> later;
  for (const auto& location : posters.acknowledged()) {
    if (by_end.count(location) == 0) later.insert(location);
  }
  ASSERT_FALSE(later.empty());
  int present = 0;
  for (const auto& location : later) {
    auto res = client->Get(("/fhir/" + location).c_str());
    if (res && res->status == 200) ++present;
  }
  EXPECT_EQ(present, 0) << "records from after the backup are in it";
}

TEST_F(BackupRestoreTest, RestoredStoreRecordsTheRestoreInItsAuditChain) {
  std::string file = backupOf(smallStore());
  std::string restored = dir_.file("restored");
  std::string err;
  ASSERT_EQ(restore(file, restored, err), 0) << err;
  std::string out;
  ASSERT_EQ(runGateway({"audit", "verify", "--data", restored}, out, &err), 0) << out << err;
  std::string source_out;
  ASSERT_EQ(runGateway({"audit", "verify", "--data", dir_.file("data")}, source_out, &err), 0);
  // One event more than the source: the restore itself.
  auto events = [](const std::string& text) { return std::stoll(text.substr(text.find("ok: ") + 4)); };
  EXPECT_EQ(events(out), events(source_out) + 1) << out << source_out;
}

TEST_F(BackupRestoreTest, RefusesABackupWithFlippedBytes) {
  std::string file = backupOf(smallStore());
  std::string bytes = testing::readFile(file);
  ASSERT_GT(bytes.size(), 20000u);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x5a);
  bytes[bytes.size() / 2 + 1] = static_cast<char>(bytes[bytes.size() / 2 + 1] ^ 0x01);
  testing::writeFile(file, bytes);
  std::string target = dir_.file("target");
  std::string err;
  EXPECT_EQ(restore(file, target, err), 2);
  EXPECT_NE(err.find("does not match its checksum"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_FALSE(std::filesystem::exists(target + "/gateway.db"));
}

TEST_F(BackupRestoreTest, RefusesATruncatedBackup) {
  std::string file = backupOf(smallStore());
  std::filesystem::resize_file(file, std::filesystem::file_size(file) - 4096);
  std::string target = dir_.file("target");
  std::string err;
  EXPECT_EQ(restore(file, target, err), 2);
  EXPECT_NE(err.find("cut short"), std::string::npos) << err;
  EXPECT_FALSE(std::filesystem::exists(target + "/gateway.db"));

  std::filesystem::resize_file(file, 40);  // inside the header
  EXPECT_EQ(restore(file, target, err), 2);
  EXPECT_NE(err.find("cut short"), std::string::npos) << err;
}

TEST_F(BackupRestoreTest, RefusesAFileThatIsNoBackup) {
  std::string data = smallStore();
  std::string target = dir_.file("target");
  std::string err;
  // The database file itself is not a backup.
  EXPECT_EQ(restore(data + "/gateway.db", target, err), 2);
  EXPECT_NE(err.find("not an ilp-gateway backup"), std::string::npos) << err;
  EXPECT_EQ(restore(dir_.file("no-such-file"), target, err), 2);
  EXPECT_NE(err.find("cannot be read"), std::string::npos) << err;
}

TEST_F(BackupRestoreTest, RefusesANonEmptyDataDirectoryUnlessForced) {
  std::string data = smallStore();
  std::string file = backupOf(data);
  std::string target = dir_.file("target");
  std::filesystem::create_directories(target);
  testing::writeFile(target + "/notes.txt", "keep me");
  std::string err;
  EXPECT_EQ(restore(file, target, err), 2);
  EXPECT_NE(err.find("not empty"), std::string::npos) << err;
  EXPECT_FALSE(std::filesystem::exists(target + "/gateway.db"));

  ASSERT_EQ(restore(file, target, err, true), 0) << err;
  expectChecksPass(target);
  EXPECT_EQ(testing::readFile(target + "/notes.txt"), "keep me");
}

TEST_F(BackupRestoreTest, RefusesToOverwriteAnExistingBackupFile) {
  std::string data = smallStore();
  std::string file = backupOf(data);
  std::string before = testing::readFile(file);
  std::string out, err;
  EXPECT_EQ(runGateway({"backup", file, "--data", data}, out, &err), 2);
  EXPECT_NE(err.find("already exists"), std::string::npos) << err;
  EXPECT_EQ(testing::readFile(file), before);
}

// backup.dir, backup.interval_s and backup.keep: the running gateway backs
// itself up and keeps only the newest files; the newest restores.
TEST_F(BackupRestoreTest, ScheduledBackupsKeepTheNewestOnes) {
  std::string backups = dir_.file("backups");
  GatewayOptions options;
  options.data_dir = dir_.file("data");
  options.extra_config = R"("backup": {"dir": ")" + backups + R"(", "interval_s": 1, "keep": 2})";
  GatewayProcess gateway(options);
  auto client = gateway.client();
  auto posted = client->Post("/ingest/epuskesmas-json", testing::distinctVisit(1), "application/json");
  ASSERT_TRUE(posted && posted->status == 201);
  auto location = testing::bundleLocations(posted->body).at(0);
  auto files = [&] {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(backups, ec)) {
      if (entry.path().extension() == ".ilpbak") out.push_back(entry.path().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  auto deleted = [&] {
    std::string log = gateway.log();
    size_t n = 0;
    for (size_t at = log.find("deleted (backup.keep)"); at != std::string::npos;
         at = log.find("deleted (backup.keep)", at + 1)) {
      ++n;
    }
    return n;
  };
  ASSERT_TRUE(testing::waitFor([&] { return deleted() >= 2; }, std::chrono::seconds(30))) << gateway.log();
  EXPECT_LE(files().size(), 3u);  // the newest two, and at most one being pruned
  gateway.terminate();
  auto left = files();
  ASSERT_EQ(left.size(), 2u) << gateway.log();
  EXPECT_NE(gateway.log().find("scheduled backup " + left.back() + ": "), std::string::npos) << gateway.log();

  std::string restored = dir_.file("restored");
  std::string err;
  ASSERT_EQ(restore(left.back(), restored, err), 0) << err;
  expectChecksPass(restored);
  GatewayOptions again;
  again.data_dir = restored;
  GatewayProcess from_backup(again);
  auto res = from_backup.client()->Get(("/fhir/" + location).c_str());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << location;
}

TEST_F(BackupRestoreTest, PostgresqlStoreIsPointedToPgDump) {
  // Nothing is contacted: the answer comes from the configuration alone.
  std::string config = dir_.file("gateway.json");
  testing::writeFile(config, R"({"store": {"backend": "postgresql", "url": "postgresql://127.0.0.1:1/ilp"}})");
  std::string out, err;
  EXPECT_EQ(runGateway({"backup", dir_.file("pg.ilpbak"), "--config", config}, out, &err), 2);
  EXPECT_NE(err.find("pg_dump"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_FALSE(std::filesystem::exists(dir_.file("pg.ilpbak")));
  EXPECT_EQ(runGateway({"restore", dir_.file("pg.ilpbak"), "--config", config}, out, &err), 2);
  EXPECT_NE(err.find("pg_restore"), std::string::npos) << err;
}

}  // namespace
}  // namespace ilpgw
