// The store's side of the API: index rows replaced with each version,
// preconditions evaluated by the single writer, strictly increasing
// lastUpdated, cursor paging and snapshot scans.
#include <gtest/gtest.h>

#include <thread>

#include "api_fixture.h"
#include "base/metrics.h"
#include "fhir/resource_text.h"
#include "fhir/search_params.h"
#include "store_backends.h"

namespace ilpgw::apitest {
namespace {

// Every backend (store_backends.h).
class StoreSearchTest : public testing::StoreBackendTest {
 protected:
  void SetUp() override { open(); }

  void open() {
    store_.reset();
    store_ = StoreBackendTest::open(false, 256);
    ASSERT_TRUE(store_ != nullptr);
  }

  static ResourceWrite write(const std::string& json, const std::string& id) {
    auto doc = parseJson(json);
    doc.AddMember("id", json::str(id, doc.GetAllocator()), doc.GetAllocator());
    ResourceWrite w = prepareResource(doc);
    w.organization = "org";
    return w;
  }

  StatusOr<CommitResult> commit(ResourceWrite w) {
    WriteBatch batch;
    batch.resources.push_back(std::move(w));
    return store_->commit(std::move(batch));
  }

  SearchQuery query(const std::string& type, const QueryParams& params) {
    ParsedSearch parsed = parseSearch(type, params);
    EXPECT_TRUE(parsed.issues.empty());
    return parsed.query;
  }

  std::unique_ptr<Store> store_;
};
ILPGW_ALL_BACKENDS(StoreSearchTest);

TEST_P(StoreSearchTest, IndexFollowsTheCurrentVersion) {
  ASSERT_TRUE(commit(write(patientJson("3201010101900001", "Lama", "A", "male", "1990-01-01"), "p1")).isOk());
  EXPECT_EQ(store_->search(query("Patient", {{"name", "lama"}}))->total, 1);
  ASSERT_TRUE(commit(write(patientJson("3201010101900001", "Baru", "A", "male", "1990-01-01"), "p1")).isOk());
  EXPECT_EQ(store_->search(query("Patient", {{"name", "lama"}}))->total, 0);
  EXPECT_EQ(store_->search(query("Patient", {{"name", "baru"}}))->total, 1);
}

// A patient's records are paged in commit order, both ways, among 2,000
// other resources of the type; on SQLite the page comes from the patient's
// index rows, not from walking every Observation (counted in VM steps), and a
// clause that matches everything still pages in commit order.
TEST_P(StoreSearchTest, APatientsRecordsArePagedInCommitOrderFromTheirOwnRows) {
  for (int b = 0; b < 10; ++b) {
    WriteBatch batch;
    for (int i = b * 200; i < (b + 1) * 200; ++i) {
      std::string patient = i % 67 == 0 ? "busy" : "p" + std::to_string(i);
      batch.resources.push_back(write(R"({"resourceType":"Observation","status":"final",)"
                                      R"("code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},)"
                                      R"("subject":{"reference":"Patient/)" + patient + R"("}})",
                                      "o" + std::to_string(i)));
    }
    ASSERT_TRUE(store_->commit(std::move(batch)).isOk());
  }
  std::vector<std::string> busy;  // in commit order
  for (int i = 0; i < 2000; i += 67) busy.push_back("o" + std::to_string(i));
  ASSERT_EQ(busy.size(), 30u);

