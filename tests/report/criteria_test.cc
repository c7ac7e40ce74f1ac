// The criteria language of PWS indicators: what each form selects, and that
// malformed expressions are refused with the position and the reason.
#include "report/criteria.h"

#include <gtest/gtest.h>

namespace ilpgw::report {
namespace {

Fact fact(std::string type, std::string date, std::string system = {}, std::string code = {}) {
  Fact f;
  f.type = std::move(type);
  f.date = std::move(date);
  if (!code.empty()) f.codes.emplace_back(std::move(system), std::move(code));
  return f;
}

const CriteriaPeriod kMarch{"2024-06-01", "2025-03-01", "2025-03-31"};

bool holds(const std::string& text, const PatientFacts& patient, const CriteriaPeriod& period = kMarch) {
  auto c = Criteria::parse(text);
  EXPECT_TRUE(c.isOk()) << text << ": " << c.status().message();
  return c.isOk() && c->matches(patient, period);
}

std::string refusal(const std::string& text) {
  auto c = Criteria::parse(text);
  EXPECT_FALSE(c.isOk()) << text << " was accepted";
  return c.isOk() ? std::string() : c.status().message();
}

TEST(CriteriaTest, AgeIsCompletedYearsAtPeriodEnd) {
  PatientFacts p;
  p.birth_date = "2010-04-01";  // 14 on 2025-03-31, 15 on 2025-04-01
  EXPECT_TRUE(holds("age < 15", p));
  EXPECT_FALSE(holds("age >= 15", p));
  EXPECT_TRUE(holds("age >= 15", p, {"2024-06-01", "2025-04-01", "2025-04-30"}));
  EXPECT_TRUE(holds("age-months = 179", p));
  PatientFacts unknown;
  EXPECT_FALSE(holds("age < 200", unknown));  // no birth date: no age criterion holds
  EXPECT_FALSE(holds("age >= 0", unknown));
}

TEST(CriteriaTest, ExistsLooksOnlyInsideItsWindow) {
  PatientFacts p;
  p.facts.push_back(fact("Observation", "2025-02-10", "http://loinc.org", "85354-9"));
  EXPECT_FALSE(holds("exists Observation[code = loinc|85354-9]", p));  // default: in period
  EXPECT_TRUE(holds("exists Observation[code = loinc|85354-9] before period", p));
  EXPECT_TRUE(holds("exists Observation[code = loinc|85354-9] through period", p));
  p.facts.push_back(fact("Observation", "2025-03-31", "http://loinc.org", "85354-9"));
  EXPECT_TRUE(holds("exists Observation[code = http://loinc.org|85354-9] in period", p));
  EXPECT_FALSE(holds("exists Observation[code = sct|85354-9] in period", p));  // other system
  EXPECT_TRUE(holds("exists Observation[code = 85354-9] in period", p));       // any system
  // Before the look-back start nothing is seen.
  PatientFacts old;
  old.facts.push_back(fact("Observation", "2024-05-31", "http://loinc.org", "85354-9"));
  EXPECT_FALSE(holds("exists Observation through period", old));
}

TEST(CriteriaTest, CountCountsDistinctDaysOverUnions) {
  PatientFacts p;
  p.facts.push_back(fact("Condition", "2025-01-05", "http://hl7.org/fhir/sid/icd-10", "Z34.1"));
  p.facts.push_back(fact("Condition", "2025-01-05", "http://hl7.org/fhir/sid/icd-10", "O99.0"));
  Fact posyandu = fact("Encounter", "2025-01-05");  // same day as the clinic visit: one contact
  posyandu.stage = "kehamilan-persalinan-nifas";
  p.facts.push_back(posyandu);
  posyandu.date = "2025-03-02";
  p.facts.push_back(posyandu);
  p.facts.push_back(fact("Condition", "2025-03-20", "http://hl7.org/fhir/sid/icd-10", "Z35.5"));
  const std::string anc =
      "(Encounter[stage = kehamilan-persalinan-nifas] + Condition[code in (icd10|Z34*, icd10|Z35*)])";
  EXPECT_TRUE(holds("count " + anc + " through period = 3", p));
  EXPECT_TRUE(holds("count " + anc + " in period = 2", p));
  EXPECT_TRUE(holds("count " + anc + " before period = 1", p));
  EXPECT_FALSE(holds("count Condition[code = icd10|Z34] through period >= 1", p));  // no * : exact code only
  EXPECT_TRUE(holds("count Condition[code != icd10|O99.0] through period = 2", p));
}

TEST(CriteriaTest, FieldsOfEncountersAndObservations) {
  PatientFacts p;
  Fact e = fact("Encounter", "2025-03-03");
  e.klaster = "3";
  e.stage = "lansia";
  p.facts.push_back(e);
  Fact tb = fact("Observation", "2025-03-03", "http://snomed.info/sct", "171126009");
  tb.interpretation = {"POS"};
  tb.value = 2;
  p.facts.push_back(tb);
  Fact ttd = fact("Observation", "2025-03-03", "https://ilp-gateway.id/fhir/CodeSystem/layanan-posyandu",
                  "tablet-tambah-darah");
  ttd.flag = false;
  p.facts.push_back(ttd);
  EXPECT_TRUE(holds("exists Encounter[klaster = 3 and stage in (dewasa, lansia)]", p));
  EXPECT_FALSE(holds("exists Encounter[klaster = 2]", p));
  EXPECT_TRUE(holds("exists Observation[code = sct|171126009 and interpretation = POS and value >= 2]", p));
  EXPECT_FALSE(holds("exists Observation[code = sct|171126009 and interpretation = NEG]", p));
  EXPECT_FALSE(holds("exists Observation[code = layanan-posyandu|tablet-tambah-darah and value = true]", p));
  EXPECT_TRUE(holds("exists Observation[code = layanan-posyandu|tablet-tambah-darah and value = false]", p));
}

TEST(CriteriaTest, RisesComparesWithTheLastEarlierValue) {
  PatientFacts p;
  Fact w = fact("Observation", "2025-01-10", "http://loinc.org", "29463-7");
  w.value = 9.0;
  p.facts.push_back(w);
  w.date = "2025-02-10";
  w.value = 9.4;
  p.facts.push_back(w);
  w.date = "2025-03-10";
  w.value = 9.3;
  p.facts.push_back(w);
  EXPECT_FALSE(holds("rises Observation[code = loinc|29463-7] in period", p));  // 9.3 after 9.4
  EXPECT_TRUE(holds("rises Observation[code = loinc|29463-7] in period", p,
                    {"2024-11-01", "2025-02-01", "2025-02-28"}));  // 9.4 after 9.0
  EXPECT_FALSE(holds("rises Observation[code = loinc|29463-7] in period", p,
                     {"2025-01-01", "2025-01-01", "2025-01-31"}));  // no earlier weighing
}

TEST(CriteriaTest, BooleanOperatorsAndGender) {
  PatientFacts p;
  p.gender = "female";
  p.birth_date = "1995-09-12";
  EXPECT_TRUE(holds("gender = female and (age < 20 or age >= 25)", p));
  EXPECT_FALSE(holds("gender != female or not age >= 25", p));
  EXPECT_TRUE(holds("not exists Immunization through period", p));
}

TEST(CriteriaTest, ReadsOnlyTheTypesItNames) {
  auto c = Criteria::parse("exists Observation or count (Condition + Encounter) in period >= 1");
  ASSERT_TRUE(c.isOk()) << c.status().message();
  EXPECT_EQ(c->types(), (std::set<std::string>{"Condition", "Encounter", "Observation"}));
  EXPECT_TRUE(c->lookbackTypes().empty());
  auto back = Criteria::parse("exists Encounter in period and (count Condition through period > 1 or "
                              "rises Observation[code = loinc|29463-7]) and not exists Immunization before period");
  ASSERT_TRUE(back.isOk()) << back.status().message();
  EXPECT_EQ(back->lookbackTypes(), (std::set<std::string>{"Condition", "Immunization", "Observation"}));
}

TEST(CriteriaTest, MalformedExpressionsAreRefusedWithPositionAndReason) {
  EXPECT_EQ(refusal(""), "at character 1: the expression is empty");
  EXPECT_EQ(refusal("exists Patient"), "at character 8: \"Patient\" is not a resource type criteria read (Encounter, "
                                       "Observation, Condition, Immunization, MedicationRequest)");
  EXPECT_EQ(refusal("exists Observation[colour = red]"),
            "at character 20: \"colour\" is not a field (code, klaster, stage, interpretation, value, status)");
  EXPECT_EQ(refusal("exists Condition[klaster = 2]"), "at character 18: field \"klaster\" exists only on Encounter");
  EXPECT_EQ(refusal("exists Observation[code = snomed|123]"),
            "at character 27: \"snomed\" is neither a code system URL nor a known alias");
  EXPECT_EQ(refusal("count Observation >= many"), "at character 22: expected a number of days, found \"many\"");
  EXPECT_EQ(refusal("count Observation"), "at character 18: expected a comparison (=, !=, <, <=, >, >=)");
  EXPECT_EQ(refusal("age >= 15 and"), "at character 14: expected exists, count, rises, age, age-months, gender, not or \"(\"");
  EXPECT_EQ(refusal("age >= 15 age < 60"), "at character 11: unexpected \"age\"");
  EXPECT_EQ(refusal("(age >= 15"), "at character 11: expected \")\"");
  EXPECT_EQ(refusal("exists Observation[code = loinc|1 ; x]"), "at character 35: unexpected character \";\"");
  EXPECT_EQ(refusal("gender = woman"), "at character 10: gender is male, female, other or unknown, not \"woman\"");
  EXPECT_EQ(refusal("exists Observation[code = loinc|*]"), "at character 27: \"loinc|*\" is not a code");
  EXPECT_EQ(refusal("exists Observation in month"), "at character 23: expected \"period\", found \"month\"");
  EXPECT_EQ(refusal("age ! 3"), "at character 5: \"!\" must be \"!=\"");
  std::string deep(200, '(');
  EXPECT_NE(refusal(deep + "age > 1" + std::string(200, ')')).find("nests too deeply"), std::string::npos);
}

}  // namespace
}  // namespace ilpgw::report
