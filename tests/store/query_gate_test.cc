// QueryGate: the bound on searches the SQLite store answers at once.
#include "store/query_gate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

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

}  // namespace
}  // namespace ilpgw
