// The SATUSEHAT simulator's transaction Bundles, through the real simulator
// binary over TLS on 127.0.0.1: one visit (Encounter, two Conditions, an
// Observation) posted as one Bundle with urn:uuid references is kept with
// the ids the platform assigns and every reference rewritten; one entry
// breaking a platform rule, or a urn:uuid outside the Bundle, refuses the
// whole Bundle and nothing of it is kept; faults apply to Bundles too.
#include "satusehat_simulator.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "durability_helpers.h"
#include "test_support.h"

namespace ilpgw {
namespace {

using testing::SatusehatSimulator;

constexpr const char* kPatientIhs = "P02478375538";
constexpr const char* kPractitionerIhs = "10009880728";

std::string seed() {
  return R"({"organizations":[)"
         R"({"id":"100011","client_id":"client-selat","client_secret":"secret-selat","locations":["loc-100011"]},)"
         R"({"id":"100012","client_id":"client-bataguh","client_secret":"secret-bataguh","locations":["loc-100012"]}],)"
         R"("patients":[{"nik":"6203011204580001","ihs":")" +
         std::string(kPatientIhs) + R"("}],"practitioners":[{"nik":"6203015203800001","ihs":")" + kPractitionerIhs +
         R"("}]})";
}

std::string encounterResource(const std::string& org, const std::string& visit, const std::string& diagnosis) {
  return R"({"resourceType":"Encounter","status":"finished",)"
         R"("identifier":[{"system":"http://sys-ids.kemkes.go.id/encounter/)" +
         org + R"(","value":")" + visit +
         R"("}],"class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},)"
         R"("statusHistory":[{"status":"arrived","period":{"start":"2026-11-02T01:00:00+00:00",)"
         R"("end":"2026-11-02T01:10:00+00:00"}},{"status":"finished","period":{"start":"2026-11-02T01:40:00+00:00",)"
         R"("end":"2026-11-02T01:40:00+00:00"}}],)"
         R"("period":{"start":"2026-11-02T01:00:00+00:00","end":"2026-11-02T01:40:00+00:00"},)"
         R"("subject":{"reference":"Patient/)" +
         kPatientIhs + R"("},"participant":[{"individual":{"reference":"Practitioner/)" + kPractitionerIhs +
         R"("}}],"location":[{"location":{"reference":"Location/loc-)" + org +
         R"("}}],"serviceProvider":{"reference":"Organization/)" + org + R"("},"diagnosis":[)" + diagnosis + "]}";
}

std::string conditionResource(const std::string& encounter, const std::string& codings) {
  return R"({"resourceType":"Condition","clinicalStatus":{"coding":[{"system":)"
         R"("http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},"code":{"coding":[)" +
         codings + R"(]},"subject":{"reference":"Patient/)" + kPatientIhs + R"("},"encounter":{"reference":")" +
         encounter + R"("},"recordedDate":"2026-11-02T01:30:00+00:00"})";
}

std::string icd10(const std::string& code) {
  return R"({"system":"http://hl7.org/fhir/sid/icd-10","code":")" + code + R"("})";
}

std::string observationResource(const std::string& encounter) {
  return R"({"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org",)"
         R"("code":"8867-4"}]},"subject":{"reference":"Patient/)" +
         std::string(kPatientIhs) + R"("},"encounter":{"reference":")" + encounter +
         R"("},"effectiveDateTime":"2026-11-02T01:15:00+00:00","valueQuantity":{"value":80,"unit":"{beats}/min"}})";
}

std::string entry(const std::string& full_url, const std::string& resource, const std::string& method,
                  const std::string& url) {
  return R"({"fullUrl":")" + full_url + R"(","resource":)" + resource + R"(,"request":{"method":")" + method +
         R"(","url":")" + url + R"("}})";
}

std::string bundle(const std::vector<std::string>& entries, const std::string& type = "transaction") {
  std::string s = R"({"resourceType":"Bundle","type":")" + type + R"(","entry":[)";
  for (size_t i = 0; i < entries.size(); ++i) s += (i ? "," : "") + entries[i];
  return s + "]}";
}

constexpr const char* kEncounterUrn = "urn:uuid:6f1c2a1e-3d9b-4c57-9a0e-1f2b3c4d5e01";
constexpr const char* kCondition1Urn = "urn:uuid:6f1c2a1e-3d9b-4c57-9a0e-1f2b3c4d5e02";
constexpr const char* kCondition2Urn = "urn:uuid:6f1c2a1e-3d9b-4c57-9a0e-1f2b3c4d5e03";
constexpr const char* kObservationUrn = "urn:uuid:6f1c2a1e-3d9b-4c57-9a0e-1f2b3c4d5e04";

