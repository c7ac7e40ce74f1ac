// The bundled indicators load, and a malformed Measure file is refused with
// its file name and the offending field.
#include "report/measure.h"

#include <gtest/gtest.h>

#include <fstream>

#include "test_support.h"

namespace ilpgw::report {
namespace {

TEST(MeasureLibraryTest, EveryBundledIndicatorLoads) {
  auto library = MeasureLibrary::load(std::string(ILPGW_MAPPINGS_DIR) + "/measures");
  ASSERT_TRUE(library.isOk()) << library.status().message();
  for (const char* id : {"pws-k1", "pws-k4", "pws-k6", "pws-idl", "pws-ds", "pws-nd", "pws-ttd-bumil",
                         "pws-skrining-tekanan-darah", "pws-skrining-gula-darah", "pws-skrining-imt",
                         "pws-hipertensi-terlayani", "pws-diabetes-terlayani", "pws-lansia-skrining", "pws-terduga-tbc",
                         "pws-terduga-tbc-lab", "pws-tbc-terdiagnosis"}) {
    const MeasureDefinition* m = library.value()->find(id);
    ASSERT_NE(m, nullptr) << id;
    EXPECT_EQ(m->url, std::string("https://ilp-gateway.id/fhir/Measure/") + id);
    EXPECT_FALSE(m->title.empty());
  }
  EXPECT_EQ(library.value()->find("pws-k1")->lookback_months, 9);
  EXPECT_EQ(library.value()->find("pws-nd")->target_method, TargetMethod::kYearly);
  EXPECT_EQ(library.value()->find("pws-k4")->target_method, TargetMethod::kMonthlyLinear);
}

TEST(MeasureLibraryTest, MissingDirectoryIsAnEmptyLibrary) {
  testing::TempDir dir;
  auto library = MeasureLibrary::load((dir.path() / "none").string());
  ASSERT_TRUE(library.isOk());
  EXPECT_TRUE(library.value()->measures().empty());
}

// A valid Measure with one piece replaced.
std::string measure(const std::string& numerator = "exists Observation in period",
                    const std::string& stratifier = "desa", const std::string& scoring = "proportion",
                    const std::string& extra = "") {
  return R"({"resourceType":"Measure","id":"m1","url":"https://example.org/Measure/m1","title":"T","status":"active",)" +
         extra + R"("scoring":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/measure-scoring","code":")" +
         scoring + R"("}]},"group":[{"population":[
    {"code":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/measure-population","code":"initial-population"}]},
     "criteria":{"language":"text/x-ilp-criteria","expression":"age >= 15"}},
    {"code":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/measure-population","code":"denominator"}]},
     "criteria":{"language":"text/x-ilp-criteria","expression":"age >= 15"}},
    {"code":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/measure-population","code":"numerator"}]},
     "criteria":{"language":"text/x-ilp-criteria","expression":")" +
         numerator + R"("}}],
    "stratifier":[{"criteria":{"language":"text/x-ilp-criteria","expression":")" +
         stratifier + R"("}}]}]})";
}

std::string refusal(const std::string& text) {
  auto m = MeasureLibrary::parse(text, "measures/bad.json");
  EXPECT_FALSE(m.isOk());
  return m.isOk() ? std::string() : m.status().message();
}

TEST(MeasureLibraryTest, MalformedMeasuresNameFileAndField) {
  ASSERT_TRUE(MeasureLibrary::parse(measure(), "measures/good.json").isOk());
  EXPECT_EQ(refusal(measure("exists Observation[colour = red]")),
            "measures/bad.json: group[0].population[2].criteria.expression: at character 20: \"colour\" is not a "
            "field (code, klaster, stage, interpretation, value, status)");
  EXPECT_EQ(refusal(measure("exists Observation", "kecamatan")),
            "measures/bad.json: group[0].stratifier[0].criteria: must be {\"language\": \"text/x-ilp-criteria\", "
            "\"expression\": \"desa\"}");
  EXPECT_EQ(refusal(measure("exists Observation", "desa", "ratio")),
            "measures/bad.json: scoring: must be proportion (http://terminology.hl7.org/CodeSystem/measure-scoring)");
  EXPECT_EQ(refusal(measure("exists Observation", "desa", "proportion",
                            R"("extension":[{"url":"https://ilp-gateway.id/fhir/StructureDefinition/pws-lookback-months","valueInteger":99}],)")),
            "measures/bad.json: extension(pws-lookback-months).valueInteger: must be an integer from 0 to 60");
  EXPECT_EQ(refusal(R"({"resourceType":"Library"})"), "measures/bad.json: resourceType: must be \"Measure\"");
  EXPECT_EQ(refusal("{").rfind("measures/bad.json: (file): not JSON", 0), 0u);
  std::string twice = measure();
  twice.replace(twice.find("\"denominator\""), 13, "\"numerator\"");
  EXPECT_EQ(refusal(twice), "measures/bad.json: group[0].population[2].code: this population is listed twice");
}

TEST(MeasureLibraryTest, OneBadFileFailsTheLoadWithItsName) {
  testing::TempDir dir;
  std::ofstream(dir.path() / "a.json") << measure();
  std::ofstream(dir.path() / "b.json") << measure("count Observation");
  auto library = MeasureLibrary::load(dir.path().string());
  ASSERT_FALSE(library.isOk());
  EXPECT_EQ(library.status().message(),
            "measures/b.json: group[0].population[2].criteria.expression: at character 18: expected a comparison "
            "(=, !=, <, <=, >, >=)");
  std::ofstream(dir.path() / "b.json", std::ios::trunc) << measure();
  library = MeasureLibrary::load(dir.path().string());
  ASSERT_FALSE(library.isOk());
  EXPECT_EQ(library.status().message(), "measures/b.json: id: \"m1\" is also the id of another file");
}

}  // namespace
}  // namespace ilpgw::report
