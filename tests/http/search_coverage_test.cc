// Every resource type the gateway stores can be fetched for one patient the
// way a national puller does it (patient, code, date, status), and
// _revinclude brings a patient's records along, tenant-filtered. Real
// gateway, real SQLite, HTTPS on 127.0.0.1.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "api_fixture.h"
#include "durability_helpers.h"
#include "fhir/fhir_validator.h"
#include "fhir/search_params.h"
#include "test_support.h"

namespace ilpgw::apitest {
namespace {

constexpr const char* kFhirJson = "application/fhir+json";

std::string diagnosticReportJson(const std::string& patient_id, const std::string& encounter_id,
                                 const std::string& observation_id) {
  return R"({"resourceType":"DiagnosticReport","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0074","code":"LAB"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"58410-2"}]},"subject":{"reference":"Patient/)" +
         patient_id + R"("},"encounter":{"reference":"Encounter/)" + encounter_id +
         R"("},"effectiveDateTime":"2024-11-26T09:00:00+07:00","result":[{"reference":"Observation/)" + observation_id +
         R"("}]})";
}

std::string provenanceJson(const std::string& patient_id) {
  return R"({"resourceType":"Provenance","target":[{"reference":"Patient/)" + patient_id +
         R"("}],"recorded":"2024-11-26T09:30:00+07:00","agent":[{"who":{"reference":"Organization/test-puskesmas"}}]})";
}

class SearchCoverageTest : public ::testing::Test {
 protected:
  void SetUp() override { client_ = server_.client(); }

  std::string create(const std::string& type, const std::string& body) {
    auto res = client_->Post(("/fhir/" + type).c_str(), body, kFhirJson);
    EXPECT_TRUE(res);
    if (!res) return {};
    EXPECT_EQ(res->status, 201) << type << ": " << res->body;
    auto doc = parseJson(res->body);
    return doc.IsObject() ? std::string(json::string(doc, "id")) : std::string();
  }

  // Type/id of every entry with search.mode `mode`.
  std::set<std::string> found(const std::string& path, const char* mode = "match") {
    auto res = client_->Get(path.c_str());
    EXPECT_TRUE(res) << path;
    std::set<std::string> out;
    if (!res) return out;
    EXPECT_EQ(res->status, 200) << path << ": " << res->body;
    auto doc = parseJson(res->body);
    if (!doc.IsObject() || !doc.HasMember("entry")) return out;
    for (const auto& e : doc["entry"].GetArray()) {
      if (json::string(e["search"], "mode") != mode) continue;
      out.insert(std::string(json::string(e["resource"], "resourceType")) + "/" +
                 std::string(json::string(e["resource"], "id")));
    }
    return out;
  }

  ApiServer server_;
  std::unique_ptr<httplib::SSLClient> client_;
};

