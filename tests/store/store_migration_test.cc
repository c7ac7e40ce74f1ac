// Schema versions: a store written by the version-1 schema (the schema of
// stores made before versions were recorded, kept below as data) is migrated
// forward when opened, in one transaction, with everything in it intact; a
// store from a newer ilp-gateway is refused. Also the ExportJobs role, on
// every backend.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <zstd.h>

#include <map>
#include <mutex>
#include <thread>

#include "base/json.h"
#include "fhir/resource_text.h"
#include "security/audit.h"
#include "store/sqlite_functions.h"
#include "store/sqlite_store.h"
#include "store/store.h"
#include "store/stored_text.h"
#include "store_backends.h"
#include "test_support.h"

namespace ilpgw {
namespace {

// The complete schema of version 1, as main created it before schema
// versions were recorded (no user_version, client without the jwks columns).
constexpr const char* kSchemaVersion1 = R"sql(CREATE TABLE IF NOT EXISTS resource_version (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- commit order, never reused
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  last_updated TEXT NOT NULL,
  hash BLOB NOT NULL,
  organization TEXT NOT NULL,
  payload_id INTEGER,
  source_locator TEXT,
  body TEXT NOT NULL,
  UNIQUE (type, id, version)
);
CREATE TABLE IF NOT EXISTS resource_current (
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  hash BLOB NOT NULL,
  organization TEXT NOT NULL,
  PRIMARY KEY (type, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS resource_current_seq ON resource_current (type, seq);
CREATE INDEX IF NOT EXISTS resource_version_type_seq ON resource_version (type, seq);
-- Search index of current versions, written in the same transaction as the
-- version (see search_params.cc for what goes in).
CREATE TABLE IF NOT EXISTS search_token (
  type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, system TEXT NOT NULL, value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS search_token_lookup ON search_token (type, param, value, system);
CREATE INDEX IF NOT EXISTS search_token_resource ON search_token (type, id);
CREATE TABLE IF NOT EXISTS search_string (
  type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, normalized TEXT NOT NULL, exact TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS search_string_lookup ON search_string (type, param, normalized);
CREATE INDEX IF NOT EXISTS search_string_resource ON search_string (type, id);
CREATE TABLE IF NOT EXISTS search_date (
  type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, low TEXT NOT NULL, high TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS search_date_lookup ON search_date (type, param, low);
CREATE INDEX IF NOT EXISTS search_date_resource ON search_date (type, id);
CREATE TABLE IF NOT EXISTS search_reference (
  type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, target_type TEXT NOT NULL, target_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS search_reference_lookup ON search_reference (type, param, target_id, target_type);
CREATE INDEX IF NOT EXISTS search_reference_resource ON search_reference (type, id);
CREATE TABLE IF NOT EXISTS payload (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  received_at TEXT NOT NULL,
  adapter TEXT NOT NULL,
  organization TEXT NOT NULL,
  content_type TEXT NOT NULL,
  body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  payload_id INTEGER,
  locator TEXT NOT NULL,
  source_key TEXT NOT NULL,
  outcome TEXT NOT NULL,
  created_at TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'open'
);

CREATE TABLE IF NOT EXISTS quarantine_state (
  quarantine_id INTEGER PRIMARY KEY,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_attempt_at TEXT,
  resolved_at TEXT,
  produced TEXT
);
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL DEFAULT 0,
  claimed_by TEXT,
  claimed_until_ms INTEGER,
  last_error TEXT,
  http_status INTEGER,
  outcome TEXT,
  dead_at TEXT
);
CREATE INDEX IF NOT EXISTS outbox_state_seq ON outbox (state, seq);
CREATE INDEX IF NOT EXISTS outbox_resource ON outbox (type, id);

CREATE TABLE IF NOT EXISTS client (
  client_id TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  organization TEXT NOT NULL,
  secret_hash TEXT NOT NULL,
  cert_thumbprint TEXT NOT NULL,
  local_only INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  revoked_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit_event (
  seq INTEGER PRIMARY KEY,
  recorded TEXT NOT NULL,
  agent TEXT NOT NULL,
  entities TEXT NOT NULL,
  json TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_event_recorded ON audit_event (recorded);
CREATE INDEX IF NOT EXISTS audit_event_agent ON audit_event (agent, seq);
CREATE TABLE IF NOT EXISTS audit_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL
);)sql";

constexpr int kCurrentVersion = 17;

// Direct access to the database file, to write the fixture and look at what
// opening did to it.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) ADD_FAILURE() << "cannot open " << path;
    registerStoreFunctions(db_);  // as every connection of the store has them
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;
  void exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      ADD_FAILURE() << (error != nullptr ? error : "?") << " in " << sql.substr(0, 200);
      sqlite3_free(error);
    }
  }
  // The detail lines of EXPLAIN QUERY PLAN, one per line.
  std::string queryPlan(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    std::string plan;
    if (sqlite3_prepare_v2(db_, ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sqlite3_errmsg(db_) << " in " << sql;
      return plan;
    }
    while (sqlite3_step(stmt) == SQLITE_ROW) plan += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3)) + std::string("\n");
    sqlite3_finalize(stmt);
    return plan;
  }
  std::int64_t integer(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sqlite3_errmsg(db_) << " in " << sql;
      return -1;
    }
    std::int64_t value = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
    sqlite3_finalize(stmt);
    return value;
  }

 private:
  sqlite3* db_ = nullptr;
};

std::string instant(int minute) {
  char text[32];
  std::snprintf(text, sizeof text, "2024-05-01T01:%02d:00.000Z", minute);
  return text;
}

// The stored text of a version, as the version-1 store wrote it.
std::string body(const std::string& type, const std::string& id, int version, int minute, const std::string& rest) {
  return R"({"resourceType":")" + type + R"(","id":")" + id + R"(","meta":{"versionId":")" + std::to_string(version) +
         R"(","lastUpdated":")" + instant(minute) + R"("})" + rest + "}";
}

struct FixtureVersion {
  std::string type;
  std::string id;
  int version;
  std::string rest;
};

// Six versions of three resources, in commit order (seq = index + 1).
const std::vector<FixtureVersion>& fixtureVersions() {
  static const std::vector<FixtureVersion> kVersions = {
      {"Patient", "p1", 1, R"(,"gender":"female")"},
      {"Encounter", "e1", 1, R"(,"status":"in-progress","subject":{"reference":"Patient/p1"})"},
      {"Patient", "p1", 2, R"(,"gender":"female","birthDate":"1990-01-01")"},
      {"Observation", "o1", 1, R"(,"status":"final","subject":{"reference":"Patient/p1"})"},
      {"Encounter", "e1", 2, R"(,"status":"finished","subject":{"reference":"Patient/p1"})"},
      {"Patient", "p1", 3, R"(,"gender":"female","birthDate":"1990-01-02")"},
  };
  return kVersions;
}

