// Store-level durability: group commit failure modes (disk full), the outbox
// filled in the same transaction as the versions, claims, leases, dead letters.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "base/json.h"
#include "base/metrics.h"
#include "fhir/resource_text.h"
#include "store/sqlite_store.h"
#include "store_backends.h"
#include "test_support.h"

namespace ilpgw {
namespace {

ResourceWrite resource(const std::string& type, const std::string& id, const std::string& extra = "") {
  rapidjson::Document doc;
  std::string text = R"({"resourceType":")" + type + R"(","id":")" + id + "\"" + extra + "}";
  EXPECT_FALSE(json::parse(text, doc).has_value()) << text;
  ResourceWrite write = prepareResource(doc);
  write.organization = "org-a";
  return write;
}

OutboxClaim claimAll(const std::string& who, std::int64_t now = 1000) { return OutboxClaim{who, now, 60000, 100, {}}; }

// SQLite only: a capped file size stands in for a full disk.
class SqliteDurabilityTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> open(bool outbox, std::int64_t max_pages = 0) {
    SqliteOptions options{dir_.file("gateway.db"), 64};
    options.outbox = outbox;
    options.max_page_count = max_pages;
    auto store = openSqliteStore(options);
    EXPECT_TRUE(store.isOk()) << store.status().message();
    return std::move(store.value());
  }
  testing::TempDir dir_;
};

