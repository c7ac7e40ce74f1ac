// Forwarding to SATUSEHAT in the platform's own terms, against the
// simulator (tests/simulators/satusehat_simulator.cc) and the real gateway:
// a district's backlog drains exactly once through an outage, 5xx, 429,
// revoked tokens, a lost answer and kill -9 in the middle of a create; an
// unknown patient waits and is sent once the index knows it, a stale IHS id
// is looked up again; what breaks a
// platform rule is prevented or becomes a dead letter with the reason.
#include <gtest/gtest.h>

#include <set>

#include "durability_helpers.h"
#include "satusehat_simulator.h"
#include "test_support.h"

namespace ilpgw {
namespace {

using testing::GatewayOptions;
using testing::GatewayProcess;
using testing::SatusehatSimulator;
using namespace std::chrono_literals;

// The practitioner of every visit in docs/examples/epuskesmas-visit.json.
constexpr const char* kPractitionerNik = "6203015203800001";

std::string patientNik(int visit) {
  char serial[8];
  std::snprintf(serial, sizeof serial, "%04d", visit % 10000);
  return std::string("620301120458") + serial;
}

struct Puskesmas {
  std::string organization;  // ours
  std::string platform_id;   // the platform's organization of its client
  std::string configured_platform_id;  // what upstream.organizations_file says
  std::string locations_json;          // its poli -> Location mapping
};

std::string seed(const std::vector<Puskesmas>& puskesmas, const std::vector<int>& known_visits) {
  std::string s = R"({"organizations":[)";
  for (size_t i = 0; i < puskesmas.size(); ++i) {
    s += (i ? "," : "") + std::string(R"({"id":")") + puskesmas[i].platform_id + R"(","client_id":"client-)" +
         puskesmas[i].organization + R"(","client_secret":"secret-)" + puskesmas[i].organization +
         R"(","locations":["loc-)" + puskesmas[i].platform_id + R"("]})";
  }
  s += R"(],"practitioners":[{"nik":")" + std::string(kPractitionerNik) + R"(","ihs":"10009880728"}],"patients":[)";
  for (size_t i = 0; i < known_visits.size(); ++i) {
    s += (i ? "," : "") + std::string(R"({"nik":")") + patientNik(known_visits[i]) + R"(","ihs":"P)" +
         patientNik(known_visits[i]) + R"("})";
  }
  return s + "]}";
}

class SatusehatTest : public ::testing::Test {
 protected:
  // gateway.json's upstream section for these puskesmas.
  std::string upstream(const SatusehatSimulator& sim, const std::vector<Puskesmas>& puskesmas, int wait_retry_s) {
    std::string orgs = R"({"organizations":[)";
    for (size_t i = 0; i < puskesmas.size(); ++i) {
      const auto& p = puskesmas[i];
      std::string secret = dir_.file(p.organization + ".secret");
      testing::writeFile(secret, "secret-" + p.organization + "\n");
      orgs += (i ? "," : "") + std::string(R"({"organization":")") + p.organization +
              R"(","platform_organization_id":")" + p.configured_platform_id + R"(","client_id":"client-)" +
              p.organization + R"(","client_secret_file":")" + secret + R"(","locations":)" + p.locations_json + "}";
    }
    testing::writeFile(dir_.file("organizations.json"), orgs + "]}");
    return R"("upstream": {"enabled": true, "profile": "satusehat", "base_url": ")" + sim.fhirBase() +
           R"(", "auth_url": ")" + sim.authBase() + R"(", "organizations_file": ")" + dir_.file("organizations.json") +
           R"(", "ca_file": ")" + (testing::devCertDir() / "ca.crt").string() +
           R"(", "backoff_initial_ms": 100, "backoff_max_ms": 400, "poll_interval_ms": 100, "timeout_s": 2, )"
           R"("wait_retry_s": )" + std::to_string(wait_retry_s) + "}";
  }

  static Puskesmas puskesmas(const std::string& organization, const std::string& platform_id) {
    return {organization, platform_id, platform_id, R"({"*":"loc-)" + platform_id + R"("})"};
  }

  // Posts visit `n` for the clinic holding `token`; returns its locations.
  static std::vector<std::string> post(const GatewayProcess& gateway, const std::string& token, int n,
                                       const std::string& change = "") {
    std::string visit = testing::distinctVisit(n);
    if (!change.empty()) testing::replaceOnce(visit, "\"td\": \"152/94\"", change);
    auto res = gateway.client(token)->Post("/ingest/epuskesmas-json", visit, "application/json");
    EXPECT_TRUE(res && (res->status == 201 || res->status == 200)) << (res ? res->body : "no answer");
    return res ? testing::bundleLocations(res->body) : std::vector<std::string>{};
  }

  static int count(const rapidjson::Value& object, const char* name) {
    return object.HasMember(name) ? static_cast<int>(object[name].GetInt64()) : 0;
  }

  static rapidjson::Document adminGet(const GatewayProcess& gateway, const std::string& token, const std::string& path) {
    auto res = gateway.client(token)->Get(path.c_str());
    EXPECT_TRUE(res && res->status == 200) << path << ": " << (res ? res->body : "no answer");
    return testing::parseJson(res ? res->body : "{}");
  }

  testing::TempDir dir_;
};

