// End-to-end tests of the foundation: the real gateway binary over real TLS
// on a loopback port, the real epuskesmas-json plugin and a real SQLite store.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <set>

#include "base/json.h"
#include "test_support.h"

namespace ilpgw {
namespace {

using testing::GatewayOptions;
using testing::GatewayProcess;

std::string exampleVisit() { return testing::readFile(testing::sourceDir() + "/docs/examples/epuskesmas-visit.json"); }

rapidjson::Document parsed(const std::string& body) {
  rapidjson::Document doc;
  auto error = json::parse(body, doc);
  EXPECT_FALSE(error.has_value()) << *error << "\n" << body;
  return doc;
}

// Locations (Type/id/_history/v) of a batch-response Bundle.
std::vector<std::string> locations(const rapidjson::Document& bundle) {
  std::vector<std::string> out;
  if (!bundle.HasMember("entry")) return out;
  for (const auto& entry : bundle["entry"].GetArray()) {
    const auto& response = entry["response"];
    if (response.HasMember("location")) out.emplace_back(response["location"].GetString());
  }
  return out;
}

std::string firstIssueCode(const std::string& body) {
  auto doc = parsed(body);
  if (!doc.IsObject() || !doc.HasMember("issue")) return "";
  return doc["issue"][0]["code"].GetString();
}

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { gateway_ = new GatewayProcess(); }
  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
  }
  httplib::Result postVisit(const std::string& body, const std::string& type = "application/json") {
    return gateway_->client()->Post("/ingest/epuskesmas-json", body, type.c_str());
  }
  static GatewayProcess* gateway_;
};
GatewayProcess* ServerTest::gateway_ = nullptr;

TEST_F(ServerTest, PostedVisitIsStoredAndReadBack) {
  auto res = postVisit(exampleVisit());
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  ASSERT_EQ(res->status, 201) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/fhir+json");
  auto bundle = parsed(res->body);
  EXPECT_STREQ(bundle["resourceType"].GetString(), "Bundle");
  EXPECT_STREQ(bundle["type"].GetString(), "batch-response");

  std::set<std::string> types;
  for (const auto& location : locations(bundle)) {
    types.insert(location.substr(0, location.find('/')));
    std::string path = "/fhir/" + location.substr(0, location.find("/_history"));
    auto read = gateway_->client()->Get(path.c_str());
    ASSERT_TRUE(read);
    ASSERT_EQ(read->status, 200) << path;
    EXPECT_FALSE(read->get_header_value("ETag").empty());
    EXPECT_FALSE(read->get_header_value("Last-Modified").empty());
    auto resource = parsed(read->body);
    EXPECT_EQ(std::string(resource["resourceType"].GetString()), location.substr(0, location.find('/')));
    EXPECT_TRUE(resource["meta"].HasMember("versionId"));
    EXPECT_TRUE(resource["meta"].HasMember("lastUpdated"));
  }
  for (const char* type : {"Patient", "Practitioner", "Encounter", "Observation", "Condition", "MedicationRequest"}) {
    EXPECT_TRUE(types.count(type)) << "missing " << type;
  }
}

TEST_F(ServerTest, PostingTheSameVisitTwiceYieldsTheSameResources) {
  auto first = postVisit(exampleVisit());
  auto second = postVisit(exampleVisit());
  ASSERT_TRUE(first && second);
  ASSERT_EQ(second->status, 201);
  auto a = locations(parsed(first->body));
  auto b = locations(parsed(second->body));
  EXPECT_EQ(a, b) << "same ids and the same versions: nothing changed";
  auto second_bundle = parsed(second->body);
  for (const auto& entry : second_bundle["entry"].GetArray()) {
    EXPECT_STREQ(entry["response"]["status"].GetString(), "200 OK");
  }
}

