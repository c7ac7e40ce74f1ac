// PWS end to end: the real gateway binary with the epuskesmas-json and
// posyandu-kader plugins loaded from disk, records posted over real TLS by
// two clinics, targets loaded with `ilp-gateway sasaran import`, and the
// indicators read back through $evaluate-measure and the stored monthly
// MeasureReports. Every expected number below was counted by hand from the
// records in this file (the table above each check says how), not by the
// evaluator.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <thread>

#include "base/json.h"
#include "test_support.h"

namespace ilpgw {
namespace {

constexpr const char* kDesaA = "6203011001";
constexpr const char* kDesaB = "6203011002";
constexpr const char* kDesaPosyandu = "6203011004";

// One ePuskesmas visit. `desa` empty: an address without a village code.
std::string visit(const std::string& id, const std::string& when, const std::string& poli, const std::string& nik,
                  const std::string& name, const std::string& jk, const std::string& birth, const std::string& desa,
                  const std::string& pemeriksaan, const std::string& diagnosa, const std::string& resep = "") {
  std::string alamat = desa.empty() ? R"({"jalan":"Jl. Tanpa Kode"})"
                                    : R"({"jalan":"Jl. Melati","kode_desa":")" + desa + R"("})";
  return R"({"id_kunjungan":")" + id + R"(","waktu":")" + when + R"(","poli":")" + poli +
         R"(","pasien":{"nik":")" + nik + R"(","nama":")" + name + R"(","jk":")" + jk + R"(","tgl_lahir":")" + birth +
         R"(","alamat":)" + alamat + R"(},"pemeriksaan":{)" + pemeriksaan + R"(},"diagnosa":[)" + diagnosa +
         R"(],"resep":[)" + resep + R"(],"tenaga_medis":{"nik":"6203014107880003","nama":"Bd. Sri","profesi":"bidan"}})";
}

std::string anc(const std::string& code = "Z34.1") { return R"({"icd10":")" + code + R"(","jenis":"primer"})"; }
constexpr const char* kTtd = R"({"kode_obat":"93001019","nama_obat":"Tablet tambah darah 60 mg","jumlah":30,"signa":"1x1"})";

// A posyandu session at the posyandu of desa 6203011004.
std::string posyandu(const std::string& date, const std::string& peserta) {
  return R"({"posyandu":{"nama":"Posyandu Mawar","kode_desa":")" + std::string(kDesaPosyandu) +
         R"(","desa":"Randakari","dusun":"Kubang"},"tanggal":")" + date +
         R"(","kader":{"nama":"Ibu Sri","nik":"3672014403780001"},"peserta":[)" + peserta + "]}";
}
std::string rizki(const std::string& weight) {
  return R"({"nik":null,"nik_ibu":"6203015505920008","nama":"RIZKI","jk":"L","tgl_lahir":"2024-06-14","sasaran":"balita","ukur":{"bb":)" +
         weight + "}}";
}

rapidjson::Document parse(const std::string& text) {
  rapidjson::Document doc;
  EXPECT_FALSE(json::parse(text, doc).has_value()) << text;
  return doc;
}

struct Counts {
  std::int64_t ip = -1, den = -1, num = -1;
  std::map<std::string, std::string> pws;  // pws-status sub-extensions as text
  bool operator==(const Counts& o) const { return ip == o.ip && den == o.den && num == o.num; }
};

Counts countsOf(const rapidjson::Value& holder) {
  Counts c;
  for (const auto& p : holder["population"].GetArray()) {
    std::string code = p["code"]["coding"][0]["code"].GetString();
    std::int64_t n = p["count"].GetInt64();
    if (code == "initial-population") c.ip = n;
    if (code == "denominator") c.den = n;
    if (code == "numerator") c.num = n;
  }
  if (holder.HasMember("extension")) {
    for (const auto& part : holder["extension"][0]["extension"].GetArray()) {
      std::string url = part["url"].GetString();
      for (auto m = part.MemberBegin(); m != part.MemberEnd(); ++m) {
        std::string key = m->name.GetString();
        if (key == "url") continue;
        c.pws[url] = m->value.IsString() ? m->value.GetString() : json::write(m->value);
      }
    }
  }
  return c;
}