TEST_F(SearchCoverageTest, EveryStoredTypeWithAPatientIsSearchableByPatientCodeDateAndStatus) {
  std::string patient = create("Patient", patientJson("3201010101900001", "Sutanto", "Budi", "male", "1990-01-01"));
  std::string other = create("Patient", patientJson("3201014101900002", "Lestari", "Ani", "female", "1990-01-01"));
  std::string encounter = create("Encounter", encounterJson(patient, "finished", "2024-11-26T08:00:00+07:00"));
  std::string observation =
      create("Observation", observationJson(patient, encounter, "8480-6", "2024-11-26T08:10:00+07:00"));
  std::map<std::string, std::string> mine = {
      {"Encounter", encounter},
      {"Observation", observation},
      {"Condition", create("Condition", conditionJson(patient, encounter, "I10"))},
      {"Immunization", create("Immunization", immunizationJson(patient, "VG-BCG", "2024-11-26"))},
      {"MedicationRequest", create("MedicationRequest", medicationRequestJson(patient, encounter, "active"))},
      {"DiagnosticReport", create("DiagnosticReport", diagnosticReportJson(patient, encounter, observation))},
      {"Provenance", create("Provenance", provenanceJson(patient))},
  };
  // The other patient's records must never come back for `patient`.
  std::string other_encounter = create("Encounter", encounterJson(other, "finished", "2024-11-27T08:00:00+07:00"));
  create("Observation", observationJson(other, other_encounter, "8480-6", "2024-11-27T08:10:00+07:00"));
  create("Immunization", immunizationJson(other, "VG-BCG", "2024-11-27"));

  // Every stored type that links to a patient: patient search finds exactly this patient's record.
  for (const auto& type : fhir::supportedResourceTypes()) {
    if (type == "Patient" || patientLinkParam(type) == nullptr) continue;
    SCOPED_TRACE(type);
    ASSERT_TRUE(mine.count(type)) << "no fixture for a patient-linked stored type";
    EXPECT_EQ(found("/fhir/" + type + "?patient=" + patient), std::set<std::string>{type + "/" + mine[type]});
  }
  auto one = [](const std::string& type, const std::string& id) { return std::set<std::string>{type + "/" + id}; };
  EXPECT_EQ(found("/fhir/Immunization?patient=" + patient + "&vaccine-code=VG-BCG&status=completed&date=2024-11-26"),
            one("Immunization", mine["Immunization"]));
  EXPECT_TRUE(found("/fhir/Immunization?patient=" + patient + "&date=2024-11-27").empty());
  EXPECT_EQ(found("/fhir/MedicationRequest?patient=" + patient + "&status=active&code=93001019&intent=order"),
            one("MedicationRequest", mine["MedicationRequest"]));
  EXPECT_EQ(found("/fhir/DiagnosticReport?patient=" + patient +
                  "&code=http://loinc.org|58410-2&status=final&category=LAB&date=2024-11-26&encounter=" + encounter),
            one("DiagnosticReport", mine["DiagnosticReport"]));
  EXPECT_EQ(found("/fhir/DiagnosticReport?result=Observation/" + observation), one("DiagnosticReport", mine["DiagnosticReport"]));
  EXPECT_EQ(found("/fhir/Observation?patient=" + patient + "&status=final&category=vital-signs"),
            one("Observation", observation));
  EXPECT_EQ(found("/fhir/Condition?patient=" + patient + "&code=I10"), one("Condition", mine["Condition"]));
  EXPECT_EQ(found("/fhir/Provenance?target=Patient/" + patient + "&recorded=2024-11-26"),
            one("Provenance", mine["Provenance"]));
}

TEST_F(SearchCoverageTest, RevincludeBringsThePatientsRecordsAlong) {
  std::string patient = create("Patient", patientJson("3201010101900001", "Sutanto", "Budi", "male", "1990-01-01"));
  std::string other = create("Patient", patientJson("3201014101900002", "Lestari", "Ani", "female", "1990-01-01"));
  std::string encounter = create("Encounter", encounterJson(patient, "finished", "2024-11-26T08:00:00+07:00"));
  std::string observation =
      create("Observation", observationJson(patient, encounter, "8480-6", "2024-11-26T08:10:00+07:00"));
  std::string condition = create("Condition", conditionJson(patient, encounter, "I10"));
  std::string other_encounter = create("Encounter", encounterJson(other, "finished", "2024-11-27T08:00:00+07:00"));
  create("Observation", observationJson(other, other_encounter, "8480-6", "2024-11-27T08:10:00+07:00"));

  EXPECT_EQ(found("/fhir/Patient?_id=" + patient + "&_revinclude=Observation:patient", "include"),
            std::set<std::string>{"Observation/" + observation});
  EXPECT_EQ(found("/fhir/Encounter?_id=" + encounter + "&_revinclude=Condition:encounter", "include"),
            std::set<std::string>{"Condition/" + condition});
  EXPECT_EQ(found("/fhir/Patient?_id=" + patient + "&_revinclude=Observation:patient&_revinclude=Encounter:patient",
                  "include"),
            (std::set<std::string>{"Observation/" + observation, "Encounter/" + encounter}));
  // A parameter that cannot refer to the searched type is refused, not ignored.
  auto res = client_->Get("/fhir/Patient?_revinclude=Condition:encounter");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400) << res->body;

  // The CapabilityStatement lists exactly these, from the same table.
  auto metadata = parseJson(client_->Get("/fhir/metadata")->body);
  for (const auto& r : metadata["rest"][0]["resource"].GetArray()) {
    std::string type(json::string(r, "type"));
    if (!fhir::isSupportedResourceType(type)) continue;  // ConceptMap: terminology, not stored records
    std::set<std::string> listed;
    if (r.HasMember("searchRevInclude")) {
      for (const auto& v : r["searchRevInclude"].GetArray()) listed.insert(v.GetString());
    }
    std::set<std::string> expected;
    for (const auto& def : searchParamDefs()) {
      if (canReferTo(def, type)) expected.insert(std::string(def.type) + ":" + std::string(def.name));
    }
    EXPECT_EQ(listed, expected) << type;
  }
}

