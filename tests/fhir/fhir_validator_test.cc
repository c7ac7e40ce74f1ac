// Golden tests for the FHIR R4 validator: every tests/data/validator/<case>.json
// is validated and the issues compared with <case>.outcome.json, a list of
// {severity, code, expression}. Set ILPGW_UPDATE_GOLDEN=1 to rewrite the
// outcome files after an intended change (then review the diff).
#include "fhir/fhir_validator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "base/json.h"
#include "fhir/outcome.h"
#include "test_support.h"

namespace ilpgw::fhir {
namespace {

namespace fs = std::filesystem;

fs::path dataDir() { return fs::path(ILPGW_TEST_DATA_DIR) / "validator"; }

using ilpgw::testing::readFile;

std::vector<std::string> goldenCases() {
  std::vector<std::string> cases;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dataDir(), ec)) {
    std::string name = entry.path().filename().string();
    if (!name.ends_with(".json") || name.ends_with(".outcome.json")) continue;
    cases.push_back(name.substr(0, name.size() - 5));
  }
  std::sort(cases.begin(), cases.end());
  return cases;
}

std::vector<sdk::Issue> validateText(const std::string& text) {
  rapidjson::Document doc;
  std::vector<sdk::Issue> issues;
  if (auto error = json::parse(text, doc)) {
    ADD_FAILURE() << "unparseable test input: " << *error;
    return issues;
  }
  validateResource(doc, issues);
  return issues;
}

// The comparable part of the issues, pretty-printed one issue per line so that
// golden diffs are readable.
std::string outcomeText(const std::vector<sdk::Issue>& issues) {
  std::string out = "[";
  for (std::size_t i = 0; i < issues.size(); ++i) {
    rapidjson::Document item(rapidjson::kObjectType);
    auto& a = item.GetAllocator();
    item.AddMember("severity", rapidjson::StringRef(severityCode(issues[i].severity)), a);
    item.AddMember("code", json::str(issues[i].code, a), a);
    item.AddMember("expression", json::str(issues[i].expression, a), a);
    out += i == 0 ? "\n  " : ",\n  ";
    out += json::write(item);
  }
  out += issues.empty() ? "]\n" : "\n]\n";
  return out;
}

// Strings that identify a person: NIK-like digit runs and name parts. None of
// them may appear in diagnostics.
void collectSensitive(const rapidjson::Value& v, std::string_view key, std::vector<std::string>& out) {
  if (v.IsObject()) {
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      collectSensitive(it->value, it->name.GetString(), out);
    }
  } else if (v.IsArray()) {
    for (const auto& item : v.GetArray()) collectSensitive(item, key, out);
  } else if (v.IsString()) {
    std::string s(v.GetString(), v.GetStringLength());
    bool digits = s.size() >= 8 && std::all_of(s.begin(), s.end(), [](unsigned char c) {
                    return std::isdigit(c) || c == '-';
                  });
    bool name_part = (key == "family" || key == "given" || key == "text") && s.size() >= 3;
    if (digits || name_part) out.push_back(s);
  }
}

class ValidatorGoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ValidatorGoldenTest, MatchesOutcome) {
  const fs::path input = dataDir() / (GetParam() + ".json");
  const fs::path expected_path = dataDir() / (GetParam() + ".outcome.json");
  const std::string text = readFile(input);
  const std::vector<sdk::Issue> issues = validateText(text);
  const std::string actual = outcomeText(issues);

  if (const char* update = std::getenv("ILPGW_UPDATE_GOLDEN"); update != nullptr && *update == '1') {
    std::ofstream(expected_path, std::ios::binary) << actual;
  }
  ASSERT_TRUE(fs::exists(expected_path)) << "missing " << expected_path << "; actual:\n" << actual;
  rapidjson::Document expected_doc;
  ASSERT_FALSE(json::parse(readFile(expected_path), expected_doc).has_value()) << expected_path;
  ASSERT_TRUE(expected_doc.IsArray()) << expected_path;
  // Re-render the expected file the same way so formatting never matters.
  std::vector<sdk::Issue> expected;
  for (const auto& item : expected_doc.GetArray()) {
    sdk::Issue issue;
    std::string_view severity = json::string(item, "severity");
    issue.severity = severity == "warning"       ? sdk::Severity::kWarning
                     : severity == "fatal"       ? sdk::Severity::kFatal
                     : severity == "information" ? sdk::Severity::kInformation
                                                 : sdk::Severity::kError;
    issue.code = json::string(item, "code");
    issue.expression = json::string(item, "expression");
    expected.push_back(issue);
  }
  EXPECT_EQ(outcomeText(expected), actual) << "case " << GetParam();