std::vector<AuditWrite> fixtureAudit() {
  return {
      {instant(0), "cli:admin", "|Client/clinic-a|", R"({"resourceType":"AuditEvent","subtype":"client-add"})"},
      {instant(1), "clinic-a", "|Patient/p1|", R"({"resourceType":"AuditEvent","subtype":"create"})"},
      {instant(5), "puller-1", "|Patient/p1|Encounter/e1|", R"({"resourceType":"AuditEvent","subtype":"read"})"},
  };
}

// A version-1 store at `path` holding resources in several versions with
// their search index, a payload, a quarantine entry, outbox rows (pending and
// dead), a client and a chained audit trail.
void writeVersion1Store(const std::string& path) {
  RawDb db(path);
  db.exec("PRAGMA page_size = 16384; PRAGMA journal_mode = WAL;");
  db.exec(kSchemaVersion1);
  db.exec("BEGIN");
  db.exec("INSERT INTO payload (id, received_at, adapter, organization, content_type, body) VALUES "
          "(1, '" + instant(0) + "', 'epuskesmas-json', 'org-a', 'application/json', '{\"kunjungan\":[]}')");
  const auto& versions = fixtureVersions();
  for (size_t i = 0; i < versions.size(); ++i) {
    const auto& v = versions[i];
    std::string seq = std::to_string(i + 1);
    db.exec("INSERT INTO resource_version (seq, type, id, version, last_updated, hash, organization, payload_id, "
            "source_locator, body) VALUES (" + seq + ", '" + v.type + "', '" + v.id + "', " + std::to_string(v.version) +
            ", '" + instant(static_cast<int>(i)) + "', X'0" + seq + "', 'org-a', 1, 'record[0]', '" +
            body(v.type, v.id, v.version, static_cast<int>(i), v.rest) + "')");
    db.exec("INSERT INTO resource_current (type, id, version, seq, hash, organization) VALUES ('" + v.type + "', '" +
            v.id + "', " + std::to_string(v.version) + ", " + seq + ", X'0" + seq + "', 'org-a') "
            "ON CONFLICT (type, id) DO UPDATE SET version = excluded.version, seq = excluded.seq, hash = excluded.hash");
  }
  db.exec("INSERT INTO search_token (type, id, param, system, value) VALUES "
          "('Patient', 'p1', 'identifier', 'https://fhir.kemkes.go.id/id/nik', '3201010101900001')");
  db.exec("INSERT INTO search_reference (type, id, param, target_type, target_id) VALUES "
          "('Observation', 'o1', 'patient', 'Patient', 'p1'), ('Encounter', 'e1', 'patient', 'Patient', 'p1')");
  db.exec("INSERT INTO quarantine (id, payload_id, locator, source_key, outcome, created_at, status) VALUES "
          "(1, 1, 'record[1]', 'K-2', '{\"resourceType\":\"OperationOutcome\"}', '" + instant(0) + "', 'open')");
  db.exec("INSERT INTO quarantine_state (quarantine_id, attempts, last_attempt_at) VALUES (1, 2, '" + instant(3) + "')");
  db.exec("INSERT INTO outbox (seq, type, id, version, created_at) VALUES (6, 'Patient', 'p1', 3, '" + instant(5) + "')");
  db.exec("INSERT INTO outbox (seq, type, id, version, created_at, state, attempts, last_error, http_status, outcome, "
          "dead_at) VALUES (5, 'Encounter', 'e1', 2, '" + instant(4) + "', 'dead', 1, 'refused', 422, "
          "'{\"resourceType\":\"OperationOutcome\"}', '" + instant(4) + "')");
  db.exec("INSERT INTO client (client_id, role, organization, secret_hash, cert_thumbprint, local_only, created_at, "
          "revoked_at) VALUES ('clinic-a', 'clinic', 'org-a', 'pbkdf2-sha256$1000$c2FsdA$aGFzaA', 'thumb', 0, '" +
          instant(0) + "', '')");
  std::string prev;
  std::int64_t seq = 0;
  for (const auto& event : fixtureAudit()) {
    ++seq;
    std::string hash = auditChainHash(prev, seq, event);
    db.exec("INSERT INTO audit_event (seq, recorded, agent, entities, json, prev_hash, hash) VALUES (" +
            std::to_string(seq) + ", '" + event.recorded + "', '" + event.agent + "', '" + event.entities + "', '" +
            event.json + "', '" + prev + "', '" + hash + "')");
    prev = hash;
  }
  db.exec("INSERT INTO audit_head (id, seq, hash) VALUES (1, " + std::to_string(seq) + ", '" + prev + "')");
  db.exec("COMMIT");
  EXPECT_EQ(db.integer("PRAGMA user_version"), 0);
}

class StoreMigrationTest : public ::testing::Test {
 protected:
  void SetUp() override { config_.data_dir = dir_.file("data"); std::filesystem::create_directories(config_.data_dir); }
  std::string path() const { return config_.storePath(); }
  // A store made new, or written by the version-1 schema and migrated,
  // opened once and closed again.
  void makeStore(bool migrated) {
    std::filesystem::remove_all(config_.data_dir);
    std::filesystem::create_directories(config_.data_dir);
    if (migrated) writeVersion1Store(path());
    ::testing::internal::CaptureStderr();
    auto opened = openStore(config_);
    ::testing::internal::GetCapturedStderr();
    ASSERT_TRUE(opened.isOk()) << opened.status().message();
  }
  testing::TempDir dir_;
  Config config_;
};

