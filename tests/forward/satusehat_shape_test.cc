// Reshaping for SATUSEHAT and reading the puskesmas file: what the platform's
// rules require is made true before sending, and what cannot be made valid
// is named in plain words with the field's path.
#include <gtest/gtest.h>

#include <cstdlib>

#include "base/json.h"
#include "durability_helpers.h"
#include "forward/satusehat_profile.h"
#include "forward/satusehat_shape.h"
#include "test_support.h"

namespace ilpgw {
namespace {

SatusehatOrganization puskesmas() {
  SatusehatOrganization org;
  org.organization = "pkm-selat";
  org.platform_organization_id = "100011";
  org.client_id = "client-selat";
  org.client_secret = "secret";
  org.locations = {{"LANSIA", "loc-lansia"}};
  return org;
}

const std::string kEncounter = R"({"resourceType":"Encounter","id":"enc-1","meta":{"source":"x"},
  "identifier":[{"system":"http://sys-ids.kemkes.go.id/encounter/pkm-selat","value":"KJ-1"}],
  "status":"arrived","class":{"code":"AMB"},
  "serviceType":{"coding":[{"system":"https://ilp-gateway.id/fhir/CodeSystem/poli","code":"LANSIA"}]},
  "subject":{"reference":"Patient/p-1"},
  "participant":[{"individual":{"reference":"Practitioner/d-1"}}],
  "period":{"start":"2024-11-27T08:40:00"},
  "diagnosis":[{"condition":{"reference":"Condition/c-1"}},{"condition":{"reference":"Condition/c-2"}}],
  "serviceProvider":{"reference":"Organization/pkm-selat"}})";

rapidjson::Document parsed(const std::string& text) {
  rapidjson::Document doc;
  EXPECT_FALSE(json::parse(text, doc).has_value()) << text;
  return doc;
}

TEST(SatusehatShapeTest, EncounterGetsThePlatformsTerms) {
  SatusehatOrganization org = puskesmas();
  ShapeContext context;
  context.organization = &org;
  context.links = {{"Patient/p-1", "P02478375538"}, {"Practitioner/d-1", "10009880728"}, {"Condition/c-2", "cond-9"}};
  Shaped shaped = shapeForPlatform("Encounter", "enc-1", kEncounter, context);
  ASSERT_FALSE(shaped.problem) << shaped.problem->reason;
  EXPECT_TRUE(shaped.unresolved.empty());
  auto doc = parsed(shaped.json);
  EXPECT_FALSE(doc.HasMember("id")) << "a create carries no id: the platform assigns it";
  EXPECT_FALSE(doc.HasMember("meta"));
  EXPECT_EQ(std::string(doc["identifier"][0]["system"].GetString()), "http://sys-ids.kemkes.go.id/encounter/100011");
  EXPECT_EQ(shaped.identifier_system, "http://sys-ids.kemkes.go.id/encounter/100011");
  EXPECT_EQ(shaped.identifier_value, "KJ-1");
  EXPECT_EQ(std::string(doc["subject"]["reference"].GetString()), "Patient/P02478375538");
  EXPECT_EQ(std::string(doc["participant"][0]["individual"]["reference"].GetString()), "Practitioner/10009880728");
  EXPECT_EQ(std::string(doc["serviceProvider"]["reference"].GetString()), "Organization/100011");
  EXPECT_EQ(std::string(doc["location"][0]["location"]["reference"].GetString()), "Location/loc-lansia");
  EXPECT_EQ(std::string(doc["period"]["start"].GetString()), "2024-11-27T08:40:00+07:00") << "times get the offset";
  ASSERT_TRUE(doc["statusHistory"].IsArray());
  EXPECT_EQ(std::string(doc["statusHistory"][0]["status"].GetString()), "arrived");
  EXPECT_EQ(std::string(doc["statusHistory"][0]["period"]["start"].GetString()), "2024-11-27T08:40:00+07:00");
  ASSERT_EQ(doc["diagnosis"].Size(), 1u) << "only diagnoses the platform already has";
  EXPECT_EQ(std::string(doc["diagnosis"][0]["condition"]["reference"].GetString()), "Condition/cond-9");
  EXPECT_EQ(shaped.left_out, std::vector<std::string>{"Condition/c-1"}) << "added by an update once it is there";

  context.platform_id = "enc-on-platform";
  auto update = parsed(shapeForPlatform("Encounter", "enc-1", kEncounter, context).json);
  EXPECT_EQ(std::string(update["id"].GetString()), "enc-on-platform") << "a PUT carries the platform's id";
}

