// QueryGate: the bound on searches the SQLite store answers at once, alone
// and in a real SQLite store under concurrent searches.
#include "store/query_gate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/json.h"
#include "base/metrics.h"
#include "fhir/resource_text.h"
#include "store/sqlite_store.h"
#include "test_support.h"

namespace ilpgw {
namespace {

using std::chrono::milliseconds;

TEST(QueryGateTest, NoMoreCallersInsideThanTurns) {
  QueryGate gate(2);
  std::atomic<int> inside{0};
  std::atomic<int> most{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 8; ++t) {
    callers.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        auto turn = gate.enter(milliseconds(10000));
        if (!turn) {
          ++refused;
          continue;
        }
        int now = ++inside;
        for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        --inside;
      }
    });
  }
  for (auto& c : callers) c.join();
  EXPECT_EQ(refused.load(), 0);
  EXPECT_EQ(most.load(), 2);  // both turns were used, never a third
}

TEST(QueryGateTest, ACallerWaitsAtMostItsWaitThenHasNoTurn) {
  QueryGate gate(1);
  auto held = gate.enter(milliseconds(0));
  ASSERT_TRUE(held);
  auto start = std::chrono::steady_clock::now();
  auto turn = gate.enter(milliseconds(50));
  EXPECT_FALSE(turn);
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(50));
}

TEST(QueryGateTest, AWaitingCallerGetsTheTurnAsSoonAsItIsGivenBack) {
  QueryGate gate(1);
  std::atomic<bool> entered{false};
  std::chrono::steady_clock::duration waited{};
  std::thread waiter;
  {
    auto held = gate.enter(milliseconds(0));
    ASSERT_TRUE(held);
    waiter = std::thread([&] {
      auto start = std::chrono::steady_clock::now();
      auto turn = gate.enter(milliseconds(30000));
      waited = std::chrono::steady_clock::now() - start;
      entered = static_cast<bool>(turn);
    });
    std::this_thread::sleep_for(milliseconds(100));
    EXPECT_FALSE(entered.load());
  }  // the held turn is given back here
  waiter.join();
  EXPECT_TRUE(entered.load());
  EXPECT_LT(waited, std::chrono::seconds(10));
  // Turns go back when they go out of scope: the gate is free again.
  EXPECT_TRUE(gate.enter(milliseconds(0)));
}

TEST(QueryGateTest, APassGoesOnWithoutATurnAndLeavesTheTurnsAsTheyAre) {
  QueryGate gate(1);
  auto held = gate.enter(milliseconds(0));
  ASSERT_TRUE(held);
  {
    auto passed = QueryGate::pass();
    EXPECT_TRUE(passed);
    EXPECT_FALSE(passed.waited());
    EXPECT_FALSE(gate.enter(milliseconds(0)));  // the one turn is still held
  }
  EXPECT_FALSE(gate.enter(milliseconds(0)));  // giving the pass back freed nothing
}

// A SQLite store of 300 Patients, opened with one turn and no wait at all.
class GatedStore {
 public:
  explicit GatedStore(milliseconds bounded_for) {
    SqliteOptions options{dir_.file("gateway.db"), 64};
    options.concurrent_searches = 1;
    options.lock_wait = milliseconds(0);
    options.searches_bounded_for = bounded_for;
    auto opened = openSqliteStore(options);
    EXPECT_TRUE(opened.isOk()) << opened.status().message();
    store_ = std::move(opened.value());
    WriteBatch batch;
    for (int i = 0; i < 300; ++i) {
      rapidjson::Document doc;
      EXPECT_FALSE(json::parse(R"({"resourceType":"Patient","id":"p)" + std::to_string(i) + R"(","gender":"female"})", doc)
                       .has_value());
      batch.resources.push_back(prepareResource(doc));
      batch.resources.back().organization = "org-a";
    }
    EXPECT_TRUE(store_->commit(std::move(batch)).isOk());
  }
  Store& store() { return *store_; }

 private:
  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

struct SearchOutcomes {
  int answered = 0;
  int refused = 0;  // "unavailable": every turn taken
  int wrong = 0;
};

// Eight threads searching 40 times each, all at once.
SearchOutcomes searchAtOnce(Store& store) {
  std::atomic<int> answered{0};
  std::atomic<int> refused{0};
  std::atomic<int> wrong{0};
  std::vector<std::thread> searchers;
  for (int t = 0; t < 8; ++t) {
    searchers.emplace_back([&] {
      for (int i = 0; i < 40; ++i) {
        SearchQuery query;
        query.type = "Patient";
        query.limit = 300;
        auto page = store.search(query);
        if (page.isOk()) {
          ++answered;
          if (page->resources.size() != 300) ++wrong;
        } else if (page.status().code() == StatusCode::kUnavailable &&
                   page.status().message().find("too many searches at once") != std::string::npos) {
          ++refused;
        } else {
          ++wrong;
        }
      }
    });
  }
  for (auto& s : searchers) s.join();
  return {answered.load(), refused.load(), wrong.load()};
}

// Records written a moment ago: concurrent searches either get the one turn
// or are refused as "unavailable" (503), counted; none is answered wrongly.
TEST(QueryGateTest, ASqliteStoreRefusesSearchesBeyondItsTurnsWhileRecordsAreWrittenAndCountsThem) {
  GatedStore gated(std::chrono::hours(1));
  auto& refused_metric = metrics::storeSearchWaits().counter({"refused"});
  std::uint64_t refused_before = refused_metric.value();
  SearchOutcomes outcomes = searchAtOnce(gated.store());
  EXPECT_EQ(outcomes.wrong, 0);
  EXPECT_GT(outcomes.answered, 0);
  EXPECT_GT(outcomes.refused, 0);  // eight callers for one turn that nobody waits for
  EXPECT_EQ(outcomes.answered + outcomes.refused, 8 * 40);
  EXPECT_EQ(refused_metric.value() - refused_before, static_cast<std::uint64_t>(outcomes.refused));
}

// No record written lately: the writer has nothing to protect, and the same
// searches all go on at once.
TEST(QueryGateTest, ASqliteStoreLetsSearchesThroughWhenNoRecordsAreBeingWritten) {
  GatedStore gated(milliseconds(200));
  std::this_thread::sleep_for(milliseconds(300));
  auto& refused_metric = metrics::storeSearchWaits().counter({"refused"});
  std::uint64_t refused_before = refused_metric.value();
  SearchOutcomes outcomes = searchAtOnce(gated.store());
  EXPECT_EQ(outcomes.wrong, 0);
  EXPECT_EQ(outcomes.refused, 0);
  EXPECT_EQ(outcomes.answered, 8 * 40);
  EXPECT_EQ(refused_metric.value(), refused_before);
}

}  // namespace
}  // namespace ilpgw
