// Tests for the epuskesmas-json adapter through the real plugin file, the real
// mappings/ and the core's loader and host, as the gateway runs it.
//
// The golden files (plugins/epuskesmas-json/samples/X.json -> X.expected.json
// + X.outcome.json) are checked by `ilp-gateway adapter check`, CTest
// epuskesmas_json_golden; this file tests what goldens cannot show (stable
// ids, options, precision, hostile input), with the samples as inputs.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "ingest/host.h"
#include "ingest/plugin_loader.h"
#include "fhir/terminology.h"
#include "test_support.h"

namespace ilpgw {
namespace {

const std::string kDataDir = testing::sourceDir() + "/plugins/epuskesmas-json/samples/";
constexpr const char* kOrganization = "100011961";

using testing::readFile;

class EpuskesmasJsonTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto terminology = Terminology::loadDirectory(ILPGW_MAPPINGS_DIR);
    ASSERT_TRUE(terminology.isOk()) << terminology.status().message();
    terminology_ = std::make_shared<const Terminology>(std::move(terminology.value()));
    host_ = std::make_unique<GatewayHost>(terminology_);
    auto adapter = loadAdapter(std::string(ILPGW_PLUGIN_DIR) + "/epuskesmas-json.so");
    ASSERT_TRUE(adapter.isOk()) << adapter.status().message();
    adapter_ = adapter.value();
  }

  static void TearDownTestSuite() {
    adapter_.reset();
    host_.reset();
    terminology_.reset();
  }

  void SetUp() override {
    ASSERT_NE(adapter_, nullptr);
    context_.host = host_.get();
    context_.organization_id = kOrganization;
    context_.timezone_offset = "+07:00";
    context_.content_type = "application/json";
    context_.options = {{"encounter_duration_minutes", "0"}};
  }

  sdk::MapResult map(const std::string& payload) const { return adapter_->adapter().map(payload, context_); }

  static std::vector<std::string> ids(const sdk::MapResult& result) {
    std::vector<std::string> out;
    for (const auto& record : result.records) {
      for (const auto& text : record.resources) {
        rapidjson::Document resource;
        resource.Parse(text.c_str());
        out.push_back(std::string(resource["resourceType"].GetString()) + "/" + resource["id"].GetString());
      }
    }
    return out;
  }

  static rapidjson::Document resourceOfType(const sdk::Record& record, const std::string& type) {
    for (const auto& text : record.resources) {
      rapidjson::Document resource;
      resource.Parse(text.c_str());
      if (resource["resourceType"].GetString() == type) return resource;
    }
    ADD_FAILURE() << "no " << type << " in record";
    return rapidjson::Document();
  }

  static inline std::shared_ptr<const Terminology> terminology_;
  static inline std::unique_ptr<GatewayHost> host_;
  static inline std::shared_ptr<const LoadedAdapter> adapter_;
  sdk::Context context_;
};

TEST_F(EpuskesmasJsonTest, DescribesItself) {
  auto info = adapter_->info();
  EXPECT_EQ(info.name, "epuskesmas-json");
  ASSERT_EQ(info.options.size(), 1u);
  EXPECT_EQ(info.options[0].name, "encounter_duration_minutes");
  EXPECT_EQ(info.options[0].type, "integer");
}

TEST_F(EpuskesmasJsonTest, PostingTheSameVisitTwiceGivesTheSameResources) {
  std::string input = readFile(kDataDir + "kia_visit.json");
  auto first = map(input);
  auto second = map(input);
  ASSERT_EQ(first.records.size(), 1u);
  EXPECT_EQ(first.records[0].resources, second.records[0].resources);
  EXPECT_EQ(ids(first).size(), 19u);  // 3 + 9 vitals (with BMI) + 2 + 3 + 2
}