// Total and per-desa counts of a MeasureReport.
struct Report {
  Counts total;
  std::map<std::string, Counts> desa;
  std::string id;
};

Report reportOf(const std::string& body) {
  auto doc = parse(body);
  Report r;
  if (!doc.IsObject() || !doc.HasMember("group")) {
    ADD_FAILURE() << body;
    return r;
  }
  if (doc.HasMember("id")) r.id = doc["id"].GetString();
  const auto& group = doc["group"][0];
  r.total = countsOf(group);
  for (const auto& s : group["stratifier"][0]["stratum"].GetArray()) {
    r.desa[s["value"]["coding"][0]["code"].GetString()] = countsOf(s);
  }
  return r;
}

Counts counts(std::int64_t ip, std::int64_t den, std::int64_t num) {
  Counts c;
  c.ip = ip;
  c.den = den;
  c.num = num;
  return c;
}

class PwsApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    testing::GatewayOptions options;
    options.plugins = {"epuskesmas-json", "posyandu-kader"};
    options.auth = true;
    options.organization_id = "pkm-a";
    gateway_ = new testing::GatewayProcess(options);
    clinic_a_ = new std::string(gateway_->token("clinic", "pkm-a"));
    clinic_b_ = new std::string(gateway_->token("clinic", "pkm-b"));
    puller_ = new std::string(gateway_->token("puller"));
    auto a = gateway_->client(*clinic_a_);
    // pkm-a, desa A and B, February and March 2025.
    post(*a, "epuskesmas-json",
         "[" + visit("A-1", "2025-03-05T08:00:00+07:00", "KIA", "6203015001950001", "SITI", "P", "1995-01-10", kDesaA, "",
                     anc(), kTtd) +
             "," +
             visit("A-2", "2025-02-20T08:00:00+07:00", "KIA", "6203014202900002", "RINA", "P", "1990-02-02", kDesaB, "",
                   anc()) +
             "," +
             visit("A-3", "2025-03-10T08:00:00+07:00", "KIA", "6203014202900002", "RINA", "P", "1990-02-02", kDesaB, "",
                   anc()) +
             "," +
             visit("A-4", "2025-03-12T09:00:00+07:00", "UMUM", "6203010505700003", "BUDI", "L", "1970-05-05", kDesaA,
                   R"("td":"150/95","gds":130,"bb":70,"tb":165)", R"({"icd10":"I10","jenis":"primer"})") +
             "," +
             visit("A-5", "2025-03-15T09:00:00+07:00", "LANSIA", "6203010101500004", "TONO", "L", "1950-01-01", kDesaB,
                   R"("td":"130/80")", R"({"icd10":"Z00.0","jenis":"primer"})") +
             "," +
             visit("A-6", "2025-03-20T10:00:00+07:00", "UMUM", "6203014707850005", "ANI", "P", "1985-07-07", "",
                   R"("suhu":37.0)", R"({"icd10":"J06.9","jenis":"primer"})") +
             "]");
    post(*a, "posyandu-kader", posyandu("2025-02-08", rizki("7.6")));
    post(*a, "posyandu-kader",
         posyandu("2025-03-08",
                  rizki("8.0") +
                      R"(,{"nik":"6203010606600009","nama":"HARTO","jk":"L","tgl_lahir":"1960-06-06","sasaran":"lansia","keluhan_tbc":["batuk_2_minggu","demam"]})"));
    // pkm-b: a pregnant woman of desa A seen in March at another puskesmas.
    auto b = gateway_->client(*clinic_b_);
    post(*b, "epuskesmas-json",
         visit("B-1", "2025-03-07T08:00:00+07:00", "KIA", "6203014404960007", "LINA", "P", "1996-04-04", kDesaA, "",
               anc()));
  }
  static void TearDownTestSuite() {
    delete clinic_a_;
    delete clinic_b_;
    delete puller_;
    delete gateway_;
  }

  static void post(httplib::Client& client, const std::string& adapter, const std::string& body) {
    auto res = client.Post(("/ingest/" + adapter).c_str(), body, "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 201) << res->body;
  }

  static httplib::Result get(const std::string& token, const std::string& path) {
    return gateway_->client(token)->Get(path.c_str());
  }

  static Report evaluate(const std::string& token, const std::string& measure, const std::string& query) {
    auto res = get(token, "/fhir/Measure/" + measure + "/$evaluate-measure?" + query);
    EXPECT_TRUE(res);
    if (!res) return {};
    EXPECT_EQ(res->status, 200) << res->body;
    last_body_ = res->body;
    return reportOf(res->body);
  }

  static std::string march(const std::string& org = "pkm-a") {
    return "periodStart=2025-03-01&periodEnd=2025-03-31&subject=Organization/" + org;
  }

  static std::string patientId(const std::string& nik) {
    auto res = get(*puller_, "/fhir/Patient?identifier=https://fhir.kemkes.go.id/id/nik%7C" + nik);
    EXPECT_TRUE(res && res->status == 200);
    auto doc = parse(res->body);
    return doc["entry"][0]["resource"]["id"].GetString();
  }

  static inline testing::GatewayProcess* gateway_ = nullptr;
  static inline std::string* clinic_a_ = nullptr;
  static inline std::string* clinic_b_ = nullptr;
  static inline std::string* puller_ = nullptr;
  static inline std::string last_body_;  // the last MeasureReport, for failure messages
};

