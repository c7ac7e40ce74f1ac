// The PostgreSQL backend beyond the shared suite: its schema versions, how it
// fails (unreachable at start, lost at run time), and several instances on one
// database: one commit order that incremental readers can follow without
// missing or repeating a version, conditional creates and the audit chain
// serialised across instances, outbox claims that never overlap.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "base/json.h"
#include "base/time_util.h"
#include "fhir/resource_text.h"
#include "security/audit.h"
#include "store/store_copy.h"
#include "store_backends.h"

namespace ilpgw {
namespace {

using testing::PostgresServer;

ResourceWrite patient(const std::string& id, const std::string& extra = "", const std::string& org = "org-a") {
  rapidjson::Document doc;
  std::string text = R"({"resourceType":"Patient","id":")" + id + "\"" + extra + "}";
  EXPECT_FALSE(json::parse(text, doc).has_value()) << text;
  ResourceWrite write = prepareResource(doc);
  write.organization = org;
  return write;
}

class PgStoreTest : public ::testing::Test {
 protected:
  PgStoreTest() : server_(PostgresServer::shared()), database_(server_.createDatabase()) {}

  PgOptions options(bool outbox = false) const {
    PgOptions o;
    o.url = server_.url(database_);
    o.outbox = outbox;
    o.batch_max = 64;
    return o;
  }
  std::unique_ptr<Store> open(bool outbox = false) const {
    auto store = openPgStore(options(outbox));
    EXPECT_TRUE(store.isOk()) << store.status().message();
    return store.isOk() ? std::move(store.value()) : nullptr;
  }
  std::string sql(const std::string& statement) const { return server_.sql(database_, statement); }

  PostgresServer& server_;
  std::string database_;
};

TEST_F(PgStoreTest, NewDatabaseGetsTheSchemaOnceAndRecordsItsVersion) {
  ::testing::internal::CaptureStderr();
  auto store = open();
  std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->schemaVersion(), pgSchemaVersion());
  EXPECT_NE(log.find("new store in PostgreSQL"), std::string::npos) << log;
  EXPECT_EQ(sql("SELECT max(version) FROM schema_version"), std::to_string(pgSchemaVersion()));
  store.reset();
  ::testing::internal::CaptureStderr();
  store = open();
  log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(store);
  EXPECT_EQ(log.find("store schema"), std::string::npos) << log;
  EXPECT_EQ(log.find("new store"), std::string::npos) << log;
  EXPECT_TRUE(store->checkIntegrity().isOk());
}

// As in SQLite, a reference search starts from the resource referred to.
TEST_F(PgStoreTest, TheReferenceLookupLeadsWithTheResourceReferredTo) {
  ASSERT_TRUE(open());
  std::string definition = sql("SELECT indexdef FROM pg_indexes WHERE indexname = 'search_reference_lookup'");
  EXPECT_NE(definition.find("(target_id, type, param, target_type)"), std::string::npos) << definition;
}

