// The audit trail: every access leaves an AuditEvent, admins search them, and
// `ilp-gateway audit verify` detects edits and deletions in the database file.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <thread>

#include "security_support.h"

namespace ilpgw {
namespace {

using testing::GatewayOptions;
using testing::GatewayProcess;
using testing::parsedJson;

GatewayOptions withAuth() {
  GatewayOptions o;
  o.auth = true;
  return o;
}

// Reads of the audit trail see events recorded asynchronously (reads and
// authentications are committed with the next group commit).
rapidjson::Document searchUntil(GatewayProcess& gateway, const std::string& admin, const std::string& query,
                                size_t at_least) {
  for (int i = 0; i < 50; ++i) {
    auto res = gateway.client(admin)->Get(("/fhir/AuditEvent" + query).c_str());
    EXPECT_TRUE(res);
    if (!res) break;
    EXPECT_EQ(res->status, 200) << res->body;
    auto doc = parsedJson(res->body);
    if (doc["entry"].Size() >= at_least || i == 49) return doc;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return parsedJson("{\"entry\":[]}");
}

std::vector<std::string> subtypes(const rapidjson::Document& bundle) {
  std::vector<std::string> out;
  for (const auto& e : bundle["entry"].GetArray()) out.emplace_back(e["resource"]["subtype"][0]["code"].GetString());
  return out;
}

void execSql(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

int verify(const std::string& data_dir, std::string& out) {
  return testing::runGateway({"audit", "verify", "--data", data_dir}, out);
}

TEST(AuditTest, EveryAccessIsRecordedAndSearchableByAgentEntityAndDate) {
  GatewayProcess gateway(withAuth());
  testing::ClientCredentials clinic = gateway.addClient("clinic", "pkm-a");
  std::string token = gateway.fetchToken(clinic);
  std::string admin = gateway.token("admin");
  auto posted = gateway.client(token)->Post("/ingest/epuskesmas-json", testing::exampleVisit(), "application/json");
  ASSERT_TRUE(posted);
  ASSERT_EQ(posted->status, 201);
  std::string location = testing::bundleLocations(posted->body).at(0);
  std::string entity = location.substr(0, location.find("/_history"));
  ASSERT_TRUE(gateway.client(token)->Get(("/fhir/" + entity).c_str()));
  ASSERT_TRUE(gateway.client("forged.token.x")->Get("/fhir/Patient/x"));

  // Who: the clinic's events, in order: token, write, read.
  auto mine = searchUntil(gateway, admin, "?agent=" + clinic.id, 3);
  EXPECT_EQ(subtypes(mine), (std::vector<std::string>{"110122", "create", "read"}));
  const auto& write = mine["entry"][1]["resource"];
  EXPECT_STREQ(write["action"].GetString(), "C");
  EXPECT_STREQ(write["outcome"].GetString(), "0");
  EXPECT_STREQ(write["agent"][0]["network"]["address"].GetString(), "127.0.0.1");
  EXPECT_STREQ(write["agent"][0]["location"]["reference"].GetString(), "Organization/pkm-a");

  // What: by entity.
  auto about = searchUntil(gateway, admin, "?entity=" + entity, 2);
  EXPECT_EQ(subtypes(about), (std::vector<std::string>{"create", "read"}));

  // Failed authentication, recorded as such.
  auto anonymous = searchUntil(gateway, admin, "?agent=anonymous", 1);
  ASSERT_GE(anonymous["entry"].Size(), 1u);
  EXPECT_STREQ(anonymous["entry"][0]["resource"]["outcome"].GetString(), "4");
  EXPECT_STREQ(anonymous["entry"][0]["resource"]["type"]["code"].GetString(), "110114");

  // When: by date.
  auto today = searchUntil(gateway, admin, "?date=ge2000-01-01&date=lt2999-01-01&agent=" + clinic.id, 3);
  EXPECT_EQ(today["entry"].Size(), 3u);
  auto none = searchUntil(gateway, admin, "?date=lt2000-01-01", 0);
  EXPECT_EQ(none["entry"].Size(), 0u);

  // Paging with _count and the next link's cursor.
  auto page = searchUntil(gateway, admin, "?_count=2", 2);
  ASSERT_EQ(page["entry"].Size(), 2u);
  std::string next;
  for (const auto& l : page["link"].GetArray()) {
    if (std::string(l["relation"].GetString()) == "next") next = l["url"].GetString();
  }
  ASSERT_FALSE(next.empty());
  auto second = gateway.client(admin)->Get(next.substr(next.find("/fhir/")).c_str());
  ASSERT_TRUE(second);
  auto second_doc = parsedJson(second->body);
  ASSERT_GE(second_doc["entry"].Size(), 1u);
  EXPECT_STRNE(second_doc["entry"][0]["resource"]["id"].GetString(), page["entry"][1]["resource"]["id"].GetString());

  // Read one event; unknown parameters are refused rather than ignored.
  auto one = gateway.client(admin)->Get("/fhir/AuditEvent/1");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->status, 200);
  auto unknown = gateway.client(admin)->Get("/fhir/AuditEvent?patient=x");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 400);
}

TEST(AuditTest, FhirWritesAreAuditedWithTheirDataAndRefusalsToo) {
  GatewayProcess gateway(withAuth());
  testing::ClientCredentials clinic = gateway.addClient("clinic", "pkm-a");
  std::string token = gateway.fetchToken(clinic);
  std::string other = gateway.token("clinic", "pkm-b");
  std::string admin = gateway.token("admin");
  std::string patient =
      R"({"resourceType":"Patient","identifier":[{"system":"https://fhir.kemkes.go.id/id/nik","value":"3671015501990001"}],)"
      R"("name":[{"family":"Rahayu","given":["Sri"]}],"gender":"female","birthDate":"1999-01-15"})";
  auto created = gateway.client(token)->Post("/fhir/Patient", patient, "application/fhir+json");
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 201) << created->body;
  auto doc = parsedJson(created->body);
  std::string entity = std::string("Patient/") + doc["id"].GetString();
  auto refused = gateway.client(other)->Put(("/fhir/" + entity).c_str(), created->body, "application/fhir+json");
  ASSERT_TRUE(refused);
  ASSERT_EQ(refused->status, 403) << refused->body;
  auto about = searchUntil(gateway, admin, "?entity=" + entity, 2);
  ASSERT_EQ(about["entry"].Size(), 2u);
  EXPECT_EQ(subtypes(about), (std::vector<std::string>{"create", "update"}));
  const auto& write = about["entry"][0]["resource"];
  EXPECT_STREQ(write["action"].GetString(), "C");
  EXPECT_STREQ(write["outcome"].GetString(), "0");
  const auto& refusal = about["entry"][1]["resource"];
  EXPECT_STREQ(refusal["action"].GetString(), "U");
  EXPECT_STREQ(refusal["outcome"].GetString(), "4") << "the refused PUT is recorded as refused";
  std::string out;
  EXPECT_EQ(verify(gateway.dataDir(), out), 0) << out;
}

TEST(AuditTest, VerifyPassesOnAnUntouchedChain) {
  GatewayProcess gateway(withAuth());
  std::string token = gateway.token("clinic", "pkm-a");
  ASSERT_TRUE(gateway.client(token)->Post("/ingest/epuskesmas-json", testing::exampleVisit(), "application/json"));
  EXPECT_EQ(gateway.terminate(), 0);
  std::string out;
  EXPECT_EQ(verify(gateway.dataDir(), out), 0) << out;
  EXPECT_NE(out.find("audit chain ok"), std::string::npos) << out;
}

class AuditTamperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GatewayProcess gateway([&] {
      GatewayOptions o = withAuth();
      o.data_dir = data_.file("d");
      return o;
    }());
    std::string token = gateway.token("clinic", "pkm-a");
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(gateway.client(token)->Get("/fhir/Patient/x"));
    ASSERT_EQ(gateway.terminate(), 0);  // drains the queued audit events
    db_ = data_.file("d") + "/gateway.db";
    std::string out;
    ASSERT_EQ(verify(data_.file("d"), out), 0) << out;
  }
  testing::TempDir data_;
  std::string db_;
};

