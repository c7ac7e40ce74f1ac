// Logins for people, end to end: the real gateway binary over real TLS,
// accounts made with `ilp-gateway user add|disable`, a cookie jar that acts
// like a browser. Login, wrong password, disabled account, logout, idle and
// absolute expiry, CSRF refusals, throttling per account and per address
// (shared by two instances on one PostgreSQL database),
// the audit trail, no password or session id in the log, and a session
// cookie that never authorizes the FHIR API; the sweeping lists page.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <map>
#include <regex>
#include <thread>

#include "base/json.h"
#include "page_browser.h"
#include "postgres_server.h"
#include "test_support.h"

namespace ilpgw {
namespace {

constexpr const char* kPassword = "kata-sandi-puskesmas-1";

// The gateway closes connections whose request body it refused to read; a
// client still writing that body must get EPIPE, not die of SIGPIPE.
const bool kIgnoreSigpipe = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();
constexpr const char* kSessionCookie = "__Host-ilpgw-sesi";

using testing::Browser;

void addUser(const testing::GatewayProcess& gateway, const std::string& name, const std::string& role,
             const std::string& orgs, const std::string& password = kPassword) {
  testing::addPerson(gateway, name, role, orgs, password);
}

testing::GatewayOptions withPeople(const std::string& people) {
  testing::GatewayOptions options;
  options.auth = true;
  options.extra_config = R"("people": {)" + people + "}";
  return options;
}

// The AuditEvents matching `query` (agent=..., entity=...), as an admin client reads them.
std::vector<std::string> auditOf(const testing::GatewayProcess& gateway, const std::string& query) {
  auto admin = gateway.client(gateway.token("admin"));
  std::vector<std::string> events;
  for (int attempt = 0; attempt < 50; ++attempt) {  // failed logins are audited without waiting for a commit
    auto res = admin->Get(("/fhir/AuditEvent?" + query + "&_count=100").c_str());
    if (!res || res->status != 200) return {};
    rapidjson::Document doc;
    if (json::parse(res->body, doc) || !doc.IsObject()) return {};
    events.clear();
    if (doc.HasMember("entry")) {
      for (const auto& e : doc["entry"].GetArray()) events.push_back(json::write(e["resource"]));
    }
    if (!events.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return events;
}

size_t countWith(const std::vector<std::string>& events, const std::string& a, const std::string& b) {
  size_t n = 0;
  for (const auto& e : events) n += e.find(a) != std::string::npos && e.find(b) != std::string::npos ? 1 : 0;
  return n;
}

TEST(PeoplePagesTest, LoginLogoutWrongPasswordDisabledAccountAndAudit) {
  testing::GatewayProcess gateway(withPeople(R"("session_idle_s": 600)"));
  addUser(gateway, "pkm-budi", "puskesmas", "pkm-selat");
  Browser browser(gateway);

  auto page = browser.get("/masuk");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("Kata sandi"), std::string::npos);  // Bahasa Indonesia first
  EXPECT_EQ(browser.get("/masuk?lang=en")->body.find("Kata sandi"), std::string::npos);
  EXPECT_NE(browser.get("/masuk")->body.find("Password"), std::string::npos);  // remembered
  browser.get("/masuk?lang=id");

  auto wrong = browser.login("pkm-budi", "not-the-password");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_NE(wrong->body.find("kata sandi salah"), std::string::npos);
  EXPECT_EQ(browser.cookies().count(kSessionCookie), 0u);
  EXPECT_EQ(browser.get("/pws")->status, 303);  // still not logged in

  auto ok = browser.login("pkm-budi", kPassword);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 303);
  EXPECT_EQ(ok->get_header_value("Location"), "/pws");
  ASSERT_EQ(browser.cookies().count(kSessionCookie), 1u);
  std::string session_id = browser.cookies()[kSessionCookie];
  bool flags = false;
  for (const auto& line : browser.set_cookie_lines) {
    if (line.rfind(std::string(kSessionCookie) + "=" + session_id, 0) == 0) {
      flags = line.find("HttpOnly") != std::string::npos && line.find("Secure") != std::string::npos &&
              line.find("SameSite=Strict") != std::string::npos && line.find("Path=/") != std::string::npos;
    }
  }
  EXPECT_TRUE(flags) << "session cookie lacks HttpOnly; Secure; SameSite=Strict";
  auto pws = browser.get("/pws");
  ASSERT_TRUE(pws);
  EXPECT_EQ(pws->status, 200);
  EXPECT_NE(pws->body.find("pkm-budi"), std::string::npos);
  EXPECT_EQ(pws->get_header_value("Cache-Control"), "no-store");

  // Logout is a state-changing form: refused without the session's token.
  auto forged = browser.post("/keluar", {{"csrf", "forged"}});
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 403);
  EXPECT_EQ(browser.get("/pws")->status, 200);  // still logged in
  std::string csrf = Browser::hidden(pws->body, "csrf");
  ASSERT_FALSE(csrf.empty());
  auto out = browser.post("/keluar", {{"csrf", csrf}});
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 303);
  EXPECT_EQ(browser.cookies().count(kSessionCookie), 0u);
  // The old id is dead on the server, not only forgotten by the browser.
  browser.cookies()[kSessionCookie] = session_id;
  auto after = browser.get("/pws");
  EXPECT_EQ(after->status, 303);
  EXPECT_EQ(after->get_header_value("Location").rfind("/masuk?next=", 0), 0u);

