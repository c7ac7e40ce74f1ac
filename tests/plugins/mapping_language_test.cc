// The mapping language: its CSV reader (a unit test of the engine library;
// the value parsers are the SDK's, tested in tests/sdk/values_test.cc),
// mapping-file validation with file/line/key messages through the real
// mapping.so and the core's loader, the JSON Schema against the bundled
// mapping files, and ConceptMap $translate.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/schema.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "csv.h"
#include "ingest/gateway.h"
#include "ingest/host.h"
#include "base/json.h"
#include "ingest/plugin_loader.h"
#include "http/terminology_routes.h"
#include "test_support.h"

namespace ilpgw {
namespace {

namespace m = plugins::mapping;

using testing::readFile;

// ---- engine helpers ---------------------------------------------------------------

TEST(CsvReaderTest, DetectsSeparatorQuotesBomAndLineNumbers) {
  m::CsvTable table;
  std::string text = "\xEF\xBB\xBF" "a;B ;c\r\n1;\"x;\"\"y\"\"\";3,5\r\n\r\n4;\"multi\nline\";6\n";
  ASSERT_FALSE(m::parseCsv(text, 0, table).has_value());
  EXPECT_EQ(table.separator, ';');
  EXPECT_EQ(table.header, (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_EQ(table.rows.size(), 2u);
  EXPECT_EQ(table.rows[0].line, 2);
  EXPECT_EQ(table.rows[0].fields[1], "x;\"y\"");
  EXPECT_EQ(table.rows[0].fields[2], "3,5");
  EXPECT_EQ(table.rows[1].line, 4);
  EXPECT_EQ(table.rows[1].fields[1], "multi\nline");
}

TEST(CsvReaderTest, CommaSeparatorAndUnterminatedQuote) {
  m::CsvTable table;
  ASSERT_FALSE(m::parseCsv("a,b\n1,\"2,5\"\n", 0, table).has_value());
  EXPECT_EQ(table.separator, ',');
  EXPECT_EQ(table.rows[0].fields[1], "2,5");
  m::CsvTable broken;
  auto error = m::parseCsv("a,b\n1,\"2\n", 0, broken);
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->find("line 2"), std::string::npos);
}

// ---- mapping files are validated at load: file, line and key --------------------------

class MappingLoadTest : public ::testing::Test {
 protected:
  // Loads mapping.so as "klinik" with `text` as its mapping file.
  Status load(const std::string& text) {
    std::filesystem::path file = dir_.path() / "klinik.mapping.json";
    testing::writeFile(file, text);
    auto terminology = Terminology::loadDirectory(ILPGW_MAPPINGS_DIR);
    EXPECT_TRUE(terminology.isOk());
    auto host = std::make_shared<GatewayHost>(std::make_shared<const Terminology>(std::move(terminology.value())));
    auto loaded = loadAdapter(std::string(ILPGW_PLUGIN_DIR) + "/mapping.so", {},
                              [&](const sdk::AdapterInfo&) -> StatusOr<sdk::AdapterSetup> {
                                return sdk::AdapterSetup{"klinik", dir_.path().string(),
                                                         {{"mapping_file", "klinik.mapping.json"}}, host.get()};
                              });
    if (!loaded.isOk()) return loaded.status();
    EXPECT_EQ(loaded.value()->info().name, "klinik");
    return Status::ok();
  }

  testing::TempDir dir_;
};

constexpr const char* kValidMapping = R"({
  "mapping": "klinik",
  "input": { "format": "csv" },
  "fields": {
    "id": { "path": "id", "type": "string", "required": true }
  },
  "resources": [
    { "name": "patient", "resourceType": "Patient", "id": "mrn|{{$org}}|{{id}}",
      "body": { "identifier": [ { "value": "{{id}}" } ] } }
  ]
})";

TEST_F(MappingLoadTest, AValidFileLoadsAndTheAdapterTakesTheConfiguredName) {
  Status status = load(kValidMapping);
  EXPECT_TRUE(status.isOk()) << status.message();
}

TEST_F(MappingLoadTest, UnknownKeyNamesFileLineAndKey) {
  std::string text = kValidMapping;
  text.replace(text.find("\"type\": \"string\""), 16, "\"tyep\": \"string\"");
  Status status = load(text);
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("klinik.mapping.json:5:"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("unknown key \"tyep\""), std::string::npos) << status.message();
}

TEST_F(MappingLoadTest, UnknownFieldInTemplateNamesItsLine) {
  std::string text = kValidMapping;
  text.replace(text.find("\"{{id}}\" }"), 8, "\"{{idd}}\"");
  Status status = load(text);
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("klinik.mapping.json:9:"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("no field named \"idd\""), std::string::npos) << status.message();
}

TEST_F(MappingLoadTest, BadTypeAndBrokenJson) {
  std::string text = kValidMapping;
  text.replace(text.find("\"string\""), 8, "\"strng\"");
  Status status = load(text);
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find(":5:"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("unknown type \"strng\""), std::string::npos) << status.message();

  Status broken = load("{\n  \"mapping\": \"x\",\n  \"input\": {\n}");
  ASSERT_FALSE(broken.isOk());
  EXPECT_NE(broken.message().find("klinik.mapping.json:4: not valid JSON"), std::string::npos) << broken.message();
}

TEST_F(MappingLoadTest, UcumNeedsABooleanAndTheUnitTable) {
  std::string text = kValidMapping;
  const std::string id_field = R"("id": { "path": "id", "type": "string", "required": true })";
  text.replace(text.find(id_field), id_field.size(),
               id_field + R"(,
    "unit": { "path": "unit", "type": "code", "concept_map": "satuan-ucum", "ucum": true })");
  // The mappings directory here has no ucum-units.json.
  Status missing = load(text);
  ASSERT_FALSE(missing.isOk());
  EXPECT_NE(missing.message().find("at /fields/unit/ucum: the UCUM table is needed"), std::string::npos)
      << missing.message();

  std::filesystem::copy_file(std::string(ILPGW_MAPPINGS_DIR) + "/ucum-units.json", dir_.path() / "ucum-units.json");
  Status loaded = load(text);
  EXPECT_TRUE(loaded.isOk()) << loaded.message();

  text.replace(text.find("\"ucum\": true"), 12, "\"ucum\": 1   ");
  Status not_boolean = load(text);
  ASSERT_FALSE(not_boolean.isOk());
  EXPECT_NE(not_boolean.message().find("ucum must be true or false"), std::string::npos) << not_boolean.message();
}

TEST_F(MappingLoadTest, ReferenceToAnUnknownResourceAndMissingFile) {
  std::string text = kValidMapping;
  text.replace(text.find("\"{{id}}\" }"), 8, "\"{{ref:encounter}}\"");
  Status status = load(text);
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("no resource named \"encounter\""), std::string::npos) << status.message();

