// The PWS page in a real browser: the real gateway over TLS on loopback,
// visits of two puskesmas posted through the ePuskesmas adapter, targets
// loaded with `sasaran import`, two people made with `ilp-gateway user add`;
// headless Chromium (tests/pages/pws_page.mjs) logs in as each and reads the
// page. The figures on the page must equal the MeasureReports that
// $evaluate-measure answers for the same puskesmas and month (and, in the
// trend, for each month since January), and the puskesmas user must see only
// their own villages.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "base/json.h"
#include "test_support.h"

namespace ilpgw {
namespace {

namespace fs = std::filesystem;

constexpr const char* kChromium = "/usr/bin/chromium";
constexpr const char* kPassword = "kata-sandi-uji-halaman";
constexpr const char* kSelat = "pkm-selat";
constexpr const char* kKahayan = "pkm-kahayan";
constexpr const char* kDesaA = "6203011001";
constexpr const char* kDesaB = "6203011002";
constexpr const char* kDesaKahayan = "6203021005";

std::string visit(const std::string& id, const std::string& when, const std::string& poli, const std::string& nik,
                  const std::string& jk, const std::string& birth, const std::string& desa,
                  const std::string& pemeriksaan, const std::string& icd10) {
  std::string alamat = desa.empty() ? R"({"jalan":"Jl. Sungai"})"
                                    : R"({"jalan":"Jl. Kenanga","kode_desa":")" + desa + R"("})";
  return R"({"id_kunjungan":")" + id + R"(","waktu":")" + when + R"(","poli":")" + poli + R"(","pasien":{"nik":")" +
         nik + R"(","nama":"PASIEN )" + id + R"(","jk":")" + jk + R"(","tgl_lahir":")" + birth + R"(","alamat":)" +
         alamat + R"(},"pemeriksaan":{)" + pemeriksaan + R"(},"diagnosa":[{"icd10":")" + icd10 +
         R"(","jenis":"primer"}],"resep":[],"tenaga_medis":{"nik":"6203014107880003","nama":"Bd. Yanti","profesi":"bidan"}})";
}