TEST_F(ServerTest, ChangedContentMakesANewVersionOfTheSameId) {
  std::string visit = exampleVisit();
  auto first = postVisit(visit);
  std::string changed = visit;
  changed.replace(changed.find("\"nadi\": 80"), 10, "\"nadi\": 96");
  auto second = postVisit(changed);
  ASSERT_TRUE(first && second);
  ASSERT_EQ(second->status, 201) << second->body;
  auto before = locations(parsed(first->body));
  auto after = locations(parsed(second->body));
  ASSERT_EQ(before.size(), after.size());
  int updated = 0;
  for (size_t i = 0; i < before.size(); ++i) {
    auto id_of = [](const std::string& l) { return l.substr(0, l.find("/_history")); };
    EXPECT_EQ(id_of(before[i]), id_of(after[i]));
    if (before[i] != after[i]) ++updated;
  }
  EXPECT_EQ(updated, 1) << "only the heart-rate Observation changed";
}

TEST_F(ServerTest, ArrayOfVisitsAnswersPerRecordAndKeepsGoodNeighbours) {
  std::string good = exampleVisit();
  std::string bad = good;
  bad.replace(bad.find("\"jk\": \"L\""), 9, "\"jk\": \"X\"");
  bad.replace(bad.find("KJ-2024-007781"), 14, "KJ-2024-007782");
  auto res = postVisit("[" + good + "," + bad + "]");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 201) << res->body;
  auto bundle = parsed(res->body);
  bool saw_refusal = false;
  bool saw_stored = false;
  for (const auto& entry : bundle["entry"].GetArray()) {
    std::string record = entry["extension"][0]["valueString"].GetString();
    std::string status = entry["response"]["status"].GetString();
    if (record == "record[1]") {
      EXPECT_EQ(status, "422 Unprocessable Entity");
      std::string outcome = json::write(entry["response"]["outcome"]);
      EXPECT_NE(outcome.find("record[1].pasien.jk"), std::string::npos) << outcome;
      saw_refusal = true;
    } else {
      EXPECT_EQ(record, "record[0]");
      saw_stored = true;
    }
  }
  EXPECT_TRUE(saw_refusal && saw_stored);
}

TEST_F(ServerTest, MalformedJsonIs400WithOperationOutcome) {
  auto res = postVisit("{\"id_kunjungan\": ");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  auto doc = parsed(res->body);
  EXPECT_STREQ(doc["resourceType"].GetString(), "OperationOutcome");
}

TEST_F(ServerTest, UnmappableRecordIs422) {
  auto res = postVisit(R"({"id_kunjungan": "KJ-1", "waktu": "kemarin"})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 422) << res->body;
  EXPECT_STREQ(parsed(res->body)["resourceType"].GetString(), "OperationOutcome");
}

TEST_F(ServerTest, UnknownAdapterIs404) {
  auto res = gateway_->client()->Post("/ingest/sikda-xml", "<x/>", "application/xml");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(firstIssueCode(res->body), "not-found");
}

TEST_F(ServerTest, WrongContentTypeIs415) {
  auto res = postVisit("a,b\n1,2\n", "text/csv");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 415);
  EXPECT_EQ(firstIssueCode(res->body), "not-supported");
}

TEST_F(ServerTest, CurlDefaultFormContentTypeIsAccepted) {
  auto res = postVisit(exampleVisit(), "application/x-www-form-urlencoded");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 201);
}

TEST_F(ServerTest, UnknownResourceAndRouteAre404) {
  auto res = gateway_->client()->Get("/fhir/Patient/does-not-exist");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(firstIssueCode(res->body), "not-found");
  res = gateway_->client()->Get("/no/such/route");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_STREQ(parsed(res->body)["resourceType"].GetString(), "OperationOutcome");
}