TEST_F(AuditTamperTest, EditedEventIsNamed) {
  execSql(db_, "UPDATE audit_event SET json = replace(json, '\"outcome\":\"4\"', '\"outcome\":\"0\"') WHERE seq = 3;"
               "UPDATE audit_event SET agent = 'someone-else' WHERE seq = 3");
  std::string out;
  EXPECT_EQ(verify(data_.file("d"), out), 1);
  EXPECT_NE(out.find("BROKEN at event 3"), std::string::npos) << out;
  EXPECT_NE(out.find("edited"), std::string::npos) << out;
}

TEST_F(AuditTamperTest, RehashedEditBreaksTheNextLink) {
  // An attacker who recomputes the edited row's own hash still breaks the
  // link stored in the next row.
  execSql(db_, "UPDATE audit_event SET hash = (CASE WHEN substr(hash, 1, 2) = 'ab' THEN 'cd' ELSE 'ab' END) || substr(hash, 3) WHERE seq = 2");
  std::string out;
  EXPECT_EQ(verify(data_.file("d"), out), 1);
  EXPECT_NE(out.find("BROKEN at event 2"), std::string::npos) << out;
}

TEST_F(AuditTamperTest, DeletedEventIsNamed) {
  execSql(db_, "DELETE FROM audit_event WHERE seq = 2");
  std::string out;
  EXPECT_EQ(verify(data_.file("d"), out), 1);
  EXPECT_NE(out.find("event 2 missing"), std::string::npos) << out;
}

TEST_F(AuditTamperTest, DeletedNewestEventsAreDetected) {
  execSql(db_, "DELETE FROM audit_event WHERE seq = (SELECT max(seq) FROM audit_event)");
  std::string out;
  EXPECT_EQ(verify(data_.file("d"), out), 1);
  EXPECT_NE(out.find("newest events deleted"), std::string::npos) << out;
}

TEST(AuditVerifyTest, MissingDatabaseIsAnError) {
  testing::TempDir dir;
  std::string out;
  std::string err;
  EXPECT_NE(testing::runGateway({"audit", "verify", "--data", dir.file("none")}, out, &err), 0);
}

}  // namespace
}  // namespace ilpgw