TEST_F(StoreMigrationTest, Version1StoreIsMigratedWithEverythingInIt) {
  writeVersion1Store(path());
  ::testing::internal::CaptureStderr();
  auto opened = openStore(config_, {.outbox = true});
  std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(opened.isOk()) << opened.status().message();
  Store& store = *opened.value();
  EXPECT_EQ(store.schemaVersion(), kCurrentVersion);
  // One line per step, naming it.
  EXPECT_NE(log.find("store schema: "), std::string::npos) << log;
  EXPECT_NE(log.find("version 1 -> 2: Bulk Data export jobs"), std::string::npos) << log;
  EXPECT_NE(log.find("version 2 -> 3: people who log in to the pages"), std::string::npos) << log;
  EXPECT_NE(log.find("version 3 -> 4: national platform links"), std::string::npos) << log;
  EXPECT_NE(log.find("version 4 -> 5: failed logins shared by every instance"), std::string::npos) << log;
  EXPECT_NE(log.find("version 5 -> 6: token signing keys"), std::string::npos) << log;
  EXPECT_NE(log.find("version 6 -> 7: export jobs run under a lease"), std::string::npos) << log;
  EXPECT_NE(log.find("version 7 -> 8: search index rows found by rowid ranges"), std::string::npos) << log;
  EXPECT_NE(log.find("version 8 -> 9: resource bodies and audit events stored compressed"), std::string::npos) << log;
  EXPECT_NE(log.find("version 9 -> 10: resource bodies stored as several zstd frames"), std::string::npos) << log;
  EXPECT_NE(log.find("version 10 -> 11: versions chained by prev_seq"), std::string::npos) << log;
  EXPECT_NE(log.find("version 11 -> 12: resource bodies and audit events compressed with a zstd dictionary"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("version 12 -> 13: the reference search index keyed by the resource referred to"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("version 13 -> 14: search index rows name their type, parameter and system by a key"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("version 14 -> 15: ids in search index rows kept as 16 bytes where they are UUIDs"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("version 15 -> 16: audit events keep their resource list compressed and their hashes as bytes"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("version 16 -> 17: versions keep their ids as 16 bytes where they are UUIDs"), std::string::npos)
      << log;
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 16) << log;
  auto users = store.listUsers();
  ASSERT_TRUE(users.isOk()) << users.status().message();
  EXPECT_TRUE(users.value().empty());

  // Every version, current and past, with its text and commit sequence.
  const auto& versions = fixtureVersions();
  for (size_t i = 0; i < versions.size(); ++i) {
    const auto& v = versions[i];
    auto found = store.readVersion(v.type, v.id, v.version);
    ASSERT_TRUE(found.isOk());
    ASSERT_TRUE(found.value()) << v.type << "/" << v.id << "/_history/" << v.version;
    EXPECT_EQ(found.value()->json, body(v.type, v.id, v.version, static_cast<int>(i), v.rest));
    EXPECT_EQ(found.value()->seq, static_cast<std::int64_t>(i + 1));
    EXPECT_EQ(found.value()->organization, "org-a");
  }
  auto patient = store.read("Patient", "p1");
  ASSERT_TRUE(patient.isOk() && patient.value());
  EXPECT_EQ(patient.value()->version, 3);
  auto encounter = store.read("Encounter", "e1");
  ASSERT_TRUE(encounter.isOk() && encounter.value());
  EXPECT_EQ(encounter.value()->version, 2);
  HistoryQuery history;
  history.type = "Patient";
  history.id = "p1";
  auto page = store.history(history);
  ASSERT_TRUE(page.isOk());
  EXPECT_EQ(page.value().versions.size(), 3u);
  // The search index came along.
  SearchValue nik;
  nik.value = "3201010101900001";
  SearchQuery by_nik = testing::searchOne("Patient", SearchKind::kToken, "identifier", nik);
  auto found = store.search(by_nik);
  ASSERT_TRUE(found.isOk());
  ASSERT_EQ(found.value().resources.size(), 1u);
  EXPECT_EQ(found.value().resources[0].id, "p1");
  SearchValue patient_p1;
  patient_p1.value = "p1";
  patient_p1.target_type = "Patient";
  auto encounters = store.search(testing::searchOne("Encounter", SearchKind::kReference, "patient", patient_p1));
  ASSERT_TRUE(encounters.isOk());
  ASSERT_EQ(encounters.value().resources.size(), 1u);
  EXPECT_EQ(encounters.value().resources[0].id, "e1");
  auto stats = store.stats();
  ASSERT_TRUE(stats.isOk());
  EXPECT_EQ(stats->resources, 3);
  EXPECT_EQ(stats->versions, 6);
  EXPECT_EQ(stats->payloads, 1);
  EXPECT_EQ(stats->quarantined_open, 1);

  // Audit trail: every record, and the chain still verifies.
  auto audit = store.scanAudit(0, 100);
  ASSERT_TRUE(audit.isOk());
  ASSERT_EQ(audit.value().size(), 3u);
  auto events = fixtureAudit();
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(audit.value()[i].seq, static_cast<std::int64_t>(i + 1));
    EXPECT_EQ(audit.value()[i].event.json, events[i].json);
    EXPECT_EQ(audit.value()[i].event.agent, events[i].agent);
  }
  auto verified = verifyAuditChain(store);
  ASSERT_TRUE(verified.isOk());
  EXPECT_TRUE(verified.value().ok) << verified.value().problem;
  EXPECT_EQ(verified.value().checked, 3);

  // The client, with the columns later versions added left empty.
  auto client = store.findClient("clinic-a");
  ASSERT_TRUE(client.isOk() && client.value());
  EXPECT_EQ(client.value()->role, "clinic");
  EXPECT_EQ(client.value()->organization, "org-a");
  EXPECT_EQ(client.value()->secret_hash, "pbkdf2-sha256$1000$c2FsdA$aGFzaA");
  EXPECT_EQ(client.value()->cert_thumbprint, "thumb");
  EXPECT_EQ(client.value()->created_at, instant(0));
  EXPECT_EQ(client.value()->jwks, "");

  // Outbox rows, pending and dead.
  auto outbox = store.listOutbox("", 0, 100);
  ASSERT_TRUE(outbox.isOk());
  ASSERT_EQ(outbox.value().size(), 2u);
  EXPECT_EQ(outbox.value()[0].seq, 5);
  EXPECT_EQ(outbox.value()[0].state, "dead");
  EXPECT_EQ(outbox.value()[0].http_status, 422);
  EXPECT_EQ(outbox.value()[1].seq, 6);
  EXPECT_EQ(outbox.value()[1].state, "pending");
  auto claimed = store.claimOutbox(OutboxClaim{"test", 1000, 60000, 10, {}});
  ASSERT_TRUE(claimed.isOk());
  ASSERT_EQ(claimed.value().size(), 1u);
  EXPECT_EQ(claimed.value()[0].body, body("Patient", "p1", 3, 5, fixtureVersions()[5].rest));

  // Quarantine with its reprocessing state, and the payload.
  auto quarantine = store.readQuarantine(1);
  ASSERT_TRUE(quarantine.isOk() && quarantine.value());
  EXPECT_EQ(quarantine.value()->status, "open");
  EXPECT_EQ(quarantine.value()->attempts, 2);
  EXPECT_EQ(quarantine.value()->adapter, "epuskesmas-json");
  auto payload = store.readPayload(1);
  ASSERT_TRUE(payload.isOk() && payload.value());
  EXPECT_EQ(payload.value()->body, R"({"kunjungan":[]})");

  // The migrated store takes new writes after the old ones: seq and the
  // audit chain continue.
  rapidjson::Document doc;
  ASSERT_FALSE(json::parse(R"({"resourceType":"Patient","id":"p1","gender":"male"})", doc).has_value());
  WriteBatch batch;
  batch.resources.push_back(prepareResource(doc));
  batch.resources.back().organization = "org-a";
  batch.audit.push_back({instant(9), "clinic-a", "|Patient/p1|", R"({"resourceType":"AuditEvent"})"});
  auto committed = store.commit(std::move(batch));
  ASSERT_TRUE(committed.isOk()) << committed.status().message();
  EXPECT_EQ(committed->resources[0].version, 4);
  auto newest = store.read("Patient", "p1");
  ASSERT_TRUE(newest.isOk() && newest.value());
  EXPECT_EQ(newest.value()->seq, 7);
  // The new version joins the migrated ones' chain: all four are found.
  page = store.history(history);
  ASSERT_TRUE(page.isOk());
  ASSERT_EQ(page.value().versions.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(page.value().versions[i].version, static_cast<std::int64_t>(4 - i));
  auto third = store.readVersion("Patient", "p1", 3);
  ASSERT_TRUE(third.isOk() && third.value());
  EXPECT_EQ(third.value()->seq, 6);
  auto fifth = store.readVersion("Patient", "p1", 5);
  ASSERT_TRUE(fifth.isOk());
  EXPECT_FALSE(fifth.value());
  auto other = store.readVersion("Encounter", "p1", 1);
  ASSERT_TRUE(other.isOk());
  EXPECT_FALSE(other.value()) << "a version is found only under its own type";
  // The new version replaced the migrated index rows of p1 (found by their
  // rowid range), and only those: the other resources keep theirs.
  found = store.search(by_nik);
  ASSERT_TRUE(found.isOk());
  EXPECT_TRUE(found.value().resources.empty()) << "the old version's identifier is no longer indexed";
  SearchValue p1;
  p1.target_type = "Patient";
  p1.value = "p1";
  auto observations = store.search(testing::searchOne("Observation", SearchKind::kReference, "patient", p1));
  ASSERT_TRUE(observations.isOk());
  ASSERT_EQ(observations.value().resources.size(), 1u);
  EXPECT_EQ(observations.value().resources[0].id, "o1");
  verified = verifyAuditChain(store);
  ASSERT_TRUE(verified.isOk());
  EXPECT_TRUE(verified.value().ok) << verified.value().problem;
  EXPECT_EQ(verified.value().checked, 4);
  // And the new role works on it.
  ExportJob job;
  job.id = "0123456789abcdef0123456789abcdef";
  job.level = "system";
  job.types = {"Patient"};
  job.created_at = instant(10);
  EXPECT_TRUE(store.createExportJob(job).isOk());
  auto read = store.readExportJob(job.id);
  ASSERT_TRUE(read.isOk() && read.value());

  opened.value().reset();
  RawDb db(path());
  EXPECT_EQ(db.integer("PRAGMA user_version"), kCurrentVersion);
  EXPECT_EQ(db.integer("SELECT count(*) FROM sqlite_master WHERE name LIKE 'search_%_resource'"), 0);
  EXPECT_EQ(db.integer("SELECT count(*) FROM resource_current WHERE index_rows = ''"), 0);
  EXPECT_EQ(db.integer("SELECT count(*) FROM pragma_table_info('client') WHERE name IN ('jwks', 'jwks_url')"), 2);
  // Versions are chained by prev_seq, with no index on (type, id, version).
  EXPECT_EQ(db.integer("SELECT count(*) FROM sqlite_master WHERE tbl_name = 'resource_version' AND type = 'index'"), 1);
  // Each version after the first points at the one before it (p1 2, 3, 4 and e1 2).
  EXPECT_EQ(db.integer("SELECT count(*) FROM resource_version a JOIN resource_version b ON b.seq = a.prev_seq "
                       "WHERE b.type = a.type AND b.id = a.id AND b.version = a.version - 1"),
            4);
  EXPECT_EQ(db.integer("SELECT count(*) FROM resource_version WHERE prev_seq IS NULL AND version = 1"), 3);
  EXPECT_EQ(db.integer("SELECT count(*) FROM resource_version"), 7);
}

TEST_F(StoreMigrationTest, CurrentStoreOpensWithoutMigrating) {
  {
    auto fresh = openStore(config_);
    ASSERT_TRUE(fresh.isOk()) << fresh.status().message();
    EXPECT_EQ(fresh.value()->schemaVersion(), kCurrentVersion);
  }
  {
    RawDb db(path());
    EXPECT_EQ(db.integer("PRAGMA user_version"), kCurrentVersion);
  }
  ::testing::internal::CaptureStderr();
  auto again = openStore(config_);
  std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(again.isOk()) << again.status().message();
  EXPECT_EQ(again.value()->schemaVersion(), kCurrentVersion);
  EXPECT_EQ(log.find("store schema"), std::string::npos) << log;
}

// Replacing a resource's index rows must cost the same in a store of any
// size: SQLite has to find them by their rowid range, not walk the lookup
// index over every row of the type (it would, for `type = ?`, unless told).
TEST_F(StoreMigrationTest, IndexRowsOfAResourceAreFoundByTheirRowidRange) {
  for (bool migrated : {false, true}) {
    SCOPED_TRACE(migrated ? "migrated from version 1" : "new store");
    ASSERT_NO_FATAL_FAILURE(makeStore(migrated));
    RawDb db(path());
    ASSERT_EQ(sqliteIndexRowDeletes().size(), 4u);
    for (const char* sql : sqliteIndexRowDeletes()) {
      std::string plan = db.queryPlan(sql);
      EXPECT_NE(plan.find("USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"), std::string::npos) << sql << ": " << plan;
      EXPECT_EQ(plan.find("INDEX"), std::string::npos) << sql << ": " << plan;
    }
  }
}

// A reference search starts from the resource referred to: the lookup index
// leads with the target id, in a new store and in a migrated one.
TEST_F(StoreMigrationTest, AReferenceSearchFindsItsRowsByTheResourceReferredTo) {
  for (bool migrated : {false, true}) {
    SCOPED_TRACE(migrated ? "migrated from version 1" : "new store");
    ASSERT_NO_FATAL_FAILURE(makeStore(migrated));
    RawDb db(path());
    SearchValue p1;
    p1.value = "p1";
    p1.target_type = "Patient";
    std::string plan =
        db.queryPlan(sqliteSearchIndexRows(testing::searchOne("Observation", SearchKind::kReference, "subject", p1)));
    EXPECT_NE(plan.find("INDEX search_reference_lookup (target_id=? AND key=?)"), std::string::npos) << plan;
  }
}

// A token search finds its rows by key and value: the system is part of the
// key, looked up once in the small search_key table.
TEST_F(StoreMigrationTest, ATokenSearchFindsItsRowsByKeyAndValue) {
  for (bool migrated : {false, true}) {
    SCOPED_TRACE(migrated ? "migrated from version 1" : "new store");
    ASSERT_NO_FATAL_FAILURE(makeStore(migrated));
    RawDb db(path());
    for (bool with_system : {true, false}) {
      SearchValue nik;
      nik.value = "3201010101900001";
      if (with_system) nik.system = "https://fhir.kemkes.go.id/id/nik";
      std::string plan =
          db.queryPlan(sqliteSearchIndexRows(testing::searchOne("Patient", SearchKind::kToken, "identifier", nik)));
      EXPECT_NE(plan.find("INDEX search_token_lookup (key=? AND value=?)"), std::string::npos)
          << (with_system ? "system|value: " : "value: ") << plan;
      EXPECT_EQ(plan.find("SCAN search_token"), std::string::npos) << plan;
    }
  }
}

// Ids shaped like lower-case UUIDs are kept in the index rows as 16 bytes,
// in a new store and in a migrated one, and found by every search path: a
// token, a reference to the resource, and the id of the resource referred to.
TEST_F(StoreMigrationTest, UuidIdsInIndexRowsArePackedAndFoundAgain) {
  const std::string patient = "4081f74a-c8b4-8740-afc5-f5beb486da8a";
  const std::string observation = "95c0d6e6-ea35-828e-b73a-995d3a4f8d09";
  for (bool migrated : {false, true}) {
    SCOPED_TRACE(migrated ? "migrated from version 1" : "new store");
    std::filesystem::remove_all(config_.data_dir);
    std::filesystem::create_directories(config_.data_dir);
    if (migrated) {
      writeVersion1Store(path());
      RawDb db(path());
      db.exec("INSERT INTO resource_version (seq, type, id, version, last_updated, hash, organization, body) VALUES "
              "(7, 'Patient', '" + patient + "', 1, '" + instant(6) + "', X'07', 'org-a', '" +
              body("Patient", patient, 1, 6, R"(,"gender":"male")") + "'), (8, 'Observation', '" + observation +
              "', 1, '" + instant(7) + "', X'08', 'org-a', '" +
              body("Observation", observation, 1, 7, R"(,"status":"final")") + "')");
      db.exec("INSERT INTO resource_current (type, id, version, seq, hash, organization) VALUES ('Patient', '" +
              patient + "', 1, 7, X'07', 'org-a'), ('Observation', '" + observation + "', 1, 8, X'08', 'org-a')");
      db.exec("INSERT INTO search_token (type, id, param, system, value) VALUES ('Patient', '" + patient +
              "', 'gender', '', 'male')");
      db.exec("INSERT INTO search_reference (type, id, param, target_type, target_id) VALUES ('Observation', '" +
              observation + "', 'subject', 'Patient', '" + patient + "')");
    }
    auto opened = openStore(config_);
    ASSERT_TRUE(opened.isOk()) << opened.status().message();
    Store& store = *opened.value();
    if (!migrated) {
      WriteBatch batch;
      for (const auto& [type, id, json] :
           {std::tuple{"Patient", patient, std::string(R"({"resourceType":"Patient","gender":"male"})")},
            std::tuple{"Observation", observation,
                       R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/)" +
                           patient + R"("}})"}}) {
        rapidjson::Document doc;
        ASSERT_FALSE(json::parse(json, doc).has_value());
        doc.AddMember("id", json::str(id, doc.GetAllocator()), doc.GetAllocator());
        ResourceWrite w = prepareResource(doc);
        w.organization = "org-a";
        batch.resources.push_back(std::move(w));
      }
      ASSERT_TRUE(store.commit(std::move(batch)).isOk());
    }
    SearchValue male;
    male.value = "male";
    auto by_gender = store.search(testing::searchOne("Patient", SearchKind::kToken, "gender", male));
    ASSERT_TRUE(by_gender.isOk());
    ASSERT_EQ(by_gender->resources.size(), 1u);
    EXPECT_EQ(by_gender->resources[0].id, patient);
    SearchValue subject;
    subject.value = patient;
    subject.target_type = "Patient";
    auto by_subject = store.search(testing::searchOne("Observation", SearchKind::kReference, "subject", subject));
    ASSERT_TRUE(by_subject.isOk());
    ASSERT_EQ(by_subject->resources.size(), 1u);
    EXPECT_EQ(by_subject->resources[0].id, observation);

    RawDb db(path());
    EXPECT_EQ(db.integer("SELECT count(*) FROM search_reference WHERE typeof(id) = 'blob' AND length(id) = 16 "
                         "AND typeof(target_id) = 'blob' AND length(target_id) = 16"),
              1);
    EXPECT_EQ(db.integer("SELECT count(*) FROM search_token WHERE typeof(id) = 'blob' AND length(id) = 16"),
              migrated ? 1 : db.integer("SELECT count(*) FROM search_token"));
    // The versions written here keep their ids packed too; read back as the ids.
    EXPECT_EQ(db.integer("SELECT count(*) FROM resource_version WHERE typeof(id) = 'blob' AND length(id) = 16"),
              migrated ? 0 : 2);
    auto read = store.read("Observation", observation);
    ASSERT_TRUE(read.isOk() && read.value());
    EXPECT_EQ(read.value()->id, observation);
    HistoryQuery history;
    history.type = "Observation";
    auto page = store.history(history);
    ASSERT_TRUE(page.isOk());
    ASSERT_FALSE(page->versions.empty());
    EXPECT_EQ(page->versions.front().id, observation);
    auto version = store.readVersion("Observation", observation, 1);
    ASSERT_TRUE(version.isOk() && version.value());
    EXPECT_EQ(version.value()->id, observation);
    if (migrated) {
      // The fixture's ids ("p1", "o1") are no UUIDs and stay as they were.
      EXPECT_EQ(db.integer("SELECT count(*) FROM search_reference WHERE id = 'o1' AND target_id = 'p1'"), 1);
    }
  }
}

// Reading an older version costs the same in a store of any size: SQLite
// follows the resource's chain of versions by seq and never walks the table.
TEST_F(StoreMigrationTest, AnOlderVersionIsFoundAlongItsChainNotByAScan) {
  for (bool migrated : {false, true}) {
    SCOPED_TRACE(migrated ? "migrated from version 1" : "new store");
    ASSERT_NO_FATAL_FAILURE(makeStore(migrated));
    RawDb db(path());
    std::string plan = db.queryPlan(sqliteVersionRead());
    EXPECT_EQ(plan.find("SCAN resource_version"), std::string::npos) << plan;
    EXPECT_EQ(plan.find("SCAN v\n"), std::string::npos) << plan;
    EXPECT_NE(plan.find("SEARCH resource_current USING PRIMARY KEY (type=? AND id=?)"), std::string::npos) << plan;
    EXPECT_NE(plan.find("INTEGER PRIMARY KEY (rowid=?)"), std::string::npos) << plan;
  }
}

// Bodies and audit events are kept as zstd frames (store/stored_text.h) and
// read back byte for byte; a damaged frame fails that read with an error,
// never with a crash or with garbage.
TEST_F(StoreMigrationTest, BodiesAndAuditEventsAreStoredCompressedAndReadBackUnchanged) {
  std::string observations;
  for (int i = 0; i < 20; ++i) {
    observations += std::string(i ? "," : "") + R"({"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]}})";
  }
  std::string text = R"({"resourceType":"Observation","id":"o1","status":"final","component":[)" + observations + "]}";
  std::string event = R"({"resourceType":"AuditEvent","outcome":"0","entity":[)" + observations + "]}";
  std::string stored_body;
  {
    auto opened = openStore(config_);
    ASSERT_TRUE(opened.isOk()) << opened.status().message();
    Store& store = *opened.value();
    rapidjson::Document doc;
    ASSERT_FALSE(json::parse(text, doc).has_value());
    WriteBatch batch;
    batch.resources.push_back(prepareResource(doc));
    batch.resources.back().organization = "org-a";
    batch.audit.push_back({instant(1), "clinic-a", "|Observation/o1|", event});
    ASSERT_TRUE(store.commit(std::move(batch)).isOk());
    auto read = store.read("Observation", "o1");
    ASSERT_TRUE(read.isOk() && read.value());
    stored_body = read.value()->json;
    EXPECT_NE(stored_body.find(R"("component":[{"code")"), std::string::npos) << stored_body;
    auto audit = store.scanAudit(0, 10);
    ASSERT_TRUE(audit.isOk());
    ASSERT_EQ(audit.value().size(), 1u);
    EXPECT_EQ(audit.value()[0].event.json, event);
    EXPECT_EQ(audit.value()[0].event.entities, "|Observation/o1|");
    EXPECT_EQ(audit.value()[0].hash.size(), 64u);
    AuditQuery about_o1;
    about_o1.entity = "Observation/o1";
    about_o1.limit = 10;
    auto found = store.searchAudit(about_o1);
    ASSERT_TRUE(found.isOk());
    EXPECT_EQ(found.value().size(), 1u);
    about_o1.entity = "Observation/o";
    EXPECT_TRUE(store.searchAudit(about_o1).value().empty()) << "a whole entry of the list, not part of one";
    auto verified = verifyAuditChain(store);
    ASSERT_TRUE(verified.isOk());
    EXPECT_TRUE(verified.value().ok) << verified.value().problem;
    EXPECT_TRUE(store.checkIntegrity().isOk());
  }
  {
    RawDb db(path());
    EXPECT_EQ(db.integer("SELECT typeof(body) = 'blob' FROM resource_version"), 1);
    EXPECT_LT(db.integer("SELECT length(body) FROM resource_version"), static_cast<std::int64_t>(stored_body.size()) / 3);
    // Two frames: head and meta from the writer, the rest from the request thread
    // (a second zstd magic number after the first frame's).
    EXPECT_EQ(db.integer("SELECT hex(substr(body, 1, 4)) = '28B52FFD' AND instr(substr(body, 5), x'28b52ffd') > 0 "
                         "FROM resource_version"),
              1);
    EXPECT_EQ(db.integer("SELECT typeof(json) = 'blob' FROM audit_event"), 1);
    EXPECT_LT(db.integer("SELECT length(json) FROM audit_event"), static_cast<std::int64_t>(event.size()) / 3);
    // The resource list is a frame as well, the hash its 32 bytes (the first
    // event's predecessor is no hash: empty text).
    EXPECT_EQ(db.integer("SELECT typeof(entities) = 'blob' AND hex(substr(entities, 1, 4)) = '28B52FFD' "
                         "FROM audit_event"),
              1);
    EXPECT_EQ(db.integer("SELECT typeof(hash) = 'blob' AND length(hash) = 32 AND prev_hash = '' FROM audit_event"), 1);
    db.exec("UPDATE resource_version SET body = CAST(substr(body, 1, length(body) - 4) || x'00000000' AS BLOB)");
    EXPECT_EQ(db.integer("SELECT typeof(body) = 'blob' FROM resource_version"), 1);
  }
  ::testing::internal::CaptureStderr();
  auto reopened = openStore(config_);
  ASSERT_TRUE(reopened.isOk()) << reopened.status().message();
  auto damaged = reopened.value()->read("Observation", "o1");
  std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_FALSE(damaged.isOk());
  EXPECT_NE(log.find("stored text is damaged"), std::string::npos) << log;
}

