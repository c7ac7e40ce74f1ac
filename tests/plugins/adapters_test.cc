// simpus-csv and posyandu-kader through the real plugin files, the real
// mappings/ and the core's ingest path (adapter, ILP semantics, validation),
// plus cross-source Patient identity through Gateway::ingest with a real
// SQLite store, and a made-up layout onboarded by a mapping file alone,
// end to end through the HTTPS server.
//
// The golden files (plugins/<adapter>/samples/) are checked by `ilp-gateway
// adapter check` (CTests simpus_csv_golden, posyandu_kader_golden); this file
// tests what a golden file cannot show, with the samples as inputs.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "ingest/gateway.h"
#include "ingest/host.h"
#include "base/json.h"
#include "fhir/resource_text.h"
#include "test_support.h"

namespace ilpgw {
namespace {

const std::string kDataDir = std::string(ILPGW_TEST_DATA_DIR) + "/";

std::string sample(const std::string& adapter, const std::string& name) {
  return testing::readFile(testing::sourceDir() + "/plugins/" + adapter + "/samples/" + name);
}
constexpr const char* kOrganization = "100011961";

using testing::readFile;

Config testConfig(const std::string& data_dir = {}) {
  Config config;
  config.organization_id = kOrganization;
  config.timezone_offset = "+08:00";  // WITA: shows the facility offset is applied
  config.mappings_dir = ILPGW_MAPPINGS_DIR;
  config.plugin_dir = ILPGW_PLUGIN_DIR;
  config.plugins = {{"simpus-csv", "simpus-csv.so", "{}"}, {"posyandu-kader", "posyandu-kader.so", "{}"}};
  if (!data_dir.empty()) config.data_dir = data_dir;
  return config;
}

// The caller Gateway::ingest sees when auth is disabled (what the security
// layer sets up for development): posts for config.organization_id.
RequestContext devCaller() {
  RequestContext caller;
  caller.authenticated = true;
  caller.client_id = "dev-unauthenticated";
  caller.role = Role::kDevelopment;
  caller.organization = kOrganization;
  caller.scopes = {std::string(kScopeWrite), std::string(kScopeRead)};
  return caller;
}

// Resource ids are scoped by the posting organization (docs/security.md).
std::string dewiId() { return deterministicId("Patient", std::string("org|") + kOrganization + "|nik|3672015209950002"); }

class BundledAdapterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto set = loadAdapterSet(testConfig());
    ASSERT_TRUE(set.isOk()) << set.status().message();
    set_ = set.value();
  }
  static void TearDownTestSuite() { set_.reset(); }

  MappedPayload map(const std::string& adapter, const std::string& payload) const {
    auto it = set_->adapters.find(adapter);
    EXPECT_NE(it, set_->adapters.end());
    return mapPayload(it->second, *set_, testConfig(), payload, "");
  }

  static inline std::shared_ptr<const AdapterSet> set_;
};


// Helpers over mapped output.
std::vector<rapidjson::Document> resourcesOf(const MappedPayload::Record& record, const std::string& type) {
  std::vector<rapidjson::Document> out;
  for (const auto& write : record.writes) {
    if (write.type != type) continue;
    out.emplace_back();
    EXPECT_FALSE(json::parse(unversionedResource(write), out.back()).has_value());
  }
  return out;
}

TEST_F(BundledAdapterTest, SimpusSemicolonDecimalCommaAndBmi) {
  MappedPayload mapped = map("simpus-csv", sample("simpus-csv", "example.csv"));
  ASSERT_EQ(mapped.records.size(), 2u);
  EXPECT_EQ(mapped.records[0].locator, "row 2");
  EXPECT_EQ(mapped.records[1].locator, "row 3");
  ASSERT_TRUE(mapped.records[0].accepted);
  bool saw_temperature = false, saw_bmi = false;
  for (auto& obs : resourcesOf(mapped.records[0], "Observation")) {
    std::string code = obs["code"]["coding"][0]["code"].GetString();
    if (code == "8310-5") {
      saw_temperature = true;
      EXPECT_DOUBLE_EQ(obs["valueQuantity"]["value"].GetDouble(), 36.8);
      EXPECT_STREQ(obs["effectiveDateTime"].GetString(), "2024-11-26T09:15:00+08:00");
    }
    if (code == "39156-5") {
      saw_bmi = true;
      EXPECT_DOUBLE_EQ(obs["valueQuantity"]["value"].GetDouble(), 26.2);  // 65.5 / 1.58^2
      EXPECT_EQ(obs["derivedFrom"].Size(), 2u);
    }
  }
  EXPECT_TRUE(saw_temperature);
  EXPECT_TRUE(saw_bmi);
  auto conditions = resourcesOf(mapped.records[1], "Condition");
  ASSERT_EQ(conditions.size(), 2u);  // E11.9 and I10
}