std::string diagnosisOf(const std::vector<std::string>& conditions) {
  std::string s;
  for (size_t i = 0; i < conditions.size(); ++i) {
    s += (i ? "," : "") + std::string(R"({"condition":{"reference":")") + conditions[i] + R"("},"rank":)" +
         std::to_string(i + 1) + "}";
  }
  return s;
}

// One visit of organization `org`: the Encounter referencing its two
// diagnoses, the diagnoses and a pulse referencing the Encounter, all by
// urn:uuid. `second_codings`: the second diagnosis' codings;
// `observation_encounter`: what the pulse names as its Encounter.
std::string visitBundle(const std::string& org, const std::string& visit,
                        const std::string& second_codings = icd10("E11.9"),
                        const std::string& observation_encounter = kEncounterUrn) {
  return bundle({entry(kEncounterUrn, encounterResource(org, visit, diagnosisOf({kCondition1Urn, kCondition2Urn})),
                       "POST", "Encounter"),
                 entry(kCondition1Urn, conditionResource(kEncounterUrn, icd10("I10")), "POST", "Condition"),
                 entry(kCondition2Urn, conditionResource(kEncounterUrn, second_codings), "POST", "Condition"),
                 entry(kObservationUrn, observationResource(observation_encounter), "POST", "Observation")});
}

class SatusehatSimulatorTest : public ::testing::Test {
 protected:
  std::unique_ptr<httplib::Client> client() const {
    auto c = std::make_unique<httplib::Client>("https://127.0.0.1:" + std::to_string(sim_.port()));
    c->set_ca_cert_path((testing::devCertDir() / "ca.crt").c_str());
    c->enable_server_certificate_verification(true);
    c->set_read_timeout(10);
    return c;
  }

  // A bearer token of the platform's client for one organization.
  std::string token(const std::string& client_id, const std::string& secret) const {
    auto res =
        client()->Post("/oauth2/v1/accesstoken?grant_type=client_credentials",
                       "client_id=" + client_id + "&client_secret=" + secret, "application/x-www-form-urlencoded");
    EXPECT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
    auto doc = testing::parseJson(res ? res->body : "{}");
    return doc.HasMember("access_token") ? doc["access_token"].GetString() : "";
  }

  httplib::Result postBundle(const std::string& bearer, const std::string& body) const {
    httplib::Headers headers;
    if (!bearer.empty()) headers.emplace("Authorization", "Bearer " + bearer);
    return client()->Post("/fhir-r4/v1", headers, body, "application/fhir+json");
  }

  rapidjson::Document read(const std::string& bearer, const std::string& reference) const {
    auto res = client()->Get(("/fhir-r4/v1/" + reference).c_str(), {{"Authorization", "Bearer " + bearer}});
    EXPECT_TRUE(res && res->status == 200) << reference << ": " << (res ? res->body : "no answer");
    return testing::parseJson(res ? res->body : "{}");
  }

  // How many resources of each type the platform holds.
  std::map<std::string, int> held() const {
    auto state = sim_.state(true);
    std::map<std::string, int> counts;
    for (const auto& [type, list] : state["resources"].GetObject()) {
      if (!list.Empty()) counts[type.GetString()] = static_cast<int>(list.Size());
    }
    return counts;
  }

  // The single issue of a refusal: (details.text, expression[0]).
  static std::pair<std::string, std::string> issue(const httplib::Result& res) {
    auto doc = testing::parseJson(res ? res->body : "{}");
    EXPECT_EQ(json::string(doc, "resourceType"), "OperationOutcome");
    if (!doc.HasMember("issue") || !doc["issue"].IsArray() || doc["issue"].Size() != 1) return {};
    const auto& i = doc["issue"][0];
    std::string text(i.HasMember("details") ? json::string(i["details"], "text") : "");
    std::string expression = i.HasMember("expression") ? i["expression"][0].GetString() : "";
    return {text, expression};
  }

  SatusehatSimulator sim_{seed()};
};

TEST_F(SatusehatSimulatorTest, TransactionKeepsAVisitWithAssignedIdsAndEveryReferenceRewritten) {
  std::string selat = token("client-selat", "secret-selat");
  auto res = postBundle(selat, visitBundle("100011", "K-2026-0001"));
  ASSERT_TRUE(res) << "no answer";
  ASSERT_EQ(res->status, 200) << res->body;
  auto answer = testing::parseJson(res->body);
  EXPECT_EQ(json::string(answer, "resourceType"), "Bundle");
  EXPECT_EQ(json::string(answer, "type"), "transaction-response");
  ASSERT_TRUE(answer["entry"].IsArray());
  ASSERT_EQ(answer["entry"].Size(), 4u);

  // One response per entry, in order, each naming a new platform id.
  const std::vector<std::string> types = {"Encounter", "Condition", "Condition", "Observation"};
  std::vector<std::string> ids;
  static const std::regex location(R"(^([A-Za-z]+)/([0-9a-f\-]+)/_history/1$)");
  for (rapidjson::SizeType i = 0; i < 4; ++i) {
    const auto& response = answer["entry"][i]["response"];
    EXPECT_EQ(json::string(response, "status"), "201 Created");
    EXPECT_EQ(json::string(response, "etag"), "W/\"1\"");
    std::string where(json::string(response, "location"));
    std::smatch m;
    ASSERT_TRUE(std::regex_match(where, m, location)) << where;
    EXPECT_EQ(m[1].str(), types[i]);
    ids.push_back(m[2].str());
  }
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 4u);

  // What GET answers is what the locations name, with the urn:uuid
  // references rewritten to the assigned ids (forward ones too: the
  // Encounter names its diagnoses before they appear in the Bundle).
  std::vector<rapidjson::Document> stored;
  stored.reserve(4);
  for (size_t i = 0; i < 4; ++i) {
    stored.push_back(read(selat, types[i] + "/" + ids[i]));
    EXPECT_EQ(json::string(stored[i], "id"), ids[i]);
    EXPECT_EQ(json::string(stored[i]["meta"], "versionId"), "1");
    EXPECT_EQ(json::string(stored[i]["subject"], "reference"), std::string("Patient/") + kPatientIhs);
    EXPECT_EQ(json::write(stored[i]).find("urn:uuid"), std::string::npos) << json::write(stored[i]);
  }
  const auto& encounter = stored[0];
  ASSERT_EQ(encounter["diagnosis"].Size(), 2u);
  EXPECT_EQ(json::string(encounter["diagnosis"][0]["condition"], "reference"), "Condition/" + ids[1]);
  EXPECT_EQ(json::string(encounter["diagnosis"][1]["condition"], "reference"), "Condition/" + ids[2]);
  for (size_t i = 1; i < 4; ++i) {
    EXPECT_EQ(json::string(stored[i]["encounter"], "reference"), "Encounter/" + ids[0]) << types[i];
  }
  EXPECT_EQ(json::string(stored[1]["code"]["coding"][0], "code"), "I10");
  EXPECT_EQ(json::string(stored[2]["code"]["coding"][0], "code"), "E11.9");

  // The inspection routes and the identifier search see what the Bundle kept.
  auto state = sim_.state();
  EXPECT_EQ(state["created"]["Encounter"].GetInt(), 1);
  EXPECT_EQ(state["created"]["Condition"].GetInt(), 2);
  EXPECT_EQ(state["created"]["Observation"].GetInt(), 1);
  EXPECT_EQ(state["transactions"].GetInt(), 1);
  EXPECT_EQ(state["encounterCopies"]["K-2026-0001"].GetInt(), 1);
  auto search =
      client()->Get("/fhir-r4/v1/Encounter?identifier=http://sys-ids.kemkes.go.id/encounter/100011|K-2026-0001",
                    {{"Authorization", "Bearer " + selat}});
  ASSERT_TRUE(search && search->status == 200);
  auto found = testing::parseJson(search->body);
  ASSERT_EQ(found["total"].GetInt(), 1);
  EXPECT_EQ(json::string(found["entry"][0]["resource"], "id"), ids[0]);

  // A later Bundle updates the Encounter by its platform id (PUT) and adds a
  // third diagnosis it references by urn:uuid.
  const std::string third = "urn:uuid:6f1c2a1e-3d9b-4c57-9a0e-1f2b3c4d5e05";
  std::string updated =
      encounterResource("100011", "K-2026-0001", diagnosisOf({"Condition/" + ids[1], "Condition/" + ids[2], third}));
  testing::replaceOnce(updated, R"({"resourceType":"Encounter",)",
                       R"({"resourceType":"Encounter","id":")" + ids[0] + R"(",)");
  res = postBundle(
      selat, bundle({entry("Encounter/" + ids[0], updated, "PUT", "Encounter/" + ids[0]),
                     entry(third, conditionResource("Encounter/" + ids[0], icd10("J06.9")), "POST", "Condition")}));
  ASSERT_TRUE(res) << "no answer";
  ASSERT_EQ(res->status, 200) << res->body;
  answer = testing::parseJson(res->body);
  EXPECT_EQ(json::string(answer["entry"][0]["response"], "status"), "200 OK");
  EXPECT_EQ(json::string(answer["entry"][0]["response"], "location"), "Encounter/" + ids[0] + "/_history/2");
  EXPECT_EQ(json::string(answer["entry"][1]["response"], "status"), "201 Created");
  std::string added(json::string(answer["entry"][1]["response"], "location"));
  added = added.substr(0, added.find("/_history"));
  auto encounter2 = read(selat, "Encounter/" + ids[0]);
  EXPECT_EQ(json::string(encounter2["meta"], "versionId"), "2");
  ASSERT_EQ(encounter2["diagnosis"].Size(), 3u);
  EXPECT_EQ(json::string(encounter2["diagnosis"][2]["condition"], "reference"), added);
  auto condition3 = read(selat, added);
  EXPECT_EQ(json::string(condition3["code"]["coding"][0], "code"), "J06.9");
  EXPECT_EQ(held(), (std::map<std::string, int>{{"Condition", 3}, {"Encounter", 1}, {"Observation", 1}}));
}

