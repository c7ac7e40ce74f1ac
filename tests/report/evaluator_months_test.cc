// MeasureEvaluator::evaluateMonths (the PWS page's trend over the year, one
// read of the data) against twelve evaluate() calls, one per month: the same
// MeasureReport for every bundled Measure and month, over a real SQLite store
// holding a year of varied clinical resources (and December of the year
// before, for the look-backs), patients with and without a village code, and
// posyandu Locations.
#include <gtest/gtest.h>

#include <random>

#include "base/config.h"
#include "base/json.h"
#include "fhir/resource_text.h"
#include "report/evaluator.h"
#include "report/measure.h"
#include "store/store.h"
#include "test_support.h"

namespace ilpgw {
namespace {

void add(WriteBatch& batch, const std::string& text, const std::string& org) {
  rapidjson::Document doc;
  ASSERT_FALSE(json::parse(text, doc).has_value()) << text;
  ResourceWrite w = prepareResource(doc);
  w.organization = org;
  batch.resources.push_back(std::move(w));
}

std::string coding(const std::string& system, const std::string& code) {
  return R"({"coding":[{"system":")" + system + R"(","code":")" + code + R"("}]})";
}

class EvaluatorMonthsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Config config;
    config.data_dir = dir_.path().string();
    auto opened = openStore(config, {});
    ASSERT_TRUE(opened.isOk()) << opened.status().message();
    store_ = std::move(opened.value());
    auto library = report::MeasureLibrary::load(std::string(ILPGW_SOURCE_DIR) + "/mappings/measures");
    ASSERT_TRUE(library.isOk()) << library.status().message();
    library_ = std::move(library.value());
  }

  // A year of one puskesmas, and a little of another (tenancy).
  void fill() {
    std::mt19937 rng(7);
    WriteBatch batch;
    const std::string org = "pkm-tren";
    for (int l = 0; l < 3; ++l) {
      add(batch,
          R"({"resourceType":"Location","id":"posyandu-)" + std::to_string(l) +
              R"(","name":"Posyandu","address":{"extension":[{"url":"https://fhir.kemkes.go.id/r4/StructureDefinition/administrativeCode","extension":[{"url":"village","valueCode":"620301200)" +
              std::to_string(l) + R"("}]}]}})",
          org);
    }
    constexpr int kPatients = 160;
    for (int p = 0; p < kPatients; ++p) {
      int age_months = static_cast<int>(rng() % 900);
      int total = 2025 * 12 + 6 - age_months;
      char birth[16];
      std::snprintf(birth, sizeof birth, "%04d-%02d-%02d", total / 12, total % 12 + 1, 1 + static_cast<int>(rng() % 28));
      std::string address;
      if (rng() % 3 != 0) {
        address = R"(,"address":[{"extension":[{"url":"https://fhir.kemkes.go.id/r4/StructureDefinition/administrativeCode","extension":[{"url":"village","valueCode":"620301100)" +
                  std::to_string(rng() % 4) + R"("}]}]}])";
      }
      add(batch,
          R"({"resourceType":"Patient","id":"p)" + std::to_string(p) + R"(","gender":")" +
              (rng() % 2 ? "female" : "male") + R"(","birthDate":")" + birth + "\"" + address + "}",
          org);
    }
    for (int v = 0; v < 2600; ++v) {
      std::string patient = "p" + std::to_string(rng() % kPatients);
      int month = static_cast<int>(rng() % 13);  // 0: December of the year before
      char date[40];
      std::snprintf(date, sizeof date, "%04d-%02d-%02dT%02d:30:00+07:00", month == 0 ? 2024 : 2025, month == 0 ? 12 : month,
                    1 + static_cast<int>(rng() % 28), rng() % 2 ? 6 : 10);
      std::string key = std::to_string(v);
      std::string subject = R"("subject":{"reference":"Patient/)" + patient + R"("})";
      std::string location = rng() % 2 ? R"(,"location":[{"location":{"reference":"Location/posyandu-)" +
                                             std::to_string(rng() % 3) + R"("}}])"
                                       : "";
      std::string stage = rng() % 4 == 0
                              ? R"(,"meta":{"tag":[{"system":"https://ilp-gateway.id/fhir/CodeSystem/life-cycle-stage","code":"kehamilan-persalinan-nifas"}]})"
                              : "";
      add(batch,
          R"({"resourceType":"Encounter","id":"e)" + key + R"(","status":"finished","class":{"code":"AMB"},)" + subject +
              R"(,"period":{"start":")" + date + "\"}" + location + stage + "}",
          org);
      switch (rng() % 7) {
        case 0: {
          const char* codes[] = {"Z34.1", "I10", "E11.9", "A15.0", "Z35.0"};
          add(batch,
              R"({"resourceType":"Condition","id":"c)" + key + R"(","code":)" +
                  coding("http://hl7.org/fhir/sid/icd-10", codes[rng() % 5]) + "," + subject + R"(,"recordedDate":")" +
                  date + "\"}",
              org);
          break;
        }
        case 1:
          add(batch,
              R"({"resourceType":"Observation","id":"w)" + key + R"(","status":"final","code":)" +
                  coding("http://loinc.org", "29463-7") + "," + subject + R"(,"effectiveDateTime":")" + date +
                  R"(","valueQuantity":{"value":)" + std::to_string(8 + rng() % 5) + "}}",
              org);
          break;
        case 2: {
          const char* codes[] = {"85354-9", "2339-0", "39156-5", "11545-1"};
          add(batch,
              R"({"resourceType":"Observation","id":"o)" + key + R"(","status":"final","code":)" +
                  coding("http://loinc.org", codes[rng() % 4]) + "," + subject + R"(,"effectiveDateTime":")" + date + "\"}",
              org);
          break;
        }
        case 3:
          add(batch,
              R"({"resourceType":"Observation","id":"t)" + key + R"(","status":"final","code":)" +
                  coding("http://snomed.info/sct", "171126009") + "," + subject + R"(,"effectiveDateTime":")" + date +
                  R"(","valueInteger":2,"interpretation":[)" +
                  coding("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", rng() % 2 ? "POS" : "NEG") +
                  "]}",
              org);
          break;
        case 4: {
          const char* cvx[] = {"08", "19", "178", "198", "10", "04"};
          add(batch,
              R"({"resourceType":"Immunization","id":"i)" + key + R"(","status":"completed","vaccineCode":)" +
                  coding("http://hl7.org/fhir/sid/cvx", cvx[rng() % 6]) + R"(,"patient":{"reference":"Patient/)" +
                  patient + R"("},"occurrenceDateTime":")" + date + "\"}",
              org);
          break;
        }
        case 5:
          add(batch,
              R"({"resourceType":"MedicationRequest","id":"m)" + key +
                  R"(","status":"active","intent":"order","medicationCodeableConcept":)" +
                  coding("http://sys-ids.kemkes.go.id/kfa", "93001019") + "," + subject + R"(,"authoredOn":")" + date +
                  "\"}",
              org);
          break;
        default: break;
      }
      // Another puskesmas' records of the same people: never counted here.
      if (v % 50 == 0) {
        add(batch,
            R"({"resourceType":"Encounter","id":"x)" + key + R"(","status":"finished","class":{"code":"AMB"},)" +
                subject + R"(,"period":{"start":")" + date + "\"}}",
            "pkm-lain");
      }
    }
    ASSERT_TRUE(store_->commit(std::move(batch)).isOk());
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::shared_ptr<const report::MeasureLibrary> library_;
};

