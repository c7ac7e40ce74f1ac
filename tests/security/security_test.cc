// End-to-end security rules over real TLS: who may call, with which token,
// for which scope, and which organization's data they see.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <sstream>
#include <thread>

#include "base/crypto.h"
#include "security_support.h"

namespace ilpgw {
namespace {

using testing::ClientCredentials;
using testing::GatewayOptions;
using testing::GatewayProcess;
using testing::parsedJson;

std::string firstIssueCode(const std::string& body) {
  auto doc = parsedJson(body);
  if (!doc.IsObject() || !doc.HasMember("issue")) return "";
  return doc["issue"][0]["code"].GetString();
}

GatewayOptions withAuth(std::string extra = {}) {
  GatewayOptions o;
  o.auth = true;
  o.extra_config = std::move(extra);
  return o;
}

class SecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    gateway_ = new GatewayProcess(withAuth());
    clinic_a_ = new std::string(gateway_->token("clinic", "pkm-a"));
    clinic_b_ = new std::string(gateway_->token("clinic", "pkm-b"));
    puller_ = new std::string(gateway_->token("puller"));
    admin_ = new std::string(gateway_->token("admin"));
  }
  static void TearDownTestSuite() {
    delete gateway_;
    delete clinic_a_;
    delete clinic_b_;
    delete puller_;
    delete admin_;
  }
  static httplib::Result get(const std::string& token, const std::string& path) {
    return gateway_->client(token)->Get(path.c_str());
  }
  static httplib::Result post(const std::string& token, const std::string& body) {
    return gateway_->client(token)->Post("/ingest/epuskesmas-json", body, "application/json");
  }
  static void expectInvalidToken(const httplib::Result& res) {
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401) << res->body;
    EXPECT_NE(res->get_header_value("WWW-Authenticate").find("error=\"invalid_token\""), std::string::npos);
    EXPECT_EQ(firstIssueCode(res->body), "login");
  }
  static GatewayProcess* gateway_;
  static std::string* clinic_a_;
  static std::string* clinic_b_;
  static std::string* puller_;
  static std::string* admin_;
};
GatewayProcess* SecurityTest::gateway_ = nullptr;
std::string* SecurityTest::clinic_a_ = nullptr;
std::string* SecurityTest::clinic_b_ = nullptr;
std::string* SecurityTest::puller_ = nullptr;
std::string* SecurityTest::admin_ = nullptr;

// ---- Authentication ----------------------------------------------------------

TEST_F(SecurityTest, EveryApiRouteNeedsAToken) {
  for (const char* path : {"/fhir/Patient/x", "/fhir/Patient/x/_history/1", "/admin/plugins", "/fhir/AuditEvent",
                           "/no/such/route", "/fhir/Patient"}) {
    auto res = get("", path);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401) << path;
    EXPECT_EQ(res->get_header_value("WWW-Authenticate"), "Bearer realm=\"ilp-gateway\"") << path;
    EXPECT_STREQ(parsedJson(res->body)["resourceType"].GetString(), "OperationOutcome");
  }
  auto res = post("", testing::exampleVisit());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
}

TEST_F(SecurityTest, HealthReadyAndMetadataStayOpen) {
  for (const char* path : {"/health", "/ready", "/fhir/metadata"}) {
    auto res = get("", path);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << path;
  }
}