TEST(SatusehatShapeTest, WhatCannotBeMadeValidIsNamed) {
  SatusehatOrganization org = puskesmas();
  ShapeContext context;
  context.organization = &org;
  std::string backwards = kEncounter;
  backwards.replace(backwards.find(R"("start":"2024-11-27T08:40:00")"), 29,
                    R"("start":"2024-11-27T08:40:00+07:00","end":"2024-11-27T01:00:00Z")");
  Shaped shaped = shapeForPlatform("Encounter", "enc-1", backwards, context);
  ASSERT_TRUE(shaped.problem);
  EXPECT_EQ(shaped.problem->expression, "Encounter.period.end");
  EXPECT_NE(shaped.problem->reason.find("lebih awal"), std::string::npos) << shaped.problem->reason;

  std::string other_poli = kEncounter;
  other_poli.replace(other_poli.find("\"LANSIA\""), 8, "\"GIGI\"");
  shaped = shapeForPlatform("Encounter", "enc-1", other_poli, context);
  ASSERT_TRUE(shaped.problem);
  EXPECT_EQ(shaped.problem->expression, "Encounter.location");
  EXPECT_NE(shaped.problem->reason.find("Poli 'GIGI'"), std::string::npos) << shaped.problem->reason;
  org.locations["*"] = "loc-default";
  shaped = shapeForPlatform("Encounter", "enc-1", other_poli, context);
  ASSERT_FALSE(shaped.problem);
  EXPECT_NE(shaped.json.find("Location/loc-default"), std::string::npos);

  const std::string two_codes = R"({"resourceType":"Condition","id":"c-1","code":{"coding":[
      {"system":"http://hl7.org/fhir/sid/icd-10","code":"I10"},{"system":"http://hl7.org/fhir/sid/icd-10","code":"E11.9"}]},
      "subject":{"reference":"Patient/p-1"}})";
  shaped = shapeForPlatform("Condition", "c-1", two_codes, context);
  ASSERT_TRUE(shaped.problem);
  EXPECT_EQ(shaped.problem->expression, "Condition.code.coding");

  const std::string no_kfa = R"({"resourceType":"MedicationRequest","id":"m-1","contained":[{"resourceType":"Medication",
      "id":"med","code":{"text":"Amlodipine"}}],"medicationReference":{"reference":"#med"},"status":"active",
      "intent":"order","subject":{"reference":"Patient/p-1"}})";
  shaped = shapeForPlatform("MedicationRequest", "m-1", no_kfa, context);
  ASSERT_TRUE(shaped.problem);
  EXPECT_NE(shaped.problem->reason.find("KFA"), std::string::npos);
}

TEST(SatusehatShapeTest, OtherResourcesKeepOneIcdCodeGetABusinessIdentifierAndNameWhatTheyWaitFor) {
  SatusehatOrganization org = puskesmas();
  ShapeContext context;
  context.organization = &org;
  context.links = {{"Patient/p-1", "P1"}};
  const std::string condition = R"({"resourceType":"Condition","id":"c-1","code":{"coding":[
      {"system":"http://snomed.info/sct","code":"38341003"},{"system":"http://hl7.org/fhir/sid/icd-10","code":"I10"}]},
      "subject":{"reference":"Patient/p-1"},"encounter":{"reference":"Encounter/enc-1"},"recordedDate":"2024-11-27T08:40"})";
  Shaped shaped = shapeForPlatform("Condition", "c-1", condition, context);
  ASSERT_FALSE(shaped.problem) << shaped.problem->reason;
  auto doc = parsed(shaped.json);
  ASSERT_EQ(doc["code"]["coding"].Size(), 1u);
  EXPECT_EQ(std::string(doc["code"]["coding"][0]["code"].GetString()), "I10");
  EXPECT_EQ(std::string(doc["recordedDate"].GetString()), "2024-11-27T08:40:00+07:00");
  EXPECT_EQ(shaped.identifier_system, "http://sys-ids.kemkes.go.id/condition/100011");
  EXPECT_EQ(shaped.identifier_value, "c-1");
  EXPECT_EQ(std::string(doc["identifier"][0]["value"].GetString()), "c-1");
  EXPECT_EQ(shaped.unresolved, std::vector<std::string>{"Encounter/enc-1"});
}

TEST(SatusehatShapeTest, TimesGetAnOffsetOnlyWhenTheyHaveNone) {
  EXPECT_EQ(withOffset("2024-11-27T08:40:00", "+07:00"), "2024-11-27T08:40:00+07:00");
  EXPECT_EQ(withOffset("2024-11-27T08:40", "+08:00"), "2024-11-27T08:40:00+08:00");
  EXPECT_EQ(withOffset("2024-11-27T08:40:00.250", "+07:00"), "2024-11-27T08:40:00.250+07:00");
  EXPECT_FALSE(withOffset("2024-11-27T08:40:00Z", "+07:00"));
  EXPECT_FALSE(withOffset("2024-11-27T08:40:00+09:00", "+07:00"));
  EXPECT_FALSE(withOffset("2024-11-27", "+07:00"));
  EXPECT_FALSE(withOffset("not a time at all", "+07:00"));
}

