#include <gtest/gtest.h>

#include "base/config.h"
#include "test_support.h"

namespace ilpgw {
namespace {

TEST(ConfigTest, DefaultsWhenEmpty) {
  auto config = parseConfig("{}");
  ASSERT_TRUE(config.isOk()) << config.status().message();
  EXPECT_EQ(config->listen_host, "127.0.0.1");
  EXPECT_EQ(config->listen_port, 8443);
  EXPECT_FALSE(config->plain_http);
}

TEST(ConfigTest, ReadsNestedKeysAndPlugins) {
  auto config = parseConfig(R"({"server": {"listen": "[::1]:9443", "threads": 8},
    "facility": {"organization_id": "P6203011", "timezone": "+08:00"},
    "plugins": [{"name": "a", "library": "a.so", "config": {"x": 1}}]})");
  ASSERT_TRUE(config.isOk()) << config.status().message();
  EXPECT_EQ(config->listen_host, "::1");
  EXPECT_EQ(config->listen_port, 9443);
  EXPECT_EQ(config->threads, 8);
  EXPECT_EQ(config->organization_id, "P6203011");
  EXPECT_EQ(config->timezone_offset, "+08:00");
  ASSERT_EQ(config->plugins.size(), 1u);
  EXPECT_EQ(config->plugins[0].config_json, R"({"x":1})");
}

TEST(ConfigTest, RejectsUnknownKeyNamingIt) {
  auto config = parseConfig(R"({"server": {"treads": 8}})");
  ASSERT_FALSE(config.isOk());
  EXPECT_NE(config.status().message().find("server.treads"), std::string::npos);
}

TEST(ConfigTest, RejectsWrongType) {
  auto config = parseConfig(R"({"server": {"threads": "8"}})");
  ASSERT_FALSE(config.isOk());
  EXPECT_NE(config.status().message().find("server.threads: expected integer"), std::string::npos);
}

TEST(ConfigTest, RejectsUnknownPluginKey) {
  auto config = parseConfig(R"({"plugins": [{"name": "a", "library": "a.so", "libary": "x"}]})");
  ASSERT_FALSE(config.isOk());
  EXPECT_NE(config.status().message().find("libary"), std::string::npos);
}

TEST(ConfigTest, RejectsBadListen) {
  EXPECT_FALSE(parseConfig(R"({"server": {"listen": "localhost"}})").isOk());
  EXPECT_FALSE(parseConfig(R"({"server": {"listen": "127.0.0.1:99999"}})").isOk());
  EXPECT_FALSE(parseConfig(R"({"server": {"listen": "127.0.0.1:80x"}})").isOk());
}

TEST(ConfigTest, ReferenceListsEveryKey) {
  std::string reference = configReference();
  for (const char* key : {"server.listen", "server.keep_alive_max_count", "tls.cert", "store.data_dir",
                          "facility.timezone", "plugins", "mappings_dir"}) {
    EXPECT_NE(reference.find(std::string("`") + key + "`"), std::string::npos) << key;
  }
}

TEST(ConfigTest, DocumentedReferenceMatchesTheCode) {
  std::string doc = testing::readFile(testing::sourceDir() + "/docs/configuration.md");
  EXPECT_NE(doc.find(configReference()), std::string::npos)
      << "docs/configuration.md is stale: regenerate its table with `ilp-gateway config-reference`";
}

TEST(ConfigTest, SatusehatProfileFillsEnvironmentUrlsAndRefusesSharedCredentials) {
  auto config = parseConfig(R"({"upstream": {"enabled": true, "profile": "satusehat", "environment": "staging",
    "organizations_file": "orgs.json"}})");
  ASSERT_TRUE(config.isOk()) << config.status().message();
  EXPECT_EQ(config->upstream.base_url, "https://api-satusehat-stg.dto.kemkes.go.id/fhir-r4/v1");
  EXPECT_EQ(config->upstream.auth_url, "https://api-satusehat-stg.dto.kemkes.go.id/oauth2/v1");
  auto refused = [](const char* text) {
    auto c = parseConfig(text);
    return c.isOk() ? std::string() : c.status().message();
  };
  EXPECT_NE(refused(R"({"upstream": {"enabled": true, "profile": "satusehat", "environment": "staging",
    "organizations_file": "o.json", "client_id": "x"}})").find("each puskesmas has its own credentials"), std::string::npos);
  EXPECT_NE(refused(R"({"upstream": {"enabled": true, "profile": "satusehat", "base_url": "https://x/fhir"}})")
                .find("needs auth_url (or environment) and organizations_file"), std::string::npos);
  EXPECT_NE(refused(R"({"upstream": {"profile": "satusehat", "environment": "moon"}})").find("upstream.environment"),
            std::string::npos);
  EXPECT_NE(refused(R"({"upstream": {"profile": "hl7"}})").find("upstream.profile"), std::string::npos);
}

TEST(ConfigTest, RejectsMalformedTimezone) {
  EXPECT_FALSE(parseConfig(R"({"facility": {"timezone": "WIB"}})").isOk());
  EXPECT_TRUE(parseConfig(R"({"facility": {"timezone": "+09:00"}})").isOk());
}

}  // namespace
}  // namespace ilpgw