TEST_F(SatusehatTest, DistrictBacklogDrainsExactlyOnceThroughOutageFaultsAndKill) {
  const std::vector<Puskesmas> district = {puskesmas("pkm-selat", "100011"), puskesmas("pkm-bataguh", "100012"),
                                           puskesmas("pkm-kapuas", "100013")};
  constexpr int kVisitsEach = 20;
  std::vector<int> visits;
  for (int p = 0; p < 3; ++p) {
    for (int k = 1; k <= kVisitsEach; ++k) visits.push_back(1000 * (p + 1) + k);
  }
  SatusehatSimulator sim(seed(district, visits));
  GatewayOptions options;
  options.auth = true;
  options.extra_config = upstream(sim, district, 1);
  sim.stop();  // the link is down while the month is recorded
  auto first = std::make_unique<GatewayProcess>(options);
  std::map<std::string, int> stored;  // Type -> distinct resources posted
  std::set<std::string> keys;
  std::vector<std::string> tokens;
  for (int p = 0; p < 3; ++p) tokens.push_back(first->token("clinic", district[p].organization));
  for (int k = 1; k <= kVisitsEach; ++k) {
    for (int p = 0; p < 3; ++p) {
      for (const auto& location : post(*first, tokens[p], 1000 * (p + 1) + k)) {
        std::string key = location.substr(0, location.find("/_history"));
        if (keys.insert(key).second) ++stored[key.substr(0, key.find('/'))];
      }
    }
  }
  ASSERT_EQ(stored["Encounter"], 3 * kVisitsEach);
  ASSERT_GT(testing::outboxCount(*first, "pending"), 0);

  // The link returns with 5xx, throttling, revoked tokens and a lost answer.
  auto injected = [&] { return count(sim.state(), "injected"); };
  sim.start();
  sim.failNext(2, 503);
  ASSERT_TRUE(testing::waitFor([&] { return injected() >= 2; }, 20s)) << first->log();
  sim.failNext(1, 429, "1");
  ASSERT_TRUE(testing::waitFor([&] { return injected() >= 3; }, 20s));
  sim.revokeTokens();
  ASSERT_TRUE(testing::waitFor([&] { return count(sim.state(), "unauthorized") >= 1; }, 20s));
  sim.dropNext(1);
  ASSERT_TRUE(testing::waitFor([&] { return injected() >= 4; }, 20s));
  // kill -9 while a create is stored on the platform and its answer is late.
  sim.slowNext(1, 4000);
  ASSERT_TRUE(testing::waitFor([&] { return injected() >= 5; }, 20s));
  first->kill9();
  auto mid = sim.state();
  EXPECT_LT(count(mid["created"], "Encounter"), 3 * kVisitsEach) << "the kill came in the middle of the drain";

  GatewayOptions again = options;
  again.data_dir = first->dataDir();
  GatewayProcess gateway(again);
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(testing::waitFor([&] { return testing::outboxCount(gateway, "pending") == 0; }, 90s)) << gateway.log();
  auto drain_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  std::cout << "[ satusehat ] " << keys.size() << " resources of " << 3 * kVisitsEach
            << " visits drained after the restart in " << drain_ms.count() << " ms\n";

  // Created before its Conditions, each Encounter is updated with both once
  // they are on the platform, also when the kill came between the two; an
  // update refused by an injected fault follows a moment later.
  auto withDiagnoses = [](const rapidjson::Value& platform) {
    std::set<std::string> conditions;
    for (const auto& c : platform["resources"]["Condition"].GetArray()) conditions.insert(c["id"].GetString());
    int complete = 0;
    for (const auto& e : platform["resources"]["Encounter"].GetArray()) {
      if (!e.HasMember("diagnosis") || e["diagnosis"].Size() != 2) continue;
      bool known = true;
      for (const auto& d : e["diagnosis"].GetArray()) {
        std::string ref = d["condition"]["reference"].GetString();
        known = known && conditions.count(ref.substr(ref.find('/') + 1)) != 0;
      }
      complete += known ? 1 : 0;
    }
    return complete;
  };
  EXPECT_TRUE(testing::waitFor([&] { return withDiagnoses(sim.state(true)) == 3 * kVisitsEach; }, 30s))
      << withDiagnoses(sim.state(true)) << " Encounters with both diagnoses";

  auto state = sim.state(true);
  // Exactly once, in the platform's terms: one Encounter per visit, every
  // other resource once, no Patient or Practitioner created.
  EXPECT_EQ(count(state["created"], "Encounter"), 3 * kVisitsEach);
  EXPECT_EQ(state["encounterCopies"].MemberCount(), static_cast<unsigned>(3 * kVisitsEach));
  for (const auto& m : state["encounterCopies"].GetObject()) EXPECT_EQ(m.value.GetInt64(), 1) << m.name.GetString();
  for (const auto& [type, n] : stored) {
    if (type == "Patient" || type == "Practitioner") {
      EXPECT_EQ(count(state["created"], type.c_str()), 0) << type << " must never be created";
    } else {
      EXPECT_EQ(count(state["created"], type.c_str()), n) << type;
    }
  }
  // Each puskesmas used its own client; nothing broke a platform rule.
  for (const auto& p : district) EXPECT_GE(count(state["tokensByClient"], ("client-" + p.organization).c_str()), 1);
  for (const auto& refusal : state["refusals"].GetArray()) {
    std::string text = refusal.GetString();
    EXPECT_TRUE(text.rfind("injected failure", 0) == 0 || text.rfind("Invalid access token", 0) == 0) << text;
  }
  // Every Encounter names its own puskesmas, patient and practitioner by platform ids.
  std::set<std::string> platform_orgs;
  for (const auto& e : state["resources"]["Encounter"].GetArray()) {
    std::string org = e["serviceProvider"]["reference"].GetString();
    platform_orgs.insert(org);
    EXPECT_EQ(std::string(e["identifier"][0]["system"].GetString()),
              "http://sys-ids.kemkes.go.id/encounter/" + org.substr(org.find('/') + 1));
    EXPECT_EQ(std::string(e["subject"]["reference"].GetString()).rfind("Patient/P62030112045", 0), 0u);
    EXPECT_EQ(std::string(e["participant"][0]["individual"]["reference"].GetString()), "Practitioner/10009880728");
  }
  EXPECT_EQ(platform_orgs.size(), 3u);
  EXPECT_EQ(withDiagnoses(state), 3 * kVisitsEach);
  EXPECT_EQ(testing::outboxCount(gateway, "dead"), 0);

  // A later version of a visit is an update of the platform's resource.
  int puts_before = count(state, "puts");
  post(gateway, tokens[0], 1001, "\"td\": \"150/90\"");
  ASSERT_TRUE(testing::waitFor([&] { return count(sim.state(), "puts") > puts_before; }, 20s)) << gateway.log();
  ASSERT_TRUE(testing::waitFor([&] { return testing::outboxCount(gateway, "pending") == 0; }, 20s));
  auto after = sim.state();
  EXPECT_EQ(count(after["created"], "Encounter"), 3 * kVisitsEach);
  EXPECT_EQ(count(after["created"], "Observation"), stored["Observation"]) << "no new Observation: an update";
  EXPECT_EQ(gateway.log().find("secret-pkm"), std::string::npos) << "secrets never reach the log";
}