TEST_F(PgStoreTest, InstancesStartingTogetherMigrateOnce) {
  std::vector<std::thread> threads;
  std::atomic<int> opened{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      auto store = openPgStore(options());
      if (store.isOk() && store.value()->schemaVersion() == pgSchemaVersion()) ++opened;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(opened.load(), 4);
  EXPECT_EQ(sql("SELECT count(*) FROM schema_version"), std::to_string(pgSchemaVersion()));
}

TEST_F(PgStoreTest, NewerSchemaIsRefusedAndLeftAlone) {
  { ASSERT_TRUE(open()); }
  sql("INSERT INTO schema_version (version, applied_at, what) VALUES (99, 'x', 'from the future')");
  auto store = openPgStore(options());
  ASSERT_FALSE(store.isOk());
  const std::string& message = store.status().message();
  EXPECT_NE(message.find("store schema version 99 is newer than this ilp-gateway supports (" +
                         std::to_string(pgSchemaVersion()) + "); upgrade ilp-gateway"),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_EQ(sql("SELECT max(version) FROM schema_version"), "99");
}

TEST_F(PgStoreTest, OfflineCommandsDoNotCreateAStore) {
  Config config;
  testing::TempDir dir;
  config.data_dir = dir.file("data");
  config.store_backend = "postgresql";
  config.store_url = server_.url(database_);
  auto store = openStore(config, {.batch_max = 1, .must_exist = true});
  ASSERT_FALSE(store.isOk());
  EXPECT_EQ(store.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(sql("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"), "0");
}

TEST_F(PgStoreTest, UnreachableDatabaseIsOneLineUnavailable) {
  testing::TempDir nowhere;
  PgOptions o;
  o.url = "postgresql://ilpgw@/ilpgw?host=" + nowhere.path().string() + "&port=5432&password=secret";
  auto store = openPgStore(o);
  ASSERT_FALSE(store.isOk());
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable);
  const std::string& message = store.status().message();
  EXPECT_NE(message.find("cannot connect to PostgreSQL"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_EQ(message.find("secret"), std::string::npos) << "the password must not be printed: " << message;
}

TEST_F(PgStoreTest, PasswordFileIsUsedAndNeverPrinted) {
  testing::TempDir dir;
  testing::writeFile(dir.path() / "pw", "not-needed-with-trust\n");
  Config config;
  config.data_dir = dir.file("data");
  config.store_backend = "postgresql";
  config.store_url = server_.url(database_);
  config.store_password_file = (dir.path() / "pw").string();
  auto store = openStore(config);
  ASSERT_TRUE(store.isOk()) << store.status().message();
  config.store_password_file = (dir.path() / "missing").string();
  auto refused = openStore(config);
  ASSERT_FALSE(refused.isOk());
  EXPECT_NE(refused.status().message().find("store.password_file"), std::string::npos);
  EXPECT_EQ(storeLocation(config).find("postgresql "), 0u);
}

// Several instances (here: stores in one process, each with its own writer
// and pool) commit at once while a reader follows the history with a seq
// cursor: it must see every version exactly once, in seq order, and
// lastUpdated must increase with seq.
TEST_F(PgStoreTest, InstancesShareOneCommitOrderThatReadersFollowExactlyOnce) {
  constexpr int kStores = 3;
  constexpr int kThreads = 9;
  constexpr int kPerThread = 60;
  std::vector<std::unique_ptr<Store>> stores;
  for (int i = 0; i < kStores; ++i) stores.push_back(open());
  auto reader_store = open();
  std::atomic<bool> writing{true};
  std::mutex mutex;
  std::set<std::string> acknowledged;  // Patient/id/version
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        WriteBatch batch;
        std::string id = "p" + std::to_string(t) + "-" + std::to_string(i % 20);
        // Every third commit updates an earlier resource: new versions too.
        batch.resources.push_back(patient(id, R"(,"gender":")" + std::string(i < 20 ? "female" : i < 40 ? "male" : "other") + "\""));
        auto result = stores[(t + i) % kStores]->commit(std::move(batch));
        ASSERT_TRUE(result.isOk()) << result.status().message();
        std::lock_guard lock(mutex);
        acknowledged.insert(id + "/" + std::to_string(result->resources[0].version));
      }
    });
  }
  std::vector<StoredResource> seen;
  std::int64_t cursor = 0;
  std::string last_updated;
  auto pull = [&] {
    for (;;) {
      HistoryQuery q;
      q.order = SearchOrder::kOldestFirst;
      q.after_seq = cursor;
      q.limit = 37;
      auto page = reader_store->history(q);
      ASSERT_TRUE(page.isOk()) << page.status().message();
      for (const auto& v : page->versions) {
        EXPECT_GT(v.seq, cursor);
        // One instant per commit: equal within a group commit, larger after it.
        EXPECT_GE(v.last_updated, last_updated) << "lastUpdated must not decrease with seq";
        cursor = v.seq;
        last_updated = v.last_updated;
        seen.push_back(v);
      }
      if (!page->more) return;
    }
  };
  std::thread follower([&] {
    while (writing) {
      pull();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  for (auto& w : writers) w.join();
  writing = false;
  follower.join();
  pull();
  std::map<std::string, int> counts;
  for (const auto& v : seen) ++counts[v.id + "/" + std::to_string(v.version)];
  for (const auto& [key, count] : counts) EXPECT_EQ(count, 1) << key << " seen " << count << " times";
  for (const auto& key : acknowledged) EXPECT_TRUE(counts.contains(key)) << key << " acknowledged, never seen";
  EXPECT_EQ(counts.size(), acknowledged.size());
  EXPECT_TRUE(reader_store->checkIntegrity().isOk());
}

// The snapshot a reader gets: once it sees seq S, no commit with a smaller
// seq can appear later, and every later commit carries a later lastUpdated.
TEST_F(PgStoreTest, WatermarkIsNeverOvertakenByALaterSmallerSeq) {
  auto a = open();
  auto b = open();
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (int i = 0; writing; ++i) {
      WriteBatch batch;
      batch.resources.push_back(patient("w" + std::to_string(i)));
      ASSERT_TRUE((i % 2 == 0 ? a : b)->commit(std::move(batch)).isOk());
    }
  });
  std::vector<Watermark> marks;
  for (int i = 0; i < 50; ++i) {
    SearchQuery q;
    q.type = "Patient";
    q.limit = 0;
    auto page = (i % 2 == 0 ? a : b)->search(q);
    ASSERT_TRUE(page.isOk());
    marks.push_back(page->watermark);
    // Everything at or below the watermark is in this count: never fewer
    // resources than versions below the mark (one version each here).
    HistoryQuery h;
    h.order = SearchOrder::kOldestFirst;
    h.limit = 100000;
    auto all = a->history(h);
    ASSERT_TRUE(all.isOk());
    std::int64_t below = std::count_if(all->versions.begin(), all->versions.end(),
                                       [&](const StoredResource& v) { return v.seq <= page->watermark.seq; });
    EXPECT_EQ(below, *page->total) << "a version at or below the watermark appeared later";
    for (const auto& v : all->versions) {
      if (v.seq > page->watermark.seq) {
        EXPECT_GT(v.last_updated, page->watermark.last_updated);
      }
    }
  }
  writing = false;
  writer.join();
  for (size_t i = 1; i < marks.size(); ++i) EXPECT_GE(marks[i].seq, marks[i - 1].seq);
}