TEST(SatusehatShapeTest, NewbornRegistrationTakesTheMothersAddressAndNamesWhatIsMissing) {
  const std::string child = R"({"resourceType":"Patient","id":"c-1","identifier":[{"system":
    "https://fhir.kemkes.go.id/id/nik-ibu","value":"3672015209950002"}],"name":[{"text":"BAYI NY. DEWI"}],
    "gender":"female","birthDate":"2026-11-20"})";
  const std::string mother = R"({"resourceType":"Patient","id":"m-1","address":[{"use":"home","line":["Jl. Kenanga 12"],
    "extension":[{"url":"https://fhir.kemkes.go.id/r4/StructureDefinition/administrativeCode"}]}]})";
  auto registration = newbornRegistration(child, "3672015209950002", mother);
  ASSERT_FALSE(registration.problem) << registration.problem->reason;
  auto doc = parsed(registration.json);
  EXPECT_EQ(std::string(doc["identifier"][0]["system"].GetString()), "https://fhir.kemkes.go.id/id/nik-ibu");
  EXPECT_EQ(std::string(doc["identifier"][0]["value"].GetString()), "3672015209950002");
  EXPECT_EQ(doc["multipleBirthInteger"].GetInt(), 0) << "not a twin";
  EXPECT_EQ(std::string(doc["address"][0]["line"][0].GetString()), "Jl. Kenanga 12") << "the mother's address";
  EXPECT_EQ(std::string(doc["gender"].GetString()), "female");
  EXPECT_FALSE(doc.HasMember("id")) << "the platform assigns the id";

  // Nothing to take the address from, a twin without its order, no sex.
  std::string twin = child;
  testing::replaceOnce(twin, R"("gender":"female",)", R"("multipleBirthBoolean":true,)");
  auto refused = newbornRegistration(twin, "3672015209950002", "");
  ASSERT_TRUE(refused.problem);
  EXPECT_TRUE(refused.json.empty());
  EXPECT_EQ(refused.problem->reason.rfind("Bayi belum bisa didaftarkan di SATUSEHAT, data kurang: jenis kelamin / sex, "
                                          "urutan kelahiran kembar / birth order of the twin, alamat / address.", 0),
            0u)
      << refused.problem->reason;
  EXPECT_EQ(refused.problem->reason.find("DEWI"), std::string::npos) << "no names in the reason";
}

TEST(SatusehatProfileTest, PuskesmasFileIsCheckedAndSecretsLoaded) {
  testing::TempDir dir;
  testing::writeFile(dir.file("a.secret"), "s3cret-a\n");
  setenv("ILPGW_TEST_SECRET_B", "s3cret-b", 1);
  std::string text = R"({"organizations":[
      {"organization":"pkm-a","platform_organization_id":"100011","client_id":"ca","client_secret_file":")" +
                     dir.file("a.secret") + R"(","locations":{"LANSIA":"loc-1","*":"loc-2"}},
      {"organization":"pkm-b","platform_organization_id":"100012","client_id":"cb","client_secret_env":"ILPGW_TEST_SECRET_B"}]})";
  auto profile = parseSatusehatProfile(text, "orgs.json");
  ASSERT_TRUE(profile.isOk()) << profile.status().message();
  ASSERT_EQ(profile->organizations.size(), 2u);
  EXPECT_EQ(profile->find("pkm-a")->client_secret, "s3cret-a");
  EXPECT_EQ(profile->find("pkm-a")->locations.at("*"), "loc-2");
  EXPECT_EQ(profile->find("pkm-b")->client_secret, "s3cret-b");
  EXPECT_EQ(profile->find("pkm-c"), nullptr);

  auto refused = [](const std::string& body) {
    auto p = parseSatusehatProfile(body, "orgs.json");
    return p.isOk() ? std::string() : p.status().message();
  };
  EXPECT_NE(refused(R"({"organizations":[{"organization":"a","platform_organization_id":"1","client_id":"c",
      "client_secret_env":"ILPGW_TEST_SECRET_B","colour":"red"}]})").find("unknown key colour"), std::string::npos);
  EXPECT_NE(refused(R"({"organizations":[{"organization":"a","platform_organization_id":"1","client_id":"c",
      "client_secret_env":"ILPGW_TEST_UNSET_VARIABLE"}]})").find("ILPGW_TEST_UNSET_VARIABLE is not set"), std::string::npos);
  EXPECT_NE(refused(R"({"organizations":[{"organization":"a","platform_organization_id":"1","client_id":"c",
      "client_secret_env":"ILPGW_TEST_SECRET_B"},{"organization":"b","platform_organization_id":"2","client_id":"c",
      "client_secret_env":"ILPGW_TEST_SECRET_B"}]})").find("one client belongs to one organization"), std::string::npos);
  std::string message = refused(R"({"organizations":[{"organization":"a","platform_organization_id":"1","client_id":"c",
      "client_secret_file":"/nonexistent/secret"}]})");
  EXPECT_NE(message.find("organization a.client_secret_file"), std::string::npos) << message;
}

}  // namespace
}  // namespace ilpgw