TEST_F(SatusehatTest, EncounterSentBeforeItsDiagnosesGetsThemAfterAKill) {
  const std::vector<Puskesmas> one = {puskesmas("pkm-selat", "100011")};
  SatusehatSimulator sim(seed(one, {1}));
  GatewayOptions options;
  options.auth = true;
  options.extra_config = upstream(sim, one, 1);
  sim.failNext(100000, 503, "", "Condition");  // the visit reaches the platform, its diagnoses do not
  auto first = std::make_unique<GatewayProcess>(options);
  post(*first, first->token("clinic", "pkm-selat"), 1);
  ASSERT_TRUE(testing::waitFor([&] { return count(sim.state()["created"], "Encounter") == 1; }, 20s)) << first->log();
  ASSERT_TRUE(testing::waitFor([&] { return count(sim.state(), "injected") >= 2; }, 20s)) << first->log();
  first->kill9();  // the Encounter on the platform lacks its diagnosis list

  sim.failNext(0, 503);
  GatewayOptions again = options;
  again.data_dir = first->dataDir();
  GatewayProcess gateway(again);
  auto diagnoses = [&] {
    auto state = sim.state(true);
    if (!state["resources"].HasMember("Encounter") || !state["resources"].HasMember("Condition")) return 0u;
    std::set<std::string> conditions;
    for (const auto& c : state["resources"]["Condition"].GetArray()) conditions.insert(c["id"].GetString());
    const auto& encounter = state["resources"]["Encounter"][0];
    if (!encounter.HasMember("diagnosis")) return 0u;
    unsigned known = 0;
    for (const auto& d : encounter["diagnosis"].GetArray()) {
      std::string ref = d["condition"]["reference"].GetString();
      known += conditions.count(ref.substr(ref.find('/') + 1)) != 0 ? 1 : 0;
    }
    return known;
  };
  ASSERT_TRUE(testing::waitFor([&] { return diagnoses() == 2; }, 30s)) << gateway.log();
  auto state = sim.state();
  EXPECT_EQ(count(state["created"], "Encounter"), 1);
  EXPECT_EQ(count(state["created"], "Condition"), 2);
  EXPECT_EQ(testing::outboxCount(gateway, "dead"), 0);
}