TEST_F(EpuskesmasJsonTest, DecimalsKeepTheirPrecision) {
  // The golden comparison goes through doubles; check the raw text once.
  auto result = map(readFile(kDataDir + "kia_visit.json"));
  ASSERT_EQ(result.records.size(), 1u);
  bool found = false;
  for (const auto& text : result.records[0].resources) {
    if (text.find("\"8310-5\"") != std::string::npos) {
      EXPECT_NE(text.find("\"value\":36.60,"), std::string::npos) << text;
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(EpuskesmasJsonTest, ChangingAValueKeepsTheIds) {
  std::string input = readFile(kDataDir + "kia_visit.json");
  std::string changed = std::regex_replace(input, std::regex("\"suhu\": 36.60"), "\"suhu\": 38.2");
  changed = std::regex_replace(changed, std::regex("\"hasil\": \"berisiko\""), "\"hasil\": \"normal\"");
  ASSERT_NE(changed, input);
  auto before = map(input);
  auto after = map(changed);
  EXPECT_EQ(ids(before), ids(after));
  EXPECT_NE(before.records[0].resources, after.records[0].resources);
}

TEST_F(EpuskesmasJsonTest, IdsDependOnTheOrganization) {
  std::string input = readFile(kDataDir + "kia_visit.json");
  auto here = map(input);
  context_.organization_id = "100099999";
  auto there = map(input);
  // The patient is the same person (NIK); the visit belongs to another facility.
  EXPECT_EQ(ids(here)[0], ids(there)[0]);
  EXPECT_NE(ids(here)[2], ids(there)[2]);
}

TEST_F(EpuskesmasJsonTest, LocalTimeTakesTheFacilityOffset) {
  context_.timezone_offset = "+09:00";
  auto result = map(readFile(kDataDir + "no_offset.json"));
  ASSERT_EQ(result.records.size(), 1u);
  auto encounter = resourceOfType(result.records[0], "Encounter");
  EXPECT_STREQ(encounter["period"]["start"].GetString(), "2025-02-13T14:05:00+09:00");
}

TEST_F(EpuskesmasJsonTest, LocalTimeWithoutFacilityOffsetIsRefused) {
  context_.timezone_offset.clear();
  auto result = map(readFile(kDataDir + "no_offset.json"));
  ASSERT_EQ(result.records.size(), 1u);
  EXPECT_TRUE(result.records[0].resources.empty());
  ASSERT_FALSE(result.records[0].issues.empty());
  EXPECT_EQ(result.records[0].issues[0].location, "record[0].waktu");
}

TEST_F(EpuskesmasJsonTest, DurationOptionFinishesTheEncounter) {
  context_.options = {{"encounter_duration_minutes", "30"}};
  // 23:45 + 30 minutes crosses midnight.
  std::string input = std::regex_replace(readFile(kDataDir + "kia_visit.json"),
                                         std::regex("2025-02-11T08:40:00"), "2025-02-28T23:45:00");
  auto result = map(input);
  ASSERT_EQ(result.records.size(), 1u);
  auto encounter = resourceOfType(result.records[0], "Encounter");
  EXPECT_STREQ(encounter["status"].GetString(), "finished");
  EXPECT_STREQ(encounter["period"]["end"].GetString(), "2025-03-01T00:15:00+07:00");
  EXPECT_STREQ(encounter["statusHistory"][1]["status"].GetString(), "finished");
}

TEST_F(EpuskesmasJsonTest, EveryScreeningNameHasACode) {
  const char* kNames[] = {"hipertensi", "diabetes", "obesitas", "tbc", "jiwa", "anemia", "indera_penglihatan",
                          "indera_pendengaran", "kanker_payudara", "kanker_leher_rahim", "merokok", "ppok",
                          "stunting", "stroke", "jantung", "kanker_usus", "kanker_paru", "talasemia", "malaria",
                          "kebugaran", "kekerasan"};
  for (const char* name : kNames) {
    sdk::Coding coding;
    EXPECT_TRUE(host_->translate("skrining", name, coding)) << name;
    EXPECT_FALSE(coding.system.empty()) << name;
    EXPECT_FALSE(coding.code.empty()) << name;
  }
}

TEST_F(EpuskesmasJsonTest, DiagnosticsNeverCarryIdentifiersOrNames) {
  const char* kCases[] = {"kia_visit", "array_of_three", "no_offset", "missing_fields", "bad_jk", "bad_td",
                          "bad_icd10", "unknown_screening", "klaster_override", "mixed_batch"};
  std::regex long_number("[0-9]{10,}");
  std::regex name_like("[A-Z]{4,} [A-Z]{4,}|dr\\.|Bd\\.|Ns\\.");
  for (const char* name : kCases) {
    auto result = map(readFile(kDataDir + name + ".json"));
    for (const auto& record : result.records) {
      for (const auto& issue : record.issues) {
        EXPECT_FALSE(std::regex_search(issue.diagnostics, long_number)) << name << ": " << issue.diagnostics;
        EXPECT_FALSE(std::regex_search(issue.diagnostics, name_like)) << name << ": " << issue.diagnostics;
      }
    }
  }
}

TEST_F(EpuskesmasJsonTest, HostileInputNeverCrashes) {
  const char* kPayloads[] = {
      "",
      "[]",
      "{}",
      "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
      "{\"pasien\": [], \"diagnosa\": {}, \"skrining\": \"x\", \"resep\": 3, \"pemeriksaan\": true}",
      "{\"id_kunjungan\": {}, \"waktu\": [], \"pasien\": {\"nama\": 1e999999999999, \"jk\": true}}",
      "{\"diagnosa\": [null, 1, {\"icd10\": 5}], \"skrining\": [{\"jenis\": {}, \"nilai\": []}]}",
      "{\"resep\": [{\"kode_obat\": \"X\", \"jumlah\": -1, \"signa\": \"99999999999x1\"}]}",
      "{\"pemeriksaan\": {\"td\": \"/\", \"bb\": \"0\", \"tb\": \"0,0\"}}",
      "\xff\xfe{}",
      "{\"a\": \"\xc3\x28\"}",
  };
  for (const char* payload : kPayloads) {
    auto result = map(payload);
    for (const auto& record : result.records) {
      for (const auto& text : record.resources) {
        rapidjson::Document doc;
        doc.Parse(text.c_str());
        EXPECT_FALSE(doc.HasParseError()) << text;
      }
    }
  }
  auto empty = map("[]");
  EXPECT_TRUE(empty.records.empty());
  EXPECT_TRUE(empty.issues.empty());
  EXPECT_EQ(map("").issues.size(), 1u);
}

}  // namespace
}  // namespace ilpgw
