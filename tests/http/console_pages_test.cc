// The status page and the admin console end to end: the real gateway binary
// over real TLS with the bundled simpus-csv adapter and a copy of the bundled
// mapping files, people's accounts made with `ilp-gateway user add`. A clinic
// posts a row the mapping refuses; the status page turns red for the admin
// and for that puskesmas but not for another puskesmas (which does not even
// see the clinic), a puskesmas account cannot open the console, forms
// without the session's CSRF token are refused, and after the mapping file
// is fixed, "muat ulang" and "proses ulang" make everything green again.
// Clients are rotated and revoked, people disabled, all of it audited.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <regex>
#include <thread>

#include "base/json.h"
#include "durability_helpers.h"
#include "page_browser.h"
#include "postgres_server.h"
#include "test_support.h"
#include "upstream_server.h"

namespace ilpgw {
namespace {

using testing::Browser;

constexpr const char* kPassword = "kata-sandi-konsol-1";
constexpr const char* kNik = "6203014501900002";
constexpr const char* kName = "IBU SATU";

const bool kIgnoreSigpipe = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();

// One visit whose `kunjungan` (ULANG) the bundled mapping does not know.
std::string visitRow() {
  return std::string("no_rm;nik;nama;jk;tgl_lahir;tgl_kunjungan;poli;kunjungan\n00050001;") + kNik + ";" + kName +
         ";P;05-01-1990;26-11-2024 09:00;UMUM;ULANG\n";
}

std::string lightOf(const std::string& html, const std::string& row) {
  std::smatch m;
  std::regex re("data-lampu=\"" + row + "\" data-warna=\"([a-z]+)\"");
  return std::regex_search(html, m, re) ? std::string(m[1]) : std::string("(none)");
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The AuditEvents of `agent`, as an admin client reads them, once one of them
// mentions `needle` (events of page views are committed shortly after the answer).
std::string auditOf(const testing::GatewayProcess& gateway, const std::string& agent, const std::string& needle) {
  auto admin = gateway.client(gateway.token("admin"));
  std::string all;
  for (int attempt = 0; attempt < 50; ++attempt) {
    all.clear();
    auto res = admin->Get(("/fhir/AuditEvent?agent=" + agent + "&_count=500").c_str());
    if (res && res->status == 200) {
      rapidjson::Document doc;
      if (!json::parse(res->body, doc) && doc.IsObject() && doc.HasMember("entry")) {
        for (const auto& e : doc["entry"].GetArray()) all += json::write(e["resource"]) + "\n";
      }
    }
    if (contains(all, needle)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return all;
}

class ConsolePagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::copy(testing::mappingsDir(), mappings_.path(), std::filesystem::copy_options::recursive);
    testing::GatewayOptions options;
    options.auth = true;
    options.plugins = {"simpus-csv"};
    options.mappings_dir = mappings_.path().string();
    options.extra_config = R"("people": {"session_idle_s": 600})";
    options.store_config = storeConfig();
    gateway_ = std::make_unique<testing::GatewayProcess>(options);
    clinic_ = gateway_->addClient("clinic", "pkm-selat");
    testing::addPerson(*gateway_, "admin-dinas", "admin", "", kPassword);
    testing::addPerson(*gateway_, "staf-selat", "puskesmas", "pkm-selat", kPassword);
    testing::addPerson(*gateway_, "staf-kahayan", "puskesmas", "pkm-kahayan", kPassword);
  }

  virtual std::string storeConfig() { return ""; }
  void badPostThenFixedByTheMapping();

  std::unique_ptr<Browser> loggedIn(const std::string& user) {
    auto browser = std::make_unique<Browser>(*gateway_);
    auto res = browser->login(user, kPassword, "/status");
    EXPECT_TRUE(res && res->status == 303) << user;
    return browser;
  }

  testing::TempDir mappings_;
  std::unique_ptr<testing::GatewayProcess> gateway_;
  testing::ClientCredentials clinic_;
};

// The same pages on the PostgreSQL backend (several instances share one database).
class ConsolePagesPostgresTest : public ConsolePagesTest {
 protected:
  std::string storeConfig() override {
    testing::PostgresServer& server = testing::PostgresServer::shared();
    return R"("backend": "postgresql", "url": ")" + server.url(server.createDatabase()) + "\"";
  }
};

TEST_F(ConsolePagesTest, RedAfterABadPostGreenAfterTheMappingFixAndReprocess) { badPostThenFixedByTheMapping(); }

TEST_F(ConsolePagesPostgresTest, RedAfterABadPostGreenAfterTheMappingFixAndReprocess) {
  badPostThenFixedByTheMapping();
  auto status = loggedIn("admin-dinas")->get("/status");
  EXPECT_TRUE(contains(status->body, "di PostgreSQL")) << status->body;
}

void ConsolePagesTest::badPostThenFixedByTheMapping() {
  auto clinic = gateway_->client(gateway_->fetchToken(clinic_));
  auto posted = clinic->Post("/ingest/simpus-csv", visitRow(), "text/csv");
  ASSERT_TRUE(posted);
  ASSERT_EQ(posted->status, 422) << posted->body;

  auto admin = loggedIn("admin-dinas");
  auto status = admin->get("/status");
  ASSERT_TRUE(status);
  ASSERT_EQ(status->status, 200);
  EXPECT_EQ(status->get_header_value("Cache-Control"), "no-store");
  EXPECT_EQ(lightOf(status->body, "karantina"), "merah");
  EXPECT_EQ(lightOf(status->body, "hari-ini"), "kuning");
  EXPECT_TRUE(contains(status->body, "di 1 baris dari simpus-csv")) << status->body;
  EXPECT_TRUE(contains(status->body, "Status gateway"));  // Bahasa Indonesia first
  EXPECT_TRUE(contains(status->body, "data-klien=\"" + clinic_.id + "\""));
  EXPECT_EQ(lightOf(status->body, "pengiriman"), "mati");  // forwarding is off here
  EXPECT_EQ(lightOf(status->body, "sertifikat"), "hijau");
  EXPECT_FALSE(contains(status->body, kNik));
  EXPECT_FALSE(contains(status->body, kName));
  auto english = admin->get("/status?lang=en");
  EXPECT_TRUE(contains(english->body, "Gateway status"));
  EXPECT_TRUE(contains(english->body, "in 1 row from simpus-csv")) << english->body;
  admin->get("/status?lang=id");

  EXPECT_TRUE(contains(admin->get("/konsol/karantina?lang=en")->body, "Quarantine: refused records"));
  auto list = admin->get("/konsol/karantina?lang=id");
  ASSERT_EQ(list->status, 200);
  EXPECT_TRUE(contains(list->body, "Karantina: catatan yang ditolak"));
  std::smatch m;
  ASSERT_TRUE(std::regex_search(list->body, m, std::regex("data-karantina=\"([0-9]+)\""))) << list->body;
  std::string id = m[1];
  auto entry = admin->get("/konsol/karantina/" + id);
  ASSERT_EQ(entry->status, 200);
  EXPECT_TRUE(std::regex_search(entry->body,
                                std::regex("<tr class=\"salah\" data-salah=\"ya\"><th scope=\"row\">kunjungan</th><td>ULANG")))
      << entry->body;
  EXPECT_TRUE(contains(entry->body, "Proses ulang"));
  EXPECT_TRUE(contains(entry->body, "data-keadaan=\"open\""));
  std::string csrf = Browser::hidden(entry->body, "csrf");
  ASSERT_FALSE(csrf.empty());

  // Without the session's token the reprocess form is refused and changes nothing.
  EXPECT_EQ(admin->post("/konsol/karantina/" + id + "/proses-ulang", {{"csrf", "forged"}})->status, 403);
  EXPECT_EQ(admin->post("/konsol/karantina/" + id + "/proses-ulang", {})->status, 403);
  EXPECT_EQ(admin->post("/konsol/muat-ulang", {{"csrf", "forged"}})->status, 403);

  // Reprocessing before the fix keeps it open.
  auto again = admin->post("/konsol/karantina/" + id + "/proses-ulang", {{"csrf", csrf}});
  ASSERT_EQ(again->status, 303);
  EXPECT_TRUE(contains(admin->get("/konsol/karantina/" + id)->body, "data-keadaan=\"open\""));

  // Fix the mapping on disk: ULANG is a repeat visit.
  std::string file = (mappings_.path() / "simpus-csv.mapping.json").string();
  std::string mapping = testing::readFile(file);
  std::string before = R"("kunjungan": { "path": "kunjungan", "type": "enum", "values": { "BARU": "baru", "LAMA": "lama" } })";
  auto at = mapping.find(before);
  ASSERT_NE(at, std::string::npos);
  mapping.replace(at, before.size(),
                  R"("kunjungan": { "path": "kunjungan", "type": "enum", "values": { "BARU": "baru", "LAMA": "lama", "ULANG": "lama" } })");
  testing::writeFile(file, mapping);
  auto reloaded = admin->post("/konsol/muat-ulang", {{"csrf", csrf}, {"kembali", "/konsol/karantina/" + id}});
  ASSERT_EQ(reloaded->status, 303);
  EXPECT_EQ(reloaded->get_header_value("Location"), "/konsol/karantina/" + id + "?hasil=dimuat");
  // A link cannot put its own words on the console.
  EXPECT_FALSE(contains(admin->get("/konsol/karantina?hasil=Bayar%20ke%20rekening%20ini")->body, "class=\"pesan\""));
  auto fixed = admin->post("/konsol/karantina/" + id + "/proses-ulang", {{"csrf", csrf}});
  ASSERT_EQ(fixed->status, 303);
  auto done = admin->get(fixed->get_header_value("Location"));
  EXPECT_TRUE(contains(done->body, "data-keadaan=\"resolved\"")) << done->body;
  EXPECT_TRUE(contains(done->body, "Berhasil"));

  status = admin->get("/status");
  EXPECT_EQ(lightOf(status->body, "karantina"), "hijau");
  EXPECT_EQ(lightOf(status->body, "hari-ini"), "hijau");

  std::string all = auditOf(*gateway_, "user:admin-dinas", "admin console reprocess quarantine");
  EXPECT_TRUE(contains(all, "admin console reprocess quarantine")) << all;
  EXPECT_TRUE(contains(all, "admin console reload adapters and mappings"));
  EXPECT_TRUE(contains(all, "status page"));
  EXPECT_TRUE(contains(all, "Quarantine/" + id));
}

TEST_F(ConsolePagesTest, PuskesmasSeesOnlyItsOwnAndCannotOpenTheConsole) {
  auto clinic = gateway_->client(gateway_->fetchToken(clinic_));
  ASSERT_EQ(clinic->Post("/ingest/simpus-csv", visitRow(), "text/csv")->status, 422);

  auto selat = loggedIn("staf-selat");
  auto own = selat->get("/status");
  ASSERT_EQ(own->status, 200);
  EXPECT_EQ(lightOf(own->body, "karantina"), "merah");
  EXPECT_TRUE(contains(own->body, "data-klien=\"" + clinic_.id + "\""));
  EXPECT_EQ(lightOf(own->body, "pengiriman"), "(none)");  // the installation's, not a puskesmas'
  EXPECT_FALSE(contains(own->body, kNik));
  EXPECT_FALSE(contains(own->body, kName));
  EXPECT_FALSE(contains(own->body, "/konsol/karantina\""));

  auto kahayan = loggedIn("staf-kahayan");
  auto other = kahayan->get("/status");
  ASSERT_EQ(other->status, 200);
  EXPECT_EQ(lightOf(other->body, "karantina"), "hijau");
  EXPECT_EQ(lightOf(other->body, "hari-ini"), "hijau");
  EXPECT_FALSE(contains(other->body, clinic_.id));
  EXPECT_FALSE(contains(other->body, "simpus-csv"));

  // The console is for admin accounts only, reading and acting alike.
  std::string csrf = Browser::hidden(other->body, "csrf");
  ASSERT_FALSE(csrf.empty());
  for (const char* path : {"/konsol/karantina", "/konsol/karantina/1", "/konsol/kiriman", "/konsol/klien", "/konsol/pengguna"}) {
    auto res = selat->get(path);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 403) << path;
    EXPECT_FALSE(contains(res->body, kName)) << path;
  }
  EXPECT_EQ(kahayan->post("/konsol/karantina/1/proses-ulang", {{"csrf", csrf}})->status, 403);
  EXPECT_EQ(kahayan->post("/konsol/klien/cabut", {{"csrf", csrf}, {"klien", clinic_.id}})->status, 403);
  EXPECT_EQ(kahayan->post("/konsol/pengguna/nonaktifkan", {{"csrf", csrf}, {"pengguna", "admin-dinas"}})->status, 403);
  EXPECT_NO_THROW(gateway_->fetchToken(clinic_));  // the refused revoke changed nothing