TEST_F(SatusehatTest, UnknownPatientWaitsThenIsSentWhenTheIndexHasIt) {
  const std::vector<Puskesmas> one = {puskesmas("pkm-selat", "100011")};
  SatusehatSimulator sim(seed(one, {1, 3}));  // visit 2's NIK is not in the index
  GatewayOptions options;
  options.auth = true;
  options.extra_config = upstream(sim, one, 3600);
  GatewayProcess gateway(options);
  std::string clinic = gateway.token("clinic", "pkm-selat");
  std::string admin = gateway.token("admin");
  post(gateway, clinic, 1);
  std::string waiting_patient;
  for (const auto& l : post(gateway, clinic, 2)) {
    if (l.rfind("Patient/", 0) == 0) waiting_patient = l.substr(0, l.find("/_history"));
  }
  post(gateway, clinic, 3);
  ASSERT_FALSE(waiting_patient.empty());

  // The other patients' visits go; this one waits, visibly, with its reason.
  ASSERT_TRUE(testing::waitFor([&] { return count(sim.state()["created"], "Encounter") == 2; }, 30s)) << gateway.log();
  rapidjson::Document waiting;
  ASSERT_TRUE(testing::waitFor([&] {
    waiting = adminGet(gateway, admin, "/admin/outbox/waiting");
    for (const auto& e : waiting["entries"].GetArray()) {
      if (std::string(e["resource"].GetString()) == waiting_patient) return true;
    }
    return false;
  }, 10s));
  bool explained = false;
  for (const auto& e : waiting["entries"].GetArray()) {
    if (std::string(e["resource"].GetString()) != waiting_patient) continue;
    std::string reason = e["reason"].GetString();
    explained = reason.rfind("Menunggu data pasien", 0) == 0 && reason.find("Waiting for patient data") != std::string::npos;
    EXPECT_EQ(std::string(e["organization"].GetString()), "pkm-selat");
    EXPECT_GT(e["nextAttemptInSeconds"].GetInt64(), 60) << "retried on the schedule, not in a loop";
  }
  EXPECT_TRUE(explained);
  EXPECT_GE(testing::outboxCount(gateway, "waiting"), 1) << "GET /ready counts what waits";
  EXPECT_FALSE(sim.state()["encounterCopies"].HasMember("KJ-D-2"));
  EXPECT_EQ(count(sim.state()["created"], "Patient"), 0) << "the gateway never registers the patient itself";

  // The index learns the patient; an admin asks for a retry instead of waiting an hour.
  sim.addPatient(patientNik(2), "P-REGISTERED-LATER");
  auto retried = gateway.client(admin)->Post("/admin/outbox/waiting/$retry", "", "application/json");
  ASSERT_TRUE(retried && retried->status == 200) << (retried ? retried->body : "no answer");
  EXPECT_NE(retried->body.find("\"retried\":"), std::string::npos);
  ASSERT_TRUE(testing::waitFor([&] { return sim.state()["encounterCopies"].HasMember("KJ-D-2"); }, 20s)) << gateway.log();
  ASSERT_TRUE(testing::waitFor([&] { return testing::outboxCount(gateway, "pending") == 0; }, 20s));
  auto state = sim.state(true);
  bool referenced = false;
  for (const auto& e : state["resources"]["Encounter"].GetArray()) {
    referenced = referenced || std::string(e["subject"]["reference"].GetString()) == "Patient/P-REGISTERED-LATER";
  }
  EXPECT_TRUE(referenced);
  EXPECT_EQ(adminGet(gateway, admin, "/admin/outbox/waiting")["entries"].Size(), 0u);
  EXPECT_EQ(testing::outboxCount(gateway, "waiting"), 0);

  // The index re-keys patient 1: the kept IHS id is refused as unknown, is
  // looked up again, and the new version goes with the new id.
  sim.addPatient(patientNik(1), "P-REKEYED");
  post(gateway, clinic, 1, "\"td\": \"150/90\"");
  ASSERT_TRUE(testing::waitFor([&] {
    auto now = sim.state(true);
    for (const auto& o : now["resources"]["Observation"].GetArray()) {
      if (std::string(o["subject"]["reference"].GetString()) == "Patient/P-REKEYED") return true;
    }
    return false;
  }, 20s)) << gateway.log();
  ASSERT_TRUE(testing::waitFor([&] { return testing::outboxCount(gateway, "pending") == 0; }, 20s));
  EXPECT_EQ(testing::outboxCount(gateway, "dead"), 0) << "a stale IHS id is refreshed, not a dead letter";
}

