#include <gtest/gtest.h>

#include <thread>

#include "base/json.h"
#include "fhir/resource_text.h"
#include "store_backends.h"
#include "test_support.h"

namespace ilpgw {
namespace {

ResourceWrite patient(const std::string& id, const std::string& gender) {
  rapidjson::Document doc;
  std::string text = R"({"resourceType":"Patient","id":")" + id + R"(","gender":")" + gender + R"("})";
  EXPECT_FALSE(json::parse(text, doc).has_value());
  ResourceWrite write = prepareResource(doc);
  write.organization = "org-a";
  return write;
}

// Every backend (store_backends.h).
class StoreTest : public testing::StoreBackendTest {};
ILPGW_ALL_BACKENDS(StoreTest);

TEST_P(StoreTest, VersionsOnlyWhenContentChanges) {
  auto store = open();
  WriteBatch first;
  first.resources.push_back(patient("p1", "female"));
  auto r1 = store->commit(first);
  ASSERT_TRUE(r1.isOk());
  EXPECT_EQ(r1->resources[0].version, 1);
  EXPECT_EQ(r1->resources[0].outcome, WriteOutcome::kCreated);

  auto r2 = store->commit(first);
  ASSERT_TRUE(r2.isOk());
  EXPECT_EQ(r2->resources[0].version, 1);
  EXPECT_EQ(r2->resources[0].outcome, WriteOutcome::kUnchanged);

  WriteBatch changed;
  changed.resources.push_back(patient("p1", "male"));
  auto r3 = store->commit(changed);
  ASSERT_TRUE(r3.isOk());
  EXPECT_EQ(r3->resources[0].version, 2);
  EXPECT_EQ(r3->resources[0].outcome, WriteOutcome::kUpdated);

  auto current = store->read("Patient", "p1");
  ASSERT_TRUE(current.isOk() && current.value());
  EXPECT_NE(current.value()->json.find(R"("versionId":"2")"), std::string::npos);
  EXPECT_NE(current.value()->json.find(R"("gender":"male")"), std::string::npos);
  auto old = store->readVersion("Patient", "p1", 1);
  ASSERT_TRUE(old.isOk() && old.value());
  EXPECT_NE(old.value()->json.find(R"("gender":"female")"), std::string::npos);
  auto missing = store->readVersion("Patient", "p1", 3);
  ASSERT_TRUE(missing.isOk());
  EXPECT_FALSE(missing.value().has_value());
}

TEST_P(StoreTest, ConcurrentCommitsAreAllDurableAndOrdered) {
  constexpr int kThreads = 16;
  constexpr int kPerThread = 40;
  {
    auto store = open();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          WriteBatch batch;
          batch.payload = PayloadWrite{"test", "org-a", "application/json", "{}"};
          batch.resources.push_back(patient("t" + std::to_string(t) + "-" + std::to_string(i), "female"));
          auto result = store->commit(std::move(batch));
          ASSERT_TRUE(result.isOk());
          EXPECT_EQ(result->resources[0].version, 1);
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  // Reopened: everything acknowledged is there.
  auto store = open();
  auto stats = store->stats();
  ASSERT_TRUE(stats.isOk());
  EXPECT_EQ(stats->resources, kThreads * kPerThread);
  EXPECT_EQ(stats->payloads, kThreads * kPerThread);
  EXPECT_TRUE(store->checkIntegrity().isOk());
}

TEST_P(StoreTest, KeepsQuarantinedRecords) {
  auto store = open();
  WriteBatch batch;
  batch.payload = PayloadWrite{"test", "org-a", "application/json", "not json"};
  batch.quarantine.push_back({"payload", "", R"({"resourceType":"OperationOutcome"})"});
  auto result = store->commit(batch);
  ASSERT_TRUE(result.isOk());
  ASSERT_EQ(result->quarantine_ids.size(), 1u);
  EXPECT_EQ(store->stats()->quarantined_open, 1);
}

}  // namespace
}  // namespace ilpgw