  // A disabled account: its open session ends at once and it cannot log in.
  browser.cookies().erase(kSessionCookie);
  ASSERT_EQ(browser.login("pkm-budi", kPassword)->status, 303);
  ASSERT_EQ(browser.get("/pws")->status, 200);
  std::string out_text;
  std::string err_text;
  ASSERT_EQ(testing::runGateway({"user", "disable", "pkm-budi", "--config", gateway.configPath()}, out_text, &err_text), 0)
      << err_text;
  EXPECT_EQ(browser.get("/pws")->status, 303);
  EXPECT_EQ(browser.login("pkm-budi", kPassword)->status, 401);
  ASSERT_EQ(testing::runGateway({"user", "list", "--config", gateway.configPath()}, out_text, &err_text), 0);
  EXPECT_NE(out_text.find("disabled"), std::string::npos) << out_text;
  EXPECT_EQ(out_text.find("argon2"), std::string::npos) << out_text;

  // Every login, failed login and logout is in the audit chain.
  auto events = auditOf(gateway, "agent=user:pkm-budi");
  EXPECT_EQ(countWith(events, "\"110122\"", "HTTP 200: session opened"), 2u);
  EXPECT_EQ(countWith(events, "\"110122\"", "HTTP 401: wrong password"), 1u);
  EXPECT_EQ(countWith(events, "\"110122\"", "HTTP 401: account disabled"), 1u);
  EXPECT_EQ(countWith(events, "\"110123\"", "HTTP 200: session ended"), 1u);
  EXPECT_GE(countWith(events, "PWS page", "HTTP 200"), 2u);  // the report views
  auto changes = auditOf(gateway, "entity=User/pkm-budi");
  EXPECT_EQ(countWith(changes, "user-add", "cli:"), 1u);
  EXPECT_EQ(countWith(changes, "user-disable", "cli:"), 1u);

  // Neither the password nor a session id ever reaches the log.
  std::string log = gateway.log();
  EXPECT_EQ(log.find(kPassword), std::string::npos);
  EXPECT_EQ(log.find("not-the-password"), std::string::npos);
  EXPECT_EQ(log.find(session_id), std::string::npos);
}

TEST(PeoplePagesTest, SessionsEndWhenIdleAndAtTheirAbsoluteExpiry) {
  testing::GatewayProcess gateway(withPeople(R"("session_idle_s": 2, "session_max_s": 5)"));
  addUser(gateway, "dinkes-ana", "district", "");
  using std::chrono::milliseconds;

  Browser idle(gateway);
  ASSERT_EQ(idle.login("dinkes-ana", kPassword)->status, 303);
  EXPECT_EQ(idle.get("/pws")->status, 200);
  std::this_thread::sleep_for(milliseconds(2600));
  EXPECT_EQ(idle.get("/pws")->status, 303) << "an idle session must end";

  // Used every second, a session still ends 5 s after its login.
  Browser busy(gateway);
  auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(busy.login("dinkes-ana", kPassword)->status, 303);
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(milliseconds(900));
    EXPECT_EQ(busy.get("/pws")->status, 200) << "use " << i << " kept the session alive";
  }
  std::this_thread::sleep_until(start + milliseconds(5400));
  EXPECT_EQ(busy.get("/pws")->status, 303) << "the absolute expiry must end even a busy session";
}