  SearchValue patient;
  patient.target_type = "Patient";
  patient.value = "busy";
  metrics::Counter& steps = metrics::storeSearchSteps().counter();
  std::uint64_t before = steps.value();
  auto query = testing::searchOne("Observation", SearchKind::kReference, "subject", patient);
  query.limit = 20;
  auto first = store_->search(query);
  ASSERT_TRUE(first.isOk()) << first.status().message();
  ASSERT_EQ(first->resources.size(), 20u);
  EXPECT_TRUE(first->more);
  query.after_seq = first->resources.back().seq;
  auto second = store_->search(query);
  ASSERT_TRUE(second.isOk());
  ASSERT_EQ(second->resources.size(), 10u);
  EXPECT_FALSE(second->more);
  std::vector<std::string> paged;
  for (const auto* page : {&first.value(), &second.value()}) {
    for (const auto& r : page->resources) paged.push_back(r.id);
  }
  EXPECT_EQ(paged, busy);
  query.after_seq.reset();
  query.order = SearchOrder::kNewestFirst;
  auto newest = store_->search(query);
  ASSERT_TRUE(newest.isOk());
  ASSERT_EQ(newest->resources.size(), 20u);
  EXPECT_EQ(newest->resources.front().id, busy.back());
  EXPECT_EQ(newest->resources.back().id, busy[10]);
  if (GetParam() == testing::Backend::kSqlite) {
    // The three pages cost about 3,200 steps from the patient's rows; walking
    // the 2,000 Observations in commit order costs about 29,000.
    EXPECT_LT(steps.value() - before, 10000u) << "the pages walked every Observation";
  }

  SearchValue final_status;
  final_status.value = "final";
  auto all = testing::searchOne("Observation", SearchKind::kToken, "status", final_status);
  all.limit = 20;
  auto page = store_->search(all);
  ASSERT_TRUE(page.isOk());
  ASSERT_EQ(page->resources.size(), 20u);
  EXPECT_TRUE(page->more);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(page->resources[i].id, "o" + std::to_string(i));
}

// Searches of one shape share a prepared statement on each read connection:
// each answers for its own values, and one connection that has seen more
// shapes than it keeps starts over without losing an answer.
TEST_P(StoreSearchTest, SearchesOfOneShapeAnswerForTheirOwnValuesAndManyShapesStillAnswer) {
  WriteBatch batch;
  for (int i = 0; i < 50; ++i) {
    batch.resources.push_back(write(patientJson("32010101019" + std::to_string(10000 + i), "N" + std::to_string(1000 + i),
                                                "A", i % 2 == 0 ? "female" : "male", "1990-01-01"),
                                    "p" + std::to_string(i)));
  }
  ASSERT_TRUE(store_->commit(std::move(batch)).isOk());
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 50; ++i) {
      auto page = store_->search(query("Patient", {{"name", "n" + std::to_string(1000 + i)}}));
      ASSERT_TRUE(page.isOk());
      ASSERT_EQ(page->resources.size(), 1u) << "n" << 1000 + i;
      EXPECT_EQ(page->resources[0].id, "p" + std::to_string(i));
    }
  }
  // 80 shapes: one to forty names joined with commas, each list once more
  // with a gender that halves the answer. (Names of one length: a string
  // search matches the start of a name.)
  std::string names;
  for (int k = 0; k < 40; ++k) {
    names += (k == 0 ? "" : ",") + std::string("n") + std::to_string(1000 + k);
    auto page = store_->search(query("Patient", {{"name", names}, {"_count", "100"}}));
    ASSERT_TRUE(page.isOk());
    EXPECT_EQ(page->resources.size(), static_cast<size_t>(k + 1)) << names;
    auto women = store_->search(query("Patient", {{"name", names}, {"gender", "female"}, {"_count", "100"}}));
    ASSERT_TRUE(women.isOk());
    EXPECT_EQ(women->resources.size(), static_cast<size_t>(k / 2 + 1)) << names;
  }
}

TEST_P(StoreSearchTest, LastUpdatedStrictlyIncreasesAcrossCommitsAndRestarts) {
  std::string previous;
  for (int i = 0; i < 20; ++i) {
    auto r = commit(write(patientJson("3201010101900001", "P", "A", "male", "1990-01-01"), "p" + std::to_string(i)));
    ASSERT_TRUE(r.isOk());
    EXPECT_GT(r->resources[0].last_updated, previous);
    previous = r->resources[0].last_updated;
  }
  open();
  auto r = commit(write(patientJson("3201010101900001", "P", "A", "male", "1990-01-01"), "after-restart"));
  ASSERT_TRUE(r.isOk());
  EXPECT_GT(r->resources[0].last_updated, previous);
  auto page = store_->search(query("Patient", {}));
  EXPECT_EQ(page->watermark.last_updated, r->resources[0].last_updated);
}