TEST_F(PgStoreTest, ConditionalCreatesRacingOnSeveralInstancesCreateOne) {
  std::vector<std::unique_ptr<Store>> stores;
  for (int i = 0; i < 3; ++i) stores.push_back(open());
  SearchValue nik;
  nik.value = "3201010101900099";
  SearchQuery condition = testing::searchOne("Patient", SearchKind::kToken, "identifier", nik);
  std::vector<std::thread> threads;
  std::vector<WriteOutcome> outcomes(12);
  for (int t = 0; t < 12; ++t) {
    threads.emplace_back([&, t] {
      ResourceWrite w = patient("race-" + std::to_string(t),
                                R"(,"identifier":[{"system":"https://fhir.kemkes.go.id/id/nik","value":"3201010101900099"}])");
      w.if_none_exist = condition;
      WriteBatch batch;
      batch.resources.push_back(std::move(w));
      auto r = stores[t % 3]->commit(std::move(batch));
      ASSERT_TRUE(r.isOk()) << r.status().message();
      outcomes[t] = r->resources[0].outcome;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), WriteOutcome::kCreated), 1);
  EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), WriteOutcome::kExisting), 11);
}

TEST_F(PgStoreTest, AuditChainStaysIntactWithSeveralInstancesAppending) {
  std::vector<std::unique_ptr<Store>> stores;
  for (int i = 0; i < 3; ++i) stores.push_back(open());
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        AuditWrite event{nowInstant(), "client-" + std::to_string(t), "|Patient/p" + std::to_string(i) + "|",
                         R"({"resourceType":"AuditEvent"})"};
        if (i % 2 == 0) {
          stores[t % 3]->recordAudit({event});
        } else {
          WriteBatch batch;
          batch.audit.push_back(event);
          ASSERT_TRUE(stores[t % 3]->commit(std::move(batch)).isOk());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  stores.clear();  // drains queued audit events
  auto store = open();
  auto verified = verifyAuditChain(*store);
  ASSERT_TRUE(verified.isOk()) << verified.status().message();
  EXPECT_TRUE(verified.value().ok) << verified.value().problem;
  EXPECT_EQ(verified.value().checked, 150);
}

TEST_F(PgStoreTest, OutboxClaimsOfSeveralInstancesNeverOverlap) {
  auto writer = open(true);
  for (int b = 0; b < 10; ++b) {
    WriteBatch batch;
    for (int i = 0; i < 30; ++i) batch.resources.push_back(patient("o" + std::to_string(b) + "-" + std::to_string(i)));
    ASSERT_TRUE(writer->commit(std::move(batch)).isOk());
  }
  std::vector<std::unique_ptr<Store>> stores;
  for (int i = 0; i < 3; ++i) stores.push_back(open(true));
  std::mutex mutex;
  std::map<std::int64_t, int> claimed;
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (;;) {
        auto items = stores[t % 3]->claimOutbox(OutboxClaim{"instance-" + std::to_string(t), 1000, 600000, 7, {}});
        ASSERT_TRUE(items.isOk()) << items.status().message();
        if (items->empty()) return;
        std::vector<OutboxCompletion> done;
        {
          std::lock_guard lock(mutex);
          for (const auto& item : items.value()) {
            ++claimed[item.seq];
            EXPECT_FALSE(item.body.empty());
            OutboxCompletion c;
            c.seq = item.seq;
            if (item.seq % 5 != 0) done.push_back(c);  // every fifth left claimed (lease holds)
          }
        }
        ASSERT_TRUE(stores[t % 3]->completeOutbox(done).isOk());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(claimed.size(), 300u);
  for (const auto& [seq, count] : claimed) EXPECT_EQ(count, 1) << "seq " << seq << " claimed " << count << " times";
  auto stats = writer->outboxStats();
  ASSERT_TRUE(stats.isOk());
  EXPECT_EQ(stats->pending, 60);  // the ones left claimed
  // A dependency claim reports rows leased elsewhere as not claimed.
  std::int64_t leased = 0;
  for (const auto& [seq, count] : claimed) {
    if (seq % 5 == 0) leased = seq;
  }
  auto row = writer->listOutbox("pending", leased - 1, 1);
  ASSERT_TRUE(row.isOk() && !row->empty());
  auto deps = writer->claimOutbox(OutboxClaim{"other", 2000, 60000, 0, {{row.value()[0].type, row.value()[0].id}}});
  ASSERT_TRUE(deps.isOk());
  ASSERT_EQ(deps->size(), 1u);
  EXPECT_FALSE(deps.value()[0].claimed);
}

// `store copy`: a SQLite store with a bit of everything, copied through the
// command into an empty PostgreSQL store, reads back the same through the
// Store roles and takes new writes after the copied ones.
TEST_F(PgStoreTest, SqliteStoreIsCopiedVerifiedAndContinues) {
  testing::TempDir dir;
  std::string data = dir.file("data");
  std::filesystem::create_directories(data);
  std::int64_t qid = 0;
  {
    SqliteOptions sqlite{data + "/gateway.db", 16};
    sqlite.outbox = true;
    auto opened = openSqliteStore(sqlite);
    ASSERT_TRUE(opened.isOk()) << opened.status().message();
    Store& store = *opened.value();
    WriteBatch first;
    first.payload = PayloadWrite{"epuskesmas-json", "org-a", "application/json", std::string("{\"a\":\"\t\\\n\"}\xff", 12)};
    first.resources.push_back(patient("p1", R"(,"identifier":[{"system":"s","value":"v\t1"}],"name":[{"family":"Tab\tBack\\slash"}])"));
    first.quarantine.push_back({"record[1]", "K-2", R"({"resourceType":"OperationOutcome"})"});
    first.clients.push_back(ClientRecord{"clinic-a", "clinic", "org-a", "hash", "", true, "", "", "", ""});
    first.audit.push_back({nowInstant(), "cli:admin", "|Client/clinic-a|", R"({"resourceType":"AuditEvent"})"});
    auto r1 = store.commit(std::move(first));
    ASSERT_TRUE(r1.isOk()) << r1.status().message();
    qid = r1->quarantine_ids[0];
    WriteBatch second;
    second.existing_payload_id = r1->payload_id;
    second.resources.push_back(patient("p1", R"(,"gender":"female")"));
    second.resources.push_back(patient("p2"));
    second.quarantine_updates.push_back({qid, true, ""});
    second.audit.push_back({nowInstant(), "clinic-a", "|Patient/p1|", R"({"resourceType":"AuditEvent"})"});
    ASSERT_TRUE(store.commit(std::move(second)).isOk());
    auto claimed = store.claimOutbox(OutboxClaim{"x", 1000, 60000, 1, {}});
    ASSERT_TRUE(claimed.isOk() && claimed->size() == 1);
    OutboxCompletion dead;
    dead.seq = claimed.value()[0].seq;
    dead.result = OutboxResult::kDead;
    dead.http_status = 422;
    ASSERT_TRUE(store.completeOutbox({dead}).isOk());
    ExportJob job;
    job.id = "job1";
    job.level = "system";
    job.types = {"Patient"};
    job.organization = "org-a";
    job.created_at = nowInstant();
    job.files = {{"Patient", "Patient.ndjson", 2}};
    ASSERT_TRUE(store.createExportJob(job).isOk());
  }
  std::string out, err;
  ASSERT_EQ(testing::runGateway({"store", "copy", "--from", "sqlite:" + data, "--to", "postgresql:" + server_.url(database_)},
                                out, &err),
            0)
      << out << err;
  EXPECT_NE(out.find(": ok, verified (2 audit events chained)"), std::string::npos) << out;
  EXPECT_NE(out.find("resource_version            3 rows"), std::string::npos) << out;

  auto store = open(true);
  ASSERT_TRUE(store);
  auto p1 = store->read("Patient", "p1");
  ASSERT_TRUE(p1.isOk() && p1.value());
  EXPECT_EQ(p1.value()->version, 2);
  auto v1 = store->readVersion("Patient", "p1", 1);
  ASSERT_TRUE(v1.isOk() && v1.value());
  EXPECT_NE(v1.value()->json.find("Tab\\tBack"), std::string::npos) << v1.value()->json;
  auto payload = store->readPayload(1);
  ASSERT_TRUE(payload.isOk() && payload.value());
  EXPECT_EQ(payload.value()->body, std::string("{\"a\":\"\t\\\n\"}\xff", 12));
  auto entry = store->readQuarantine(qid);
  ASSERT_TRUE(entry.isOk() && entry.value());
  EXPECT_EQ(entry.value()->status, "resolved");
  EXPECT_EQ(entry.value()->attempts, 1);
  auto client = store->findClient("clinic-a");
  ASSERT_TRUE(client.isOk() && client.value());
  EXPECT_TRUE(client.value()->local_only);
  EXPECT_EQ(store->outboxStats()->dead, 1);
  EXPECT_EQ(store->outboxStats()->pending, 2);
  auto job = store->readExportJob("job1");
  ASSERT_TRUE(job.isOk() && job.value());
  EXPECT_EQ(job.value()->files.size(), 1u);
  // Search index came along.
  SearchQuery q;
  q.type = "Patient";
  auto all = store->search(q);
  ASSERT_TRUE(all.isOk());
  EXPECT_EQ(all->total, 2);
  // New writes continue after the copied seq, ids and audit chain.
  WriteBatch more;
  more.payload = PayloadWrite{"x", "org-a", "text/plain", "y"};
  more.resources.push_back(patient("p3"));
  more.audit.push_back({nowInstant(), "clinic-a", "", R"({"resourceType":"AuditEvent"})"});
  auto committed = store->commit(std::move(more));
  ASSERT_TRUE(committed.isOk()) << committed.status().message();
  EXPECT_EQ(committed->payload_id, 2);
  EXPECT_EQ(store->read("Patient", "p3").value()->seq, 4);
  EXPECT_GT(committed->resources[0].last_updated, p1.value()->last_updated);
  auto verified = verifyAuditChain(*store);
  ASSERT_TRUE(verified.isOk());
  EXPECT_TRUE(verified.value().ok) << verified.value().problem;
  EXPECT_EQ(verified.value().checked, 3);

  // A second copy into the now non-empty store is refused, changing nothing.
  ASSERT_NE(testing::runGateway({"store", "copy", "--from", "sqlite:" + data, "--to", "postgresql:" + server_.url(database_)},
                                out, &err),
            0);
  EXPECT_NE(err.find("already holds data"), std::string::npos) << err;
  EXPECT_EQ(store->stats()->versions, 4);
}

// Not a test: commit throughput figures for docs/scale-out.md. Run with
//   store_test --gtest_also_run_disabled_tests --gtest_filter='*Throughput*'
TEST_F(PgStoreTest, DISABLED_CommitThroughput) {
  auto measure = [&](const char* label, std::vector<std::unique_ptr<Store>>& stores) {
    constexpr int kThreads = 32;
    std::atomic<bool> running{true};
    std::atomic<long> commits{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (long i = 0; running; ++i) {
          WriteBatch batch;
          batch.payload = PayloadWrite{"bench", "org-a", "application/json", std::string(2000, 'x')};
          batch.resources.push_back(patient(std::string(label) + "-" + std::to_string(t) + "-" + std::to_string(i),
                                            R"(,"gender":"female","birthDate":"1990-01-01")"));
          if (stores[static_cast<size_t>(t) % stores.size()]->commit(std::move(batch)).isOk()) ++commits;
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::seconds(5));
    running = false;
    for (auto& t : threads) t.join();
    std::printf("[   INFO   ] %-28s %8.0f commits/s (32 threads, one patient + 2 KB payload each)\n", label,
                commits.load() / 5.0);
  };
  {
    testing::TempDir dir;
    std::vector<std::unique_ptr<Store>> stores;
    stores.push_back(std::move(openSqliteStore(SqliteOptions{dir.file("gateway.db"), 256}).value()));
    measure("sqlite, 1 instance", stores);
  }
  for (int instances : {1, 3}) {
    std::vector<std::unique_ptr<Store>> stores;
    for (int i = 0; i < instances; ++i) stores.push_back(open());
    measure(instances == 1 ? "postgresql, 1 instance" : "postgresql, 3 instances", stores);
  }
}

// Its own server: this test stops it.
TEST(PgStoreOutageTest, LostDatabaseAnswersUnavailableThenRecovers) {
  PostgresServer server;
  std::string database = server.createDatabase();
  PgOptions options;
  options.url = server.url(database);
  auto opened = openPgStore(options);
  ASSERT_TRUE(opened.isOk()) << opened.status().message();
  Store& store = *opened.value();
  WriteBatch first;
  first.resources.push_back(patient("before"));
  ASSERT_TRUE(store.commit(std::move(first)).isOk());
  ASSERT_TRUE(store.read("Patient", "before").isOk());

  server.stop();
  ::testing::internal::CaptureStderr();
  WriteBatch during;
  during.resources.push_back(patient("during"));
  auto refused = store.commit(std::move(during));
  ASSERT_FALSE(refused.isOk());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  auto read = store.read("Patient", "before");
  ASSERT_FALSE(read.isOk());
  EXPECT_EQ(read.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(store.checkWritable().code(), StatusCode::kUnavailable);
  SearchQuery q;
  q.type = "Patient";
  EXPECT_EQ(store.search(q).status().code(), StatusCode::kUnavailable);
  ::testing::internal::GetCapturedStderr();

  server.start();
  WriteBatch after;
  after.resources.push_back(patient("after"));
  auto committed = store.commit(std::move(after));
  ASSERT_TRUE(committed.isOk()) << committed.status().message();
  auto found = store.read("Patient", "before");
  ASSERT_TRUE(found.isOk()) << found.status().message();
  EXPECT_TRUE(found.value().has_value());
  EXPECT_TRUE(store.checkWritable().isOk());
  auto none = store.read("Patient", "during");
  ASSERT_TRUE(none.isOk());
  EXPECT_FALSE(none.value().has_value()) << "a refused commit must not be stored";
}

}  // namespace
}  // namespace ilpgw