TEST_F(SatusehatTest, ToddlerWithoutNikIsFoundThroughTheMothersNik) {
  // The Posyandu session of docs/examples (via the posyandu-kader adapter):
  // a toddler known only through the mother's NIK, its mother, an elder.
  Puskesmas pkm = puskesmas("pkm-selat", "100011");
  std::string seeded = seed({pkm}, {});
  testing::replaceOnce(seeded, R"("patients":[])", R"("patients":[
      {"nik":"3672015209950002","ihs":"P-MOTHER"},
      {"nik_ibu":"3672015209950002","birthDate":"2021-02-01","ihs":"P-OLDER-SIBLING"},
      {"nik_ibu":"3672015209950002","birthDate":"2023-06-14","ihs":"P-TODDLER"},
      {"nik":"3672010101550007","ihs":"P-ELDER"}])");
  testing::replaceOnce(seeded, kPractitionerNik, "3672014403780001");  // the kader
  SatusehatSimulator sim(seeded);
  GatewayOptions options;
  options.auth = true;
  options.plugins = {"posyandu-kader"};
  options.extra_config = upstream(sim, {pkm}, 3600);
  GatewayProcess gateway(options);
  std::string session = testing::readFile(testing::sourceDir() + "/plugins/posyandu-kader/samples/example.json");
  auto res = gateway.client(gateway.token("clinic", "pkm-selat"))->Post("/ingest/posyandu-kader", session, "application/json");
  ASSERT_TRUE(res && res->status == 201) << (res ? res->body : "no answer");
  ASSERT_TRUE(testing::waitFor([&] { return testing::outboxCount(gateway, "pending") == 0; }, 30s)) << gateway.log();
  EXPECT_EQ(testing::outboxCount(gateway, "dead"), 0) << gateway.log();
  auto state = sim.state(true);
  EXPECT_EQ(count(state["created"], "Encounter"), 3);
  EXPECT_EQ(count(state["created"], "Patient"), 0);
  std::set<std::string> subjects;
  for (const auto& e : state["resources"]["Encounter"].GetArray()) subjects.insert(e["subject"]["reference"].GetString());
  EXPECT_EQ(subjects, (std::set<std::string>{"Patient/P-TODDLER", "Patient/P-MOTHER", "Patient/P-ELDER"}))
      << "the toddler is the child born on its birth date";
  ASSERT_GE(count(state["created"], "Immunization"), 1);
  for (const auto& i : state["resources"]["Immunization"].GetArray()) {
    EXPECT_EQ(std::string(i["patient"]["reference"].GetString()), "Patient/P-TODDLER");
    EXPECT_EQ(std::string(i["location"]["reference"].GetString()), "Location/loc-100011") << "the posyandu maps to *";
  }
  EXPECT_EQ(state["refusals"].Size(), 0u) << json::write(state["refusals"]);
}

