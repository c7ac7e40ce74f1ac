// The search-parameter table: what it extracts from resources and how it
// parses (and refuses) search URLs.
#include "fhir/search_params.h"

#include <gtest/gtest.h>

#include "base/time_util.h"

namespace ilpgw {
namespace {

rapidjson::Document parse(const char* text) {
  rapidjson::Document doc;
  EXPECT_FALSE(json::parse(text, doc).has_value());
  return doc;
}

TEST(SearchParamsTest, ExtractsTokensStringsDatesAndReferences) {
  auto patient = parse(R"({"resourceType":"Patient","id":"p1",
    "identifier":[{"system":"https://fhir.kemkes.go.id/id/nik","value":"3201010101900001"}],
    "name":[{"family":"Sutanto","given":["Budi","  Hadi  Santoso "]}],"gender":"male","birthDate":"1990-01"})");
  SearchIndex index = extractSearchIndex(patient);
  ASSERT_EQ(index.tokens.size(), 2u);
  EXPECT_EQ(index.tokens[0].param, "identifier");
  EXPECT_EQ(index.tokens[0].system, "https://fhir.kemkes.go.id/id/nik");
  EXPECT_EQ(index.tokens[1].value, "male");
  ASSERT_EQ(index.strings.size(), 3u);
  EXPECT_EQ(index.strings[2].normalized, "hadi santoso");
  ASSERT_EQ(index.dates.size(), 1u);
  EXPECT_EQ(index.dates[0].low, "1990-01-01T00:00:00.000Z");
  EXPECT_EQ(index.dates[0].high, "1990-01-31T23:59:59.999Z");