void post(const testing::GatewayProcess& gateway, const std::string& token, const std::string& body) {
  auto res = gateway.client(token)->Post("/ingest/epuskesmas-json", body, "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 201) << res->body;
}

void addUser(const testing::GatewayProcess& gateway, const std::string& name, const std::string& role,
             const std::string& org) {
  testing::TempDir dir;
  testing::writeFile(dir.file("pw"), std::string(kPassword) + "\n");
  std::vector<std::string> args = {"user", "add", name, "--role", role, "--password-file", dir.file("pw"),
                                   "--config", gateway.configPath()};
  if (!org.empty()) args.insert(args.end(), {"--org", org});
  std::string out;
  std::string err;
  ASSERT_EQ(testing::runGateway(args, out, &err), 0) << err;
}

std::string run(const std::string& command) {
  int exit_code = 0;
  std::string out = testing::runShell(command, exit_code);
  EXPECT_EQ(exit_code, 0) << command << " failed:\n" << out;
  return out;
}

// One stratum (or the total) of a MeasureReport, as the page should show it.
struct Figure {
  std::int64_t numerator = 0;
  std::optional<double> coverage;
  std::string status = "none";
};

Figure figureOf(const rapidjson::Value& node) {
  Figure f;
  for (const auto& p : node["population"].GetArray()) {
    if (std::string(p["code"]["coding"][0]["code"].GetString()) == "numerator") f.numerator = p["count"].GetInt64();
  }
  for (const auto& part : node["extension"][0]["extension"].GetArray()) {
    std::string url = part["url"].GetString();
    if (url == "cumulativeCoverage") f.coverage = part["valueDecimal"].GetDouble();
    if (url == "status") f.status = part["valueCode"].GetString();
  }
  return f;
}

// measure -> desa ("" = the puskesmas total) -> figure, from $evaluate-measure.
std::map<std::string, std::map<std::string, Figure>> measureReports(const testing::GatewayProcess& gateway,
                                                                    const std::string& token, const std::string& org,
                                                                    const std::string& period =
                                                                        "periodStart=2025-03-01&periodEnd=2025-03-31") {
  std::map<std::string, std::map<std::string, Figure>> out;
  auto client = gateway.client(token);
  auto measures = client->Get("/fhir/Measure");
  EXPECT_TRUE(measures && measures->status == 200);
  if (!measures) return out;
  rapidjson::Document bundle;
  EXPECT_FALSE(json::parse(measures->body, bundle).has_value());
  for (const auto& entry : bundle["entry"].GetArray()) {
    std::string id = entry["resource"]["id"].GetString();
    auto res = client->Get(("/fhir/Measure/" + id + "/$evaluate-measure?" + period + "&subject=Organization/" + org).c_str());
    EXPECT_TRUE(res && res->status == 200) << id;
    if (!res) continue;
    rapidjson::Document report;
    EXPECT_FALSE(json::parse(res->body, report).has_value());
    const auto& group = report["group"][0];
    out[id][""] = figureOf(group);
    for (const auto& s : group["stratifier"][0]["stratum"].GetArray()) {
      out[id][s["value"]["coding"][0]["code"].GetString()] = figureOf(s);
    }
  }
  return out;
}

TEST(PwsPageBrowserTest, FiguresEqualTheMeasureReportAndEachPuskesmasSeesOnlyItsOwnVillages) {
  if (!fs::exists(kChromium)) {
    GTEST_SKIP() << kChromium << " is not installed (Debian package chromium, see scripts/install-deps.sh): "
                 << "the page is not tested in a browser here";
  }
  ASSERT_TRUE(fs::exists(fs::path(ILPGW_PAGES_DIR) / "node_modules" / "puppeteer-core"))
      << "puppeteer-core is missing: run scripts/install-deps.sh (npm ci --prefix tests/pages)";

  testing::GatewayOptions options;
  options.auth = true;
  testing::GatewayProcess gateway(options);
  std::string selat = gateway.token("clinic", kSelat);
  std::string kahayan = gateway.token("clinic", kKahayan);
  // pkm-selat: K1 contacts in desa A (two in March, one in February) and B,
  // a man with hypertension, a visit without a village code.
  post(gateway, selat,
       "[" + visit("S-1", "2025-03-03T08:00:00+07:00", "KIA", "6203015001950101", "P", "1995-01-10", kDesaA, "", "Z34.1") +
           "," + visit("S-2", "2025-03-11T08:00:00+07:00", "KIA", "6203015001960102", "P", "1996-02-11", kDesaA, "", "Z34.0") +
           "," + visit("S-3", "2025-02-14T08:00:00+07:00", "KIA", "6203015001970103", "P", "1997-03-12", kDesaA, "", "Z34.0") +
           "," + visit("S-4", "2025-03-18T08:00:00+07:00", "KIA", "6203015001980104", "P", "1998-04-13", kDesaB, "", "Z34.1") +
           "," +
           visit("S-5", "2025-03-19T09:00:00+07:00", "UMUM", "6203010505700105", "L", "1970-05-05", kDesaB,
                 R"("td":"150/95","gds":130,"bb":70,"tb":165)", "I10") +
           "," + visit("S-6", "2025-03-21T10:00:00+07:00", "KIA", "6203014707850106", "P", "1994-07-07", "", "", "Z34.1") +
           "]");
  post(gateway, kahayan,
       visit("K-1", "2025-03-05T08:00:00+07:00", "KIA", "6203024404960201", "P", "1996-04-04", kDesaKahayan, "", "Z34.1"));
  testing::TempDir dir;
  testing::writeFile(dir.file("sasaran.csv"),
                     "tahun;kode_puskesmas;kode_desa;indikator;sasaran;target_persen\n"
                     "2025;pkm-selat;6203011001;pws-k1;24;100\n"
                     "2025;pkm-selat;6203011002;pws-k1;40;100\n"
                     "2025;pkm-selat;6203011003;pws-k1;12;100\n");
  std::string out;
  std::string err;
  ASSERT_EQ(testing::runGateway({"sasaran", "import", dir.file("sasaran.csv"), "--config", gateway.configPath()}, out, &err),
            0)
      << err;
  addUser(gateway, "dinkes-ana", "district", "");
  addUser(gateway, "pkm-budi", "puskesmas", kSelat);

  std::string screenshot = std::string(ILPGW_ARTIFACT_DIR) + "/pws-page.png";
  fs::remove(screenshot);
  std::string args = R"({"url":"https://127.0.0.1:)" + std::to_string(gateway.port()) + R"(","server_cert":")" +
                     (testing::devCertDir() / "server.crt").string() + R"(","chromium":")" + kChromium +
                     R"(","screenshot":")" + screenshot + R"(","month":"2025-03","district":{"user":"dinkes-ana","password":")" +
                     kPassword + R"(","organization":"pkm-selat"},"puskesmas":{"user":"pkm-budi","password":")" + kPassword +
                     R"(","organization":"pkm-selat","other":"pkm-kahayan"}})";
  testing::writeFile(dir.file("args.json"), args);
  std::string shown = run(std::string(ILPGW_NODE) + " " + ILPGW_PAGES_DIR + "/pws_page.mjs " + dir.file("args.json"));
  rapidjson::Document page;
  ASSERT_FALSE(json::parse(shown, page).has_value()) << shown;
  ASSERT_TRUE(page.IsObject()) << shown;

  // Logging in: /pws sends to /masuk, which leads back to /pws.
  EXPECT_TRUE(page["districtLogin"]["redirectedToLogin"].GetBool());
  EXPECT_EQ(std::string(page["districtLogin"]["afterLogin"].GetString()), "/pws");
  const auto& district = page["district"];
  EXPECT_EQ(district["status"].GetInt(), 200);
  EXPECT_EQ(std::string(district["lang"].GetString()), "id");
  std::set<std::string> choices;
  for (const auto& o : district["organizations"].GetArray()) choices.insert(o.GetString());
  EXPECT_EQ(choices, (std::set<std::string>{kSelat, kKahayan, "semua"}));

  // Every cell equals the MeasureReport of $evaluate-measure.
  auto reports = measureReports(gateway, gateway.token("puller"), kSelat);
  ASSERT_EQ(reports.size(), district["columnHeaders"].Size());
  size_t checked = 0;
  for (const auto& cell : district["cells"].GetArray()) {
    std::string measure = cell["measure"].GetString();
    std::string desa = cell["desa"].GetString();
    ASSERT_TRUE(reports.count(measure)) << measure;
    Figure expected;
    if (auto it = reports[measure].find(desa); it != reports[measure].end()) expected = it->second;
    std::string where = measure + " desa '" + desa + "'";
    EXPECT_EQ(cell["count"].GetInt64(), expected.numerator) << where;
    EXPECT_EQ(cell["shown"].GetInt64(), expected.numerator) << where;
    EXPECT_EQ(std::string(cell["status"].GetString()), expected.status) << where;
    if (expected.coverage) {
      ASSERT_TRUE(cell["coverage"].IsNumber()) << where;
      EXPECT_NEAR(cell["coverage"].GetDouble(), *expected.coverage, 0.005) << where;
    } else {
      EXPECT_TRUE(cell["coverage"].IsNull()) << where;
    }
    ++checked;
  }
  EXPECT_EQ(checked, reports.size() * district["desa"].Size());
  // The hand-checkable part: K1 in desa A is 2 this month (1 last month),
  // 3 since January of 24: 12.5%, target by March 6 (25%): below target,
  // rising: cukup. Desa 6203011003 has a target and no visit: a row of 0s.
  bool k1_a = false;
  for (const auto& cell : district["cells"].GetArray()) {
    if (std::string(cell["measure"].GetString()) == "pws-k1" && std::string(cell["desa"].GetString()) == kDesaA) {
      k1_a = true;
      EXPECT_EQ(cell["count"].GetInt64(), 2);
      EXPECT_EQ(cell["ytd"].GetInt64(), 3);
      EXPECT_NEAR(cell["coverage"].GetDouble(), 12.5, 0.005);
      EXPECT_EQ(std::string(cell["status"].GetString()), "cukup");
      EXPECT_EQ(std::string(cell["statusText"].GetString()), "cukup");  // the word, not only the colour
    }
  }
  EXPECT_TRUE(k1_a);
  std::set<std::string> rows;
  for (const auto& d : district["desa"].GetArray()) rows.insert(d.GetString());
  EXPECT_EQ(rows, (std::set<std::string>{kDesaA, kDesaB, "6203011003", "tanpa-desa", ""}));
  EXPECT_EQ(district["rowHeaders"].GetUint(), rows.size());
  EXPECT_EQ(district["charts"].GetInt(), static_cast<int>(reports.size())) << "one Chart.js chart per indicator";
  for (const auto& type : district["chartTypes"].GetArray()) EXPECT_EQ(std::string(type.GetString()), "line");

  // The trend: each month from January to March, per desa and the total,
  // equals that month's MeasureReport.
  std::map<std::string, std::map<std::string, std::map<std::string, Figure>>> by_month;  // month -> measure -> desa
  by_month["2025-01"] = measureReports(gateway, gateway.token("puller"), kSelat,
                                       "periodStart=2025-01-01&periodEnd=2025-01-31");
  by_month["2025-02"] = measureReports(gateway, gateway.token("puller"), kSelat,
                                       "periodStart=2025-02-01&periodEnd=2025-02-28");
  by_month["2025-03"] = reports;
  EXPECT_EQ(district["trendHeaders"].GetUint(), 3 * reports.size()) << "January to March, per indicator";
  size_t trend_cells = 0, trend_nonzero = 0;
  for (const auto& cell : district["trend"].GetArray()) {
    std::string month = cell["month"].GetString();
    std::string measure = cell["measure"].GetString();
    std::string desa = cell["desa"].GetString();
    ASSERT_TRUE(by_month.count(month)) << month;
    Figure expected;
    if (auto it = by_month[month][measure].find(desa); it != by_month[month][measure].end()) expected = it->second;
    std::string where = "trend " + measure + " desa '" + desa + "' " + month;
    EXPECT_EQ(std::string(cell["organization"].GetString()), kSelat) << where;
    EXPECT_EQ(cell["count"].GetInt64(), expected.numerator) << where;
    EXPECT_EQ(cell["shown"].GetInt64(), expected.numerator) << where;
    ++trend_cells;
    if (expected.numerator > 0) ++trend_nonzero;
  }
  // The same rows as the table (every desa, tanpa desa, the total), each month.
  EXPECT_EQ(trend_cells, 3 * reports.size() * district["desa"].Size());
  EXPECT_GT(trend_nonzero, 3u);
  // K1 in desa A: 1 in February, 2 in March (by hand, from the visits above).
  for (const auto& cell : district["trend"].GetArray()) {
    if (std::string(cell["measure"].GetString()) != "pws-k1" || std::string(cell["desa"].GetString()) != kDesaA) continue;
    std::string month = cell["month"].GetString();
    EXPECT_EQ(cell["count"].GetInt64(), month == "2025-01" ? 0 : month == "2025-02" ? 1 : 2) << month;
  }
  EXPECT_TRUE(page["printHidesControls"].GetBool());
  EXPECT_EQ(page["csv"]["status"].GetInt(), 200);
  std::string csv = page["csv"]["text"].GetString();
  EXPECT_NE(csv.find("pkm-selat;6203011001;pws-k1;"), std::string::npos) << csv.substr(0, 400);
  EXPECT_NE(csv.find(";2025-03;2;1;3;24,00;100,00;6,00;12,50;cukup"), std::string::npos) << csv.substr(0, 600);
  EXPECT_EQ(std::string(page["englishLang"].GetString()), "en");
  EXPECT_NE(std::string(page["englishTitle"].GetString()).find("PWS by village"), std::string::npos);

  // The puskesmas user: their own puskesmas only, no other village, and the
  // other puskesmas refused.
  const auto& own = page["puskesmas"];
  EXPECT_EQ(own["status"].GetInt(), 200);
  ASSERT_EQ(own["organizations"].Size(), 1u);
  EXPECT_EQ(std::string(own["organizations"][0].GetString()), kSelat);
  ASSERT_EQ(own["tables"].Size(), 1u);
  EXPECT_EQ(std::string(own["tables"][0].GetString()), kSelat);
  for (const auto& d : own["desa"].GetArray()) EXPECT_NE(std::string(d.GetString()), kDesaKahayan);
  EXPECT_EQ(page["puskesmasOther"]["status"].GetInt(), 403);
  EXPECT_EQ(std::string(page["puskesmasOther"]["text"].GetString()).find(kDesaKahayan), std::string::npos);
  EXPECT_EQ(std::string(page["afterLogout"].GetString()), "/masuk");
  EXPECT_TRUE(fs::exists(screenshot) && fs::file_size(screenshot) > 10000) << "screenshot " << screenshot;
}

}  // namespace
}  // namespace ilpgw
