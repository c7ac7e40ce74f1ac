// `ilp-gateway store reindex`: a store written before a search parameter
// existed has no index rows for it; the command gives every resource its
// rows from today's table without a new version. Real binary, real SQLite.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>

#include "durability_helpers.h"
#include "test_support.h"

namespace ilpgw {
namespace {

using testing::GatewayProcess;

std::int64_t total(const GatewayProcess& gateway, const std::string& query) {
  auto res = gateway.client()->Get(query.c_str());
  if (!res || res->status != 200) return -1;
  auto doc = testing::parseJson(res->body);
  return doc.HasMember("total") ? doc["total"].GetInt64() : -1;
}

TEST(StoreReindexTest, ResourcesStoredBeforeAParameterExistedBecomeSearchable) {
  GatewayProcess gateway;
  auto client = gateway.client();
  auto posted = client->Post("/fhir/Immunization",
                             R"({"resourceType":"Immunization","status":"completed","vaccineCode":{"coding":[{"system":"http://sys-ids.kemkes.go.id/kfa","code":"VG-BCG"}]},"patient":{"reference":"Patient/p1"},"occurrenceDateTime":"2024-11-26"})",
                             "application/fhir+json");
  ASSERT_TRUE(posted);
  ASSERT_EQ(posted->status, 201) << posted->body;
  ASSERT_EQ(total(gateway, "/fhir/Immunization?status=completed&_summary=count"), 1);

  // What a store written by an older gateway looks like: no rows for `status`.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((gateway.dataDir() + "/gateway.db").c_str(), &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 10000);
  ASSERT_EQ(sqlite3_exec(db, "DELETE FROM search_token WHERE key IN "
                         "(SELECT key FROM search_key WHERE type = 'Immunization' AND param = 'status')", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  ASSERT_EQ(total(gateway, "/fhir/Immunization?status=completed&_summary=count"), 0);

  std::string out;
  ASSERT_EQ(testing::runGateway({"store", "reindex", "--config", gateway.configPath()}, out), 0) << out;
  EXPECT_NE(out.find("reindexed 1 resources"), std::string::npos) << out;
  EXPECT_EQ(total(gateway, "/fhir/Immunization?status=completed&_summary=count"), 1);
  EXPECT_EQ(total(gateway, "/fhir/Immunization?vaccine-code=VG-BCG&_summary=count"), 1) << "other rows kept";
  auto history = testing::parseJson(client->Get("/fhir/Immunization/_history")->body);
  EXPECT_EQ(history["entry"].Size(), 1u) << "no new version";
}

}  // namespace
}  // namespace ilpgw