  rapidjson::Document doc;
  ASSERT_FALSE(json::parse(text, doc).has_value());
  std::vector<std::string> sensitive;
  collectSensitive(doc, "", sensitive);
  for (const auto& issue : issues) {
    EXPECT_FALSE(issue.expression.empty());
    EXPECT_FALSE(issue.diagnostics.empty()) << issue.expression;
    for (const auto& s : sensitive) {
      EXPECT_EQ(issue.diagnostics.find(s), std::string::npos)
          << "diagnostics of " << issue.expression << " echo input data";
    }
  }
}

std::string caseName(const ::testing::TestParamInfo<std::string>& info) {
  // snake_case file names become PascalCase test names.
  std::string name;
  bool upper = true;
  for (char c : info.param) {
    if (!std::isalnum(static_cast<unsigned char>(c))) {
      upper = true;
      continue;
    }
    name += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Golden, ValidatorGoldenTest, ::testing::ValuesIn(goldenCases()), caseName);

TEST(FhirValidatorTest, HasEnoughGoldenCases) { EXPECT_GE(goldenCases().size(), 25u); }

TEST(FhirValidatorTest, ListsSupportedResourceTypes) {
  const auto& types = supportedResourceTypes();
  for (const char* type : {"Patient", "Practitioner", "Organization", "Location", "Encounter",
                           "Observation", "Condition", "MedicationRequest", "Medication",
                           "Immunization", "DiagnosticReport", "Provenance"}) {
    EXPECT_NE(std::find(types.begin(), types.end(), type), types.end()) << type;
    EXPECT_TRUE(isSupportedResourceType(type)) << type;
  }
  EXPECT_FALSE(isSupportedResourceType("Bundle"));
  EXPECT_FALSE(isSupportedResourceType("Encounter.participant"));  // backbone, not a resource
  EXPECT_FALSE(isSupportedResourceType("Quantity"));
  EXPECT_FALSE(isSupportedResourceType(""));
}

TEST(FhirValidatorTest, RejectsNonObjectTopLevel) {
  for (const char* text : {"[]", "[{\"resourceType\":\"Patient\"}]", "42", "-1.5", "\"Patient\"",
                           "true", "null", "{}"}) {
    std::vector<sdk::Issue> issues;
    ASSERT_NO_THROW(issues = validateText(text)) << text;
    ASSERT_EQ(issues.size(), 1u) << text;
    EXPECT_EQ(issues[0].severity, sdk::Severity::kError) << text;
    EXPECT_FALSE(issues[0].expression.empty()) << text;
  }
}

std::string nestedExtensions(int levels) {
  std::string text = R"({"resourceType":"Patient","extension":[)";
  for (int i = 0; i < levels; ++i) text += R"({"url":"http://example.org/x","extension":[)";
  text += R"({"url":"http://example.org/leaf","valueString":"x"})";
  for (int i = 0; i < levels; ++i) text += "]}";
  text += "]}";
  return text;
}

TEST(FhirValidatorTest, AcceptsModerateNesting) {
  EXPECT_TRUE(validateText(nestedExtensions(30)).empty());
}

TEST(FhirValidatorTest, StopsAtDeepNesting) {
  const auto issues = validateText(nestedExtensions(5000));
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].code, "structure");
  EXPECT_NE(issues[0].diagnostics.find("deeper"), std::string::npos);
}

TEST(FhirValidatorTest, DoesNotDescendIntoUnknownDeepValues) {
  std::string text = R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"junk":)";
  text += std::string(10000, '[') + std::string(10000, ']') + "}";
  const auto issues = validateText(text);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].expression, "Observation.junk");
}

