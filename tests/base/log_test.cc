// Log lines: JSON lines stay one valid JSON object whatever the message
// holds (newlines, quotes, control characters, broken UTF-8), text lines
// stay one line, and digit runs that could be a NIK are masked in both.
#include <gtest/gtest.h>

#include "base/config.h"
#include "base/json.h"
#include "base/log.h"

namespace ilpgw {
namespace {

TEST(LogTest, JsonLineIsOneObjectWhateverTheMessageHolds) {
  std::string hostile = "line one\nline two\r\n\"quoted\" back\\slash \x01\x1f\x7f tab\t \xff\xfe broken \xe2\x82";
  std::string line = formatLogLine(LogFormat::kJson, "2026-12-01T10:00:00.000Z", LogLevel::kWarning, hostile,
                                   {{"request_id", "abc\n\"def\""}, {"status", 404}, {"latency_ms", std::int64_t{12}}});
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  rapidjson::Document doc;
  ASSERT_FALSE(json::parse(line, doc).has_value()) << line;
  ASSERT_TRUE(doc.IsObject());
  EXPECT_STREQ(doc["time"].GetString(), "2026-12-01T10:00:00.000Z");
  EXPECT_STREQ(doc["level"].GetString(), "warning");
  std::string message = doc["message"].GetString();
  EXPECT_EQ(message.substr(0, 18), "line one\nline two\r");
  EXPECT_NE(message.find("\"quoted\" back\\slash \x01\x1f\x7f"), std::string::npos);
  EXPECT_NE(message.find("? broken ?"), std::string::npos) << "invalid UTF-8 becomes '?'";
  EXPECT_STREQ(doc["request_id"].GetString(), "abc\n\"def\"");
  ASSERT_TRUE(doc["status"].IsInt64());
  EXPECT_EQ(doc["status"].GetInt64(), 404);
  EXPECT_EQ(doc["latency_ms"].GetInt64(), 12);
}

TEST(LogTest, TextLineNeverSpansLines) {
  std::string line = formatLogLine(LogFormat::kText, "2026-12-01T10:00:00.000Z", LogLevel::kInfo,
                                   "a\nforged 2026-12-01 error x\r\x01", {{"route", "/fhir/Patient/{id}"}, {"status", 200}});
  EXPECT_EQ(line, "2026-12-01T10:00:00.000Z info a\\nforged 2026-12-01 error x\\r\\x01 route=/fhir/Patient/{id} status=200");
}

TEST(LogTest, DigitRunsThatCouldBeANikAreMaskedInBothFormats) {
  for (auto format : {LogFormat::kText, LogFormat::kJson}) {
    std::string line = formatLogLine(format, "t", LogLevel::kError, "nik 6203011204580003 refused",
                                     {{"client_id", "clinic-081355500012"}});
    EXPECT_EQ(line.find("6203011204580003"), std::string::npos) << line;
    EXPECT_EQ(line.find("081355500012"), std::string::npos) << line;
    EXPECT_NE(line.find("<16 digits>"), std::string::npos) << line;
  }
}

TEST(LogTest, FormatIsAConfigKeyWithTextAsDefault) {
  auto plain = parseConfig("{}");
  ASSERT_TRUE(plain.isOk());
  EXPECT_EQ(plain->log_format, "text");
  auto json_logs = parseConfig(R"({"log": {"format": "json"}, "log_level": "debug"})");
  ASSERT_TRUE(json_logs.isOk()) << json_logs.status().message();
  EXPECT_EQ(json_logs->log_format, "json");
  EXPECT_EQ(json_logs->log_level, "debug");
  auto wrong = parseConfig(R"({"log": {"format": "xml"}})");
  ASSERT_FALSE(wrong.isOk());
  EXPECT_NE(wrong.status().message().find("log.format"), std::string::npos);
  auto unknown = parseConfig(R"({"log": {"colour": true}})");
  ASSERT_FALSE(unknown.isOk());
  EXPECT_NE(unknown.status().message().find("log.colour"), std::string::npos);
}

}  // namespace
}  // namespace ilpgw