TEST_F(PwsApiTest, MeasuresAreListedAndInTheCapabilityStatement) {
  auto list = get(*puller_, "/fhir/Measure");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->status, 200) << list->body;
  auto bundle = parse(list->body);
  EXPECT_EQ(bundle["total"].GetInt(), 16);
  auto one = get(*puller_, "/fhir/Measure/pws-k1");
  ASSERT_TRUE(one);
  ASSERT_EQ(one->status, 200);
  EXPECT_EQ(std::string(parse(one->body)["url"].GetString()), "https://ilp-gateway.id/fhir/Measure/pws-k1");
  auto missing = get(*puller_, "/fhir/Measure/pws-nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_NE(missing->body.find("OperationOutcome"), std::string::npos);

  auto metadata = gateway_->client()->Get("/fhir/metadata");
  ASSERT_TRUE(metadata);
  auto cs = parse(metadata->body);
  bool measure = false, report = false;
  for (const auto& r : cs["rest"][0]["resource"].GetArray()) {
    std::string type = r["type"].GetString();
    if (type == "Measure") {
      measure = std::string(r["operation"][0]["name"].GetString()) == "evaluate-measure";
    }
    if (type == "MeasureReport") report = true;
  }
  EXPECT_TRUE(measure);
  EXPECT_TRUE(report);
}

