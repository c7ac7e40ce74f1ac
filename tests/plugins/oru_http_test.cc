// hl7v2-oru end to end: an ORU^R01 posted over HTTPS to a running gateway
// becomes stored, valid FHIR that records the adapter version.
#include <gtest/gtest.h>

#include "base/json.h"
#include "test_support.h"

namespace ilpgw {
namespace {

using ilpgw::testing::GatewayOptions;
using ilpgw::testing::GatewayProcess;

TEST(Hl7v2OruHttpTest, PostedResultsAreStoredAsFhir) {
  GatewayOptions options;
  options.plugins = {"hl7v2-oru"};
  GatewayProcess gateway(options);
  auto client = gateway.client();
  std::string payload = ilpgw::testing::readFile(ilpgw::testing::sourceDir() + "/plugins/hl7v2-oru/samples/oru-batch.hl7");
  auto res = client->Post("/ingest/hl7v2-oru", payload, "x-application/hl7-v2+er7");
  ASSERT_TRUE(res) << "no answer";
  ASSERT_EQ(res->status, 201) << res->body;
  rapidjson::Document bundle;
  ASSERT_FALSE(json::parse(res->body, bundle));
  ASSERT_EQ(bundle["entry"].Size(), 9u);
  bool saw_observation = false;
  for (const auto& entry : bundle["entry"].GetArray()) {
    std::string location(json::string(entry["response"], "location"));
    if (location.rfind("Observation/", 0) != 0) continue;
    saw_observation = true;
    auto read = client->Get(("/fhir/" + location.substr(0, location.find("/_history"))).c_str());
    ASSERT_TRUE(read);
    ASSERT_EQ(read->status, 200);
    rapidjson::Document observation;
    ASSERT_FALSE(json::parse(read->body, observation));
    EXPECT_EQ(json::string(observation["meta"], "source"), "ilp-gateway/hl7v2-oru@1.0.0");
    EXPECT_EQ(json::string(observation["category"][0]["coding"][0], "code"), "laboratory");
    EXPECT_EQ(json::string(observation["code"]["coding"][0], "system"), "http://loinc.org");
  }
  EXPECT_TRUE(saw_observation);
  // text/plain is accepted too; a JSON body is not HL7 and is refused whole.
  EXPECT_EQ(client->Post("/ingest/hl7v2-oru", payload, "text/plain")->status, 201);
  auto garbage = client->Post("/ingest/hl7v2-oru", "{\"a\":1}", "text/plain");
  ASSERT_TRUE(garbage);
  EXPECT_EQ(garbage->status, 400) << garbage->body;
  // Records that fail are quarantined; the good message of the post is stored.
  std::string errors =
      ilpgw::testing::readFile(ilpgw::testing::sourceDir() + "/plugins/hl7v2-oru/samples/oru-errors.hl7");
  auto partial = client->Post("/ingest/hl7v2-oru", errors, "x-application/hl7-v2+er7");
  ASSERT_TRUE(partial);
  EXPECT_EQ(partial->status, 201) << partial->body;
  EXPECT_NE(partial->body.find("422 Unprocessable Entity"), std::string::npos);
  EXPECT_EQ(gateway.log().find("3201014502900003"), std::string::npos) << "NIK in the log";
}

}  // namespace
}  // namespace ilpgw