// COMMIT only writes the log; the log's fsync runs on a thread of its own.
// No caller may hear of a commit before an fsync that began after it: a
// caller's commit returns only once the sync count has moved past the count
// it saw before submitting. Concurrent callers share fsyncs.
TEST_F(SqliteDurabilityTest, EveryAcknowledgementFollowsAnFsyncOfTheLog) {
  metrics::Counter& syncs = metrics::storeLogSyncs().counter();
  auto store = open(false);
  for (int i = 0; i < 20; ++i) {
    std::uint64_t before = syncs.value();
    WriteBatch batch;
    batch.resources.push_back(resource("Patient", "seq-" + std::to_string(i)));
    ASSERT_TRUE(store->commit(std::move(batch)).isOk());
    EXPECT_GT(syncs.value(), before) << "commit " << i << " was acknowledged without an fsync of the log";
  }
  std::uint64_t start = syncs.value();
  std::atomic<int> early{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        std::uint64_t before = syncs.value();
        WriteBatch batch;
        batch.resources.push_back(resource("Patient", "c" + std::to_string(t) + "-" + std::to_string(i)));
        EXPECT_TRUE(store->commit(std::move(batch)).isOk());
        if (syncs.value() <= before) ++early;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(early.load(), 0);
  EXPECT_LE(syncs.value() - start, 200u);
  EXPECT_EQ(store->stats()->resources, 220);
}

// A group is applied without savepoints first; a failing batch sends the
// group through again with one savepoint per batch. Either way the failing
// batch leaves nothing behind (its resources, its audit event) and answers
// its own error, and every neighbour in its group commits.
TEST_F(SqliteDurabilityTest, AFailingBatchIsLeftOutOfItsGroupAndItsNeighboursCommit) {
  auto store = open(false);
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 30; ++i) {
        bool bad = i % 3 == t % 3;
        std::string id = (bad ? "bad-" : "ok-") + std::to_string(t) + "-" + std::to_string(i);
        WriteBatch batch;
        batch.resources.push_back(resource("Patient", id));
        if (bad) batch.resources.back().if_match_version = 7;  // it does not exist: 412
        batch.audit.push_back({nowInstant(), "client-" + std::to_string(t), "|Patient/" + id + "|", "{}"});
        auto result = store->commit(std::move(batch));
        if (bad) {
          EXPECT_EQ(result.status().code(), StatusCode::kPreconditionFailed) << id;
          ++refused;
        } else {
          EXPECT_TRUE(result.isOk()) << id << ": " << result.status().message();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(refused.load(), 80);
  EXPECT_EQ(store->stats()->resources, 160);
  for (int t = 0; t < 8; ++t) {
    for (int i = 0; i < 30; ++i) {
      bool bad = i % 3 == t % 3;
      std::string id = (bad ? "bad-" : "ok-") + std::to_string(t) + "-" + std::to_string(i);
      auto found = store->read("Patient", id);
      ASSERT_TRUE(found.isOk());
      EXPECT_EQ(found.value().has_value(), !bad) << id;
    }
  }
  auto audit = store->scanAudit(0, 1000);
  ASSERT_TRUE(audit.isOk());
  EXPECT_EQ(audit.value().size(), 160u);
  for (const auto& record : audit.value()) {
    EXPECT_EQ(record.event.entities.find("bad-"), std::string::npos) << record.event.entities;
  }
  EXPECT_TRUE(store->checkIntegrity().isOk());
}

// Every backend (store_backends.h).
class DurabilityStoreTest : public testing::StoreBackendTest {
 protected:
  std::unique_ptr<Store> open(bool outbox) { return StoreBackendTest::open(outbox); }
};
ILPGW_ALL_BACKENDS(DurabilityStoreTest);

TEST_F(SqliteDurabilityTest, DiskFullFailsTheWholeGroupAndAcknowledgesNothingLost) {
  // A small cap on the file: sooner or later a group cannot be written. Every
  // commit that said ok must be readable after reopening; every failure is
  // kUnavailable (503), never a partial acknowledgement.
  std::vector<std::string> acknowledged;
  std::mutex mutex;
  std::atomic<int> unavailable{0};
  {
    auto store = open(false, 160);  // 160 pages of 4 KB
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 40; ++i) {
          std::string id = "p" + std::to_string(t) + "-" + std::to_string(i);
          WriteBatch batch;
          batch.payload = PayloadWrite{"test", "org-a", "application/json", std::string(4000, 'x')};
          batch.resources.push_back(resource("Patient", id, R"(,"gender":"female")"));
          auto result = store->commit(std::move(batch));
          if (result.isOk()) {
            std::lock_guard lock(mutex);
            acknowledged.push_back(id);
          } else {
            EXPECT_EQ(result.status().code(), StatusCode::kUnavailable) << result.status().message();
            ++unavailable;
          }
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  EXPECT_GT(unavailable.load(), 0) << "the cap should have been reached";
  EXPECT_GT(acknowledged.size(), 0u);
  auto store = open(false);
  for (const auto& id : acknowledged) {
    auto found = store->read("Patient", id);
    ASSERT_TRUE(found.isOk());
    EXPECT_TRUE(found.value().has_value()) << id << " was acknowledged but is not stored";
  }
  EXPECT_EQ(store->stats()->resources, static_cast<std::int64_t>(acknowledged.size()));
  EXPECT_TRUE(store->checkIntegrity().isOk());
}

TEST_P(DurabilityStoreTest, PlatformLinksAreKeptListedAndWaitingRowsRetried) {
  auto store = open(true);
  WriteBatch batch;
  batch.resources.push_back(resource("Patient", "p1"));
  batch.resources.push_back(resource("Encounter", "e1", R"(,"subject":{"reference":"Patient/p1"})"));
  ASSERT_TRUE(store->commit(batch).isOk());
  auto claimed = store->claimOutbox(claimAll("a"));
  ASSERT_TRUE(claimed.isOk());
  ASSERT_EQ(claimed->size(), 2u);
  EXPECT_EQ(claimed.value()[0].organization, "org-a") << "claims name the stored version's organization";

  PlatformLink linked{"Practitioner", "d1", "org-a", "linked", "N10000001", "", "", 0};
  PlatformLink waiting{"Patient", "p1", "org-a", "waiting", "", "menunggu data pasien", "", 5000};
  PlatformLink posting{"Encounter", "e1", "org-a", "posting", "", "", "", 0};
  ASSERT_TRUE(store->writeLinks({linked, waiting, posting}).isOk());
  auto read = store->readLinks({{"Patient", "p1"}, {"Patient", "nobody"}, {"Practitioner", "d1"}});
  ASSERT_TRUE(read.isOk());
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ(read.value()[0].state, "waiting");
  EXPECT_EQ(read.value()[0].reason, "menunggu data pasien");
  EXPECT_EQ(read.value()[0].next_check_ms, 5000);
  EXPECT_FALSE(read.value()[0].updated_at.empty());
  EXPECT_EQ(read.value()[1].platform_id, "N10000001");

  // The creation's answer arrives: the same key is replaced.
  posting.state = "linked";
  posting.platform_id = "enc-on-platform";
  ASSERT_TRUE(store->writeLinks({posting}).isOk());
  EXPECT_EQ(store->readLinks({{"Encounter", "e1"}})->at(0).platform_id, "enc-on-platform");

  auto waiting_list = store->listLinks("waiting", "", "", 10);
  ASSERT_TRUE(waiting_list.isOk());
  ASSERT_EQ(waiting_list->size(), 1u);
  EXPECT_EQ(waiting_list.value()[0].id, "p1");
  auto page = store->listLinks("", "Encounter", "e1", 10);
  ASSERT_TRUE(page.isOk());
  ASSERT_EQ(page->size(), 2u) << "after Encounter/e1: Patient/p1 and Practitioner/d1";
  EXPECT_EQ(page.value()[0].type, "Patient");

  // The waiting Patient's row is put back far in the future; an admin's
  // retry makes it due now, and only it.
  std::vector<OutboxCompletion> later;
  for (const auto& item : claimed.value()) {
    OutboxCompletion c;
    c.seq = item.seq;
    c.result = OutboxResult::kRetry;
    c.count_attempt = false;
    c.next_attempt_ms = 1000000;
    later.push_back(c);
  }
  ASSERT_TRUE(store->completeOutbox(later).isOk());
  EXPECT_EQ(store->claimOutbox(claimAll("b", 2000))->size(), 0u);
  auto retried = store->retryWaiting("", "");
  ASSERT_TRUE(retried.isOk());
  EXPECT_EQ(retried.value(), 1);
  auto due = store->claimOutbox(claimAll("b", 2000));
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ(due.value()[0].type, "Patient");
  EXPECT_EQ(store->retryWaiting("Patient", "other").value(), 0);

  ASSERT_TRUE(store->removeLinks({{"Patient", "p1"}}).isOk());
  EXPECT_TRUE(store->readLinks({{"Patient", "p1"}})->empty());
}

TEST_P(DurabilityStoreTest, OutboxRowsOnlyForNewVersions) {
  auto store = open(true);
  WriteBatch batch;
  batch.resources.push_back(resource("Patient", "p1"));
  batch.resources.push_back(resource("Encounter", "e1", R"(,"subject":{"reference":"Patient/p1"})"));
  ASSERT_TRUE(store->commit(batch).isOk());
  ASSERT_TRUE(store->commit(batch).isOk());  // unchanged: no new rows
  EXPECT_EQ(store->outboxStats()->pending, 2);
  WriteBatch changed;
  changed.resources.push_back(resource("Patient", "p1", R"(,"gender":"male")"));
  ASSERT_TRUE(store->commit(changed).isOk());
  EXPECT_EQ(store->outboxStats()->pending, 3);
  EXPECT_FALSE(store->outboxStats()->oldest_pending_at.empty());
}

TEST_P(DurabilityStoreTest, ClaimsAreLeasedCompletedAndDeadLettersResent) {
  auto store = open(true);
  WriteBatch batch;
  for (int i = 0; i < 5; ++i) batch.resources.push_back(resource("Patient", "p" + std::to_string(i)));
  ASSERT_TRUE(store->commit(batch).isOk());

  auto a = store->claimOutbox(claimAll("a"));
  ASSERT_TRUE(a.isOk());
  ASSERT_EQ(a->size(), 5u);
  EXPECT_NE(a.value()[0].body.find("\"resourceType\":\"Patient\""), std::string::npos);
  // Another instance sees nothing while the lease holds, everything after.
  EXPECT_EQ(store->claimOutbox(claimAll("b"))->size(), 0u);
  EXPECT_EQ(store->claimOutbox(claimAll("b", 1000 + 60001))->size(), 5u);

  std::vector<OutboxCompletion> done;
  OutboxCompletion sent;
  sent.seq = a.value()[0].seq;
  done.push_back(sent);
  OutboxCompletion dead;
  dead.seq = a.value()[1].seq;
  dead.result = OutboxResult::kDead;
  dead.http_status = 422;
  dead.error = "refused";
  dead.outcome_json = R"({"resourceType":"OperationOutcome"})";
  done.push_back(dead);
  OutboxCompletion retry;
  retry.seq = a.value()[2].seq;
  retry.result = OutboxResult::kRetry;
  retry.next_attempt_ms = 5000;
  retry.error = "503";
  done.push_back(retry);
  ASSERT_TRUE(store->completeOutbox(done).isOk());
  // Reopening the embedded store for forwarding drops stale claims (it has
  // one serving instance); a shared PostgreSQL store keeps them: other
  // instances may hold them, they wait out their leases.
  std::int64_t t = postgres() ? 1000 + 60001 + 60001 : 2000;  // PostgreSQL: after b's lease
  store.reset();
  store = open(true);

  auto stats = store->outboxStats();
  EXPECT_EQ(stats->pending, 3);
  EXPECT_EQ(stats->dead, 1);
  // The retried row waits for its time; the other two are ready now.
  EXPECT_EQ(store->claimOutbox(claimAll("c", t))->size(), postgres() ? 3u : 2u);
  store.reset();
  store = open(true);
  if (postgres()) {
    EXPECT_EQ(store->claimOutbox(claimAll("d", t + 60001))->size(), 3u);  // after c's lease
  } else {
    EXPECT_EQ(store->claimOutbox(claimAll("c", 6000))->size(), 3u);
  }

  auto dead_rows = store->listOutbox("dead", 0, 10);
  ASSERT_EQ(dead_rows->size(), 1u);
  EXPECT_EQ(dead_rows.value()[0].http_status, 422);
  EXPECT_EQ(dead_rows.value()[0].outcome_json, R"({"resourceType":"OperationOutcome"})");
  EXPECT_EQ(store->resendOutbox(dead_rows.value()[0].seq).value(), 1);
  EXPECT_EQ(store->resendOutbox(dead_rows.value()[0].seq).value(), 0);
  EXPECT_EQ(store->outboxStats()->dead, 0);
}

TEST_P(DurabilityStoreTest, DependencyClaimReportsRowsItCannotTake) {
  auto store = open(true);
  WriteBatch batch;
  batch.resources.push_back(resource("Patient", "p1"));
  ASSERT_TRUE(store->commit(batch).isOk());
  auto first = store->claimOutbox(claimAll("a"));
  ASSERT_EQ(first->size(), 1u);
  OutboxClaim deps{"b", 1000, 60000, 0, {{"Patient", "p1"}}};
  auto blocked = store->claimOutbox(deps);
  ASSERT_EQ(blocked->size(), 1u);
  EXPECT_FALSE(blocked.value()[0].claimed);
}

TEST_P(DurabilityStoreTest, OlderVersionIsSupersededOnceTheNewerOneWasSent) {
  auto store = open(true);
  WriteBatch v1;
  v1.resources.push_back(resource("Patient", "p1"));
  ASSERT_TRUE(store->commit(v1).isOk());
  WriteBatch v2;
  v2.resources.push_back(resource("Patient", "p1", R"(,"gender":"male")"));
  ASSERT_TRUE(store->commit(v2).isOk());
  auto rows = store->claimOutbox(claimAll("a"));
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_FALSE(rows.value()[0].superseded) << "v2 still waits: send v1 first";
  // v1 refused (dead), v2 sent; then an admin resends v1: it must not roll v2 back.
  OutboxCompletion dead;
  dead.seq = rows.value()[0].seq;
  dead.result = OutboxResult::kDead;
  OutboxCompletion sent;
  sent.seq = rows.value()[1].seq;
  ASSERT_TRUE(store->completeOutbox({dead, sent}).isOk());
  ASSERT_EQ(store->resendOutbox(0).value(), 1);
  auto again = store->claimOutbox(claimAll("a", 2000));
  ASSERT_EQ(again->size(), 1u);
  EXPECT_TRUE(again.value()[0].superseded);
}

TEST_P(DurabilityStoreTest, ReprocessingResolvesInTheSameTransaction) {
  auto store = open(false);
  WriteBatch failed;
  failed.payload = PayloadWrite{"test", "org-a", "application/json", "[{}]"};
  failed.quarantine.push_back({"record[0]", "K1", R"({"resourceType":"OperationOutcome"})"});
  auto first = store->commit(failed);
  ASSERT_TRUE(first.isOk());
  std::int64_t qid = first->quarantine_ids[0];

  WriteBatch fix;
  fix.existing_payload_id = first->payload_id;
  fix.resources.push_back(resource("Patient", "p1"));
  fix.quarantine_updates.push_back({qid, true, ""});
  ASSERT_TRUE(store->commit(fix).isOk());
  auto entry = store->readQuarantine(qid);
  ASSERT_TRUE(entry.isOk() && entry.value());
  EXPECT_EQ(entry.value()->status, "resolved");
  EXPECT_EQ(entry.value()->produced_json, R"(["Patient/p1/_history/1"])");
  EXPECT_EQ(entry.value()->adapter, "test");
  // Again: stays resolved with what it first produced.
  ASSERT_TRUE(store->commit(fix).isOk());
  EXPECT_EQ(store->readQuarantine(qid).value()->produced_json, R"(["Patient/p1/_history/1"])");
  EXPECT_EQ(store->readQuarantine(qid).value()->attempts, 2);
  EXPECT_EQ(store->stats()->quarantined_open, 0);
}

}  // namespace
}  // namespace ilpgw