TEST_F(SatusehatTest, NewbornUnknownToTheIndexIsRegisteredThroughTheMotherOnlyWhenAllowed) {
  // The Posyandu session again, but the index knows the mother and not her
  // toddler, and the gateway may register newborns.
  Puskesmas pkm = puskesmas("pkm-selat", "100011");
  std::string seeded = seed({pkm}, {});
  testing::replaceOnce(seeded, R"("patients":[])", R"("patients":[
      {"nik":"3672015209950002","ihs":"P-MOTHER"},
      {"nik":"3672010101550007","ihs":"P-ELDER"}])");
  testing::replaceOnce(seeded, R"("practitioners":[)", R"("practitioners":[{"nik":"3672014403780001","ihs":"N-KADER"},)");
  SatusehatSimulator sim(seeded);
  GatewayOptions options;
  options.auth = true;
  options.plugins = {"posyandu-kader", "epuskesmas-json"};
  std::string section = upstream(sim, {pkm}, 3600);
  testing::replaceOnce(section, R"("wait_retry_s": 3600)", R"("wait_retry_s": 3600, "register_newborns": true)");
  options.extra_config = section;
  GatewayProcess gateway(options);
  std::string clinic = gateway.token("clinic", "pkm-selat");
  std::string admin = gateway.token("admin");
  std::string session = testing::readFile(testing::sourceDir() + "/plugins/posyandu-kader/samples/example.json");
  auto res = gateway.client(clinic)->Post("/ingest/posyandu-kader", session, "application/json");
  ASSERT_TRUE(res && res->status == 201) << (res ? res->body : "no answer");

  // The kader app carries no address, and the platform requires one: the
  // child waits, saying what is missing; the mother and the elder go.
  auto waitingReason = [&]() -> std::string {
    auto waiting = adminGet(gateway, admin, "/admin/outbox/waiting");
    for (const auto& e : waiting["entries"].GetArray()) {
      std::string reason = e["reason"].GetString();
      if (reason.find("data kurang") != std::string::npos) return reason;
    }
    return "";
  };
  ASSERT_TRUE(testing::waitFor([&] { return !waitingReason().empty(); }, 30s)) << gateway.log();
  EXPECT_NE(waitingReason().find("alamat / address"), std::string::npos) << waitingReason();
  EXPECT_EQ(count(sim.state()["created"], "Patient"), 0);

  // The mother's visit at the puskesmas carries her address: the child is
  // registered with it on the next try, once.
  std::string visit = testing::distinctVisit(1);
  testing::replaceOnce(visit, "\"nik\": \"6203011204580001\"", "\"nik\": \"3672015209950002\"");
  auto posted = gateway.client(clinic)->Post("/ingest/epuskesmas-json", visit, "application/json");
  ASSERT_TRUE(posted && posted->status == 201) << (posted ? posted->body : "no answer");
  for (int round = 0; round < 2; ++round) {
    auto retried = gateway.client(admin)->Post("/admin/outbox/waiting/$retry", "", "application/json");
    ASSERT_TRUE(retried && retried->status == 200) << (retried ? retried->body : "no answer");
    ASSERT_TRUE(testing::waitFor([&] { return testing::outboxCount(gateway, "pending") == 0; }, 30s)) << gateway.log();
  }
  auto state = sim.state(true);
  EXPECT_EQ(count(state["created"], "Patient"), 1) << "the toddler, registered once";
  ASSERT_GE(count(state["created"], "Immunization"), 1);
  std::string toddler;
  for (const auto& i : state["resources"]["Immunization"].GetArray()) {
    toddler = i["patient"]["reference"].GetString();
    EXPECT_EQ(toddler.rfind("Patient/P1", 0), 0u) << toddler << ": the IHS id the index gave the child";
  }
  EXPECT_EQ(testing::outboxCount(gateway, "dead"), 0) << gateway.log();
  EXPECT_EQ(adminGet(gateway, admin, "/admin/outbox/waiting")["entries"].Size(), 0u);
  EXPECT_EQ(gateway.log().find("M. RIZKI"), std::string::npos) << "no names in the log";
}