TEST_F(SatusehatSimulatorTest, OneEntryBreakingARuleRefusesTheWholeBundle) {
  std::string selat = token("client-selat", "secret-selat");
  std::string bataguh = token("client-bataguh", "secret-bataguh");

  // The second diagnosis (entry 2) carries two ICD-10 codes.
  auto res = postBundle(selat, visitBundle("100011", "K-2026-0002", icd10("E11.9") + "," + icd10("I10")));
  ASSERT_TRUE(res) << "no answer";
  EXPECT_EQ(res->status, 400) << res->body;
  auto [text, expression] = issue(res);
  EXPECT_NE(text.find("exactly one ICD-10 coding"), std::string::npos) << text;
  EXPECT_EQ(expression, "Bundle.entry[2].resource.code.coding");
  EXPECT_TRUE(held().empty());

  // The Bundle of Selat's visit sent with Bataguh's client: rule 10117 on
  // the Encounter (entry 0), as for a single request.
  res = postBundle(bataguh, visitBundle("100011", "K-2026-0003"));
  ASSERT_TRUE(res) << "no answer";
  EXPECT_EQ(res->status, 400) << res->body;
  std::tie(text, expression) = issue(res);
  EXPECT_NE(text.find("RuleNumber: 10117"), std::string::npos) << text;
  EXPECT_EQ(expression, "Bundle.entry[0].resource.identifier[0].system");

  // Everything else of a Bundle is right but its last entry names a Location
  // of another organization: still nothing of it is kept.
  std::string visit = visitBundle("100011", "K-2026-0004");
  testing::replaceOnce(visit, R"("code":"8867-4"}]},)",
                       R"("code":"8867-4"}]},"performer":[{"reference":"Location/loc-100012"}],)");
  res = postBundle(selat, visit);
  ASSERT_TRUE(res) << "no answer";
  EXPECT_EQ(res->status, 400) << res->body;
  std::tie(text, expression) = issue(res);
  EXPECT_NE(text.find("unknown resource: Location/loc-100012"), std::string::npos) << text;
  EXPECT_EQ(expression, "Bundle.entry[3].resource.performer[0].reference");

  auto state = sim_.state();
  EXPECT_TRUE(held().empty());
  EXPECT_EQ(state["created"].MemberCount(), 0u);
  EXPECT_EQ(state["encounterCopies"].MemberCount(), 0u);
  EXPECT_EQ(state["transactions"].GetInt(), 3);
  auto search =
      client()->Get("/fhir-r4/v1/Encounter?identifier=http://sys-ids.kemkes.go.id/encounter/100011|K-2026-0004",
                    {{"Authorization", "Bearer " + selat}});
  ASSERT_TRUE(search && search->status == 200);
  EXPECT_EQ(testing::parseJson(search->body)["total"].GetInt(), 0);

  // The same visit, corrected, goes through whole.
  res = postBundle(selat, visitBundle("100011", "K-2026-0002"));
  ASSERT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
  EXPECT_EQ(held(), (std::map<std::string, int>{{"Condition", 2}, {"Encounter", 1}, {"Observation", 1}}));
}