// Only the exact shape of a lower-case UUID is packed; the 16 bytes give
// back the very same id, and everything else stays text.
TEST(PackedIdTest, LowerCaseUuidsPackIntoSixteenBytesAndBackAndNothingElseDoes) {
  const std::string uuid = "0e712159-847e-804c-b7fa-91a5395de3ba";
  std::string packed = packedId(uuid);
  ASSERT_EQ(packed.size(), 16u);
  EXPECT_EQ(static_cast<unsigned char>(packed[0]), 0x0e);
  EXPECT_EQ(static_cast<unsigned char>(packed[15]), 0xba);
  EXPECT_EQ(unpackedId(packed, true), uuid);
  EXPECT_EQ(unpackedId("p1", false), "p1");
  for (const char* other : {"0E712159-847E-804C-B7FA-91A5395DE3BA", "0e712159847e804cb7fa91a5395de3ba",
                            "0e712159-847e-804c-b7fa-91a5395de3b", "0e712159-847e-804c-b7fa-91a5395de3bax",
                            "0e712159_847e-804c-b7fa-91a5395de3ba", "0e712159-847e-804c-b7fa-91a5395de3bg", "p1", ""}) {
    EXPECT_EQ(packedId(other), "") << other;
  }
  EXPECT_THROW(unpackedId("short", true), std::runtime_error);
}