TEST_F(ServerTest, NotModifiedWhenETagMatches) {
  auto posted = postVisit(exampleVisit());
  ASSERT_TRUE(posted);
  auto loc = locations(parsed(posted->body)).at(0);
  std::string path = "/fhir/" + loc.substr(0, loc.find("/_history"));
  auto first = gateway_->client()->Get(path.c_str());
  ASSERT_TRUE(first);
  httplib::Headers headers = {{"If-None-Match", first->get_header_value("ETag")}};
  auto second = gateway_->client()->Get(path.c_str(), headers);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 304);
  auto vread = gateway_->client()->Get(("/fhir/" + loc).c_str());
  ASSERT_TRUE(vread);
  EXPECT_EQ(vread->status, 200);
}

TEST_F(ServerTest, MetadataDescribesTheServer) {
  auto res = gateway_->client()->Get("/fhir/metadata");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  auto doc = parsed(res->body);
  EXPECT_STREQ(doc["resourceType"].GetString(), "CapabilityStatement");
  EXPECT_STREQ(doc["fhirVersion"].GetString(), "4.0.1");
  bool has_patient = false;
  for (const auto& r : doc["rest"][0]["resource"].GetArray()) {
    if (std::string(r["type"].GetString()) == "Patient") has_patient = true;
  }
  EXPECT_TRUE(has_patient);
}

TEST_F(ServerTest, AdminPluginsListsLoadedAdapters) {
  auto res = gateway_->client()->Get("/admin/plugins");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  auto doc = parsed(res->body);
  ASSERT_EQ(doc["plugins"].Size(), 1u);
  const auto& plugin = doc["plugins"][0];
  EXPECT_STREQ(plugin["name"].GetString(), "epuskesmas-json");
  EXPECT_TRUE(plugin["version"].IsString());
  EXPECT_GT(plugin["formats"].Size(), 0u);
}

TEST_F(ServerTest, KeepsServingManyRequestsOnOneConnection) {
  auto client = gateway_->client();
  client->set_keep_alive(true);
  for (int i = 0; i < 50; ++i) {
    auto res = client->Get("/health");
    ASSERT_TRUE(res) << "request " << i;
    ASSERT_EQ(res->status, 200);
  }
}

TEST(ServerLimitsTest, PayloadOverTheLimitIs413) {
  GatewayProcess gateway([] { GatewayOptions o; o.server_config = R"("payload_max_bytes": 2048)"; return o; }());
  std::string big(4096, ' ');
  big.front() = '[';
  big.back() = ']';
  auto res = gateway.client()->Post("/ingest/epuskesmas-json", big, "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  EXPECT_STREQ(parsed(res->body)["resourceType"].GetString(), "OperationOutcome");
  auto after = gateway.client()->Get("/health");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200) << "the gateway keeps serving";
}

TEST(ServerTlsTest, RefusesTls11) {
  GatewayProcess gateway;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_1_VERSION);
  SSL_CTX_set_security_level(ctx, 0);
  BIO* bio = BIO_new_ssl_connect(ctx);
  std::string target = "127.0.0.1:" + std::to_string(gateway.port());
  BIO_set_conn_hostname(bio, target.c_str());
  EXPECT_LE(BIO_do_connect(bio), 0) << "a TLS 1.1 handshake must fail";
  BIO_free_all(bio);
  SSL_CTX_free(ctx);
  auto res = gateway.client()->Get("/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << "TLS 1.2+ works";
}

TEST(ServerShutdownTest, SigtermExitsCleanlyAndDataSurvivesRestart) {
  testing::TempDir data;
  std::string location;
  {
    GatewayProcess gateway([&] { GatewayOptions o; o.data_dir = data.file("d"); return o; }());
    auto res = gateway.client()->Post("/ingest/epuskesmas-json", exampleVisit(), "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 201);
    location = locations(parsed(res->body)).at(0);
    EXPECT_EQ(gateway.terminate(), 0);
  }
  GatewayProcess again([&] { GatewayOptions o; o.data_dir = data.file("d"); return o; }());
  auto read = again.client()->Get(("/fhir/" + location).c_str());
  ASSERT_TRUE(read);
  EXPECT_EQ(read->status, 200);
}

}  // namespace
}  // namespace ilpgw