TEST(PeoplePagesTest, RefusesFormsWithoutTheirTokenAndThrottlesFailedLogins) {
  testing::GatewayProcess gateway(withPeople(R"("login_failures_account": 3, "login_failures_address": 5)"));
  addUser(gateway, "pkm-budi", "puskesmas", "pkm-selat");
  addUser(gateway, "pkm-citra", "puskesmas", "pkm-kahayan");
  Browser browser(gateway);

  // A login form posted from elsewhere (no login cookie, or a wrong token).
  auto client = gateway.client();
  auto cross_site = client->Post("/masuk", httplib::Params{{"username", "pkm-budi"}, {"password", kPassword}});
  ASSERT_TRUE(cross_site);
  EXPECT_EQ(cross_site->status, 403);
  browser.get("/masuk");
  auto wrong_token = browser.post("/masuk", {{"csrf", "x"}, {"username", "pkm-budi"}, {"password", kPassword}});
  EXPECT_EQ(wrong_token->status, 403);
  EXPECT_EQ(browser.cookies().count(kSessionCookie), 0u);

  // Per account: after 3 failures even the right password is refused unchecked.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(browser.login("pkm-budi", "wrong-" + std::to_string(i))->status, 401);
  auto throttled = browser.login("pkm-budi", kPassword);
  ASSERT_TRUE(throttled);
  EXPECT_EQ(throttled->status, 429);
  EXPECT_GT(std::stoi(throttled->get_header_value("Retry-After", 0).empty() ? "0" : throttled->get_header_value("Retry-After")), 0);
  EXPECT_NE(throttled->body.find("Terlalu banyak percobaan"), std::string::npos);
  EXPECT_EQ(browser.cookies().count(kSessionCookie), 0u);

  // Per address: 2 more failures on another account reach 5 from 127.0.0.1.
  EXPECT_EQ(browser.login("pkm-citra", kPassword)->status, 303);
  Browser other(gateway);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(other.login("pkm-citra", "wrong-" + std::to_string(i))->status, 401);
  EXPECT_EQ(other.login("pkm-citra", kPassword)->status, 429);
  EXPECT_EQ(other.login("someone-else", "whatever-it-is")->status, 429);
  auto events = auditOf(gateway, "agent=user:pkm-budi");
  EXPECT_EQ(countWith(events, "HTTP 429", "too many failed logins"), 1u);
  // A name that is no account is recorded as user-unknown, never as typed.
  auto unknown = auditOf(gateway, "agent=user-unknown");
  EXPECT_EQ(countWith(unknown, "HTTP 429", "too many failed logins"), 1u);
  for (const auto& e : unknown) EXPECT_EQ(e.find("someone-else"), std::string::npos) << e;
}