  // Not logged in: to the login page, and forms refused.
  Browser anonymous(*gateway_);
  auto away = anonymous.get("/status");
  EXPECT_EQ(away->status, 303);
  EXPECT_EQ(away->get_header_value("Location").rfind("/masuk?next=", 0), 0u);
  EXPECT_EQ(anonymous.post("/konsol/muat-ulang", {{"csrf", csrf}})->status, 403);
  // A bearer token does not open the pages either.
  auto with_token = gateway_->client(gateway_->token("admin"))->Get("/konsol/karantina");
  EXPECT_EQ(with_token->status, 303);

  std::string all = auditOf(*gateway_, "user:staf-kahayan", "admin console refused");
  EXPECT_TRUE(contains(all, "admin console refused")) << all;
}

TEST_F(ConsolePagesTest, ClientsRotatedAndRevokedUsersDisabled) {
  auto admin = loggedIn("admin-dinas");
  auto clients = admin->get("/konsol/klien");
  ASSERT_EQ(clients->status, 200);
  EXPECT_TRUE(contains(clients->body, "data-klien=\"" + clinic_.id + "\""));
  std::string csrf = Browser::hidden(clients->body, "csrf");

  EXPECT_EQ(admin->post("/konsol/klien/ganti-rahasia", {{"csrf", "forged"}, {"klien", clinic_.id}})->status, 403);
  EXPECT_NO_THROW(gateway_->fetchToken(clinic_));
  auto rotated = admin->post("/konsol/klien/ganti-rahasia", {{"csrf", csrf}, {"klien", clinic_.id}});
  ASSERT_EQ(rotated->status, 200);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(rotated->body, m, std::regex("<pre class=\"rahasia\">([^<]+)</pre>")));
  testing::ClientCredentials renewed{clinic_.id, m[1]};
  EXPECT_ANY_THROW(gateway_->fetchToken(clinic_));
  EXPECT_NO_THROW(gateway_->fetchToken(renewed));

