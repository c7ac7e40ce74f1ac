// Process-wide SQLite settings the store makes before its first connection.
// In a binary of its own: the settings apply only if the store is the first
// to use SQLite in the process.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "base/json.h"
#include "fhir/resource_text.h"
#include "store/sqlite_store.h"
#include "test_support.h"

namespace ilpgw {
namespace {

// SQLite's memory statistics take one process-wide mutex on every
// allocation of every connection; the store turns them off, so SQLite
// reports no memory in use however much its connections hold.
TEST(SqliteSettingsTest, MemoryStatisticsAreOffSoConnectionsShareNoAllocationLock) {
  testing::TempDir dir;
  auto opened = openSqliteStore(SqliteOptions{dir.file("gateway.db")});
  ASSERT_TRUE(opened.isOk()) << opened.status().message();
  auto& store = *opened.value();
  for (int i = 0; i < 20; ++i) {
    rapidjson::Document doc;
    ASSERT_FALSE(json::parse(R"({"resourceType":"Patient","id":"p)" + std::to_string(i) +
                                 R"(","gender":"female","birthDate":"1990-01-01"})",
                             doc)
                     .has_value());
    WriteBatch batch;
    batch.resources.push_back(prepareResource(doc));
    batch.resources.back().organization = "org-a";
    ASSERT_TRUE(store.commit(std::move(batch)).isOk());
  }
  SearchQuery all;
  all.type = "Patient";
  auto page = store.search(all);
  ASSERT_TRUE(page.isOk());
  EXPECT_EQ(page->resources.size(), 20u);

  sqlite3_int64 used = -1;
  sqlite3_int64 highest = -1;
  ASSERT_EQ(sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &used, &highest, 0), SQLITE_OK);
  EXPECT_EQ(used, 0) << "SQLite counts its memory: the statistics are on";
  EXPECT_EQ(highest, 0);
}

}  // namespace
}  // namespace ilpgw