// By hand, pkm-a in March 2025 (pkm-b's LINA never counts for pkm-a):
//   K1: pregnant women with a contact in March: SITI (A, first contact), RINA
//   (B, first contact was in February) -> A 1/1/1, B 1/1/0.
//   TTD: the same two; only SITI got iron tablets -> A 1/1/1, B 1/1/0.
//   BP screening 15-59 with a visit in March: SITI 30 (A), BUDI 54 (A, BP),
//   RINA 35 (B), ANI 39 (no desa) -> A 2/2/1, B 1/1/0, tanpa-desa 1/1/0.
//   Hypertension served: BUDI (I10 and BP) -> A 1/1/1. Elderly screened: TONO
//   75 (B, BP) and HARTO 64 (posyandu desa, TB screening only) -> B 1/1/1,
//   posyandu desa 1/1/0. TB suspects: HARTO, 2 symptoms -> posyandu desa 1/1/1.
//   D/S and N/D: RIZKI weighed 8.0 in March after 7.6 in February.
TEST_F(PwsApiTest, MarchCountsPerDesaMatchTheHandCount) {
  Report k1 = evaluate(*puller_, "pws-k1", march());
  EXPECT_EQ(k1.total, counts(2, 2, 1));
  EXPECT_EQ(k1.desa[kDesaA], counts(1, 1, 1));
  EXPECT_EQ(k1.desa[kDesaB], counts(1, 1, 0));
  EXPECT_EQ(k1.desa.size(), 2u);

  Report ttd = evaluate(*puller_, "pws-ttd-bumil", march());
  EXPECT_EQ(ttd.desa[kDesaA], counts(1, 1, 1));
  EXPECT_EQ(ttd.desa[kDesaB], counts(1, 1, 0));

  Report bp = evaluate(*puller_, "pws-skrining-tekanan-darah", march());
  EXPECT_EQ(bp.total, counts(4, 4, 1));
  EXPECT_EQ(bp.desa[kDesaA], counts(2, 2, 1));
  EXPECT_EQ(bp.desa[kDesaB], counts(1, 1, 0));
  EXPECT_EQ(bp.desa["tanpa-desa"], counts(1, 1, 0));  // counted, never dropped

  EXPECT_EQ(evaluate(*puller_, "pws-hipertensi-terlayani", march()).desa[kDesaA], counts(1, 1, 1));
  Report elderly = evaluate(*puller_, "pws-lansia-skrining", march());
  EXPECT_EQ(elderly.desa[kDesaB], counts(1, 1, 1));
  EXPECT_EQ(elderly.desa[kDesaPosyandu], counts(1, 1, 0));  // desa of the posyandu: no address in kader data
  EXPECT_EQ(evaluate(*puller_, "pws-terduga-tbc", march()).desa[kDesaPosyandu], counts(1, 1, 1)) << last_body_;
  EXPECT_EQ(evaluate(*puller_, "pws-ds", march()).desa[kDesaPosyandu], counts(1, 1, 1)) << last_body_;
  EXPECT_EQ(evaluate(*puller_, "pws-nd", march()).desa[kDesaPosyandu], counts(1, 1, 1)) << last_body_;
  // February: RIZKI weighed for the first time, nothing to rise from.
  EXPECT_EQ(evaluate(*puller_, "pws-nd", "periodStart=2025-02-01&periodEnd=2025-02-28&subject=Organization/pkm-a")
                .desa[kDesaPosyandu],
            counts(1, 1, 0));
  // The first quarter: RINA's first contact (February) and SITI's (March).
  EXPECT_EQ(evaluate(*puller_, "pws-k1", "periodStart=2025-01-01&periodEnd=2025-03-31&subject=Organization/pkm-a").total,
            counts(2, 2, 2));
}

TEST_F(PwsApiTest, SubjectListNamesThePatientsBehindEachPopulation) {
  auto res = get(*puller_, "/fhir/Measure/pws-k1/$evaluate-measure?" + march() + "&reportType=subject-list");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  auto doc = parse(res->body);
  EXPECT_EQ(std::string(doc["type"].GetString()), "subject-list");
  std::map<std::string, std::vector<std::string>> lists;
  for (const auto& list : doc["contained"].GetArray()) {
    std::vector<std::string>& items = lists[list["id"].GetString()];
    if (!list.HasMember("entry")) continue;
    for (const auto& e : list["entry"].GetArray()) items.push_back(e["item"]["reference"].GetString());
  }
  std::string siti = "Patient/" + patientId("6203015001950001");
  std::string rina = "Patient/" + patientId("6203014202900002");
  EXPECT_EQ(lists["numerator"], std::vector<std::string>{siti});
  EXPECT_EQ(lists["numerator-" + std::string(kDesaA)], std::vector<std::string>{siti});
  EXPECT_TRUE(lists["numerator-" + std::string(kDesaB)].empty());
  std::vector<std::string> both = {siti, rina};
  std::sort(both.begin(), both.end());
  EXPECT_EQ(lists["denominator"], both);
  EXPECT_EQ(std::string(doc["group"][0]["population"][2]["subjectResults"]["reference"].GetString()), "#numerator");
}

