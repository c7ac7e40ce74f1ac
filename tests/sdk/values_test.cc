// The SDK's values library (ilpgw/sdk/values.h, ucum.h): the one parser of
// dates, decimals, blood pressure, sex codes, NIK facts and units that every
// adapter and the core use. Units are checked against the real table in
// mappings/ucum-units.json.
#include "ilpgw/sdk/values.h"

#include <gtest/gtest.h>

#include "ilpgw/sdk/ucum.h"
#include "test_support.h"

namespace ilpgw {
namespace {

namespace v = sdk::values;

TEST(ValuesTest, DecimalsAcceptACommaAndKeepPrecision) {
  EXPECT_EQ(v::normalizeDecimal("36,8", true), "36.8");
  EXPECT_EQ(v::normalizeDecimal(" 36.80 ", true), "36.80");
  EXPECT_EQ(v::normalizeDecimal("036", true), "36");
  EXPECT_EQ(v::normalizeDecimal(".5", true), "0.5");
  EXPECT_EQ(v::normalizeDecimal("-0.0", true), "0.0");
  EXPECT_EQ(v::normalizeDecimal("-1.5", true), "-1.5");
  EXPECT_FALSE(v::normalizeDecimal("36,8", false));
  EXPECT_FALSE(v::normalizeDecimal("1.500,5", true));
  EXPECT_FALSE(v::normalizeDecimal("12a", true));
  EXPECT_FALSE(v::normalizeDecimal("1e3", true));
  EXPECT_FALSE(v::normalizeDecimal("+5", true));
  EXPECT_FALSE(v::normalizeDecimal("5.", true));
  EXPECT_FALSE(v::normalizeDecimal("", true));
  EXPECT_FALSE(v::normalizeDecimal("1234567890123456", true));
}

TEST(ValuesTest, DiagnosticsQuoteAtMostTwentyFourCharacters) {
  EXPECT_EQ(v::quotedForDiagnostic("A09.0"), "'A09.0'");
  EXPECT_EQ(v::quotedForDiagnostic(""), "''");
  EXPECT_EQ(v::quotedForDiagnostic("demam tinggi sejak dua hari"), "'demam tinggi sejak dua h...'");
  EXPECT_EQ(v::quotedForDiagnostic(std::string(24, 'x')), "'" + std::string(24, 'x') + "'");
}

TEST(ValuesTest, DateLayoutsAreCalendarChecked) {
  auto d = v::parseDateTime("05-01-1990", "dd-mm-yyyy");
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->has_time);
  EXPECT_EQ(v::formatDate(*d), "1990-01-05");
  EXPECT_TRUE(v::parseDateTime("5/1/1990", "dd/mm/yyyy"));
  EXPECT_TRUE(v::parseDateTime("29-02-2024", "dd-mm-yyyy"));
  EXPECT_FALSE(v::parseDateTime("29-02-2023", "dd-mm-yyyy"));
  EXPECT_FALSE(v::parseDateTime("31-02-1990", "dd-mm-yyyy"));
  EXPECT_FALSE(v::parseDateTime("05-01-1990", "dd/mm/yyyy"));
  EXPECT_FALSE(v::parseDateTime("05-01-0990", "dd-mm-yyyy"));  // a typing slip, not a year
  EXPECT_FALSE(v::parseDateTime("26-11-2024 24:00", "dd-mm-yyyy HH:MM"));
  EXPECT_TRUE(v::isValidLayout("dd.mm.yyyy HH:MM"));
  EXPECT_FALSE(v::isValidLayout("mm-yyyy"));
}

TEST(ValuesTest, LocalTimesTakeTheFacilityOffset) {
  auto t = v::parseDateTime("26-11-2024 09:15", "dd-mm-yyyy HH:MM");
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->has_time);
  EXPECT_TRUE(t->offset.empty());
  EXPECT_FALSE(v::applyFacilityOffset(*t, "WIB"));
  ASSERT_TRUE(v::applyFacilityOffset(*t, "+08:00"));
  EXPECT_EQ(v::formatDateTime(*t), "2024-11-26T09:15:00+08:00");

  // An offset written in the data wins over the facility's.
  auto iso = v::parseDateTime("2024-11-26T10:05:30.250+09:00", "iso");
  ASSERT_TRUE(iso);
  ASSERT_TRUE(v::applyFacilityOffset(*iso, "+07:00"));
  EXPECT_EQ(v::formatDateTime(*iso), "2024-11-26T10:05:30.250+09:00");
  auto zulu = v::parseDateTime("2024-11-26 10:05z", "iso");
  ASSERT_TRUE(zulu);
  EXPECT_EQ(zulu->offset, "Z");
  EXPECT_FALSE(v::parseDateTime("2024-11-26T10:05+15:00", "iso"));
  EXPECT_FALSE(v::parseDateTime("2024-11-26T10", "iso"));

