// The sasaran CSV: every bad row named by line and column, periods, and the
// PWS status rule, each checked against values worked out by hand.
#include "report/targets.h"

#include <gtest/gtest.h>

namespace ilpgw::report {
namespace {

const MeasureLibrary& bundled() {
  static auto library = MeasureLibrary::load(std::string(ILPGW_MAPPINGS_DIR) + "/measures");
  return *library.value();
}

TEST(SasaranTest, ReadsRowsInAnyColumnOrderWithDecimalCommas) {
  auto file = parseSasaranCsv("\xEF\xBB\xBFindikator,kode_desa,tahun,sasaran,kode_puskesmas\n"
                              "pws-k1,6203011001,2025,\"120,5\",pkm-a\n\n"
                              "pws-k4,tanpa-desa,2025,7,pkm-a\n",
                              bundled());
  ASSERT_TRUE(file.problems.empty()) << describe(file.problems.front());
  ASSERT_EQ(file.rows.size(), 2u);
  EXPECT_EQ(file.rows[0].line, 2);
  EXPECT_DOUBLE_EQ(file.rows[0].target.population, 120.5);
  EXPECT_DOUBLE_EQ(file.rows[0].target.percent, 100);
  EXPECT_EQ(file.rows[1].line, 4);
  EXPECT_EQ(file.rows[1].desa, "tanpa-desa");
  EXPECT_EQ(sasaranResources(file.rows).size(), 1u);  // one table for pkm-a 2025
}

TEST(SasaranTest, EveryProblemNamesLineAndColumn) {
  auto file = parseSasaranCsv("tahun;kode_puskesmas;kode_desa;indikator;sasaran;target_persen\n"
                              "20x5;pkm-a;6203011001;pws-k1;10;100\n"
                              "2025;pkm a;6203011001;pws-k1;10;100\n"
                              "2025;pkm-a;620301100;pws-k1;10;100\n"
                              "2025;pkm-a;6203011001;pws-k9;10;100\n"
                              "2025;pkm-a;6203011001;pws-k1;-1;100\n"
                              "2025;pkm-a;6203011001;pws-k1;10;120\n"
                              "2025;pkm-a;6203011001;pws-k1;10;100\n"
                              "2025;pkm-a;6203011001;pws-k1;11;100\n",
                              bundled());
  std::vector<std::string> got;
  for (const auto& p : file.problems) got.push_back(describe(p));
  EXPECT_EQ(got, (std::vector<std::string>{
                     "baris 2, kolom tahun: \"20x5\" bukan tahun (2000-2100)",
                     "baris 3, kolom kode_puskesmas: \"pkm a\" bukan kode organisasi (huruf, angka, '-' atau '.')",
                     "baris 4, kolom kode_desa: \"620301100\" bukan kode desa Kemendagri 10 digit",
                     "baris 5, kolom indikator: \"pws-k9\" bukan indikator yang dikenal (lihat GET /fhir/Measure)",
                     "baris 6, kolom sasaran: \"-1\" bukan angka 0 atau lebih",
                     "baris 7, kolom target_persen: \"120\" bukan persen 0-100",
                     "baris 9: tahun, puskesmas, desa dan indikator yang sama sudah ada di baris sebelumnya",
                 }));
}

TEST(SasaranTest, NumbersOutOfRangeOrNotFiniteAreProblemsNotValues) {
  auto file = parseSasaranCsv("tahun;kode_puskesmas;kode_desa;indikator;sasaran;target_persen\n"
                              "2.0253e10;pkm-a;6203011001;pws-k1;10;100\n"
                              "2025.5;pkm-a;6203011001;pws-k1;10;100\n"
                              "nan;pkm-a;6203011001;pws-k1;10;100\n"
                              "2025;pkm-a;6203011001;pws-k1;inf;100\n"
                              "2025;pkm-a;6203011001;pws-k1;nan;100\n"
                              "2025;pkm-a;6203011001;pws-k1;10;nan\n",
                              bundled());
  std::vector<std::string> got;
  for (const auto& p : file.problems) got.push_back(describe(p));
  EXPECT_EQ(got, (std::vector<std::string>{
                     "baris 2, kolom tahun: \"2.0253e10\" bukan tahun (2000-2100)",
                     "baris 3, kolom tahun: \"2025.5\" bukan tahun (2000-2100)",
                     "baris 4, kolom tahun: \"nan\" bukan tahun (2000-2100)",
                     "baris 5, kolom sasaran: \"inf\" bukan angka 0 atau lebih",
                     "baris 6, kolom sasaran: \"nan\" bukan angka 0 atau lebih",
                     "baris 7, kolom target_persen: \"nan\" bukan persen 0-100",
                 }));
  EXPECT_TRUE(file.rows.empty());
}

TEST(SasaranTest, HeaderProblems) {
  auto file = parseSasaranCsv("tahun;desa;indikator;sasaran\n2025;1;pws-k1;1\n", bundled());
  std::vector<std::string> got;
  for (const auto& p : file.problems) got.push_back(describe(p));
  EXPECT_EQ(got, (std::vector<std::string>{
                     "baris 1, kolom desa: kolom tidak dikenal (tahun, kode_puskesmas, kode_desa, indikator, sasaran, "
                     "target_persen)",
                     "baris 1, kolom kode_puskesmas: kolom wajib tidak ada",
                     "baris 1, kolom kode_desa: kolom wajib tidak ada",
                 }));
  EXPECT_EQ(describe(parseSasaranCsv("", bundled()).problems.at(0)),
            "baris 1: baris judul kolom tidak ada (tahun;kode_puskesmas;kode_desa;indikator;sasaran)");
  EXPECT_EQ(describe(parseSasaranCsv("tahun;kode_puskesmas;kode_desa;indikator;sasaran\n", bundled()).problems.at(0)),
            "berkas: tidak ada baris data");
}

TEST(ReportPeriodTest, MonthQuarterOrYearOnly) {
  auto month = parseReportPeriod("2024-02-01", "2024-02-29");
  ASSERT_TRUE(month.isOk());
  EXPECT_EQ(month->kind, PeriodKind::kMonth);
  EXPECT_EQ(month->last_month, 2);
  auto quarter = parseReportPeriod("2025-04-01", "2025-06-30");
  ASSERT_TRUE(quarter.isOk());
  EXPECT_EQ(quarter->kind, PeriodKind::kQuarter);
  EXPECT_EQ(quarter->last_month, 6);
  auto year = parseReportPeriod("2025-01-01T00:00:00+07:00", "2025-12-31");
  ASSERT_TRUE(year.isOk());
  EXPECT_EQ(year->kind, PeriodKind::kYear);
  for (auto [s, e] : std::vector<std::pair<std::string, std::string>>{{"2025-02-01", "2025-02-29"},
                                                                      {"2025-02-01", "2025-03-31"},
                                                                      {"2025-02-01", "2025-04-30"},
                                                                      {"2025-03-02", "2025-03-31"},
                                                                      {"2025-12-01", "2026-01-31"},
                                                                      {"2025-03", "2025-03-31"}}) {
    EXPECT_FALSE(parseReportPeriod(s, e).isOk()) << s << " " << e;
  }
}

// yearly target 120 people at 80%: 96 a year, 8 a month; by September 72.
TEST(PwsStatusTest, AboveOrBelowTheCumulativeTargetRisingOrFalling) {
  MeasureDefinition linear;
  Stratum s;
  s.target = VillageTarget{120, 80};
  EXPECT_DOUBLE_EQ(*s.cumulativeTarget(linear, 9), 72);
  auto status = [&](std::int64_t ytd, std::int64_t month, std::int64_t previous) {
    s.year_to_date.numerator = ytd;
    s.month_numerator = month;
    s.previous_month_numerator = previous;
    return std::string(pwsStatusCode(*s.status(linear, 9)));
  };
  EXPECT_EQ(status(72, 9, 8), "baik");    // at target, rising
  EXPECT_EQ(status(80, 7, 8), "kurang");  // above, falling
  EXPECT_EQ(status(60, 8, 8), "cukup");   // below, level
  EXPECT_EQ(status(71, 5, 9), "jelek");   // below, falling
  EXPECT_DOUBLE_EQ(*s.cumulativeCoverage(), 100.0 * 71 / 120);
  MeasureDefinition yearly;
  yearly.target_method = TargetMethod::kYearly;
  EXPECT_DOUBLE_EQ(*s.cumulativeTarget(yearly, 3), 96);
  Stratum none;
  EXPECT_FALSE(none.status(linear, 3).has_value());
  none.year_to_date = {10, 8, 4};
  EXPECT_DOUBLE_EQ(*none.cumulativeCoverage(), 50);  // no target: over the counted denominator
}

}  // namespace
}  // namespace ilpgw::report