TEST_F(EvaluatorMonthsTest, EveryMonthEqualsItsOwnEvaluation) {
  fill();
  std::vector<const report::MeasureDefinition*> measures;
  for (const auto& [id, m] : library_->measures()) measures.push_back(&m);
  report::EvaluationOptions options;
  options.targets["pws-k1"]["6203011000"] = report::VillageTarget{40, 100};
  options.targets["pws-k1"]["6203019999"] = report::VillageTarget{10, 90};  // a desa without records
  report::MeasureEvaluator evaluator(*store_);
  auto months = evaluator.evaluateMonths(measures, "pkm-tren", 2025, 12, options);
  ASSERT_TRUE(months.isOk()) << months.status().message();
  ASSERT_EQ(months->size(), 12u);
  std::int64_t counted = 0;
  for (int month = 1; month <= 12; ++month) {
    auto single = evaluator.evaluate(measures, "pkm-tren", report::monthPeriod(2025, month), options);
    ASSERT_TRUE(single.isOk());
    const auto& series = (*months)[month - 1];
    ASSERT_EQ(series.size(), single->size());
    for (size_t i = 0; i < series.size(); ++i) {
      EXPECT_EQ(report::measureReportJson(series[i], report::ReportType::kSummary, "", ""),
                report::measureReportJson((*single)[i], report::ReportType::kSummary, "", ""))
          << series[i].measure->id << " month " << month;
      counted += series[i].total.counts.numerator;
    }
  }
  EXPECT_GT(counted, 100) << "the data should give every month something to count";
  // Stopping at March gives the same March.
  auto to_march = evaluator.evaluateMonths(measures, "pkm-tren", 2025, 3, options);
  ASSERT_TRUE(to_march.isOk());
  ASSERT_EQ(to_march->size(), 3u);
  EXPECT_EQ(report::measureReportJson((*to_march)[2][0], report::ReportType::kSummary, "", ""),
            report::measureReportJson((*months)[2][0], report::ReportType::kSummary, "", ""));
  EXPECT_FALSE(evaluator.evaluateMonths(measures, "pkm-tren", 2025, 13, options).isOk());
}

}  // namespace
}  // namespace ilpgw