  auto late = v::parseDateTime("2024-12-31T23:50:00+07:00", "iso");
  ASSERT_TRUE(late);
  EXPECT_EQ(v::formatDateTime(v::addMinutes(*late, 15)), "2025-01-01T00:05:00+07:00");
}

TEST(ValuesTest, BloodPressureHasOnePlausibilityRule) {
  auto bp = v::parseBloodPressure("150 / 95");
  ASSERT_TRUE(bp);
  EXPECT_EQ(bp->systolic, "150");
  EXPECT_EQ(bp->diastolic, "95");
  auto comma = v::parseBloodPressure("120,5/80", true);
  ASSERT_TRUE(comma);
  EXPECT_EQ(comma->systolic, "120.5");
  EXPECT_FALSE(v::parseBloodPressure("120,5/80", false));
  // The edges of the rule: 0 < diastolic < systolic <= kSystolicMax.
  EXPECT_TRUE(v::parseBloodPressure("400/120"));
  EXPECT_FALSE(v::parseBloodPressure("401/120"));
  EXPECT_TRUE(v::parseBloodPressure("81/80"));
  EXPECT_FALSE(v::parseBloodPressure("80/80"));
  EXPECT_FALSE(v::parseBloodPressure("95/150"));
  EXPECT_FALSE(v::parseBloodPressure("120/0"));
  EXPECT_FALSE(v::parseBloodPressure("160-90"));
  EXPECT_FALSE(v::parseBloodPressure("160/"));
  EXPECT_TRUE(v::isPlausibleBloodPressure(v::kSystolicMax, 1));
  EXPECT_FALSE(v::isPlausibleBloodPressure(v::kSystolicMax + 0.5, 90));
}

TEST(ValuesTest, SexCodes) {
  EXPECT_EQ(v::parseSex("L"), v::Sex::kMale);
  EXPECT_EQ(v::parseSex(" p "), v::Sex::kFemale);
  EXPECT_FALSE(v::parseSex("W"));
  EXPECT_FALSE(v::parseSex("LP"));
  EXPECT_FALSE(v::parseSex(""));
  EXPECT_EQ(v::fhirGender(v::Sex::kFemale), "female");
  EXPECT_EQ(v::fhirGender(v::Sex::kMale), "male");
}

TEST(ValuesTest, NikCarriesRegionBirthDateAndSex) {
  // A woman born 5 January 1990: DD is 05 + 40.
  auto woman = v::decodeNik("6203014501900002");
  ASSERT_TRUE(woman);
  EXPECT_EQ(woman->region, "620301");
  EXPECT_TRUE(woman->female);
  EXPECT_EQ(woman->day, 5);
  EXPECT_EQ(woman->month, 1);
  EXPECT_EQ(woman->year2, 90);
  EXPECT_EQ(woman->sequence, "0002");
  EXPECT_TRUE(woman->birth_date_valid);
  EXPECT_TRUE(woman->agreesWithBirthDate("1990-01-05"));
  EXPECT_TRUE(woman->agreesWithBirthDate("1990-01"));
  EXPECT_TRUE(woman->agreesWithBirthDate("1990"));
  EXPECT_FALSE(woman->agreesWithBirthDate("1990-01-06"));
  EXPECT_FALSE(woman->agreesWithBirthDate("1991-01-05"));
  EXPECT_TRUE(woman->agreesWithSex(v::Sex::kFemale));
  EXPECT_FALSE(woman->agreesWithSex(v::Sex::kMale));

  // A man born on the 31st; a woman born on the 31st has 71.
  auto man = v::decodeNik("3172013112850001");
  ASSERT_TRUE(man);
  EXPECT_FALSE(man->female);
  EXPECT_EQ(man->day, 31);
  auto last_day = v::decodeNik("3172017112850001");
  ASSERT_TRUE(last_day);
  EXPECT_TRUE(last_day->female);
  EXPECT_EQ(last_day->day, 31);
  EXPECT_TRUE(last_day->birth_date_valid);

  // DD 00, 32..40 and above 71, or month 13, are no date.
  for (const char* nik : {"3172010012850001", "3172013212850001", "3172014012850001", "3172017212850001",
                          "3172011513850001", "3172011500850001"}) {
    auto facts = v::decodeNik(nik);
    ASSERT_TRUE(facts) << nik;
    EXPECT_FALSE(facts->birth_date_valid) << nik;
  }
  EXPECT_FALSE(v::decodeNik("620301450190000"));    // 15 digits
  EXPECT_FALSE(v::decodeNik("62030145019000021"));  // 17 digits
  EXPECT_FALSE(v::decodeNik("62030145019O0002"));   // a letter O
  EXPECT_TRUE(v::isNik("6203014501900002"));
  EXPECT_FALSE(v::isNik(""));
}