TEST_P(StoreSearchTest, PreconditionsAreCheckedByTheWriter) {
  ASSERT_TRUE(commit(write(patientJson("3201010101900001", "P", "A", "male", "1990-01-01"), "p1")).isOk());
  ResourceWrite stale = write(patientJson("3201010101900001", "Q", "A", "male", "1990-01-01"), "p1");
  stale.if_match_version = 2;
  auto refused = commit(stale);
  ASSERT_FALSE(refused.isOk());
  EXPECT_EQ(refused.status().code(), StatusCode::kPreconditionFailed);
  stale.if_match_version = 1;
  EXPECT_TRUE(commit(stale).isOk());

  // Conditional creates racing each other, each in its own batch.
  std::vector<std::thread> threads;
  std::vector<WriteOutcome> outcomes(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      ResourceWrite w = write(patientJson("3201010101900099", "R", "A", "male", "1990-01-01"), "race-" + std::to_string(t));
      w.if_none_exist = query("Patient", {{"identifier", "3201010101900099"}});
      auto r = commit(w);
      ASSERT_TRUE(r.isOk());
      outcomes[t] = r->resources[0].outcome;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), WriteOutcome::kCreated), 1);
  EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), WriteOutcome::kExisting), 7);

  // Within one batch too: the second sees the first's index rows.
  WriteBatch batch;
  for (const char* id : {"twin-1", "twin-2"}) {
    ResourceWrite w = write(patientJson("3201010101900098", "T", "A", "male", "1990-01-01"), id);
    w.if_none_exist = query("Patient", {{"identifier", "3201010101900098"}});
    batch.resources.push_back(w);
  }
  auto twins = store_->commit(std::move(batch));
  ASSERT_TRUE(twins.isOk());
  EXPECT_EQ(twins->resources[1].outcome, WriteOutcome::kExisting);
  EXPECT_EQ(twins->resources[1].id, "twin-1");
}

// An identifier system seen first in a refused batch: what that batch wrote
// is rolled back, and the next batch with the system still indexes it
// (SQLite names each system by a key, which must not outlive the rollback).
TEST_P(StoreSearchTest, ASystemFirstSeenInARefusedBatchIsIndexedByTheNextOne) {
  const std::string card = R"({"resourceType":"Patient","identifier":[{"system":"https://example.org/kartu-sehat",)"
                           R"("value":"KS-001"}],"gender":"female"})";
  WriteBatch refused;
  refused.resources.push_back(write(card, "card-holder"));
  refused.resources.push_back(write(patientJson("3201010101900002", "X", "A", "male", "1990-01-01"), "missing"));
  refused.resources.back().if_match_version = 7;  // it does not exist: the whole batch is refused
  auto outcome = store_->commit(std::move(refused));
  ASSERT_FALSE(outcome.isOk());
  EXPECT_EQ(outcome.status().code(), StatusCode::kPreconditionFailed);
  EXPECT_EQ(store_->search(query("Patient", {{"identifier", "https://example.org/kartu-sehat|KS-001"}}))->total, 0);

  ASSERT_TRUE(commit(write(card, "card-holder")).isOk());
  EXPECT_EQ(store_->search(query("Patient", {{"identifier", "https://example.org/kartu-sehat|KS-001"}}))->total, 1);
  EXPECT_EQ(store_->search(query("Patient", {{"identifier", "KS-001"}}))->total, 1);
  EXPECT_EQ(store_->search(query("Patient", {{"identifier", "https://example.org/lain|KS-001"}}))->total, 0);
  open();  // and after a restart, with nothing remembered
  EXPECT_EQ(store_->search(query("Patient", {{"identifier", "https://example.org/kartu-sehat|KS-001"}}))->total, 1);
  ASSERT_TRUE(commit(write(card, "card-holder-2")).isOk());
  EXPECT_EQ(store_->search(query("Patient", {{"identifier", "https://example.org/kartu-sehat|KS-001"}}))->total, 2);
}