TEST_F(PwsApiTest, AClinicSeesOnlyItsOwnOrganization) {
  // pkm-b evaluates its own data by default: LINA, desa A.
  Report own = evaluate(*clinic_b_, "pws-k1", "periodStart=2025-03-01&periodEnd=2025-03-31");
  EXPECT_EQ(own.total, counts(1, 1, 1));
  EXPECT_EQ(own.desa[kDesaA], counts(1, 1, 1));
  auto other = get(*clinic_b_, "/fhir/Measure/pws-k1/$evaluate-measure?" + march("pkm-a"));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 403) << other->body;
  EXPECT_NE(other->body.find("OperationOutcome"), std::string::npos);
  // pkm-a's stored March report is invisible to pkm-b, visible to pkm-a.
  Report stored = evaluate(*clinic_a_, "pws-k1", march());
  ASSERT_FALSE(stored.id.empty());
  auto hidden = get(*clinic_b_, "/fhir/MeasureReport/" + stored.id);
  ASSERT_TRUE(hidden);
  EXPECT_EQ(hidden->status, 404);
  auto visible = get(*clinic_a_, "/fhir/MeasureReport/" + stored.id);
  ASSERT_TRUE(visible);
  EXPECT_EQ(visible->status, 200);
  auto search = get(*clinic_b_, "/fhir/MeasureReport?subject=Organization/pkm-a");
  ASSERT_TRUE(search);
  ASSERT_EQ(search->status, 200);
  EXPECT_EQ(parse(search->body)["total"].GetInt(), 0);
}

TEST_F(PwsApiTest, MalformedParametersAnswerOperationOutcomes) {
  struct Case {
    std::string query;
    int status;
  };
  for (const Case& c : std::vector<Case>{
           {"periodStart=2025-03-05&periodEnd=2025-03-31&subject=Organization/pkm-a", 400},
           {"periodStart=2025-03-01&subject=Organization/pkm-a", 400},
           {"periodStart=2025-03-01&periodEnd=2025-03-31", 400},  // a puller must name the subject
           {march() + "&reportType=individual", 400},
           {march() + "&patient=Patient/1", 400},
           {"periodStart=2025-13-01&periodEnd=2025-13-31&subject=Organization/pkm-a", 400},
           {"periodStart=2025-03-01&periodEnd=2025-03-31&subject=Location/x", 400},
       }) {
    auto res = get(*puller_, "/fhir/Measure/pws-k1/$evaluate-measure?" + c.query);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, c.status) << c.query << ": " << res->body;
    EXPECT_NE(res->body.find("\"resourceType\":\"OperationOutcome\""), std::string::npos) << res->body;
  }
  auto unknown = get(*puller_, "/fhir/Measure/pws-nope/$evaluate-measure?" + march());
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  auto no_token = gateway_->client()->Get("/fhir/Measure/pws-k1/$evaluate-measure?" + march());
  ASSERT_TRUE(no_token);
  EXPECT_EQ(no_token->status, 401);
}

