// What an adapter stores is searchable: the real gateway binary with the
// epuskesmas-json plugin loaded from disk ingests a native visit, and the
// FHIR API finds every resource it produced by the national puller's
// parameters and exports them.
#include <gtest/gtest.h>

#include <thread>

#include "base/json.h"
#include "test_support.h"

namespace ilpgw {
namespace {

std::int64_t total(httplib::Client& client, const std::string& path) {
  auto res = client.Get(path.c_str());
  EXPECT_TRUE(res);
  if (!res) return -1;
  EXPECT_EQ(res->status, 200) << path << ": " << res->body;
  rapidjson::Document doc;
  EXPECT_FALSE(json::parse(res->body, doc).has_value());
  const auto* t = json::member(doc, "total");
  return t != nullptr && t->IsInt64() ? t->GetInt64() : -1;
}

TEST(AdapterIngestSearchTest, IngestedVisitIsSearchableAndExported) {
  testing::GatewayProcess gateway;
  auto client = gateway.client();
  std::string visit = testing::readFile(testing::sourceDir() + "/docs/examples/epuskesmas-visit.json");
  auto res = client->Post("/ingest/epuskesmas-json", visit, "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 201) << res->body;

  auto found = client->Get("/fhir/Patient?identifier=https://fhir.kemkes.go.id/id/nik%7C6203011204580003");
  ASSERT_TRUE(found);
  ASSERT_EQ(found->status, 200) << found->body;
  rapidjson::Document bundle;
  ASSERT_FALSE(json::parse(found->body, bundle).has_value());
  ASSERT_EQ(bundle["total"].GetInt64(), 1);
  std::string patient = bundle["entry"][0]["resource"]["id"].GetString();

  EXPECT_EQ(total(*client, "/fhir/Patient?gender=male&birthdate=1958-04-12"), 1);
  EXPECT_EQ(total(*client, "/fhir/Encounter?patient=" + patient + "&date=ge2024-11-27&date=lt2024-11-28"), 1);
  EXPECT_GT(total(*client, "/fhir/Observation?patient=" + patient + "&category=vital-signs"), 0);
  EXPECT_EQ(total(*client, "/fhir/Condition?patient=" + patient + "&code=I10"), 1);
  EXPECT_EQ(total(*client, "/fhir/MedicationRequest?patient=" + patient), 1);

  auto kick = client->Get("/fhir/Patient/$export?_type=Patient,Condition", {{"Prefer", "respond-async"}});
  ASSERT_TRUE(kick);
  ASSERT_EQ(kick->status, 202) << kick->body;
  std::string status = kick->get_header_value("Content-Location");
  status = status.substr(status.find("/fhir/"));
  auto poll = client->Get(status.c_str());
  for (int i = 0; i < 200 && poll && poll->status == 202; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    poll = client->Get(status.c_str());
  }
  ASSERT_TRUE(poll);
  ASSERT_EQ(poll->status, 200) << poll->body;
  rapidjson::Document manifest;
  ASSERT_FALSE(json::parse(poll->body, manifest).has_value());
  std::int64_t exported = 0;
  for (const auto& out : manifest["output"].GetArray()) exported += out["count"].GetInt64();
  EXPECT_EQ(exported, 3);  // the patient and both diagnoses
}

}  // namespace
}  // namespace ilpgw