  auto revoked = admin->post("/konsol/klien/cabut", {{"csrf", csrf}, {"klien", clinic_.id}});
  ASSERT_EQ(revoked->status, 303);
  EXPECT_ANY_THROW(gateway_->fetchToken(renewed));
  EXPECT_TRUE(contains(admin->get("/konsol/klien")->body, "dicabut"));

  auto kahayan = loggedIn("staf-kahayan");
  ASSERT_EQ(kahayan->get("/status")->status, 200);
  auto users = admin->get("/konsol/pengguna");
  ASSERT_EQ(users->status, 200);
  EXPECT_TRUE(contains(users->body, "data-pengguna=\"staf-kahayan\""));
  ASSERT_EQ(admin->post("/konsol/pengguna/nonaktifkan", {{"csrf", csrf}, {"pengguna", "staf-kahayan"}})->status, 303);
  EXPECT_EQ(kahayan->get("/status")->status, 303);  // its session ended
  EXPECT_EQ(Browser(*gateway_).login("staf-kahayan", kPassword)->status, 401);
  EXPECT_EQ(admin->post("/konsol/pengguna/nonaktifkan", {{"csrf", csrf}, {"pengguna", "admin-dinas"}})->status, 409);

  std::string all = auditOf(*gateway_, "user:admin-dinas", "admin console users");
  EXPECT_TRUE(contains(all, "admin console clients")) << all;
  EXPECT_TRUE(contains(all, "admin console users"));
}