// By hand, with sasaran K1 2025 desa A 24 (100%) and desa B 4 (100%):
//   cumulative target in March = yearly / 12 x 3: A 6, B 1.
//   year-to-date K1: A 1 (SITI, March), B 1 (RINA, February).
//   trend: A March 1 vs February 0 (rising), B March 0 vs February 1 (falling).
//   A below target and rising: cukup; B at target and falling: kurang.
TEST_F(PwsApiTest, TargetsGiveCumulativeCoverageAndStatus) {
  testing::TempDir dir;
  testing::writeFile(dir.path() / "sasaran.csv",
                     "tahun;kode_puskesmas;kode_desa;indikator;sasaran;target_persen\n"
                     "2025;pkm-a;6203011001;pws-k1;24;100\n"
                     "2025;pkm-a;6203011002;pws-k1;4;100\n"
                     "2025;pkm-a;6203011003;pws-k1;10;90\n");
  std::string out, err;
  ASSERT_EQ(testing::runGateway({"sasaran", "import", (dir.path() / "sasaran.csv").string(), "--config",
                                 gateway_->configPath()},
                                out, &err),
            0)
      << err;
  EXPECT_NE(out.find("pkm-a 2025: 3 baris, versi 1"), std::string::npos) << out;
  Report k1 = evaluate(*puller_, "pws-k1", march());
  EXPECT_EQ(k1.desa[kDesaA].pws["cumulativeTarget"], "6.0");
  EXPECT_EQ(k1.desa[kDesaA].pws["yearToDateNumerator"], "1");
  EXPECT_EQ(k1.desa[kDesaA].pws["monthCount"], "1");
  EXPECT_EQ(k1.desa[kDesaA].pws["previousMonthCount"], "0");
  EXPECT_EQ(k1.desa[kDesaA].pws["status"], "cukup");
  EXPECT_EQ(k1.desa[kDesaB].pws["cumulativeTarget"], "1.0");
  EXPECT_EQ(k1.desa[kDesaB].pws["cumulativeCoverage"], "25.0");  // 1 of 4
  EXPECT_EQ(k1.desa[kDesaB].pws["status"], "kurang");
  // A desa with a target and nobody seen yet still has its row: 10 x 90% / 12 x 3.
  EXPECT_EQ(k1.desa["6203011003"], counts(0, 0, 0));
  EXPECT_EQ(k1.desa["6203011003"].pws["cumulativeTarget"], "2.25");
  EXPECT_EQ(k1.desa["6203011003"].pws["status"], "cukup");  // below, level (0 and 0)

  // A bad file names line and column, and imports nothing.
  testing::writeFile(dir.path() / "bad.csv",
                     "tahun;kode_puskesmas;kode_desa;indikator;sasaran\n"
                     "2025;pkm-a;6203011001;pws-k1;banyak\n"
                     "2025;pkm-a;62030;pws-x;5\n");
  EXPECT_EQ(testing::runGateway({"sasaran", "import", (dir.path() / "bad.csv").string(), "--config",
                                 gateway_->configPath()},
                                out, &err),
            1);
  EXPECT_NE(err.find("baris 2, kolom sasaran: \"banyak\" bukan angka 0 atau lebih"), std::string::npos) << err;
  EXPECT_NE(err.find("baris 3, kolom kode_desa"), std::string::npos) << err;
  EXPECT_NE(err.find("baris 3, kolom indikator"), std::string::npos) << err;
}

// The admin API takes the same CSV as `sasaran import` and gives it back.
TEST_F(PwsApiTest, AdminApiImportsAndExportsTargets) {
  std::string csv =
      "tahun;kode_puskesmas;kode_desa;indikator;sasaran;target_persen\n"
      "2024;pkm-b;6203011001;pws-k1;30;95\n"
      "2024;pkm-b;6203011002;pws-k4;12,5;100\n";
  std::string admin = gateway_->token("admin");
  auto imported = gateway_->client(admin)->Post("/admin/sasaran", csv, "text/csv");
  ASSERT_TRUE(imported);
  ASSERT_EQ(imported->status, 200) << imported->body;
  EXPECT_NE(imported->body.find(R"({"puskesmas":"pkm-b","tahun":2024,"baris":2,"versi":1,"berubah":true})"),
            std::string::npos)
      << imported->body;
  auto exported = gateway_->client(admin)->Get("/admin/sasaran?puskesmas=pkm-b&tahun=2024");
  ASSERT_TRUE(exported);
  ASSERT_EQ(exported->status, 200);
  EXPECT_EQ(exported->body,
            "tahun;kode_puskesmas;kode_desa;indikator;sasaran;target_persen\n"
            "2024;pkm-b;6203011001;pws-k1;30;95\n"
            "2024;pkm-b;6203011002;pws-k4;12.5;100\n");
  // The same again: no new version.
  auto again = gateway_->client(admin)->Post("/admin/sasaran", exported->body, "text/csv");
  ASSERT_TRUE(again);
  EXPECT_NE(again->body.find(R"("versi":1,"berubah":false)"), std::string::npos) << again->body;
  // A bad row: 422, an OperationOutcome naming row and column, nothing stored.
  auto bad = gateway_->client(admin)->Post("/admin/sasaran",
                                            "tahun;kode_puskesmas;kode_desa;indikator;sasaran\n"
                                            "2024;pkm-b;6203011001;pws-k1;banyak\n",
                                            "text/csv");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 422);
  EXPECT_NE(bad->body.find("row 2, column sasaran"), std::string::npos) << bad->body;
  EXPECT_EQ(gateway_->client(admin)->Get("/admin/sasaran?puskesmas=pkm-b&tahun=2024")->body, exported->body);
  // Only operators: a clinic's token lacks the admin scope.
  auto clinic = gateway_->client(*clinic_b_)->Get("/admin/sasaran?puskesmas=pkm-b&tahun=2024");
  ASSERT_TRUE(clinic);
  EXPECT_EQ(clinic->status, 403);
  auto missing = gateway_->client(admin)->Get("/admin/sasaran?puskesmas=pkm-b");
  EXPECT_EQ(missing->status, 400);
}