TEST(FhirValidatorTest, CapsIssueCount) {
  std::string text = R"({"resourceType":"Patient","identifier":[)";
  for (int i = 0; i < 5000; ++i) text += std::string(i == 0 ? "" : ",") + R"({"use":"bad"})";
  text += "]}";
  const auto issues = validateText(text);
  ASSERT_FALSE(issues.empty());
  EXPECT_LE(issues.size(), 101u);
  EXPECT_EQ(issues.back().code, "too-costly");
}

TEST(FhirValidatorTest, MasksHostileElementNames) {
  const auto issues =
      validateText(R"({"resourceType":"Patient","3672015209950002 Siti":1,"Bundle\u0000x":2})");
  ASSERT_EQ(issues.size(), 2u);
  for (const auto& issue : issues) {
    EXPECT_EQ(issue.expression, "Patient.(invalid-name)");
  }
}

TEST(FhirValidatorTest, NikDiagnosticsNeverContainTheNik) {
  const auto issues = validateText(
      R"({"resourceType":"Patient","gender":"male","birthDate":"1990-01-01","identifier":[)"
      R"({"system":"https://fhir.kemkes.go.id/id/nik","value":"36720152099500"},)"
      R"({"system":"https://fhir.kemkes.go.id/id/nik","value":"3672015209950002"}]})");
  ASSERT_EQ(issues.size(), 3u);
  EXPECT_EQ(issues[0].code, "value");
  EXPECT_EQ(issues[1].code, "business-rule");
  EXPECT_EQ(issues[2].code, "business-rule");
  for (const auto& issue : issues) {
    EXPECT_EQ(issue.diagnostics.find("3672"), std::string::npos);
    EXPECT_EQ(issue.diagnostics.find("520995"), std::string::npos);
  }
}

TEST(FhirValidatorTest, AppendsToExistingIssues) {
  rapidjson::Document doc;
  ASSERT_FALSE(json::parse(R"({"resourceType":"Encounter"})", doc).has_value());
  std::vector<sdk::Issue> issues(2);
  validateResource(doc, issues);
  EXPECT_EQ(issues.size(), 4u);  // status and class missing
}

// Random mutations of every golden input: the validator must neither crash
// nor throw, whatever the structure.
TEST(FhirValidatorTest, SurvivesMutatedInputs) {
  std::mt19937 rng(20241126);
  const std::vector<std::string> replacements = {
      "null", "[]", "{}", "0", "-1", "1.5e300", "\"\"", "\"x\"", "true", "[[[]]]",
      "{\"resourceType\":\"Patient\"}", "[null]", "{\"extension\":[{}]}", "\"#\""};
  std::size_t validated = 0;
  for (const std::string& name : goldenCases()) {
    const std::string original = readFile(dataDir() / (name + ".json"));
    for (int round = 0; round < 40; ++round) {
      std::string text = original;
      // Replace the value after a random ':' with a value of another kind.
      std::size_t colon = text.find(':', std::uniform_int_distribution<std::size_t>(0, text.size() - 1)(rng));
      if (colon == std::string::npos) continue;
      std::size_t end = colon + 1;
      while (end < text.size() && text[end] == ' ') ++end;
      if (text[end] == '"') {
        end = text.find('"', end + 1);
        if (end == std::string::npos) continue;
        ++end;
      } else {
        while (end < text.size() && text[end] != ',' && text[end] != '}' && text[end] != ']' &&
               text[end] != '{' && text[end] != '[') {
          ++end;
        }
      }
      if (end == colon + 1 || text[end - 1] == '{' || text[end - 1] == '[') end = colon + 1;
      text.replace(colon + 1, end - colon - 1,
                   replacements[std::uniform_int_distribution<std::size_t>(0, replacements.size() - 1)(rng)]);
      rapidjson::Document doc;
      if (json::parse(text, doc).has_value()) continue;
      std::vector<sdk::Issue> issues;
      EXPECT_NO_THROW(validateResource(doc, issues)) << name;
      ++validated;
    }
  }
  EXPECT_GT(validated, 100u);
}

}  // namespace
}  // namespace ilpgw::fhir
