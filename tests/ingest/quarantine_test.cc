// Quarantine and reprocessing end to end: a record fails because a mapping
// lacks a code, IT staff add the code, reprocessing stores the resources and
// resolves the entry; doing it again changes nothing.
#include <gtest/gtest.h>

#include <filesystem>

#include "durability_helpers.h"
#include "base/json.h"
#include "test_support.h"

namespace ilpgw {
namespace {

namespace fs = std::filesystem;
using testing::GatewayOptions;
using testing::GatewayProcess;

class QuarantineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mappings_ = dir_.file("mappings");
    fs::copy(testing::mappingsDir(), mappings_, fs::copy_options::recursive);
    data_ = dir_.file("data");
  }
  GatewayOptions options() const {
    GatewayOptions o;
    o.mappings_dir = mappings_;
    o.data_dir = data_;
    return o;
  }
  // The fix IT staff make: add `kusta` to the skrining ConceptMap.
  void fixMapping() {
    std::string path = mappings_ + "/skrining.json";
    std::string text = testing::readFile(path);
    testing::replaceOnce(text, R"("element": [
        {
          "code": "stroke",)",
                         R"("element": [
        {"code": "kusta", "display": "Skrining kusta", "target": [{"code": "kusta",
          "display": "Skrining kusta", "equivalence": "equivalent"}]},
        {
          "code": "stroke",)");
    testing::writeFile(path, text);
  }
  static std::string visitWithUnknownScreening(int n) {
    std::string visit = testing::distinctVisit(n);
    testing::replaceOnce(visit, R"({ "jenis": "merokok", "hasil": "negatif" })",
                         R"({ "jenis": "kusta", "hasil": "negatif" })");
    return visit;
  }
  testing::TempDir dir_;
  std::string mappings_;
  std::string data_;
};

TEST_F(QuarantineTest, FixedMappingThenReprocessStoresResourcesOnce) {
  std::int64_t entry_id = 0;
  std::string config_path;
  {
    GatewayProcess gateway(options());
    auto client = gateway.client();
    auto res = client->Post("/ingest/epuskesmas-json",
                            "[" + testing::distinctVisit(1) + "," + visitWithUnknownScreening(2) + "]",
                            "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 201) << res->body;

    auto list = client->Get("/admin/quarantine?status=open&adapter=epuskesmas-json");
    ASSERT_TRUE(list);
    ASSERT_EQ(list->status, 200) << list->body;
    auto doc = testing::parseJson(list->body);
    ASSERT_EQ(doc["entries"].Size(), 1u) << list->body;
    const auto& entry = doc["entries"][0];
    entry_id = entry["id"].GetInt64();
    EXPECT_STREQ(entry["locator"].GetString(), "record[1]");
    EXPECT_STREQ(entry["status"].GetString(), "open");
    EXPECT_NE(std::string(entry["reason"].GetString()).find("kusta"), std::string::npos) << list->body;

    auto one = client->Get(("/admin/quarantine/" + std::to_string(entry_id)).c_str());
    ASSERT_TRUE(one && one->status == 200);
    auto full = testing::parseJson(one->body);
    EXPECT_STREQ(full["outcome"]["resourceType"].GetString(), "OperationOutcome");
    std::string href = full["payload"]["href"].GetString();
    auto raw = client->Get(href.c_str());
    ASSERT_TRUE(raw && raw->status == 200);
    EXPECT_NE(raw->body.find("KJ-D-2"), std::string::npos);

    // Not fixed yet: still open, one attempt recorded, reasons kept.
    auto again = client->Post(("/admin/quarantine/" + std::to_string(entry_id) + "/$reprocess").c_str(), "",
                              "application/json");
    ASSERT_TRUE(again);
    ASSERT_EQ(again->status, 200) << again->body;
    auto result = testing::parseJson(again->body);
    EXPECT_STREQ(result["status"].GetString(), "open");
    EXPECT_EQ(result["produced"].Size(), 0u);
    one = client->Get(("/admin/quarantine/" + std::to_string(entry_id)).c_str());
    EXPECT_EQ(testing::parseJson(one->body)["attempts"].GetInt(), 1);
    config_path = gateway.configPath();
    // Keep the config: the CLI below uses it. Copy it out of the process's temp dir.
    fs::copy_file(config_path, dir_.file("gateway.json"));
    config_path = dir_.file("gateway.json");
    EXPECT_EQ(gateway.terminate(), 0);
  }

  fixMapping();
  // IT staff run the CLI: it loads the current mappings.
  std::string out, err;
  int code = testing::runGateway({"quarantine", "reprocess", std::to_string(entry_id), "--config", config_path},
                                 out, &err);
  ASSERT_EQ(code, 0) << out << err;
  auto result = testing::parseJson(out);
  EXPECT_STREQ(result["status"].GetString(), "resolved");
  EXPECT_TRUE(result["newlyResolved"].GetBool());
  std::vector<std::string> produced;
  for (const auto& p : result["produced"].GetArray()) produced.emplace_back(p.GetString());
  ASSERT_GE(produced.size(), 5u) << out;

  GatewayProcess gateway(options());
  auto client = gateway.client();
  bool saw_screening = false;
  for (const auto& location : produced) {
    auto read = client->Get(("/fhir/" + location).c_str());
    ASSERT_TRUE(read);
    EXPECT_EQ(read->status, 200) << location;
    if (read->body.find("kusta") != std::string::npos) saw_screening = true;
  }
  EXPECT_TRUE(saw_screening);

  // Idempotent: reprocessing a resolved entry answers what it produced.
  auto again = client->Post(("/admin/quarantine/" + std::to_string(entry_id) + "/$reprocess").c_str(), "",
                            "application/json");
  ASSERT_TRUE(again && again->status == 200) << (again ? again->body : "");
  auto second = testing::parseJson(again->body);
  EXPECT_STREQ(second["status"].GetString(), "resolved");
  EXPECT_FALSE(second["newlyResolved"].GetBool());
  std::vector<std::string> produced_again;
  for (const auto& p : second["produced"].GetArray()) produced_again.emplace_back(p.GetString());
  EXPECT_EQ(produced_again, produced);
  // And no new versions: every produced resource is still at its version.
  for (const auto& location : produced) {
    std::string current = location.substr(0, location.find("/_history"));
    auto read = client->Get(("/fhir/" + current).c_str());
    ASSERT_TRUE(read && read->status == 200);
    EXPECT_EQ(read->get_header_value("ETag"), "W/\"" + location.substr(location.rfind('/') + 1) + "\"");
  }
  // Posting the same payload again: the fixed record is now simply unchanged.
  auto repost = client->Post("/ingest/epuskesmas-json", visitWithUnknownScreening(2), "application/json");
  ASSERT_TRUE(repost && repost->status == 201) << (repost ? repost->body : "");
  for (const auto& location : testing::bundleLocations(repost->body)) {
    EXPECT_NE(std::find(produced.begin(), produced.end(), location), produced.end()) << location;
  }
  auto resolved = client->Get("/admin/quarantine?status=resolved");
  ASSERT_TRUE(resolved);
  EXPECT_EQ(testing::parseJson(resolved->body)["entries"].Size(), 1u) << resolved->body;
}

TEST_F(QuarantineTest, BulkReprocessAndPaging) {
  GatewayProcess gateway(options());
  auto client = gateway.client();
  for (int i = 0; i < 3; ++i) {
    auto res = client->Post("/ingest/epuskesmas-json", visitWithUnknownScreening(10 + i), "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 422) << res->body;
  }
  auto bad = client->Post("/ingest/epuskesmas-json", "{\"id_kunjungan\": ", "application/json");
  ASSERT_TRUE(bad && bad->status == 400);

  // Paging by id cursor.
  std::vector<std::int64_t> ids;
  std::string next = "/admin/quarantine?_count=2";
  for (int pages = 0; !next.empty() && pages < 10; ++pages) {
    auto page = client->Get(next.c_str());
    ASSERT_TRUE(page && page->status == 200) << (page ? page->body : "");
    auto doc = testing::parseJson(page->body);
    for (const auto& e : doc["entries"].GetArray()) ids.push_back(e["id"].GetInt64());
    next = doc.HasMember("next") ? doc["next"].GetString() : "";
  }
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  auto none = client->Get("/admin/quarantine?adapter=simpus-csv");
  EXPECT_EQ(testing::parseJson(none->body)["entries"].Size(), 0u);
  auto invalid = client->Get("/admin/quarantine?_count=abc");
  EXPECT_EQ(invalid->status, 400);

  // Bulk, mapping not fixed (the server loaded the old one): all still open.
  auto bulk = client->Post("/admin/quarantine/$reprocess", "", "application/json");
  ASSERT_TRUE(bulk && bulk->status == 200) << (bulk ? bulk->body : "");
  auto summary = testing::parseJson(bulk->body);
  EXPECT_EQ(summary["processed"].GetInt(), 4);
  EXPECT_EQ(summary["stillOpen"].GetInt(), 4);
  EXPECT_EQ(gateway.terminate(), 0);

  // Fixed: the CLI's --all resolves the three records; the malformed payload stays.
  fixMapping();
  std::string out;
  EXPECT_EQ(testing::runGateway({"quarantine", "reprocess", "--all", "--config", gateway.configPath()}, out), 1)
      << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 4) << out;
  std::string listed;
  ASSERT_EQ(testing::runGateway({"quarantine", "list", "--status", "open", "--config", gateway.configPath()}, listed),
            0);
  EXPECT_EQ(std::count(listed.begin(), listed.end(), '\n'), 1) << listed;
  EXPECT_NE(listed.find("\"locator\":\"payload\""), std::string::npos) << listed;
}

TEST_F(QuarantineTest, UnknownEntryIs404) {
  GatewayProcess gateway(options());
  auto res = gateway.client()->Post("/admin/quarantine/999/$reprocess", "", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  auto get = gateway.client()->Get("/admin/quarantine/999");
  EXPECT_EQ(get->status, 404);
}

}  // namespace
}  // namespace ilpgw