// Two instances on one PostgreSQL database count the same failed logins
// (in the store): failures spread over both refuse the account on either.
TEST(PeoplePagesTest, TwoInstancesOnOneDatabaseThrottleTogether) {
  testing::PostgresServer& server = testing::PostgresServer::shared();
  std::string database = server.createDatabase();
  auto options = withPeople(R"("login_failures_account": 3, "login_failures_address": 50)");
  options.store_config = R"("backend": "postgresql", "url": ")" + server.url(database) + "\"";
  testing::GatewayProcess a(options);
  testing::GatewayProcess b(options);
  addUser(a, "pkm-budi", "puskesmas", "pkm-selat");
  addUser(a, "pkm-citra", "puskesmas", "pkm-kahayan");
  Browser on_a(a);
  Browser on_b(b);
  EXPECT_EQ(on_a.login("pkm-budi", "wrong-0")->status, 401);
  EXPECT_EQ(on_b.login("pkm-budi", "wrong-1")->status, 401);
  EXPECT_EQ(on_b.login("pkm-budi", kPassword)->status, 303) << "two failures are below the limit of 3";
  // The login cleared the account's failures on both instances: three more
  // are needed, spread over both, and then either refuses.
  Browser again_a(a);
  Browser again_b(b);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(again_b.login("pkm-budi", "wrong-" + std::to_string(i))->status, 401);
  EXPECT_EQ(again_a.login("pkm-budi", "wrong-2")->status, 401);
  auto on_b_throttled = again_b.login("pkm-budi", kPassword);
  ASSERT_TRUE(on_b_throttled);
  EXPECT_EQ(on_b_throttled->status, 429) << "three failures on two instances";
  EXPECT_EQ(again_a.login("pkm-budi", kPassword)->status, 429);
  EXPECT_EQ(again_a.login("pkm-citra", kPassword)->status, 303) << "per account";
}

// One ePuskesmas antenatal visit of a woman (diagnosis Z34.1).
std::string ancVisit(const std::string& id, const std::string& when, const std::string& nik, const std::string& name,
                     const std::string& desa) {
  return R"({"id_kunjungan":")" + id + R"(","waktu":")" + when + R"(","poli":"KIA","pasien":{"nik":")" + nik +
         R"(","nama":")" + name + R"(","jk":"P","tgl_lahir":"1995-01-10","alamat":{"jalan":"Jl. Melati","kode_desa":")" +
         desa + R"("}},"pemeriksaan":{},"diagnosa":[{"icd10":"Z34.1","jenis":"primer"}],"resep":[],)" +
         R"("tenaga_medis":{"nik":"6203014107880003","nama":"Bd. Sri","profesi":"bidan"}})";
}