TEST_F(BundledAdapterTest, SimpusEncounterGetsKlasterAndStage) {
  MappedPayload mapped = map("simpus-csv", sample("simpus-csv", "example.csv"));
  auto encounters = resourcesOf(mapped.records[0], "Encounter");
  ASSERT_EQ(encounters.size(), 1u);
  const auto& coding = encounters[0]["serviceType"]["coding"][0];
  EXPECT_STREQ(coding["system"].GetString(), "https://ilp-gateway.id/fhir/CodeSystem/klaster");
  EXPECT_STREQ(coding["code"].GetString(), "3");  // LANSIA -> klaster 3
  EXPECT_STREQ(encounters[0]["meta"]["tag"][0]["code"].GetString(), "dewasa");  // 34 years at the visit
}

TEST_F(BundledAdapterTest, SimpusThousandsOfRows) {
  std::string csv = "no_rm;nik;nama;jk;tgl_lahir;tgl_kunjungan;poli;sistole;diastole;suhu;bb;tb;icd10_1;kasus_1\n";
  constexpr int kRows = 3000;
  for (int i = 0; i < kRows; ++i) {
    char row[256];
    std::snprintf(row, sizeof row, "%08d;;PASIEN %d;%s;%02d-%02d-19%02d;26-11-2024 %02d:%02d;UMUM;130;85;36,7;6%d,5;16%d;I10;LAMA\n",
                  i, i, i % 2 ? "L" : "P", 1 + i % 28, 1 + i % 12, 40 + i % 50, 7 + i / 60 % 10, i % 60, i % 10, i % 10);
    csv += row;
  }
  auto started = std::chrono::steady_clock::now();
  MappedPayload mapped = map("simpus-csv", csv);
  auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(mapped.records.size(), static_cast<size_t>(kRows));
  size_t accepted = 0;
  for (const auto& r : mapped.records) accepted += r.accepted ? 1 : 0;
  EXPECT_EQ(accepted, static_cast<size_t>(kRows));
  EXPECT_EQ(mapped.records.back().locator, "row " + std::to_string(kRows + 1));
  EXPECT_LT(std::chrono::duration_cast<std::chrono::seconds>(elapsed).count(), 30);
}

TEST_F(BundledAdapterTest, PosyanduToddlerIsNeverTheMother) {
  MappedPayload mapped = map("posyandu-kader", sample("posyandu-kader", "identity.json"));
  ASSERT_EQ(mapped.records.size(), 4u);
  auto mother = resourcesOf(mapped.records[0], "Patient");
  auto toddler = resourcesOf(mapped.records[1], "Patient");
  auto twin = resourcesOf(mapped.records[2], "Patient");
  ASSERT_EQ(mother.size(), 1u);
  ASSERT_EQ(toddler.size(), 1u);
  ASSERT_EQ(twin.size(), 1u);
  EXPECT_STRNE(mother[0]["id"].GetString(), toddler[0]["id"].GetString());
  EXPECT_STRNE(toddler[0]["id"].GetString(), twin[0]["id"].GetString());
  EXPECT_STREQ(toddler[0]["identifier"][0]["system"].GetString(), "https://fhir.kemkes.go.id/id/nik-ibu");
  EXPECT_EQ(toddler[0]["identifier"].Size(), 1u);  // no NIK identifier of its own
  EXPECT_FALSE(mapped.records[3].accepted);        // no NIK and no nik_ibu: cannot be identified
}

// ---- cross-source identity through Gateway::ingest ------------------------------

TEST(PatientIdentityTest, SameNikFromSimpusAndPosyanduIsOnePatientWithBothIdentifiers) {
  testing::TempDir dir;
  auto gateway = Gateway::start(testConfig(dir.file("data")));
  ASSERT_TRUE(gateway.isOk()) << gateway.status().message();
  // SIMPUS knows her by NIK and medical-record number.
  std::string csv =
      "no_rm;nik;no_bpjs;nama;jk;tgl_lahir;tgl_kunjungan;poli\n"
      "00077;3672015209950002;0001234567890;DEWI LESTARI;P;12-09-1995;01-11-2024 09:00;KIA\n";
  IngestResponse first = gateway.value()->ingest(devCaller(), "simpus-csv", csv, "text/csv");
  ASSERT_EQ(first.http_status, 201) << first.body;
  // The posyandu knows her by NIK only.
  std::string posyandu = sample("posyandu-kader", "example.json");
  IngestResponse second = gateway.value()->ingest(devCaller(), "posyandu-kader", posyandu, "application/json");
  ASSERT_EQ(second.http_status, 201) << second.body;

  std::string id = dewiId();
  auto stored = gateway.value()->store().read("Patient", id);
  ASSERT_TRUE(stored.isOk());
  ASSERT_TRUE(stored.value().has_value());
  rapidjson::Document patient;
  ASSERT_FALSE(json::parse(stored.value()->json, patient).has_value());
  std::set<std::string> systems;
  for (const auto& identifier : patient["identifier"].GetArray()) systems.insert(identifier["system"].GetString());
  EXPECT_TRUE(systems.count("https://fhir.kemkes.go.id/id/nik"));
  EXPECT_TRUE(systems.count("http://sys-ids.kemkes.go.id/mrn/100011961"));
  EXPECT_TRUE(systems.count("https://ilp-gateway.id/fhir/sid/bpjs"));
  // The posyandu post adds nothing new, so the merged Patient is unchanged (still version 1).
  EXPECT_EQ(stored.value()->version, 1);
  EXPECT_EQ(second.body.find("differs from the one already stored"), std::string::npos);
}