TEST(StoredTextTest, FramesOneAfterAnotherReadAsTheirTextsJoined) {
  std::string head = R"({"resourceType":"Patient","id":"p1","meta":{"versionId":"3")";
  std::string tail = R"(},"gender":"female","birthDate":"1990-01-02"})";
  std::string frames = stored_text::compress(head) + stored_text::compress(tail);
  EXPECT_EQ(stored_text::decompress(frames), head + tail);
  EXPECT_EQ(stored_text::decompress(stored_text::compress(head)), head);
  // Frames name the compiled-in dictionary they were written with; a frame
  // written without one (before schema version 12) reads as well, alone or
  // joined with newer ones.
  EXPECT_NE(ZSTD_getDictID_fromFrame(frames.data(), frames.size()), 0u);
  std::string old(ZSTD_compressBound(head.size()), '\0');
  old.resize(ZSTD_compress(old.data(), old.size(), head.data(), head.size(), 1));
  ASSERT_EQ(ZSTD_getDictID_fromFrame(old.data(), old.size()), 0u);
  EXPECT_EQ(stored_text::decompress(old + stored_text::compress(tail)), head + tail);
  // A frame written with a dictionary this build does not have is refused
  // with the dictionary's id, never read as something else. (Its header's
  // 4-byte dictionary id, after the descriptor and, unless the frame is a
  // single segment, the window byte, is rewritten.)
  std::string foreign = stored_text::compress(tail);
  auto descriptor = static_cast<unsigned char>(foreign[4]);
  ASSERT_EQ(descriptor & 3, 3) << "the frame's dictionary id is not 4 bytes";
  size_t id_at = (descriptor & 0x20) != 0 ? 5 : 6;
  constexpr std::uint32_t kUnknown = 0x7000abcd;
  for (int i = 0; i < 4; ++i) foreign[id_at + i] = static_cast<char>((kUnknown >> (8 * i)) & 0xFF);
  ASSERT_EQ(ZSTD_getDictID_fromFrame(foreign.data(), foreign.size()), kUnknown);
  try {
    stored_text::decompress(foreign);
    ADD_FAILURE() << "a frame of an unknown dictionary was read";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("dictionary " + std::to_string(kUnknown)), std::string::npos) << e.what();
  }
  // Compression pays: a resource of the kind the adapters write takes about a
  // third of its text, head and rest alike.
  std::string observation =
      R"({"resourceType":"Observation","id":"2a7c1e0f-5b1d-8c3e-a1f2-77c0d9e4b6aa","meta":{"profile":)"
      R"(["https://fhir.kemkes.go.id/r4/StructureDefinition/Observation"]},"status":"final","category":[{"coding":)"
      R"([{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs",)"
      R"("display":"Vital Signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"8867-4",)"
      R"("display":"Heart rate"}]},"subject":{"reference":"Patient/92fbaf9b-afd3-8a8d-9286-14665104dfed"},)"
      R"("effectiveDateTime":"2026-12-02T08:15:00+07:00","valueQuantity":{"value":80,"unit":"/min",)"
      R"("system":"http://unitsofmeasure.org","code":"/min"}})";
  EXPECT_LT(stored_text::compress(observation).size() * 3, observation.size());
  EXPECT_EQ(stored_text::decompress(stored_text::compress(observation)), observation);
  // Damage in the second frame, a frame cut short, or bytes after the last
  // frame are errors, never a text.
  std::string damaged = frames;
  damaged.back() ^= 0x55;
  EXPECT_THROW(stored_text::decompress(damaged), std::runtime_error);
  EXPECT_THROW(stored_text::decompress(frames.substr(0, frames.size() - 3)), std::runtime_error);
  EXPECT_THROW(stored_text::decompress(frames + "x"), std::runtime_error);
  EXPECT_THROW(stored_text::decompress(""), std::runtime_error);
}