TEST(ValuesTest, Icd10Shape) {
  EXPECT_EQ(v::normalizeIcd10("e119"), "E11.9");
  EXPECT_EQ(v::normalizeIcd10("I10"), "I10");
  EXPECT_EQ(v::normalizeIcd10("O09.A1"), "O09.A1");
  EXPECT_FALSE(v::normalizeIcd10("I1O"));
  EXPECT_FALSE(v::normalizeIcd10("E11.12345"));
}

TEST(ValuesTest, NamesForIdentityKeys) {
  EXPECT_EQ(v::normalizeName("  m.  rizki \t putra "), "M. RIZKI PUTRA");
}

class UcumTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string error;
    auto loaded = v::UcumUnits::load(testing::mappingsDir() + "/ucum-units.json", error);
    ASSERT_TRUE(loaded) << error;
    units_ = new v::UcumUnits(std::move(*loaded));
  }
  static void TearDownTestSuite() {
    delete units_;
    units_ = nullptr;
  }
  static v::UcumUnits* units_;
};
v::UcumUnits* UcumTest::units_ = nullptr;

TEST_F(UcumTest, ValidCodesThatNoConceptMapLists) {
  ASSERT_NE(units_, nullptr);
  for (const char* code : {"mmol/L", "kg/m2", "10*3/uL", "/min", "mm[Hg]", "Cel", "g/dL", "%", "10*9/L", "10^6/mL",
                           "m-2", "s+1", "ug/(kg.min)", "{cells}/uL", "mg{total}/d", "{score}", "[iU]/L", "kU/L",
                           "[in_i]", "B[10.nV]", "1/d", "/[HPF]", "umol/mol", "[pH]", "mL/min/{1.73_m2}", "KiBy",
                           "dam", "cd", "[arb'U]/mL"}) {
    EXPECT_TRUE(units_->isValid(code)) << code;
  }
}

TEST_F(UcumTest, InvalidCodes) {
  ASSERT_NE(units_, nullptr);
  for (const char* code : {"kgs", "mmHG", "mmHg", "", "kg/", "/", "kg//m2", "(kg", "kg)", "{unclosed", "mg {x}",
                           "kg^2", "Kmin",  // prefixes go on metric atoms only: no kilo-minute
                           "[in_i", "in_i]", "x", "kg m2", "2kg", "m.", "10*3a"}) {
    EXPECT_FALSE(units_->isValid(code)) << "'" << code << "'";
  }
  EXPECT_GT(units_->atomCount(), 200u);
}

TEST_F(UcumTest, CaseMatters) {
  ASSERT_NE(units_, nullptr);
  EXPECT_TRUE(units_->isValid("mL"));
  EXPECT_TRUE(units_->isValid("ml"));
  EXPECT_TRUE(units_->isValid("mmol/L"));
  EXPECT_FALSE(units_->isValid("MMOL/L"));
  EXPECT_FALSE(units_->isValid("Mmol/l") && units_->isValid("MOL"));  // M is mega; MOL is no atom
}

TEST(UcumTableTest, MalformedTablesAreRefused) {
  std::string error;
  EXPECT_FALSE(v::UcumUnits::parse("[]", error));
  EXPECT_FALSE(v::UcumUnits::parse(R"({"prefixes": {}, "metric_atoms": {}})", error));
  EXPECT_NE(error.find("other_atoms"), std::string::npos);
  EXPECT_FALSE(v::UcumUnits::load("/nonexistent/ucum-units.json", error));
  auto tiny = v::UcumUnits::parse(R"({"prefixes": {"k": ""}, "metric_atoms": {"g": ""}, "other_atoms": {"h": ""}})", error);
  ASSERT_TRUE(tiny);
  EXPECT_TRUE(tiny->isValid("kg/h"));
  EXPECT_FALSE(tiny->isValid("kh"));
  EXPECT_FALSE(tiny->isValid("mg"));
}

}  // namespace
}  // namespace ilpgw
