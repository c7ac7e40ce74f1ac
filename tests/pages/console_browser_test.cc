// The status page and the admin console in a real browser: the real gateway
// over TLS on loopback with the bundled simpus-csv adapter and a copy of the
// bundled mapping files. A clinic posts two visits, one with a visit kind
// (kunjungan ULANG) the mapping does not know; headless Chromium
// (tests/pages/console.mjs) logs in as an admin, sees the quarantine red,
// opens the record with the field marked, fixes the mapping file on disk,
// reloads the mappings and reprocesses from the page, and sees it green.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>

#include "base/json.h"
#include "page_browser.h"
#include "test_support.h"

namespace ilpgw {
namespace {

namespace fs = std::filesystem;

constexpr const char* kChromium = "/usr/bin/chromium";
constexpr const char* kPassword = "kata-sandi-uji-konsol";

std::string run(const std::string& command) {
  int exit_code = 0;
  std::string out = testing::runShell(command, exit_code);
  EXPECT_EQ(exit_code, 0) << command << " failed:\n" << out;
  return out;
}

std::string jsonString(const std::string& text) {
  rapidjson::Document d;
  return json::write(json::str(text, d.GetAllocator()));
}

std::string text(const rapidjson::Value& object, const char* name) {
  return object.HasMember(name) && object[name].IsString() ? object[name].GetString() : "";
}

TEST(ConsoleBrowserTest, RedAfterABadPostThenFixedFromTheBrowserAndGreen) {
  if (!fs::exists(kChromium)) {
    GTEST_SKIP() << kChromium << " is not installed (Debian package chromium, see scripts/install-deps.sh): "
                 << "the pages are not tested in a browser here";
  }
  ASSERT_TRUE(fs::exists(fs::path(ILPGW_PAGES_DIR) / "node_modules" / "puppeteer-core"))
      << "puppeteer-core is missing: run scripts/install-deps.sh (npm ci --prefix tests/pages)";

  testing::TempDir mappings;
  fs::copy(testing::mappingsDir(), mappings.path(), fs::copy_options::recursive);
  testing::GatewayOptions options;
  options.auth = true;
  options.plugins = {"simpus-csv"};
  options.mappings_dir = mappings.path().string();
  testing::GatewayProcess gateway(options);
  auto clinic = gateway.addClient("clinic", "pkm-selat");
  auto posted = gateway.client(gateway.fetchToken(clinic))
                    ->Post("/ingest/simpus-csv",
                           "no_rm;nama;jk;tgl_lahir;tgl_kunjungan;poli;kunjungan\n"
                           "00060001;PASIEN BAIK;L;02-02-1980;26-11-2024 08:00;UMUM;BARU\n"
                           "00060002;PASIEN ULANG;P;03-03-1985;26-11-2024 08:30;UMUM;ULANG\n",
                           "text/csv");
  ASSERT_TRUE(posted);
  ASSERT_EQ(posted->status, 201) << posted->body;  // one row stored, one quarantined
  testing::addPerson(gateway, "admin-dinas", "admin", "", kPassword);

  testing::TempDir dir;
  std::string red_png = std::string(ILPGW_ARTIFACT_DIR) + "/status-red.png";
  std::string green_png = std::string(ILPGW_ARTIFACT_DIR) + "/status-green.png";
  std::string entry_png = std::string(ILPGW_ARTIFACT_DIR) + "/console-quarantine-entry.png";
  fs::remove(entry_png);
  fs::remove(red_png);
  fs::remove(green_png);
  std::string find = R"("kunjungan": { "path": "kunjungan", "type": "enum", "values": { "BARU": "baru", "LAMA": "lama" } })";
  std::string replace =
      R"("kunjungan": { "path": "kunjungan", "type": "enum", "values": { "BARU": "baru", "LAMA": "lama", "ULANG": "lama" } })";
  std::string args = "{\"url\":" + jsonString("https://127.0.0.1:" + std::to_string(gateway.port())) +
                     ",\"server_cert\":" + jsonString((testing::devCertDir() / "server.crt").string()) +
                     ",\"chromium\":" + jsonString(kChromium) + ",\"screenshot_red\":" + jsonString(red_png) +
                     ",\"screenshot_green\":" + jsonString(green_png) + ",\"screenshot_entry\":" + jsonString(entry_png) + ",\"admin\":{\"user\":\"admin-dinas\",\"password\":" +
                     jsonString(kPassword) + "},\"mapping\":{\"file\":" +
                     jsonString((mappings.path() / "simpus-csv.mapping.json").string()) + ",\"find\":" + jsonString(find) +
                     ",\"replace\":" + jsonString(replace) + "}}";
  testing::writeFile(dir.file("args.json"), args);
  std::string shown = run(std::string(ILPGW_NODE) + " " + ILPGW_PAGES_DIR + "/console.mjs " + dir.file("args.json"));
  rapidjson::Document page;
  ASSERT_FALSE(json::parse(shown, page).has_value()) << shown;
  ASSERT_TRUE(page.IsObject()) << shown;

  EXPECT_TRUE(page["redirectedToLogin"].GetBool());
  EXPECT_EQ(text(page, "afterLogin"), "/status");
  const auto& red = page["red"];
  EXPECT_EQ(text(red, "lang"), "id");
  EXPECT_EQ(text(red, "overall"), "merah");
  EXPECT_EQ(text(red["lights"], "karantina"), "merah");
  EXPECT_EQ(text(red["lightWords"], "karantina"), "PERLU TINDAKAN");  // words, not only the colour
  EXPECT_EQ(text(red["lights"], "hari-ini"), "kuning");
  ASSERT_EQ(red["reasons"].Size(), 1u);
  EXPECT_EQ(std::string(red["reasons"][0].GetString()), "isi kunjungan baru/lama tidak bisa dipakai di 1 baris dari simpus-csv");
  ASSERT_EQ(red["clients"].Size(), 1u);
  EXPECT_EQ(text(red["clients"][0], "id"), clinic.id);
  EXPECT_EQ(text(red["clients"][0], "light"), "hijau");  // its post went through, one row refused

  ASSERT_EQ(page["listed"].Size(), 1u);
  const auto& entry = page["entry"];
  EXPECT_EQ(text(entry, "state"), "open");
  ASSERT_EQ(entry["marked"].Size(), 1u);
  EXPECT_EQ(std::string(entry["marked"][0].GetString()), "kunjungan");
  EXPECT_EQ(std::string(entry["markedValue"][0].GetString()).rfind("ULANG", 0), 0u);
  ASSERT_GE(entry["reasons"].Size(), 1u);
  EXPECT_EQ(std::string(entry["reasons"][0].GetString()), "isi kunjungan baru/lama tidak bisa dipakai");
  EXPECT_TRUE(page["mappingHadTheRule"].GetBool());
  EXPECT_NE(text(page, "reloadMessage").find("dimuat ulang"), std::string::npos) << text(page, "reloadMessage");
  EXPECT_NE(text(page, "reprocessMessage").find("Berhasil"), std::string::npos) << text(page, "reprocessMessage");
  EXPECT_EQ(text(page, "stateAfter"), "resolved");

  const auto& green = page["green"];
  EXPECT_EQ(text(green["lights"], "karantina"), "hijau");
  EXPECT_EQ(text(green["lights"], "hari-ini"), "hijau");
  EXPECT_EQ(text(green["clients"][0], "light"), "hijau");
  // Everything green, unless this machine's disk is low (then that light alone decides).
  std::string disk = text(green["lights"], "disk");
  EXPECT_EQ(text(green, "overall"), disk == "hijau" ? "hijau" : disk);
  EXPECT_EQ(text(page["english"], "lang"), "en");
  EXPECT_EQ(text(page["english"], "title"), "Gateway status");

  // The stored record now carries the repeat visit.
  auto encounters = gateway.client(gateway.token("puller"))->Get("/fhir/Encounter?_count=10");
  ASSERT_TRUE(encounters && encounters->status == 200);
  rapidjson::Document bundle;
  ASSERT_FALSE(json::parse(encounters->body, bundle).has_value());
  ASSERT_TRUE(bundle.IsObject() && bundle.HasMember("entry")) << encounters->body;
  EXPECT_EQ(bundle["entry"].Size(), 2u) << encounters->body;
  EXPECT_TRUE(fs::exists(red_png) && fs::file_size(red_png) > 10000) << red_png;
  EXPECT_TRUE(fs::exists(green_png) && fs::file_size(green_png) > 10000) << green_png;
  EXPECT_TRUE(fs::exists(entry_png) && fs::file_size(entry_png) > 10000) << entry_png;
}

}  // namespace
}  // namespace ilpgw