TEST_F(SecurityTest, TokenEndpointIssuesShortLivedEs256BearerTokens) {
  ClientCredentials c = gateway_->addClient("puller");
  auto res = gateway_->client()->Post(
      "/oauth2/token",
      httplib::Params{{"grant_type", "client_credentials"}, {"client_id", c.id}, {"client_secret", c.secret}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("Cache-Control"), "no-store");
  auto doc = parsedJson(res->body);
  EXPECT_STREQ(doc["token_type"].GetString(), "Bearer");
  EXPECT_EQ(doc["expires_in"].GetInt(), 900);
  EXPECT_STREQ(doc["scope"].GetString(), "system/*.read");
  std::string token = doc["access_token"].GetString();
  auto header = parsedJson(testing::decodePart(token, 0));
  EXPECT_STREQ(header["alg"].GetString(), "ES256");
  EXPECT_TRUE(header["kid"].IsString());
  auto claims = parsedJson(testing::decodePart(token, 1));
  EXPECT_EQ(claims["exp"].GetInt64() - claims["iat"].GetInt64(), 900);
  EXPECT_EQ(std::string(claims["sub"].GetString()), c.id);
}

TEST_F(SecurityTest, TokenEndpointAcceptsHttpBasic) {
  ClientCredentials c = gateway_->addClient("puller");
  auto client = gateway_->client();
  client->set_basic_auth(c.id.c_str(), c.secret.c_str());
  auto res = client->Post("/oauth2/token", "grant_type=client_credentials", "application/x-www-form-urlencoded");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
}

TEST_F(SecurityTest, TokenEndpointRefusesBadCredentialsAndRequests) {
  ClientCredentials c = gateway_->addClient("clinic", "pkm-a");
  auto token = [&](httplib::Params form) { return gateway_->client()->Post("/oauth2/token", form); };
  auto res = token({{"grant_type", "client_credentials"}, {"client_id", c.id}, {"client_secret", "wrong"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_STREQ(parsedJson(res->body)["error"].GetString(), "invalid_client");
  res = token({{"grant_type", "client_credentials"}, {"client_id", "nobody"}, {"client_secret", c.secret}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  res = token({{"grant_type", "password"}, {"client_id", c.id}, {"client_secret", c.secret}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_STREQ(parsedJson(res->body)["error"].GetString(), "unsupported_grant_type");
  res = token({{"grant_type", "client_credentials"}, {"client_id", c.id}, {"client_secret", c.secret},
               {"scope", "system/admin"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_STREQ(parsedJson(res->body)["error"].GetString(), "invalid_scope");
  res = gateway_->client()->Post("/oauth2/token", "{\"grant_type\":\"client_credentials\"}", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
}

TEST_F(SecurityTest, MalformedTokensAre401) {
  for (const char* bad : {"abc", "a.b.c", "a.b", "....", "eyJhbGciOiJFUzI1NiJ9.e30.AAAA"}) {
    expectInvalidToken(get(bad, "/fhir/Patient/x"));
  }
  auto res = gateway_->client()->Get("/fhir/Patient/x", {{"Authorization", "Basic YTpi"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
}

TEST_F(SecurityTest, TamperedPayloadWithOriginalSignatureIs401) {
  std::string token = *puller_;
  size_t first = token.find('.');
  size_t second = token.find('.', first + 1);
  std::string payload = testing::decodePart(token, 1);
  payload.replace(payload.find("system/*.read"), 13, "system/admin");
  std::string forged = token.substr(0, first + 1) + base64UrlEncode(payload) + token.substr(second);
  expectInvalidToken(get(forged, "/fhir/AuditEvent"));
}

std::string claimsJson(const std::string& sub, std::int64_t exp_offset, const std::string& extra = "") {
  auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                 .count();
  return "{\"iss\":\"ilp-gateway\",\"aud\":\"ilp-gateway\",\"sub\":\"" + sub + "\",\"iat\":" +
         std::to_string(now - 100) + ",\"exp\":" + std::to_string(now + exp_offset) +
         ",\"scope\":\"system/*.read\",\"role\":\"puller\",\"jti\":\"x\"" + extra + "}";
}

TEST_F(SecurityTest, ForgedExpiredAlgNoneAndWrongKidTokensAre401) {
  ClientCredentials c = gateway_->addClient("puller");
  std::string kid;
  EVP_PKEY* real = testing::loadSigningKey(gateway_->dataDir(), kid);
  ASSERT_NE(real, nullptr);
  std::string header = "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"" + kid + "\"}";
  // Control: signed with the real key, not expired: accepted.
  auto ok = get(testing::signJwt(header, claimsJson(c.id, 300), real), "/fhir/Patient/x");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 404) << ok->body;
  // Expired.
  expectInvalidToken(get(testing::signJwt(header, claimsJson(c.id, -1), real), "/fhir/Patient/x"));
  // Signed by a key the gateway does not have, under the real kid.
  EVP_PKEY* other = testing::newKey();
  expectInvalidToken(get(testing::signJwt(header, claimsJson(c.id, 300), other), "/fhir/Patient/x"));
  // Unknown kid.
  expectInvalidToken(get(testing::signJwt("{\"alg\":\"ES256\",\"kid\":\"k-nope\"}", claimsJson(c.id, 300), real),
                         "/fhir/Patient/x"));
  // alg=none, no signature.
  std::string none = base64UrlEncode("{\"alg\":\"none\",\"kid\":\"" + kid + "\"}") + "." +
                     base64UrlEncode(claimsJson(c.id, 300)) + ".";
  expectInvalidToken(get(none, "/fhir/Patient/x"));
  // HS256 confusion attempt.
  expectInvalidToken(get(testing::signJwt("{\"alg\":\"HS256\",\"kid\":\"" + kid + "\"}", claimsJson(c.id, 300), real),
                         "/fhir/Patient/x"));
  // Wrong audience.
  std::string aud = claimsJson(c.id, 300);
  aud.replace(aud.find("\"aud\":\"ilp-gateway\""), 19, "\"aud\":\"satusehat\"");
  expectInvalidToken(get(testing::signJwt(header, aud, real), "/fhir/Patient/x"));
  // A validly signed token for a client that does not exist.
  expectInvalidToken(get(testing::signJwt(header, claimsJson("ghost", 300), real), "/fhir/Patient/x"));
  EVP_PKEY_free(real);
  EVP_PKEY_free(other);
}

TEST_F(SecurityTest, RevokedClientsTokenStopsWorkingAtOnce) {
  ClientCredentials c = gateway_->addClient("puller");
  std::string token = gateway_->fetchToken(c);
  auto before = get(token, "/fhir/Patient/x");
  ASSERT_TRUE(before);
  EXPECT_EQ(before->status, 404);
  std::string out;
  ASSERT_EQ(testing::runGateway({"client", "revoke", c.id, "--config", gateway_->configPath()}, out), 0);
  expectInvalidToken(get(token, "/fhir/Patient/x"));
  auto again = gateway_->client()->Post(
      "/oauth2/token",
      httplib::Params{{"grant_type", "client_credentials"}, {"client_id", c.id}, {"client_secret", c.secret}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 401);
}

TEST_F(SecurityTest, RotatedSecretReplacesTheOldOne) {
  ClientCredentials c = gateway_->addClient("puller");
  std::string out;
  ASSERT_EQ(testing::runGateway({"client", "rotate", c.id, "--config", gateway_->configPath()}, out), 0);
  std::string secret = out.substr(out.find("client_secret=") + 14);
  secret = secret.substr(0, secret.find('\n'));
  EXPECT_THROW(gateway_->fetchToken(c), std::runtime_error);
  EXPECT_NO_THROW(gateway_->fetchToken({c.id, secret}));
}

TEST_F(SecurityTest, ClientListNeverShowsSecrets) {
  ClientCredentials c = gateway_->addClient("clinic", "pkm-list");
  std::string out;
  ASSERT_EQ(testing::runGateway({"client", "list", "--config", gateway_->configPath()}, out), 0);
  EXPECT_NE(out.find(c.id), std::string::npos);
  EXPECT_EQ(out.find(c.secret), std::string::npos);
  EXPECT_EQ(out.find("pbkdf2"), std::string::npos);
}

// ---- Scopes ---------------------------------------------------------------------

TEST_F(SecurityTest, WrongScopeIs403) {
  auto expect403 = [](const httplib::Result& res, const char* scope) {
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 403) << res->body;
    EXPECT_NE(res->get_header_value("WWW-Authenticate").find("insufficient_scope"), std::string::npos);
    EXPECT_NE(res->get_header_value("WWW-Authenticate").find(scope), std::string::npos);
    EXPECT_EQ(firstIssueCode(res->body), "forbidden");
  };
  expect403(post(*puller_, testing::exampleVisit()), "system/*.write");
  expect403(post(*admin_, testing::exampleVisit()), "system/*.write");
  expect403(get(*clinic_a_, "/admin/plugins"), "system/admin");
  expect403(get(*puller_, "/fhir/AuditEvent"), "system/admin");
  expect403(get(*admin_, "/fhir/Patient/x"), "system/*.read");
  // A clinic that asked for read only cannot post.
  std::string read_only = gateway_->fetchToken(gateway_->addClient("clinic", "pkm-a"), "system/*.read");
  expect403(post(read_only, testing::exampleVisit()), "system/*.write");
  auto admin_ok = get(*admin_, "/admin/plugins");
  ASSERT_TRUE(admin_ok);
  EXPECT_EQ(admin_ok->status, 200);
}

// ---- Tenant isolation -------------------------------------------------------

TEST_F(SecurityTest, ClinicsSeeOnlyTheirOwnOrganizationsRecords) {
  auto a = post(*clinic_a_, testing::exampleVisit());
  ASSERT_TRUE(a);
  ASSERT_EQ(a->status, 201) << a->body;
  auto a_locations = testing::bundleLocations(a->body);
  ASSERT_FALSE(a_locations.empty());
  // The same visit (same NIK, same visit id) from another puskesmas: its own resources.
  auto b = post(*clinic_b_, testing::exampleVisit());
  ASSERT_TRUE(b);
  ASSERT_EQ(b->status, 201) << b->body;
  auto b_locations = testing::bundleLocations(b->body);
  for (const auto& loc : b_locations) {
    EXPECT_EQ(std::find(a_locations.begin(), a_locations.end(), loc), a_locations.end())
        << loc << ": B's post must not touch A's resources";
  }
  for (const auto& loc : a_locations) {
    std::string current = "/fhir/" + loc.substr(0, loc.find("/_history"));
    std::string version = "/fhir/" + loc;
    for (const auto& path : {current, version}) {
      auto mine = get(*clinic_a_, path);
      ASSERT_TRUE(mine);
      EXPECT_EQ(mine->status, 200) << path;
      auto theirs = get(*clinic_b_, path);
      ASSERT_TRUE(theirs);
      EXPECT_EQ(theirs->status, 404) << path << ": B must not read A's resource";
      EXPECT_EQ(theirs->body.find("\"resourceType\":\"Patient\""), std::string::npos);
      auto national = get(*puller_, path);
      ASSERT_TRUE(national);
      EXPECT_EQ(national->status, 200) << path << ": the national puller reads everything";
    }
    // A's resources are still at version 1: B's post did not overwrite them.
    EXPECT_NE(loc.find("/_history/1"), std::string::npos);
  }
  // Every other endpoint: B's answers never carry A's resources (not even
  // their ids), while the national puller sees them.
  std::map<std::string, std::string> a_ids;  // id -> type
  for (const auto& loc : a_locations) {
    std::string type = loc.substr(0, loc.find('/'));
    std::string rest = loc.substr(loc.find('/') + 1);
    a_ids[rest.substr(0, rest.find('/'))] = type;
  }
  // The first of A's resources among the resources of a Bundle (its entries)
  // or of NDJSON (one per line); links echoing the query do not count, nor
  // B's own resources that refer to A's ids.
  auto leaked = [&](const std::string& body) {
    auto isA = [&](const rapidjson::Value& resource) {
      if (!resource.IsObject() || !resource.HasMember("id") || !resource["id"].IsString()) return std::string();
      std::string id = resource["id"].GetString();
      auto it = a_ids.find(id);
      return it != a_ids.end() && it->second == resource["resourceType"].GetString() ? it->second + "/" + id
                                                                                     : std::string();
    };
    std::istringstream lines(body);
    for (std::string line; std::getline(lines, line);) {
      if (line.empty()) continue;
      auto doc = parsedJson(line);
      if (doc.IsObject() && doc.HasMember("entry") && doc["entry"].IsArray()) {
        for (const auto& entry : doc["entry"].GetArray()) {
          if (entry.HasMember("resource")) {
            if (auto hit = isA(entry["resource"]); !hit.empty()) return hit;
          }
          std::string full_url = entry.HasMember("fullUrl") ? entry["fullUrl"].GetString() : "";
          for (const auto& [id, type] : a_ids) {
            if (full_url.ends_with("/" + type + "/" + id)) return type + "/" + id;
          }
        }
      } else if (auto hit = isA(doc); !hit.empty()) {
        return hit;
      }
    }
    return std::string();
  };
  std::string a_patient;
  for (const auto& [id, type] : a_ids) {
    if (type == "Patient") a_patient = id;
  }
  ASSERT_FALSE(a_patient.empty());
  std::string b_patient;
  for (const auto& loc : b_locations) {
    if (loc.rfind("Patient/", 0) == 0) b_patient = loc.substr(8, loc.find('/', 8) - 8);
  }
  ASSERT_FALSE(b_patient.empty());

  // Search (with totals) and history (instance, type, system): 200, none of A's.
  std::vector<std::string> paths{"/fhir/_history", "/fhir/_history?_count=1000"};
  for (const auto& [id, type] : a_ids) {
    for (const std::string& path : {"/fhir/" + type, "/fhir/" + type + "?_id=" + id, "/fhir/" + type + "?_count=1000",
                                    "/fhir/" + type + "?_summary=count&_id=" + id, "/fhir/" + type + "/_history",
                                    "/fhir/" + type + "?_lastUpdated=gt2000-01-01"}) {
      paths.push_back(path);
    }
  }
  for (const auto& path : paths) {
    auto res = get(*clinic_b_, path);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << path << ": " << res->body;
    EXPECT_EQ(leaked(res->body), "") << path << ": B sees A's resource";
    auto national = get(*puller_, path);
    ASSERT_TRUE(national);
    EXPECT_EQ(national->status, 200) << path;
  }
  EXPECT_NE(leaked(get(*puller_, "/fhir/_history?_count=1000")->body), "") << "the check itself sees A's resources";
  {
    auto total = parsedJson(get(*clinic_b_, "/fhir/Patient?_summary=count&_id=" + a_patient)->body);
    EXPECT_EQ(total["total"].GetInt(), 0) << "B's count must not include A's Patient";
    auto national = parsedJson(get(*puller_, "/fhir/Patient?_summary=count&_id=" + a_patient)->body);
    EXPECT_EQ(national["total"].GetInt(), 1);
    auto own = get(*clinic_b_, "/fhir/Patient?_id=" + b_patient);
    EXPECT_NE(own->body.find(b_patient), std::string::npos) << "B finds its own Patient";
    auto pulled = get(*puller_, "/fhir/Patient?_id=" + a_patient);
    EXPECT_NE(pulled->body.find(a_patient), std::string::npos) << "the puller finds A's Patient";
  }
  for (const auto& [id, type] : a_ids) {
    for (const std::string& path : {"/fhir/" + type + "/" + id + "/_history"}) {
      auto res = get(*clinic_b_, path);
      ASSERT_TRUE(res);
      EXPECT_EQ(res->status, 404) << path << ": A's resource does not exist for B";
      EXPECT_EQ(res->body.find("versionId"), std::string::npos) << path;
      EXPECT_EQ(get(*clinic_a_, path)->status, 200) << path;
    }
  }

  // _include: B's own Encounter pointing at A's Patient does not pull it in.
  std::string encounter =
      R"({"resourceType":"Encounter","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},"subject":{"reference":"Patient/)" +
      a_patient + R"("},"period":{"start":"2024-11-05T08:00:00+07:00"}})";
  auto made = gateway_->client(*clinic_b_)->Post("/fhir/Encounter", encounter, "application/fhir+json");
  ASSERT_TRUE(made);
  ASSERT_EQ(made->status, 201) << made->body;
  std::string b_encounter = parsedJson(made->body)["id"].GetString();
  std::string include = "/fhir/Encounter?_id=" + b_encounter + "&_include=Encounter:patient";
  auto with_include = get(*clinic_b_, include);
  ASSERT_TRUE(with_include);
  EXPECT_EQ(with_include->status, 200) << with_include->body;
  EXPECT_NE(with_include->body.find(b_encounter), std::string::npos);
  EXPECT_EQ(with_include->body.find("\"mode\":\"include\""), std::string::npos) << "A's Patient must not be included";
  auto national_include = get(*puller_, include);
  EXPECT_NE(national_include->body.find("\"mode\":\"include\""), std::string::npos) << "the puller gets the include";

  // Overwriting: B's PUT over A's resource (with or without If-Match) is 403
  // and changes nothing; a puller or admin does not write at all.
  auto a_body = get(*puller_, "/fhir/Patient/" + a_patient);
  ASSERT_TRUE(a_body);
  ASSERT_EQ(a_body->status, 200);
  std::string put_path = "/fhir/Patient/" + a_patient;
  auto put = gateway_->client(*clinic_b_)->Put(put_path.c_str(), a_body->body, "application/fhir+json");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 403) << put->body;
  EXPECT_EQ(put->body.find("versionId"), std::string::npos);
  auto put_if_match = gateway_->client(*clinic_b_)->Put(put_path.c_str(), {{"If-Match", "W/\"1\""}}, a_body->body,
                                                        "application/fhir+json");
  ASSERT_TRUE(put_if_match);
  EXPECT_EQ(put_if_match->status, 403) << put_if_match->body;
  for (const std::string* token : {puller_, admin_}) {
    auto denied = gateway_->client(*token)->Put(put_path.c_str(), a_body->body, "application/fhir+json");
    ASSERT_TRUE(denied);
    EXPECT_EQ(denied->status, 403) << denied->body;
  }
  auto bundle = std::string(R"({"resourceType":"Bundle","type":"transaction","entry":[{"resource":)") + a_body->body +
                R"(,"request":{"method":"PUT","url":"Patient/)" + a_patient + R"("}}]})";
  auto txn = gateway_->client(*clinic_b_)->Post("/fhir", bundle, "application/fhir+json");
  ASSERT_TRUE(txn);
  EXPECT_EQ(txn->status, 403) << txn->body;
  auto still = get(*clinic_a_, put_path);
  ASSERT_TRUE(still);
  EXPECT_EQ(still->get_header_value("ETag"), "W/\"1\"") << "A's Patient is unchanged";

  // Conditional create: A's Patient with a NIK only A knows; B's
  // If-None-Exist on that NIK creates B's own Patient and reveals nothing.
  std::string nik = "3671015501990001";
  std::string patient = R"({"resourceType":"Patient","identifier":[{"system":"https://fhir.kemkes.go.id/id/nik","value":")" +
                        nik + R"("}],"name":[{"family":"Rahayu","given":["Sri"]}],"gender":"female","birthDate":"1999-01-15"})";
  auto a_made = gateway_->client(*clinic_a_)->Post("/fhir/Patient", patient, "application/fhir+json");
  ASSERT_TRUE(a_made);
  ASSERT_EQ(a_made->status, 201) << a_made->body;
  std::string a_only = parsedJson(a_made->body)["id"].GetString();
  httplib::Headers condition{{"If-None-Exist", "identifier=https://fhir.kemkes.go.id/id/nik|" + nik}};
  auto b_conditional = gateway_->client(*clinic_b_)->Post("/fhir/Patient", condition, patient, "application/fhir+json");
  ASSERT_TRUE(b_conditional);
  EXPECT_EQ(b_conditional->status, 201) << b_conditional->body;
  EXPECT_EQ(b_conditional->body.find(a_only), std::string::npos);
  EXPECT_EQ(b_conditional->get_header_value("Location").find(a_only), std::string::npos);
  auto a_conditional = gateway_->client(*clinic_a_)->Post("/fhir/Patient", condition, patient, "application/fhir+json");
  ASSERT_TRUE(a_conditional);
  EXPECT_EQ(a_conditional->status, 200) << "A's own condition finds A's Patient";
  EXPECT_NE(a_conditional->body.find(a_only), std::string::npos);
  a_ids[a_only] = "Patient";

  // $export (system and Patient level): B's files hold none of A's
  // resources; B's job is invisible to everyone else.
  for (const std::string kick_off : {"/fhir/$export", "/fhir/Patient/$export"}) {
    SCOPED_TRACE(kick_off);
    auto started = gateway_->client(*clinic_b_)->Get(kick_off.c_str(), {{"Prefer", "respond-async"}});
    ASSERT_TRUE(started);
    ASSERT_EQ(started->status, 202) << started->body;
    std::string job = started->get_header_value("Content-Location");
    job = job.substr(job.find("/fhir/"));
    int code = 0;
    std::string body;
    for (int i = 0; i < 200; ++i) {
      auto polled = get(*clinic_b_, job);
      ASSERT_TRUE(polled);
      code = polled->status;
      body = polled->body;
      if (code != 202) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_EQ(code, 200) << body;
    auto manifest = parsedJson(body);
    ASSERT_TRUE(manifest["output"].IsArray());
    EXPECT_GT(manifest["output"].Size(), 0u) << "B exports its own resources";
    bool saw_own = false;
    for (const auto& file : manifest["output"].GetArray()) {
      std::string url = file["url"].GetString();
      url = url.substr(url.find("/fhir/"));
      auto ndjson = get(*clinic_b_, url);
      ASSERT_TRUE(ndjson);
      EXPECT_EQ(ndjson->status, 200);
      EXPECT_EQ(leaked(ndjson->body), "") << url << ": A's resource in B's export";
      if (ndjson->body.find(b_patient) != std::string::npos) saw_own = true;
      for (const std::string* other : {clinic_a_, puller_}) {
        auto foreign = get(*other, url);
        ASSERT_TRUE(foreign);
        EXPECT_EQ(foreign->status, 404) << "another client downloads B's export file";
      }
    }
    EXPECT_TRUE(saw_own);
    for (const std::string* other : {clinic_a_, puller_}) {
      auto foreign = get(*other, job);
      ASSERT_TRUE(foreign);
      EXPECT_EQ(foreign->status, 404) << "another client polls B's job";
      auto cancel = gateway_->client(*other)->Delete(job.c_str());
      ASSERT_TRUE(cancel);
      EXPECT_EQ(cancel->status, 404) << "another client cancels B's job";
    }
    auto done = gateway_->client(*clinic_b_)->Delete(job.c_str());
    ASSERT_TRUE(done);
    EXPECT_EQ(done->status, 202);
  }
}

TEST_F(SecurityTest, PostingOrganizationComesFromCredentialsNotPayload) {
  auto res = post(*clinic_b_, testing::exampleVisit());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 201);
  bool saw_encounter = false;
  for (const auto& loc : testing::bundleLocations(res->body)) {
    if (loc.rfind("Encounter/", 0) != 0) continue;
    auto read = get(*clinic_b_, "/fhir/" + loc);
    ASSERT_TRUE(read);
    EXPECT_NE(read->body.find("Organization/pkm-b"), std::string::npos) << read->body;
    EXPECT_EQ(read->body.find("test-puskesmas"), std::string::npos) << "not the configured facility";
    saw_encounter = true;
  }
  EXPECT_TRUE(saw_encounter);
}

// ---- Leaks ------------------------------------------------------------------------

TEST_F(SecurityTest, LogsCarryNoTokensSecretsOrNik) {
  ClientCredentials c = gateway_->addClient("clinic", "pkm-log");
  std::string token = gateway_->fetchToken(c);
  (void)post(token, testing::exampleVisit());
  (void)get(token + "x", "/fhir/Patient/x");
  (void)gateway_->client()->Post("/oauth2/token", httplib::Params{{"grant_type", "client_credentials"}, {"client_id", c.id},
                                                   {"client_secret", c.secret + "x"}});
  std::string log = gateway_->log();
  EXPECT_EQ(log.find(token.substr(token.rfind('.') + 1)), std::string::npos);
  EXPECT_EQ(log.find(c.secret), std::string::npos);
  auto visit = parsedJson(testing::exampleVisit());
  std::string nik = visit["pasien"]["nik"].GetString();
  EXPECT_EQ(log.find(nik), std::string::npos);
}

TEST_F(SecurityTest, ErrorsCarryNoInternals) {
  auto res = get(*puller_, "/fhir/Patient/x/_history/999999999999999999");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body.find("SELECT"), std::string::npos);
  EXPECT_EQ(res->body.find("sqlite"), std::string::npos);
}

// ---- Limits -------------------------------------------------------------------

TEST(SecurityLimitsTest, RateLimitAnswers429WithRetryAfterPerClient) {
  GatewayProcess gateway(withAuth(R"("limits": {"rate_per_s": 1, "rate_burst": 3})"));
  std::string a = gateway.token("puller");
  std::string b = gateway.token("puller");
  auto client = gateway.client(a);
  int ok = 0;
  int status = 0;
  std::string retry_after;
  std::string body;
  for (int i = 0; i < 6 && status != 429; ++i) {
    auto res = client->Get("/fhir/Patient/x");
    ASSERT_TRUE(res);
    status = res->status;
    if (status == 404) ++ok;
    retry_after = res->get_header_value("Retry-After");
    body = res->body;
  }
  EXPECT_LE(ok, 4);
  ASSERT_EQ(status, 429);
  EXPECT_GE(std::stoi(retry_after), 1);
  EXPECT_EQ(firstIssueCode(body), "throttled");
  auto other = gateway.client(b)->Get("/fhir/Patient/x");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404) << "another client has its own bucket";
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto later = client->Get("/fhir/Patient/x");
  ASSERT_TRUE(later);
  EXPECT_EQ(later->status, 404) << "the bucket refills";
}

TEST(SecurityLimitsTest, BatchLargerThanTheLimitIs413AndStoresNothing) {
  GatewayProcess gateway(withAuth(R"("limits": {"batch_max_records": 1})"));
  std::string token = gateway.token("clinic", "pkm-a");
  std::string visit = testing::exampleVisit();
  auto res = gateway.client(token)->Post("/ingest/epuskesmas-json", "[" + visit + "," + visit + "]",
                                         "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413) << res->body;
  EXPECT_EQ(firstIssueCode(res->body), "too-costly");
  auto one = gateway.client(token)->Post("/ingest/epuskesmas-json", visit, "application/json");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->status, 201);
}

TEST(SecurityLimitsTest, SearchAndHistoryPageSizeIsCapped) {
  GatewayProcess gateway(withAuth(R"("limits": {"search_count_max": 2})"));
  std::string clinic = gateway.token("clinic", "pkm-a");
  auto posted = gateway.client(clinic)->Post("/ingest/epuskesmas-json", testing::exampleVisit(), "application/json");
  ASSERT_TRUE(posted);
  ASSERT_EQ(posted->status, 201) << posted->body;
  ASSERT_GT(testing::bundleLocations(posted->body).size(), 2u);
  std::string puller = gateway.token("puller");
  for (const char* path : {"/fhir/_history?_count=500", "/fhir/_history", "/fhir/Encounter/_history?_count=500"}) {
    auto res = gateway.client(puller)->Get(path);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << path << ": " << res->body;
    auto doc = parsedJson(res->body);
    EXPECT_LE(doc.HasMember("entry") ? doc["entry"].Size() : 0u, 2u) << path;
  }
  auto history = parsedJson(gateway.client(puller)->Get("/fhir/_history?_count=500")->body);
  EXPECT_EQ(history["entry"].Size(), 2u);
  EXPECT_NE(std::string(gateway.client(puller)->Get("/fhir/_history?_count=500")->body).find("\"next\""),
            std::string::npos);
  for (const char* type : {"Patient", "Encounter", "Observation"}) {
    auto res = gateway.client(puller)->Get((std::string("/fhir/") + type + "?_count=500").c_str());
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    auto doc = parsedJson(res->body);
    EXPECT_LE(doc.HasMember("entry") ? doc["entry"].Size() : 0u, 2u) << type;
  }
}

TEST(SecurityStartupTest, RefusesAuthDisabledOnANonLoopbackAddress) {
  testing::TempDir dir;
  std::string config = dir.file("gateway.json");
  testing::writeFile(config, R"({"auth": {"enabled": false}, "tls": {"cert": ")" +
                                 (testing::devCertDir() / "server.crt").string() + R"(", "key": ")" +
                                 (testing::devCertDir() / "server.key").string() + R"("}})");
  std::string out;
  std::string err;
  EXPECT_NE(testing::runGateway({"serve", "--config", config, "--listen", "0.0.0.0:0", "--data", dir.file("d"),
                                 "--mappings", testing::mappingsDir()},
                                out, &err),
            0);
  EXPECT_NE(err.find("refusing auth.enabled=false"), std::string::npos) << err;
}

TEST(SecurityStartupTest, AuthDisabledOnLoopbackLogsAWarning) {
  GatewayProcess gateway;  // the fixture's default: auth off, 127.0.0.1
  EXPECT_NE(gateway.log().find("AUTH DISABLED"), std::string::npos);
}

TEST(SecurityKeysTest, SigningKeyIsPrivateAndRotationKeepsOldTokensValid) {
  GatewayProcess gateway(withAuth());
  ClientCredentials c = gateway.addClient("puller");
  std::string before = gateway.fetchToken(c);
  std::string kid_before = parsedJson(testing::decodePart(before, 0))["kid"].GetString();
  struct stat st {};
  ASSERT_EQ(::stat((gateway.dataDir() + "/keys/" + kid_before + ".key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((gateway.dataDir() + "/keys").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u);

  std::string out;
  ASSERT_EQ(testing::runGateway({"key", "rotate", "--config", gateway.configPath()}, out), 0) << out;
  std::this_thread::sleep_for(std::chrono::milliseconds(2200));  // the gateway re-reads keys at most every 2 s
  std::string after = gateway.fetchToken(c);
  std::string kid_after = parsedJson(testing::decodePart(after, 0))["kid"].GetString();
  EXPECT_NE(kid_before, kid_after);
  for (const auto& token : {before, after}) {
    auto res = gateway.client(token)->Get("/fhir/Patient/x");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 404) << "old and new tokens both verify";
  }
  EXPECT_FALSE(std::filesystem::exists(gateway.dataDir() + "/keys/" + kid_before + ".key.pem"))
      << "the retired private key is gone";
}

TEST(SecurityTlsTest, RefusesWeakCipherSuites) {
  GatewayProcess gateway;
  for (const char* cipher : {"AES128-SHA", "AES256-GCM-SHA384", "ECDHE-RSA-AES128-SHA", "DES-CBC3-SHA"}) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_security_level(ctx, 0);
    SSL_CTX_set_cipher_list(ctx, cipher);
    BIO* bio = BIO_new_ssl_connect(ctx);
    std::string target = "127.0.0.1:" + std::to_string(gateway.port());
    BIO_set_conn_hostname(bio, target.c_str());
    EXPECT_LE(BIO_do_connect(bio), 0) << cipher << " must be refused";
    BIO_free_all(bio);
    SSL_CTX_free(ctx);
  }
}

}  // namespace
}  // namespace ilpgw