void ingest(const testing::GatewayProcess& gateway, const std::string& token, const std::string& adapter,
            const std::string& body) {
  auto res = gateway.client(token)->Post(("/ingest/" + adapter).c_str(), body, "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 201) << res->body;
}

TEST(PeoplePagesTest, SweepingListsNameThePeopleBehindEachGapOfTheirOwnPuskesmasOnly) {
  testing::GatewayOptions options = withPeople("");
  options.plugins = {"epuskesmas-json", "posyandu-kader"};
  testing::GatewayProcess gateway(options);
  std::string selat = gateway.token("clinic", "pkm-selat");
  std::string kahayan = gateway.token("clinic", "pkm-kahayan");
  // SITI came in February and March: not on the list. RINA came in
  // February only: she needs her next contact. LINA is another puskesmas'.
  ingest(gateway, selat, "epuskesmas-json",
         "[" + ancVisit("S-1", "2025-02-20T08:00:00+07:00", "6203015001950001", "SITI AMINAH", "6203011001") + "," +
             ancVisit("S-2", "2025-03-10T08:00:00+07:00", "6203015001950001", "SITI AMINAH", "6203011001") + "," +
             ancVisit("S-3", "2025-02-14T08:00:00+07:00", "6203014202900002", "RINA WATI", "6203011002") + "]");
  ingest(gateway, kahayan, "epuskesmas-json",
         ancVisit("K-1", "2025-02-11T08:00:00+07:00", "6203024404960007", "LINA MARLINA", "6203021001"));
  // HARTO, two TB symptoms at the posyandu in March, no sputum test.
  ingest(gateway, selat, "posyandu-kader",
         R"({"posyandu":{"nama":"Posyandu Mawar","kode_desa":"6203011004","desa":"Randakari","dusun":"Kubang"},)"
         R"("tanggal":"2025-03-08","kader":{"nama":"Ibu Sri","nik":"3672014403780001"},"peserta":[)"
         R"({"nik":"6203010606600009","nama":"HARTO","jk":"L","tgl_lahir":"1960-06-06","sasaran":"lansia",)"
         R"("keluhan_tbc":["batuk_2_minggu","demam"]}]})");
  addUser(gateway, "pkm-budi", "puskesmas", "pkm-selat");
  Browser browser(gateway);
  ASSERT_EQ(browser.login("pkm-budi", kPassword)->status, 303);

  auto page = browser.get("/daftar-sasaran?bulan=2025-03");
  ASSERT_TRUE(page);
  ASSERT_EQ(page->status, 200) << page->body;
  auto section = [&](const std::string& list) {
    size_t at = page->body.find("data-list=\"" + list + "\"");
    if (at == std::string::npos) return std::string();
    return page->body.substr(at, page->body.find("</section>", at) - at);
  };
  std::string anc = section("sasaran-anc-berikutnya");
  EXPECT_NE(anc.find("RINA WATI"), std::string::npos) << anc;
  EXPECT_NE(anc.find("6203011002"), std::string::npos) << anc;
  EXPECT_EQ(anc.find("SITI"), std::string::npos) << anc;
  std::string tb = section("sasaran-tbc-lab");
  EXPECT_NE(tb.find("HARTO"), std::string::npos) << tb;
  EXPECT_NE(section("sasaran-imunisasi-berikutnya").find("Tidak ada"), std::string::npos);
  EXPECT_EQ(page->body.find("LINA"), std::string::npos) << "another puskesmas' patient";
  EXPECT_EQ(browser.get("/daftar-sasaran?bulan=2025-03&puskesmas=pkm-kahayan")->status, 403);
  // The PWS page links to it.
  EXPECT_NE(browser.get("/pws?bulan=2025-03")->body.find("/daftar-sasaran?puskesmas=pkm-selat&amp;bulan=2025-03"),
            std::string::npos);
  // Names were shown: the view is audited with the patients on it.
  auto events = auditOf(gateway, "agent=user:pkm-budi");
  EXPECT_EQ(countWith(events, "sweeping lists 2025-03", "Patient/"), 1u);
  EXPECT_EQ(countWith(events, "sweeping lists 2025-03", "HTTP 403"), 1u);
  EXPECT_EQ(gateway.log().find("RINA"), std::string::npos) << "names never reach the log";
}

TEST(PeoplePagesTest, ASessionCookieNeverAuthorizesTheFhirApi) {
  testing::GatewayProcess gateway(withPeople(""));
  addUser(gateway, "admin-dewi", "admin", "");
  Browser browser(gateway);
  ASSERT_EQ(browser.login("admin-dewi", kPassword)->status, 303);
  ASSERT_EQ(browser.get("/pws")->status, 200);
  std::string patient = R"({"resourceType":"Patient","id":"p1","gender":"female"})";
  std::string cookie = std::string(kSessionCookie) + "=" + browser.cookies()[kSessionCookie];
  httplib::Headers with_cookie = {{"Cookie", cookie}};
  // Each on a fresh connection: a refused request with a body closes its
  // connection, sometimes before the client has finished writing (then the
  // client sees a write error instead of the 401: what counts is that
  // nothing was written, checked below with a real token).
  auto refused = [&](const char* what, const httplib::Result& res, bool has_body) {
    if (!res && has_body) return;
    ASSERT_TRUE(res) << what << ": " << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 401) << what;
    EXPECT_NE(res->body.find("OperationOutcome"), std::string::npos) << what;
  };
  refused("PUT /fhir/Patient/p1", gateway.client()->Put("/fhir/Patient/p1", with_cookie, patient, "application/fhir+json"), true);
  refused("POST /fhir/Patient", gateway.client()->Post("/fhir/Patient", with_cookie, patient, "application/fhir+json"), true);
  refused("POST /ingest", gateway.client()->Post("/ingest/epuskesmas-json", with_cookie, "[]", "application/json"), true);
  refused("GET /fhir/Patient", gateway.client()->Get("/fhir/Patient", with_cookie), false);
  refused("GET /admin/plugins", gateway.client()->Get("/admin/plugins", with_cookie), false);
  auto reader = gateway.client(gateway.token("puller"));
  auto stored = reader->Get("/fhir/Patient?_summary=count");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->status, 200);
  EXPECT_NE(stored->body.find("\"total\":0"), std::string::npos) << stored->body;
}

}  // namespace
}  // namespace ilpgw