TEST_F(SatusehatTest, RuleViolationsArePreventedOrDeadLetteredWithTheReason) {
  // pkm-selat's file names the wrong platform organization (its client
  // belongs to 100011); pkm-bataguh maps only its UMUM poli to a Location.
  Puskesmas wrong_org = puskesmas("pkm-selat", "100011");
  wrong_org.configured_platform_id = "100099";
  wrong_org.locations_json = R"({"*":"loc-100011"})";
  Puskesmas unmapped = puskesmas("pkm-bataguh", "100012");
  unmapped.locations_json = R"({"UMUM":"loc-100012"})";
  SatusehatSimulator sim(seed({wrong_org, unmapped}, {1, 2}));
  GatewayOptions options;
  options.auth = true;
  options.extra_config = upstream(sim, {wrong_org, unmapped}, 3600);
  GatewayProcess gateway(options);
  std::string admin = gateway.token("admin");
  post(gateway, gateway.token("clinic", "pkm-selat"), 1);
  post(gateway, gateway.token("clinic", "pkm-bataguh"), 2);

  rapidjson::Document dead;
  ASSERT_TRUE(testing::waitFor([&] {
    dead = adminGet(gateway, admin, "/admin/outbox?state=dead");
    return dead["entries"].Size() >= 2;
  }, 30s)) << gateway.log();
  bool rule_10117 = false, no_location = false;
  for (const auto& e : dead["entries"].GetArray()) {
    std::string resource = e["resource"].GetString();
    std::string error = e["lastError"].GetString();
    std::string outcome = json::write(e["outcome"]);
    EXPECT_EQ(resource.rfind("Encounter/", 0), 0u) << resource;
    if (error.find("aturan 10117") != std::string::npos) {
      // The platform's own OperationOutcome is kept, and explained.
      rule_10117 = outcome.find("RuleNumber: 10117") != std::string::npos &&
                   outcome.find("Encounter.identifier[0].system") != std::string::npos &&
                   error.rfind("SATUSEHAT menolak Encounter", 0) == 0 && e["httpStatus"].GetInt64() == 400;
    }
    if (error.find("belum dipetakan ke Location SATUSEHAT") != std::string::npos) {
      no_location = outcome.find("Encounter.location") != std::string::npos;
    }
  }
  EXPECT_TRUE(rule_10117) << json::write(dead);
  EXPECT_TRUE(no_location) << json::write(dead);
  // The unmapped poli never reached the platform; the rule it enforces
  // refused only the wrongly configured one.
  auto state = sim.state();
  EXPECT_EQ(count(state["created"], "Encounter"), 0);
  ASSERT_EQ(state["refusals"].Size(), 1u) << json::write(state["refusals"]);
  EXPECT_EQ(std::string(state["refusals"][0].GetString()).rfind("RuleNumber: 10117", 0), 0u);
  // What depends on a refused visit waits for it, saying so.
  rapidjson::Document waiting;
  ASSERT_TRUE(testing::waitFor([&] {
    waiting = adminGet(gateway, admin, "/admin/outbox/waiting");
    for (const auto& e : waiting["entries"].GetArray()) {
      if (std::string(e["reason"].GetString()).rfind("Menunggu Encounter/", 0) == 0) return true;
    }
    return false;
  }, 20s)) << json::write(waiting);
  EXPECT_EQ(count(state["created"], "Observation"), 0);
}

}  // namespace
}  // namespace ilpgw