// Forwarding on: a version the upstream refuses for good turns the
// forwarding light red; the admin resends it from the console and the light
// turns green once it is sent.
TEST(ConsoleForwardingTest, DeadLetterRedThenResentFromTheConsoleGreen) {
  using namespace std::chrono_literals;
  testing::UpstreamServer upstream;
  testing::GatewayOptions options;
  options.auth = true;
  options.extra_config = upstream.gatewayConfig() + R"(, "people": {"session_idle_s": 600})";
  testing::GatewayProcess gateway(options);
  testing::addPerson(gateway, "admin-dinas", "admin", "", kPassword);
  testing::addPerson(gateway, "staf-selat", "puskesmas", "pkm-selat", kPassword);
  auto clinic = gateway.client(gateway.token("clinic", "pkm-selat"));
  upstream.failNext(1, 422);
  auto posted = clinic->Post("/ingest/epuskesmas-json", testing::distinctVisit(700), "application/json");
  ASSERT_TRUE(posted && posted->status == 201) << (posted ? posted->body : "");
  ASSERT_TRUE(testing::waitFor([&] { return testing::outboxCount(gateway, "dead") == 1; }, 20s)) << gateway.log();
  ASSERT_TRUE(testing::waitFor([&] { return testing::outboxCount(gateway, "pending") == 0; }, 20s));

  Browser admin(gateway);
  ASSERT_EQ(admin.login("admin-dinas", kPassword, "/status")->status, 303);
  auto status = admin.get("/status");
  EXPECT_EQ(lightOf(status->body, "pengiriman"), "merah");
  EXPECT_TRUE(contains(status->body, "1 ditolak tujuan (surat mati)")) << status->body;
  Browser staff(gateway);
  ASSERT_EQ(staff.login("staf-selat", kPassword, "/status")->status, 303);
  EXPECT_EQ(lightOf(staff.get("/status")->body, "pengiriman"), "(none)");

  auto dead = admin.get("/konsol/kiriman");
  ASSERT_EQ(dead->status, 200);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(dead->body, m, std::regex("data-surat=\"([0-9]+)\""))) << dead->body;
  std::string seq = m[1];
  EXPECT_TRUE(contains(dead->body, "HTTP 422"));
  std::string csrf = Browser::hidden(dead->body, "csrf");
  EXPECT_EQ(admin.post("/konsol/kiriman/" + seq + "/kirim-ulang", {{"csrf", "forged"}})->status, 403);
  EXPECT_EQ(testing::outboxCount(gateway, "dead"), 1);
  auto resent = admin.post("/konsol/kiriman/" + seq + "/kirim-ulang", {{"csrf", csrf}});
  ASSERT_EQ(resent->status, 303);
  EXPECT_EQ(resent->get_header_value("Location"), "/konsol/kiriman?hasil=dijadwalkan&jumlah=1");
  EXPECT_TRUE(contains(admin.get(resent->get_header_value("Location"))->body, "1 data dijadwalkan dikirim ulang."));
  ASSERT_TRUE(testing::waitFor([&] {
    return testing::outboxCount(gateway, "dead") == 0 && testing::outboxCount(gateway, "pending") == 0;
  }, 20s));
  status = admin.get("/status");
  EXPECT_EQ(lightOf(status->body, "pengiriman"), "hijau") << status->body;
  EXPECT_TRUE(contains(status->body, "Terakhir berhasil dikirim: ")) << status->body;
  EXPECT_TRUE(contains(auditOf(gateway, "user:admin-dinas", "admin console resend dead letters"),
                       "Outbox/" + seq));
}