// Late data: a visit of 25 March posted after the March report was stored.
// By hand: K1 desa A becomes 2 (SITI and MAYA); N/D does not change.
TEST_F(PwsApiTest, LateDataGivesTheStoredMonthANewVersion) {
  Report k1 = evaluate(*puller_, "pws-k1", march());
  Report nd = evaluate(*puller_, "pws-nd", march());
  ASSERT_FALSE(k1.id.empty());
  auto versionOf = [](const std::string& id) -> std::string {
    auto res = get(*puller_, "/fhir/MeasureReport/" + id);
    if (!res || res->status != 200) return "?";
    return parse(res->body)["meta"]["versionId"].GetString();
  };
  std::string k1_version = versionOf(k1.id);
  std::string nd_version = versionOf(nd.id);
  auto a = gateway_->client(*clinic_a_);
  post(*a, "epuskesmas-json",
       visit("A-7", "2025-03-25T08:00:00+07:00", "KIA", "6203014303980006", "MAYA", "P", "1998-03-03", kDesaA, "",
             anc()));
  std::string newer = k1_version;
  for (int i = 0; i < 150 && newer == k1_version; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    newer = versionOf(k1.id);
  }
  ASSERT_NE(newer, k1_version) << "the stored March K1 report was not recomputed";
  auto res = get(*puller_, "/fhir/MeasureReport/" + k1.id);
  ASSERT_TRUE(res);
  Report recomputed = reportOf(res->body);
  EXPECT_EQ(recomputed.desa[kDesaA], counts(2, 2, 2));
  EXPECT_EQ(versionOf(nd.id), nd_version);  // unchanged counts: no new version
  // The older version is kept and still says 1.
  auto old = get(*puller_, "/fhir/MeasureReport/" + k1.id + "/_history/" + k1_version);
  ASSERT_TRUE(old);
  ASSERT_EQ(old->status, 200);
  EXPECT_EQ(reportOf(old->body).desa[kDesaA], counts(1, 1, 1));

  // Searchable by measure, period and subject.
  auto found = get(*puller_, "/fhir/MeasureReport?measure=pws-k1&period=2025-03&subject=Organization/pkm-a");
  ASSERT_TRUE(found);
  ASSERT_EQ(found->status, 200) << found->body;
  auto bundle = parse(found->body);
  ASSERT_EQ(bundle["total"].GetInt(), 1);
  EXPECT_EQ(std::string(bundle["entry"][0]["resource"]["id"].GetString()), k1.id);
  auto april = get(*puller_, "/fhir/MeasureReport?measure=pws-k1&period=2025-04");
  ASSERT_TRUE(april);
  EXPECT_EQ(parse(april->body)["total"].GetInt(), 0);
}

}  // namespace
}  // namespace ilpgw