TEST_F(SatusehatSimulatorTest, UrnUuidOutsideTheBundleIsAnUnknownReference) {
  std::string selat = token("client-selat", "secret-selat");
  const std::string stray = "urn:uuid:0b7e1d52-9c4a-4e3f-8d21-5a6b7c8d9e0f";
  auto res = postBundle(selat, visitBundle("100011", "K-2026-0005", icd10("E11.9"), stray));
  ASSERT_TRUE(res) << "no answer";
  EXPECT_EQ(res->status, 400) << res->body;
  auto [text, expression] = issue(res);
  EXPECT_EQ(text, "Reference to an unknown resource: " + stray);
  EXPECT_EQ(expression, "Bundle.entry[3].resource.encounter.reference");
  EXPECT_TRUE(held().empty());

  // A urn:uuid entry referenced by a single request (outside any Bundle)
  // is unknown as well.
  httplib::Headers headers = {{"Authorization", "Bearer " + selat}};
  res = client()->Post("/fhir-r4/v1/Observation", headers, observationResource(kEncounterUrn), "application/fhir+json");
  ASSERT_TRUE(res) << "no answer";
  EXPECT_EQ(res->status, 400) << res->body;
  std::tie(text, expression) = issue(res);
  EXPECT_EQ(text, std::string("Reference to an unknown resource: ") + kEncounterUrn);
  EXPECT_EQ(expression, "Observation.encounter.reference");
  EXPECT_TRUE(held().empty());
}