// Tenant isolation: a clinic's _revinclude never brings another
// organization's records, even ones that point at its patient.
TEST(SearchTenancyTest, RevincludeShowsOnlyTheCallersOrganization) {
  testing::GatewayOptions options;
  options.auth = true;
  testing::GatewayProcess gateway(options);
  auto a = gateway.client(gateway.token("clinic", "pkm-a"));
  auto b = gateway.client(gateway.token("clinic", "pkm-b"));
  auto puller = gateway.client(gateway.token("puller"));
  auto post = [](httplib::Client& c, const std::string& type, const std::string& body) {
    auto res = c.Post(("/fhir/" + type).c_str(), body, kFhirJson);
    EXPECT_TRUE(res);
    if (!res) return std::string();
    EXPECT_EQ(res->status, 201) << res->body;
    return std::string(json::string(testing::parseJson(res->body), "id"));
  };
  std::string patient = post(*a, "Patient", patientJson("3201010101900001", "Sutanto", "Budi", "male", "1990-01-01"));
  std::string encounter = post(*a, "Encounter", encounterJson(patient, "finished", "2024-11-26T08:00:00+07:00"));
  std::string mine = post(*a, "Observation", observationJson(patient, encounter, "8480-6", "2024-11-26T08:10:00+07:00"));
  std::string theirs = post(*b, "Observation", observationJson(patient, encounter, "8480-6", "2024-11-26T09:10:00+07:00"));
  auto includes = [&](httplib::Client& c) {
    auto res = c.Get(("/fhir/Patient?_id=" + patient + "&_revinclude=Observation:patient").c_str());
    std::set<std::string> out;
    EXPECT_TRUE(res);
    if (!res) return out;
    EXPECT_EQ(res->status, 200) << res->body;
    auto doc = testing::parseJson(res->body);
    if (!doc.HasMember("entry")) return out;
    for (const auto& e : doc["entry"].GetArray()) {
      out.insert(std::string(json::string(e["search"], "mode")) + " " + std::string(json::string(e["resource"], "id")));
    }
    return out;
  };
  EXPECT_EQ(includes(*a), (std::set<std::string>{"match " + patient, "include " + mine}));
  EXPECT_TRUE(includes(*b).empty()) << "the patient is pkm-a's: pkm-b sees nothing";
  EXPECT_EQ(includes(*puller), (std::set<std::string>{"match " + patient, "include " + mine, "include " + theirs}));

  // $everything: the same rule; pages of two walk every record once.
  auto everything = [&](httplib::Client& c, int expected_status) {
    std::vector<std::string> ids;
    std::string url = "/fhir/Patient/" + patient + "/$everything?_count=2";
    for (int guard = 0; !url.empty() && guard < 20; ++guard) {
      auto res = c.Get(url.c_str());
      EXPECT_TRUE(res);
      if (!res) break;
      EXPECT_EQ(res->status, expected_status) << res->body;
      if (res->status != 200) break;
      auto doc = testing::parseJson(res->body);
      EXPECT_EQ(std::string(json::string(doc, "type")), "searchset");
      if (doc.HasMember("entry")) {
        EXPECT_LE(doc["entry"].Size(), 2u);
        for (const auto& e : doc["entry"].GetArray()) ids.emplace_back(json::string(e["resource"], "id"));
      }
      url.clear();
      for (const auto& l : doc["link"].GetArray()) {
        if (json::string(l, "relation") != "next") continue;
        url = std::string(json::string(l, "url"));
        url = url.substr(url.find("/fhir/"));
      }
    }
    return ids;
  };
  EXPECT_EQ(everything(*a, 200), (std::vector<std::string>{patient, encounter, mine}));
  EXPECT_TRUE(everything(*b, 404).empty()) << "another organization's patient answers like a missing one";
  auto all = everything(*puller, 200);
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()), (std::set<std::string>{patient, encounter, mine, theirs}));
  EXPECT_EQ(all.size(), 4u) << "no record twice across pages";
}

}  // namespace
}  // namespace ilpgw::apitest