TEST_P(StoreSearchTest, CursorPagingAndScan) {
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(commit(write(patientJson("3201010101900001", "P", "A", "male", "1990-01-01"), "p" + std::to_string(i))).isOk());
  }
  SearchQuery q = query("Patient", {{"_count", "4"}});
  std::vector<std::string> ids;
  for (;;) {
    auto page = store_->search(q);
    ASSERT_TRUE(page.isOk());
    EXPECT_EQ(page->total, 10);
    for (const auto& r : page->resources) ids.push_back(r.id);
    if (!page->more) break;
    q.after_seq = page->resources.back().seq;
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"}));

  int visited = 0;
  auto mark = store_->scan({query("Patient", {}), query("Observation", {})}, [&](size_t index, const StoredResource&) {
    EXPECT_EQ(index, 0u);
    return ++visited < 3;  // stops early
  });
  ASSERT_TRUE(mark.isOk());
  EXPECT_EQ(visited, 3);
  EXPECT_GT(mark->seq, 0);

  auto history = store_->history(HistoryQuery{"Patient", "", std::nullopt, SearchOrder::kOldestFirst, 7, 50, std::nullopt});
  ASSERT_TRUE(history.isOk());
  EXPECT_EQ(history->versions.size(), 3u);  // seq 8, 9, 10
}

TEST_P(StoreSearchTest, OrganizationFilterKeepsTotalsPagingHistoryAndConditionsPerTenant) {
  for (int i = 0; i < 6; ++i) {
    ResourceWrite w = write(patientJson("3201010101900001", "P", "A", "male", "1990-01-01"), "p" + std::to_string(i));
    w.organization = i % 2 == 0 ? "org-a" : "org-b";
    ASSERT_TRUE(commit(w).isOk());
  }
  SearchQuery q = query("Patient", {});
  q.organization = "org-a";
  q.limit = 2;
  std::vector<std::string> ids;
  for (;;) {
    auto page = store_->search(q);
    ASSERT_TRUE(page.isOk());
    if (!q.after_seq) {
      EXPECT_EQ(page->total, 3);
    }
    for (const auto& r : page->resources) {
      EXPECT_EQ(r.organization, "org-a");
      ids.push_back(r.id);
    }
    if (!page->more) break;
    q.after_seq = page->resources.back().seq;
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"p0", "p2", "p4"}));

  HistoryQuery h;
  h.order = SearchOrder::kOldestFirst;
  h.organization = "org-b";
  auto history = store_->history(h);
  ASSERT_TRUE(history.isOk());
  ASSERT_EQ(history->versions.size(), 3u);
  for (const auto& v : history->versions) EXPECT_EQ(v.organization, "org-b");

  std::vector<std::string> scanned;
  SearchQuery all = query("Patient", {});
  all.organization = "org-b";
  ASSERT_TRUE(store_->scan({all}, [&](size_t, const StoredResource& r) {
                      scanned.push_back(r.id);
                      return true;
                    }).isOk());
  EXPECT_EQ(scanned, (std::vector<std::string>{"p1", "p3", "p5"}));

  // If-None-Exist scoped to org-c finds nothing of org-a's or org-b's: a new resource.
  ResourceWrite conditional = write(patientJson("3201010101900001", "P", "A", "male", "1990-01-01"), "c1");
  conditional.organization = "org-c";
  conditional.if_none_exist = query("Patient", {{"identifier", "https://fhir.kemkes.go.id/id/nik|3201010101900001"}});
  conditional.if_none_exist->organization = "org-c";
  auto created = commit(conditional);
  ASSERT_TRUE(created.isOk());
  EXPECT_EQ(created->resources[0].outcome, WriteOutcome::kCreated);
  EXPECT_EQ(created->resources[0].id, "c1");

  // Overwriting another organization's resource is refused as a whole.
  ResourceWrite foreign = write(patientJson("3201010101900001", "X", "A", "male", "1990-01-01"), "p0");
  foreign.organization = "org-b";
  auto refused = commit(foreign);
  ASSERT_FALSE(refused.isOk());
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace ilpgw::apitest