TEST_F(SatusehatSimulatorTest, TransactionNeedsATokenTheTransactionTypeAndPostOrPut) {
  std::string selat = token("client-selat", "secret-selat");
  auto res = postBundle("", visitBundle("100011", "K-2026-0006"));
  ASSERT_TRUE(res) << "no answer";
  EXPECT_EQ(res->status, 401);

  std::string batch = visitBundle("100011", "K-2026-0006");
  testing::replaceOnce(batch, R"("type":"transaction")", R"("type":"batch")");
  res = postBundle(selat, batch);
  ASSERT_TRUE(res) << "no answer";
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(issue(res).second, "Bundle.type");

  std::string removal = visitBundle("100011", "K-2026-0006");
  testing::replaceOnce(removal, R"("method":"POST","url":"Observation")", R"("method":"DELETE","url":"Observation")");
  res = postBundle(selat, removal);
  ASSERT_TRUE(res) << "no answer";
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(issue(res).second, "Bundle.entry[3].request.method");

  // An update of an id the platform does not have: 404, as for a single PUT.
  std::string unknown = encounterResource("100011", "K-2026-0006", "");
  testing::replaceOnce(unknown, R"({"resourceType":"Encounter",)", R"({"resourceType":"Encounter","id":"nope",)");
  res = postBundle(selat, bundle({entry("Encounter/nope", unknown, "PUT", "Encounter/nope")}));
  ASSERT_TRUE(res) << "no answer";
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(issue(res).second, "Bundle.entry[0].request.url");
  EXPECT_TRUE(held().empty());
}

TEST_F(SatusehatSimulatorTest, FaultsApplyToBundles) {
  std::string selat = token("client-selat", "secret-selat");
  // A 503 for the next Bundle: nothing kept.
  sim_.failNext(1, 503, "", "Bundle");
  auto res = postBundle(selat, visitBundle("100011", "K-2026-0007"));
  ASSERT_TRUE(res) << "no answer";
  EXPECT_EQ(res->status, 503);
  EXPECT_TRUE(held().empty());

  // Kept, then the connection drops inside the answer: the caller has no
  // answer, the platform has the whole visit.
  sim_.dropNext(1);
  res = postBundle(selat, visitBundle("100011", "K-2026-0007"));
  EXPECT_FALSE(res && res->status == 200) << "an answer arrived";
  EXPECT_EQ(held(), (std::map<std::string, int>{{"Condition", 2}, {"Encounter", 1}, {"Observation", 1}}));
  EXPECT_EQ(sim_.state()["injected"].GetInt(), 2);
}

}  // namespace
}  // namespace ilpgw