  auto obs = parse(R"({"resourceType":"Observation","id":"o1","status":"final",
    "code":{"coding":[{"system":"http://loinc.org","code":"8480-6"},{"code":"local-1"}]},
    "subject":{"reference":"https://other.example/fhir/Patient/p1/_history/3"},
    "encounter":{"reference":"Encounter/e1"},"effectivePeriod":{"start":"2024-03-05T09:00:00+07:00"}})");
  index = extractSearchIndex(obs);
  // subject and encounter; `patient` is searched in the subject rows
  // (indexedAs), so the Patient is indexed once.
  ASSERT_EQ(index.references.size(), 2u);
  EXPECT_EQ(index.references[0].param, "subject");
  EXPECT_EQ(index.references[0].target_type, "Patient");
  EXPECT_EQ(index.references[0].target_id, "p1");
  EXPECT_EQ(index.references[1].param, "encounter");
  ASSERT_EQ(index.dates.size(), 1u);
  EXPECT_EQ(index.dates[0].low, "2024-03-05T02:00:00.000Z");
  EXPECT_EQ(index.dates[0].high, "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(index.tokens.size(), 3u);  // two codings and the status

  // A Group subject is not a patient: only `subject` indexes it.
  auto cond = parse(R"({"resourceType":"Condition","id":"c1","subject":{"reference":"Group/g1"}})");
  index = extractSearchIndex(cond);
  ASSERT_EQ(index.references.size(), 1u);
  EXPECT_EQ(index.references[0].param, "subject");
}

TEST(SearchParamsTest, ParsesPrefixesModifiersAndAlternatives) {
  ParsedSearch parsed = parseSearch("Patient", {{"birthdate", "ge1990-01-01,lt1980"},
                                                {"identifier", "sys|v1"},
                                                {"name:exact", "Budi"},
                                                {"_count", "5"},
                                                {"_cursor", "42"},
                                                {"_sort", "-_lastUpdated"}});
  ASSERT_TRUE(parsed.issues.empty());
  ASSERT_EQ(parsed.query.all_of.size(), 3u);
  const auto& date = parsed.query.all_of[0];
  ASSERT_EQ(date.any_of.size(), 2u);
  EXPECT_EQ(date.any_of[0].prefix, SearchPrefix::kGe);
  EXPECT_EQ(date.any_of[1].prefix, SearchPrefix::kLt);
  EXPECT_EQ(date.any_of[1].low, "1980-01-01T00:00:00.000Z");
  EXPECT_EQ(parsed.query.all_of[1].any_of[0].system, std::optional<std::string>("sys"));
  EXPECT_EQ(parsed.query.all_of[2].string_match, StringMatch::kExact);
  EXPECT_EQ(parsed.query.limit, 5);
  EXPECT_EQ(parsed.query.after_seq, std::optional<std::int64_t>(42));
  EXPECT_EQ(parsed.query.order, SearchOrder::kNewestFirst);
  EXPECT_EQ(parsed.applied.size(), 5u);  // _cursor is not echoed

  auto token = parseSearch("Observation", {{"code", "|x"}, {"category", "sys|"}, {"patient", "Patient/p1"}});
  ASSERT_TRUE(token.issues.empty());
  EXPECT_EQ(token.query.all_of[0].any_of[0].system, std::optional<std::string>(""));
  EXPECT_EQ(token.query.all_of[1].any_of[0].value, "");
  EXPECT_EQ(token.query.all_of[2].param, "subject");
  EXPECT_EQ(token.query.all_of[2].any_of[0].target_type, "Patient");
  // A bare id under `patient` still requires a Patient among the subject rows.
  auto bare = parseSearch("Observation", {{"patient", "p1"}});
  ASSERT_TRUE(bare.issues.empty());
  EXPECT_EQ(bare.query.all_of[0].param, "subject");
  EXPECT_EQ(bare.query.all_of[0].any_of[0].target_type, "Patient");
  auto escaped = parseSearch("Patient", {{"name", "a\\,b,c"}});
  ASSERT_EQ(escaped.query.all_of[0].any_of.size(), 2u);
  EXPECT_EQ(escaped.query.all_of[0].any_of[0].value, "a,b");
}

// Every parameter restricted to a target type that shares its path with an
// unrestricted one is searched in that one's rows; the others keep their own.
TEST(SearchParamsTest, TargetRestrictedReferencesShareTheRowsOfTheirUnrestrictedParameter) {
  int aliases = 0;
  for (const auto& def : searchParamDefs()) {
    const SearchParamDef& rows = indexedAs(def);
    if (&rows == &def) continue;
    ++aliases;
    EXPECT_EQ(def.kind, SearchParamKind::kReference) << def.type << "." << def.name;
    EXPECT_FALSE(def.target.empty()) << def.type << "." << def.name;
    EXPECT_TRUE(rows.target.empty()) << rows.type << "." << rows.name;
    EXPECT_EQ(rows.type, def.type);
    EXPECT_EQ(rows.path, def.path);
  }
  // patient of Encounter, Observation, Condition, MedicationRequest,
  // DiagnosticReport, Provenance; Immunization.patient has no such twin.
  EXPECT_EQ(aliases, 6);
  EXPECT_EQ(&indexedAs(*findSearchParam("Immunization", "patient")), findSearchParam("Immunization", "patient"));
  EXPECT_EQ(indexedAs(*findSearchParam("Observation", "patient")).name, "subject");
  EXPECT_EQ(indexedAs(*findSearchParam("Provenance", "patient")).name, "target");
}

TEST(SearchParamsTest, RefusesUnknownAndMalformedUnlessLenient) {
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"nope", "1"}, {"birthdate", "1990-02-30"}, {"birthdate", "ap1990"}, {"gender:text", "m"},
           {"_count", "x"}, {"_sort", "birthdate"}, {"_include", "*"}, {"_id", "a b"}, {"identifier", ""},
           {"_summary", "data"}, {"_format", "xml"}, {"_lastUpdated:missing", "true"}}) {
    auto strict = parseSearch("Patient", {{name, value}});
    ASSERT_EQ(strict.issues.size(), 1u) << name << "=" << value;
    EXPECT_EQ(strict.issues[0].severity, sdk::Severity::kError);
    SearchParseOptions options;
    options.lenient = true;
    auto lenient = parseSearch("Patient", {{name, value}}, options);
    EXPECT_EQ(lenient.issues[0].severity, sdk::Severity::kWarning);
    EXPECT_TRUE(lenient.applied.empty());
  }
  SearchParseOptions condition;
  condition.allow_result_params = false;
  EXPECT_EQ(parseSearch("Patient", {{"_count", "1"}}, condition).issues.size(), 1u);
}

TEST(SearchParamsTest, DateRangesFollowPrecision) {
  auto range = parseFhirDateRange("2024-02");
  ASSERT_TRUE(range);
  EXPECT_EQ(instantFromMillis(range->high), "2024-02-29T23:59:59.999Z");
  range = parseFhirDateRange("2024-03-05T10:15:30.5+07:00");
  ASSERT_TRUE(range);
  EXPECT_EQ(instantFromMillis(range->low), "2024-03-05T03:15:30.500Z");
  EXPECT_EQ(range->low, range->high);
  EXPECT_FALSE(parseFhirDateRange("2024-13"));
  EXPECT_FALSE(parseFhirDateRange("2024-01-01T25:00Z"));
  EXPECT_FALSE(parseFhirDateRange("2024-01-01T10:00+0700"));
  EXPECT_FALSE(parseFhirDateRange("'; DROP TABLE x"));
  EXPECT_EQ(instantFromMillis(0), "1970-01-01T00:00:00.000Z");
}

TEST(SearchParamsTest, QueryStringRoundTrip) {
  auto params = parseQueryString("identifier=sys%7Cval&name=a+b&flag");
  ASSERT_EQ(params.size(), 3u);
  EXPECT_EQ(params[0].second, "sys|val");
  EXPECT_EQ(params[1].second, "a b");
  EXPECT_EQ(params[2].first, "flag");
  EXPECT_EQ(urlEncode("a|b c&d"), "a%7Cb%20c%26d");
}

}  // namespace
}  // namespace ilpgw
