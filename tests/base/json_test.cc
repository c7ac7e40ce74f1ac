#include <gtest/gtest.h>

#include "base/json.h"
#include "fhir/resource_text.h"

namespace ilpgw {
namespace {

TEST(JsonTest, ParsesNumbersSafely) {
  rapidjson::Document doc;
  ASSERT_FALSE(json::parse(R"({"a": 36.8, "b": 120, "c": -5})", doc).has_value());
  EXPECT_TRUE(doc["a"].IsDouble());
  EXPECT_DOUBLE_EQ(doc["a"].GetDouble(), 36.8);
  EXPECT_TRUE(doc["b"].IsInt64());
  EXPECT_EQ(json::write(doc), R"({"a":36.8,"b":120,"c":-5})");
}

TEST(JsonTest, RejectsHugeExponentWithoutCrashing) {
  // The input shape of CVE-2024-38517 in RapidJSON 1.1.0.
  rapidjson::Document doc;
  auto error = json::parse(R"({"v": 0.0000000000000000000000000001e-2147483649})", doc);
  // Either parsed as 0 or refused: never undefined behaviour.
  if (!error) {
    EXPECT_TRUE(doc["v"].IsNumber());
  }
}

TEST(JsonTest, ReportsErrorOffsetAndTrailingGarbage) {
  rapidjson::Document doc;
  auto error = json::parse(R"({"a": 1} x)", doc);
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->find("byte"), std::string::npos);
  EXPECT_TRUE(json::parse("\xEF\xBB\xBF{}", doc) == std::nullopt) << "BOM is skipped";
  EXPECT_TRUE(json::parse("{\"a\": \"\xC3\x28\"}", doc).has_value()) << "invalid UTF-8 refused";
}

TEST(ResourceTextTest, MetaIsOwnedByTheStore) {
  rapidjson::Document doc;
  ASSERT_FALSE(json::parse(R"({"resourceType":"Patient","id":"p1","meta":{"versionId":"9","lastUpdated":"x",
    "source":"s"},"gender":"female"})", doc).has_value());
  ResourceWrite write = prepareResource(doc);
  EXPECT_EQ(assembleResource(write, 2, "2026-01-01T00:00:00.000Z"),
            R"({"resourceType":"Patient","id":"p1","meta":{"versionId":"2","lastUpdated":"2026-01-01T00:00:00.000Z","source":"s"},"gender":"female"})");
  EXPECT_EQ(unversionedResource(write), R"({"resourceType":"Patient","id":"p1","meta":{"source":"s"},"gender":"female"})");

  rapidjson::Document same;
  ASSERT_FALSE(json::parse(R"({"resourceType":"Patient","id":"p1","meta":{"source":"s"},"gender":"female"})", same)
                   .has_value());
  EXPECT_EQ(prepareResource(same).hash, write.hash) << "versionId/lastUpdated do not change the content hash";
}

}  // namespace
}  // namespace ilpgw