  auto loaded = loadAdapter(std::string(ILPGW_PLUGIN_DIR) + "/mapping.so", {},
                            [&](const sdk::AdapterInfo&) -> StatusOr<sdk::AdapterSetup> {
                              return sdk::AdapterSetup{"klinik", dir_.path().string(), {}, nullptr};
                            });
  ASSERT_FALSE(loaded.isOk());
  EXPECT_NE(loaded.status().message().find("mapping_file names no mapping file"), std::string::npos);
}

TEST(MappingSchemaTest, BundledMappingFilesMatchTheJsonSchema) {
  rapidjson::Document schema_doc;
  std::string schema_text = readFile(std::string(ILPGW_MAPPINGS_DIR) + "/schema/mapping.schema.json");
  ASSERT_FALSE(schema_doc.Parse(schema_text.c_str()).HasParseError());
  rapidjson::SchemaDocument schema(schema_doc);
  std::vector<std::string> files = {std::string(ILPGW_MAPPINGS_DIR) + "/simpus-csv.mapping.json",
                                    std::string(ILPGW_MAPPINGS_DIR) + "/posyandu-kader.mapping.json",
                                    std::string(ILPGW_TEST_DATA_DIR) + "/mapping/klinik-gigi.mapping.json"};
  for (const auto& file : files) {
    rapidjson::Document doc;
    std::string text = readFile(file);
    ASSERT_FALSE(doc.Parse(text.c_str()).HasParseError()) << file;
    rapidjson::SchemaValidator validator(schema);
    EXPECT_TRUE(doc.Accept(validator)) << file << ": schema keyword " << validator.GetInvalidSchemaKeyword();
  }
  // And the schema rejects a typo the engine rejects.
  rapidjson::Document typo;
  typo.Parse(R"({"mapping":"x","input":{"format":"csv"},"resources":[],"fieldz":{}})");
  rapidjson::SchemaValidator validator(schema);
  EXPECT_FALSE(typo.Accept(validator));
}

