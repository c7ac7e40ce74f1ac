// The write-ahead log stays bounded while readers never stop: there is always
// a read transaction open on some connection, each started before the one
// before it ended, which is what a busy gateway's searches and pulls look like
// to SQLite. Its own automatic checkpoint can then never rewind the log.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <thread>

#include "base/json.h"
#include "fhir/resource_text.h"
#include "store/sqlite_store.h"
#include "test_support.h"

namespace ilpgw {
namespace {

namespace fs = std::filesystem;

ResourceWrite bulkyPatient(int i) {
  // About 12 KB of text that does not compress into a few pages.
  std::string note;
  for (int k = 0; note.size() < 12000; ++k) note += std::to_string(i * 7919 + k * 104729) + " ";
  rapidjson::Document doc;
  std::string text = R"({"resourceType":"Patient","id":"p)" + std::to_string(i) +
                     R"(","extension":[{"url":"http://example.org/note","valueString":")" + note + R"("}]})";
  EXPECT_FALSE(json::parse(text, doc).has_value());
  ResourceWrite write = prepareResource(doc);
  write.organization = "org-a";
  return write;
}

// Two raw connections take turns holding a read transaction for a few
// milliseconds, overlapping, until stopped.
class OverlappingReaders {
 public:
  explicit OverlappingReaders(const std::string& path) {
    for (auto& db : dbs_) {
      EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    }
    thread_ = std::thread([this] { run(); });
  }
  ~OverlappingReaders() {
    stop_ = true;
    thread_.join();
    for (auto* db : dbs_) {
      sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
      sqlite3_close(db);
    }
  }

 private:
  void begin(sqlite3* db) {
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    sqlite3_exec(db, "SELECT count(*) FROM resource_version WHERE seq < 3", nullptr, nullptr, nullptr);
  }
  void run() {
    begin(dbs_[0]);
    for (int turn = 1; !stop_; ++turn) {
      begin(dbs_[turn % 2]);  // the next reader starts before the last one ends
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      sqlite3_exec(dbs_[(turn + 1) % 2], "COMMIT", nullptr, nullptr, nullptr);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  sqlite3* dbs_[2] = {nullptr, nullptr};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::uintmax_t walBytes(const std::string& db_path) {
  std::error_code ec;
  auto size = fs::file_size(db_path + "-wal", ec);
  return ec ? 0 : size;
}

TEST(SqliteCheckpointTest, LogStaysBoundedUnderNeverEndingReads) {
  testing::TempDir dir;
  SqliteOptions options{dir.file("gateway.db"), 64};
  options.checkpoint.passive_bytes = 1 << 20;
  options.checkpoint.truncate_bytes = 4 << 20;
  options.checkpoint.retry_after = std::chrono::milliseconds(100);
  auto opened = openSqliteStore(options);
  ASSERT_TRUE(opened.isOk()) << opened.status().message();
  auto& store = *opened.value();

  std::uintmax_t written = 0;
  std::uintmax_t largest_log = 0;
  {
    OverlappingReaders readers(options.path);
    for (int i = 0; i < 2000; ++i) {
      WriteBatch batch;
      batch.resources.push_back(bulkyPatient(i));
      written += batch.resources.back().head.size() + batch.resources.back().tail.size();
      ASSERT_TRUE(store.commit(std::move(batch)).isOk());
      largest_log = std::max(largest_log, walBytes(options.path));
    }
  }
  // Without checkpoints the log would hold every page written (more than the
  // 24 MB of bodies); with them it stays near the truncate threshold.
  ASSERT_GT(written, 20u << 20);
  EXPECT_LT(largest_log, 3u * (4 << 20)) << "largest log " << largest_log << " bytes";

  // Every record is still there.
  SearchQuery all;
  all.type = "Patient";
  auto page = store.search(all);
  ASSERT_TRUE(page.isOk());
  EXPECT_EQ(page->total, 2000);
}

// The copies run on the checkpointer's own thread, not only when the writer
// rewinds the log: with the rewind threshold out of reach, the database file
// itself grows as records are committed.
TEST(SqliteCheckpointTest, LogIsCopiedIntoTheDatabaseWithoutWaitingForARewind) {
  testing::TempDir dir;
  SqliteOptions options{dir.file("gateway.db"), 64};
  options.checkpoint.passive_bytes = 1 << 20;
  options.checkpoint.truncate_bytes = std::int64_t{1} << 40;
  auto opened = openSqliteStore(options);
  ASSERT_TRUE(opened.isOk()) << opened.status().message();
  auto& store = *opened.value();
  auto database_bytes = [&] { return fs::file_size(options.path); };
  const auto empty = database_bytes();

  for (int i = 0; i < 400; ++i) {
    WriteBatch batch;
    batch.resources.push_back(bulkyPatient(i));
    ASSERT_TRUE(store.commit(std::move(batch)).isOk());
  }
  // 400 bodies of about 12 KB: some 4 MB of pages, copied a megabyte at a time.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (database_bytes() < empty + (2u << 20) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GE(database_bytes(), empty + (2u << 20)) << "the database file is " << database_bytes() << " bytes";
}

}  // namespace
}  // namespace ilpgw