TEST(PatientIdentityTest, ContradictingBirthDateIsAWarningAndTheNikDecides) {
  testing::TempDir dir;
  auto gateway = Gateway::start(testConfig(dir.file("data")));
  ASSERT_TRUE(gateway.isOk()) << gateway.status().message();
  // Stored first with the birth date the NIK encodes (12-09-95, female).
  std::string good =
      "no_rm;nik;nama;jk;tgl_lahir;tgl_kunjungan\n00077;3672015209950002;DEWI;P;12-09-1995;01-11-2024 09:00\n";
  ASSERT_EQ(gateway.value()->ingest(devCaller(), "simpus-csv", good, "").http_status, 201);
  // Another source types the wrong year.
  std::string wrong =
      "no_rm;nik;nama;jk;tgl_lahir;tgl_kunjungan\n00999;3672015209950002;DEWI;P;12-09-1996;02-11-2024 09:00\n";
  IngestResponse answer = gateway.value()->ingest(devCaller(), "simpus-csv", wrong, "");
  ASSERT_EQ(answer.http_status, 201) << answer.body;
  EXPECT_NE(answer.body.find("Patient.birthDate differs from the one already stored"), std::string::npos) << answer.body;
  EXPECT_NE(answer.body.find("\"warning\""), std::string::npos);

  auto stored = gateway.value()->store().read("Patient", dewiId());
  ASSERT_TRUE(stored.isOk() && stored.value().has_value());
  rapidjson::Document patient;
  ASSERT_FALSE(json::parse(stored.value()->json, patient).has_value());
  EXPECT_STREQ(patient["birthDate"].GetString(), "1995-09-12");  // kept: it matches the NIK
  EXPECT_EQ(patient["identifier"].Size(), 3u);                    // NIK + both MRNs
}

// ---- a new layout onboarded by a mapping file alone, through the server ----------

TEST(MappingOnboardingTest, MadeUpCsvLayoutEndToEndOverHttps) {
  testing::GatewayOptions options;
  options.plugins = {};
  options.organization_id = kOrganization;
  options.plugin_entries = {"{\"name\":\"klinik-gigi\",\"library\":\"mapping.so\",\"config\":{\"mapping_file\":\"" +
                            kDataDir + "mapping/klinik-gigi.mapping.json\"}}"};
  testing::GatewayProcess gateway(options);
  auto client = gateway.client();
  auto plugins = client->Get("/admin/plugins");
  ASSERT_TRUE(plugins);
  EXPECT_NE(plugins->body.find("\"klinik-gigi\""), std::string::npos) << plugins->body;

  auto res = client->Post("/ingest/klinik-gigi", readFile(kDataDir + "mapping/klinik-gigi.input.csv"), "text/csv");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 201) << res->body;
  rapidjson::Document bundle;
  ASSERT_FALSE(json::parse(res->body, bundle).has_value());
  int created = 0, refused = 0;
  for (const auto& entry : bundle["entry"].GetArray()) {
    std::string status = entry["response"]["status"].GetString();
    if (status.rfind("201", 0) == 0) ++created;
    if (status.rfind("422", 0) == 0) {
      ++refused;
      EXPECT_STREQ(entry["extension"][0]["valueString"].GetString(), "row 3");
      EXPECT_NE(json::write(entry["response"]["outcome"]).find("row 3, column satuan berat"), std::string::npos);
    }
  }
  // Rows 2 and 4: Patient, Encounter, Observation each. Row 4's "[lb_av]" is
  // in no ConceptMap but is valid UCUM ("ucum": true), so it is kept as is.
  EXPECT_EQ(created, 6);
  EXPECT_EQ(refused, 1);  // row 3: "kilo" is neither in the ConceptMap nor UCUM

  auto translate = client->Get("/fhir/ConceptMap/$translate?url=https://ilp-gateway.id/fhir/ConceptMap/vaksin-cvx&code=BCG");
  ASSERT_TRUE(translate);
  EXPECT_EQ(translate->status, 200);
  EXPECT_NE(translate->body.find("\"valueBoolean\":true"), std::string::npos) << translate->body;
  auto maps = client->Get("/fhir/ConceptMap");
  ASSERT_TRUE(maps);
  EXPECT_NE(maps->body.find("\"searchset\""), std::string::npos);
  EXPECT_NE(maps->body.find("poli-klaster"), std::string::npos);
}

}  // namespace
}  // namespace ilpgw