TEST_F(StoreMigrationTest, NewerStoreIsRefusedAndLeftAlone) {
  {
    RawDb db(path());
    db.exec("CREATE TABLE from_the_future (x); PRAGMA user_version = " + std::to_string(kCurrentVersion + 1) + ";");
  }
  auto opened = openStore(config_);
  ASSERT_FALSE(opened.isOk());
  const std::string& message = opened.status().message();
  EXPECT_NE(message.find("store schema version " + std::to_string(kCurrentVersion + 1) + " is newer than this ilp-gateway supports (" +
                         std::to_string(kCurrentVersion) + "); upgrade ilp-gateway"),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  RawDb db(path());
  EXPECT_EQ(db.integer("PRAGMA user_version"), kCurrentVersion + 1);
  EXPECT_EQ(db.integer("SELECT count(*) FROM sqlite_master WHERE name = 'resource_version'"), 0);
}

TEST_F(StoreMigrationTest, FailedStepLeavesTheStoreAsItWas) {
  writeVersion1Store(path());
  {
    RawDb db(path());
    db.exec("CREATE TABLE export_job (unexpected TEXT)");  // step 2 cannot create its table
  }
  auto opened = openStore(config_);
  ASSERT_FALSE(opened.isOk());
  RawDb db(path());
  EXPECT_EQ(db.integer("PRAGMA user_version"), 0);
  // Step 1 ran in the same transaction: its columns are gone with it.
  EXPECT_EQ(db.integer("SELECT count(*) FROM pragma_table_info('client') WHERE name = 'jwks'"), 0);
  EXPECT_EQ(db.integer("SELECT count(*) FROM resource_version"), 6);
}

// Every backend (store_backends.h).
class ExportJobsTest : public testing::StoreBackendTest {};
ILPGW_ALL_BACKENDS(ExportJobsTest);

TEST_P(ExportJobsTest, ExportJobsAreKeptUpdatedListedAndDeleted) {
  auto opened = openStore(place_.config());
  ASSERT_TRUE(opened.isOk()) << opened.status().message();
  ExportJobs& jobs = *opened.value();
  ExportJob job;
  job.id = "aaaa";
  job.client_id = "puller-1";
  job.level = "patient";
  job.types = {"Patient", "Observation"};
  job.since = "2024-01-01T00:00:00.000Z";
  job.organization = "org-a";
  job.request_url = "https://gw/fhir/Patient/$export";
  job.created_at = instant(0);
  ASSERT_TRUE(jobs.createExportJob(job).isOk());
  ExportJob other = job;
  other.id = "bbbb";
  other.since.reset();
  other.organization.reset();
  other.types = {"Patient"};
  other.created_at = instant(1);
  ASSERT_TRUE(jobs.createExportJob(other).isOk());

  auto read = jobs.readExportJob("aaaa");
  ASSERT_TRUE(read.isOk() && read.value());
  EXPECT_EQ(read.value()->client_id, "puller-1");
  EXPECT_EQ(read.value()->level, "patient");
  EXPECT_EQ(read.value()->types, (std::vector<std::string>{"Patient", "Observation"}));
  EXPECT_EQ(read.value()->since, job.since);
  EXPECT_EQ(read.value()->organization, job.organization);
  EXPECT_EQ(read.value()->state, ExportJobState::kQueued);
  auto read_other = jobs.readExportJob("bbbb");
  ASSERT_TRUE(read_other.isOk() && read_other.value());
  EXPECT_FALSE(read_other.value()->since);
  EXPECT_FALSE(read_other.value()->organization);

  job.state = ExportJobState::kCompleted;
  job.attempts = 1;
  job.exported = 12;
  job.bytes = 3400;
  job.transaction_time = instant(2);
  job.files = {{"Patient", "Patient.ndjson", 2}, {"Observation", "Observation.ndjson", 10}};
  job.finished_at = instant(3);
  job.expires_at = instant(30);
  ASSERT_TRUE(jobs.updateExportJob(job).isOk());
  read = jobs.readExportJob("aaaa");
  ASSERT_TRUE(read.isOk() && read.value());
  EXPECT_EQ(read.value()->state, ExportJobState::kCompleted);
  EXPECT_EQ(read.value()->exported, 12);
  EXPECT_EQ(read.value()->bytes, 3400);
  ASSERT_EQ(read.value()->files.size(), 2u);
  EXPECT_EQ(read.value()->files[1].name, "Observation.ndjson");
  EXPECT_EQ(read.value()->files[1].count, 10);
  EXPECT_EQ(read.value()->expires_at, instant(30));

  auto all = jobs.listExportJobs();
  ASSERT_TRUE(all.isOk());
  ASSERT_EQ(all.value().size(), 2u);
  EXPECT_EQ(all.value()[0].id, "aaaa");  // oldest first
  auto not_yet = jobs.listExpiredExportJobs(instant(29));
  ASSERT_TRUE(not_yet.isOk());
  EXPECT_TRUE(not_yet.value().empty());
  auto expired = jobs.listExpiredExportJobs(instant(30));
  ASSERT_TRUE(expired.isOk());
  ASSERT_EQ(expired.value().size(), 1u);  // the unfinished job never expires
  EXPECT_EQ(expired.value()[0].id, "aaaa");

  ASSERT_TRUE(jobs.deleteExportJob("aaaa").isOk());
  read = jobs.readExportJob("aaaa");
  ASSERT_TRUE(read.isOk());
  EXPECT_FALSE(read.value());
  // A deleted job stays deleted: updating it is kNotFound, nothing reappears.
  Status update = jobs.updateExportJob(job);
  EXPECT_EQ(update.code(), StatusCode::kNotFound);
  all = jobs.listExportJobs();
  ASSERT_TRUE(all.isOk());
  EXPECT_EQ(all.value().size(), 1u);
}


// A system-level Patient export of puller-1, queued at minute `minute`.
ExportJob queuedJob(const std::string& id, int minute) {
  ExportJob job;
  job.id = id;
  job.client_id = "puller-1";
  job.level = "system";
  job.types = {"Patient"};
  job.request_url = "https://gw/fhir/$export";
  job.created_at = instant(minute);
  return job;
}

TEST_P(ExportJobsTest, AJobIsClaimedByOneInstanceAtATimeUntilItsLeaseEnds) {
  auto opened = openStore(place_.config());
  ASSERT_TRUE(opened.isOk()) << opened.status().message();
  ExportJobs& jobs = *opened.value();
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(jobs.createExportJob(queuedJob(std::string(1, static_cast<char>('a' + i)) + "job", i)).isOk());
  }
  auto first = jobs.claimExportJob("one", instant(10), instant(20));
  ASSERT_TRUE(first.isOk() && first.value());
  EXPECT_EQ(first.value()->id, "ajob");  // oldest first
  EXPECT_EQ(first.value()->lease_owner, "one");
  EXPECT_EQ(first.value()->lease_until, instant(20));
  auto second = jobs.claimExportJob("two", instant(10), instant(20));
  ASSERT_TRUE(second.isOk() && second.value());
  EXPECT_EQ(second.value()->id, "bjob");
  auto none = jobs.claimExportJob("three", instant(19), instant(30));
  ASSERT_TRUE(none.isOk());
  EXPECT_FALSE(none.value()) << "both leases are live";

  // Only the holder writes; renewing moves the lease on.
  ExportJob a = *first.value();
  a.state = ExportJobState::kRunning;
  a.lease_owner = "two";
  EXPECT_EQ(jobs.updateExportJob(a).code(), StatusCode::kConflict);
  a.lease_owner = "one";
  a.lease_until = instant(40);
  ASSERT_TRUE(jobs.updateExportJob(a).isOk());

  // At 25 the second lease has run out, the first not.
  auto taken = jobs.claimExportJob("three", instant(25), instant(35));
  ASSERT_TRUE(taken.isOk() && taken.value());
  EXPECT_EQ(taken.value()->id, "bjob");
  EXPECT_EQ(taken.value()->lease_owner, "three");
  ExportJob b = *second.value();
  EXPECT_EQ(jobs.updateExportJob(b).code(), StatusCode::kConflict) << "the old holder lost it";

  // Finished jobs are never claimed; a queued job with its lease cleared is claimed at once.
  a.state = ExportJobState::kCompleted;
  ASSERT_TRUE(jobs.updateExportJob(a).isOk());
  ExportJob back = *taken.value();
  back.state = ExportJobState::kQueued;
  back.lease_until.clear();
  ASSERT_TRUE(jobs.updateExportJob(back).isOk());
  auto again = jobs.claimExportJob("four", instant(26), instant(36));
  ASSERT_TRUE(again.isOk() && again.value());
  EXPECT_EQ(again.value()->id, "bjob");
  none = jobs.claimExportJob("five", instant(50), instant(55));
  ASSERT_TRUE(none.isOk());
  ASSERT_TRUE(none.value());
  EXPECT_EQ(none.value()->id, "bjob") << "its lease ran out at 36; ajob is completed";
}

TEST_P(ExportJobsTest, ConcurrentClaimsTakeEveryJobExactlyOnce) {
  auto opened = openStore(place_.config());
  ASSERT_TRUE(opened.isOk()) << opened.status().message();
  ExportJobs& jobs = *opened.value();
  constexpr int kJobs = 40;
  for (int i = 0; i < kJobs; ++i) ASSERT_TRUE(jobs.createExportJob(queuedJob("job" + std::to_string(100 + i), i)).isOk());
  std::mutex mutex;
  std::map<std::string, int> claims;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (;;) {
        auto claimed = jobs.claimExportJob("instance-" + std::to_string(t), instant(50), instant(59));
        if (!claimed.isOk() || !claimed.value()) return;
        std::lock_guard lock(mutex);
        ++claims[claimed.value()->id];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(claims.size(), static_cast<size_t>(kJobs));
  for (const auto& [id, count] : claims) EXPECT_EQ(count, 1) << id;
}

}  // namespace
}  // namespace ilpgw