// A JSON post's quarantined record: the offending key is marked in the raw
// text beside its reason.
TEST(ConsoleJsonRecordTest, OffendingKeyMarkedInTheRawRecord) {
  testing::GatewayOptions options;
  options.auth = true;
  testing::GatewayProcess gateway(options);
  testing::addPerson(gateway, "admin-dinas", "admin", "", kPassword);
  std::string visit = testing::distinctVisit(800);
  testing::replaceOnce(visit, "\"jk\": \"L\"", "\"jk\": \"X\"");
  auto posted = gateway.client(gateway.token("clinic", "pkm-selat"))->Post("/ingest/epuskesmas-json", visit, "application/json");
  ASSERT_TRUE(posted);
  ASSERT_EQ(posted->status, 422) << posted->body;

  Browser admin(gateway);
  ASSERT_EQ(admin.login("admin-dinas", kPassword, "/status")->status, 303);
  auto list = admin.get("/konsol/karantina");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(list->body, m, std::regex("data-karantina=\"([0-9]+)\""))) << list->body;
  auto entry = admin.get("/konsol/karantina/" + std::string(m[1]));
  ASSERT_EQ(entry->status, 200);
  EXPECT_TRUE(contains(entry->body, "<mark class=\"salah\" data-salah=\"ya\">&quot;jk&quot;</mark>")) << entry->body;
  EXPECT_TRUE(contains(entry->body, "jenis kelamin")) << entry->body;  // the field in plain words
  EXPECT_TRUE(contains(admin.get("/status")->body, "dari epuskesmas-json"));
}

}  // namespace
}  // namespace ilpgw