// ---- ConceptMap $translate ------------------------------------------------------------

class TranslateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto terminology = Terminology::loadDirectory(ILPGW_MAPPINGS_DIR);
    ASSERT_TRUE(terminology.isOk());
    terminology_ = std::make_shared<const Terminology>(std::move(terminology.value()));
  }
  static inline std::shared_ptr<const Terminology> terminology_;
};

TEST_F(TranslateTest, ByUrlFindsTheTargetCoding) {
  auto answer = conceptMapTranslate(
      *terminology_, {{"url", "https://ilp-gateway.id/fhir/ConceptMap/poli-klaster"}, {"code", "lansia"}}, "");
  ASSERT_EQ(answer.status, 200) << answer.body;
  rapidjson::Document doc;
  ASSERT_FALSE(json::parse(answer.body, doc).has_value());
  EXPECT_STREQ(doc["resourceType"].GetString(), "Parameters");
  EXPECT_STREQ(doc["parameter"][0]["name"].GetString(), "result");
  EXPECT_TRUE(doc["parameter"][0]["valueBoolean"].GetBool());
  const auto& match = doc["parameter"][1];
  EXPECT_STREQ(match["name"].GetString(), "match");
  EXPECT_STREQ(match["part"][1]["valueCoding"]["code"].GetString(), "3");
  EXPECT_STREQ(match["part"][1]["valueCoding"]["system"].GetString(), "https://ilp-gateway.id/fhir/CodeSystem/klaster");
}

TEST_F(TranslateTest, BySystemAndByInstanceAndUnknownCode) {
  auto by_system = conceptMapTranslate(
      *terminology_, {{"system", "https://ilp-gateway.id/fhir/CodeSystem/vaksin-kader"}, {"code", "Campak Rubella"}}, "");
  ASSERT_EQ(by_system.status, 200);
  EXPECT_NE(by_system.body.find("\"code\":\"04\""), std::string::npos) << by_system.body;

  auto by_instance = conceptMapTranslate(*terminology_, {{"code", "mmHg"}}, "satuan-ucum");
  ASSERT_EQ(by_instance.status, 200);
  EXPECT_NE(by_instance.body.find("mm[Hg]"), std::string::npos);

  auto unknown = conceptMapTranslate(*terminology_, {{"code", "nope"}}, "satuan-ucum");
  ASSERT_EQ(unknown.status, 200);
  EXPECT_NE(unknown.body.find("\"valueBoolean\":false"), std::string::npos);

  EXPECT_EQ(conceptMapTranslate(*terminology_, {{"code", "x"}}, "").status, 400);
  EXPECT_EQ(conceptMapTranslate(*terminology_, {{"code", "x"}}, "no-such-map").status, 404);
}

TEST_F(TranslateTest, SearchListsEveryMap) {
  auto all = conceptMapSearch(*terminology_, "", "https://gw");
  rapidjson::Document doc;
  ASSERT_FALSE(json::parse(all.body, doc).has_value());
  EXPECT_STREQ(doc["type"].GetString(), "searchset");
  EXPECT_EQ(doc["total"].GetUint(), terminology_->conceptMaps().size());
  auto one = conceptMapSearch(*terminology_, "https://ilp-gateway.id/fhir/ConceptMap/gejala-tbc", "https://gw");
  EXPECT_NE(one.body.find("\"total\":1"), std::string::npos);
}

}  // namespace
}  // namespace ilpgw
