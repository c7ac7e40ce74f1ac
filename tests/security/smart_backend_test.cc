// SMART Backend Services client authentication (private_key_jwt) end to end
// over real TLS: keys and assertions come from the npm `jose` package
// (tests/interop/client_assertions.mjs), the gateway is the real binary, and
// the token it issues must open GET /fhir/Patient.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>

#include "security_support.h"

namespace ilpgw {
namespace {

using testing::GatewayOptions;
using testing::GatewayProcess;
using testing::parsedJson;
using testing::TempDir;

// Runs `node client_assertions.mjs args...` and returns its stdout; fails
// the test when node or the jose package is missing (scripts/install-deps.sh
// installs it with `npm ci --prefix tests/interop`).
std::string node(const std::vector<std::string>& args) {
  std::string command = std::string(ILPGW_NODE) + " " + ILPGW_INTEROP_DIR "/client_assertions.mjs";
  for (const auto& a : args) command += " '" + a + "'";
  command += " 2>&1";
  int exit_code = 0;
  std::string out = testing::runShell(command, exit_code);
  EXPECT_EQ(exit_code, 0) << command << "\n" << out
                                    << "\n(install the test's npm packages: npm ci --prefix tests/interop)";
  return out;
}

std::map<std::string, std::string> signAssertions(const std::string& key_dir, const std::string& client_id,
                                                  const std::string& audience) {
  auto doc = parsedJson(node({"sign", key_dir, client_id, audience}));
  std::map<std::string, std::string> out;
  if (!doc.IsObject()) return out;
  for (const auto& m : doc.GetObject()) out[m.name.GetString()] = m.value.GetString();
  return out;
}

// `ilp-gateway client add ... extra`; returns stdout, expects exit 0 unless told.
std::string addClient(const GatewayProcess& gateway, const std::vector<std::string>& extra, int expected_exit = 0,
                      std::string* err = nullptr) {
  std::vector<std::string> args = {"client", "add", "--config", gateway.configPath()};
  args.insert(args.end(), extra.begin(), extra.end());
  std::string out;
  std::string error_text;
  EXPECT_EQ(testing::runGateway(args, out, &error_text), expected_exit) << out << error_text;
  if (err != nullptr) *err = error_text;
  return out;
}

struct TokenReply {
  int status = 0;
  std::string error;
  std::string description;
  std::string access_token;
  std::string body;
};

constexpr const char* kJwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

TokenReply postAssertion(const GatewayProcess& gateway, const std::string& assertion, httplib::Params extra = {},
                         const std::string& assertion_type = kJwtBearer) {
  httplib::Params form = {{"grant_type", "client_credentials"},
                          {"scope", "system/*.read"},
                          {"client_assertion_type", assertion_type},
                          {"client_assertion", assertion}};
  for (auto& [k, v] : extra) form.emplace(k, v);
  auto res = gateway.client()->Post("/oauth2/token", form);
  TokenReply reply;
  if (!res) {
    ADD_FAILURE() << "no answer: " << httplib::to_string(res.error());
    return reply;
  }
  reply.status = res->status;
  reply.body = res->body;
  auto doc = parsedJson(res->body);
  if (doc.IsObject()) {
    if (doc.HasMember("error")) reply.error = doc["error"].GetString();
    if (doc.HasMember("error_description")) reply.description = doc["error_description"].GetString();
    if (doc.HasMember("access_token")) reply.access_token = doc["access_token"].GetString();
  }
  return reply;
}

void expectRefused(const TokenReply& reply, const std::string& description_part) {
  EXPECT_EQ(reply.status, 401) << reply.body;
  EXPECT_EQ(reply.error, "invalid_client") << reply.body;
  EXPECT_TRUE(reply.access_token.empty());
  EXPECT_NE(reply.description.find(description_part), std::string::npos) << reply.body;
}

void expectPatientsReadable(const GatewayProcess& gateway, const std::string& token) {
  ASSERT_FALSE(token.empty());
  auto res = gateway.client(token)->Get("/fhir/Patient");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_NE(res->body.find("\"Bundle\""), std::string::npos);
}

GatewayOptions withAuth() {
  GatewayOptions o;
  o.auth = true;
  o.auth_config = "\"jwks_ca_file\": \"" + (testing::devCertDir() / "ca.crt").string() + "\"";
  return o;
}

class SmartBackendTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    keys_ = new TempDir();
    node({"keys", keys_->path().string()});
    gateway_ = new GatewayProcess(withAuth());
  }
  static void TearDownTestSuite() {
    delete gateway_;
    delete keys_;
  }
  // The token endpoint as the discovery document names it: also the aud.
  static std::string tokenEndpoint() {
    auto res = gateway_->client()->Get("/.well-known/smart-configuration");
    if (!res || res->status != 200) return "";
    auto doc = parsedJson(res->body);
    return doc.IsObject() && doc.HasMember("token_endpoint") ? doc["token_endpoint"].GetString() : "";
  }
  static std::string keyFile(const char* name) { return keys_->file(name); }

  static TempDir* keys_;
  static GatewayProcess* gateway_;
};
TempDir* SmartBackendTest::keys_ = nullptr;
GatewayProcess* SmartBackendTest::gateway_ = nullptr;

TEST_F(SmartBackendTest, DiscoveryDocumentNeedsNoTokenAndListsWhatIsSupported) {
  for (const char* path : {"/.well-known/smart-configuration", "/fhir/.well-known/smart-configuration"}) {
    auto res = gateway_->client()->Get(path);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << path << " " << res->body;
    auto doc = parsedJson(res->body);
    ASSERT_TRUE(doc.IsObject());
    EXPECT_EQ(std::string(doc["token_endpoint"].GetString()),
              "https://127.0.0.1:" + std::to_string(gateway_->port()) + "/oauth2/token");
    auto list = [&](const char* name) {
      std::vector<std::string> out;
      for (const auto& v : doc[name].GetArray()) out.emplace_back(v.GetString());
      return out;
    };
    EXPECT_EQ(list("token_endpoint_auth_methods_supported"),
              (std::vector<std::string>{"private_key_jwt", "client_secret_basic", "client_secret_post"}));
    EXPECT_EQ(list("token_endpoint_auth_signing_alg_values_supported"), (std::vector<std::string>{"RS384", "ES384"}));
    EXPECT_EQ(list("grant_types_supported"), (std::vector<std::string>{"client_credentials"}));
    auto scopes = list("scopes_supported");
    EXPECT_NE(std::find(scopes.begin(), scopes.end(), "system/*.read"), scopes.end());
    auto capabilities = list("capabilities");
    EXPECT_NE(std::find(capabilities.begin(), capabilities.end(), "client-confidential-asymmetric"),
              capabilities.end());
  }
}

TEST_F(SmartBackendTest, JwksClientGetsATokenWithRs384AndEs384AndReadsPatients) {
  std::string out = addClient(*gateway_, {"--role", "puller", "--id", "national-puller", "--jwks", keyFile("jwks.json")});
  EXPECT_EQ(out.find("client_secret="), std::string::npos) << out;
  EXPECT_NE(out.find("token_endpoint_auth_method=private_key_jwt"), std::string::npos) << out;
  std::string aud = tokenEndpoint();
  ASSERT_FALSE(aud.empty());
  auto a = signAssertions(keys_->path().string(), "national-puller", aud);
  ASSERT_FALSE(a.empty());

  for (const char* name : {"valid_rs384", "valid_es384", "valid_aud_array"}) {
    TokenReply reply = postAssertion(*gateway_, a[name]);
    ASSERT_EQ(reply.status, 200) << name << " " << reply.body;
    EXPECT_NE(reply.body.find("\"scope\":\"system/*.read\""), std::string::npos) << reply.body;
    expectPatientsReadable(*gateway_, reply.access_token);
  }
  // The client_id form parameter is optional, but must agree with iss.
  TokenReply mismatch = postAssertion(*gateway_, a["replayed"], {{"client_id", "another-client"}});
  expectRefused(mismatch, "client_id differs");

  TokenReply first = postAssertion(*gateway_, a["replayed"], {{"client_id", "national-puller"}});
  EXPECT_EQ(first.status, 200) << first.body;
  expectRefused(postAssertion(*gateway_, a["replayed"]), "jti was already used");
  expectRefused(postAssertion(*gateway_, a["valid_rs384"]), "jti was already used");
}

TEST_F(SmartBackendTest, BadAssertionsAreRefusedWithInvalidClient) {
  addClient(*gateway_, {"--role", "puller", "--id", "puller-bad-cases", "--jwks", keyFile("jwks.json")});
  auto a = signAssertions(keys_->path().string(), "puller-bad-cases", tokenEndpoint());
  ASSERT_FALSE(a.empty());
  expectRefused(postAssertion(*gateway_, a["wrong_key_rs384"]), "signature is invalid");
  expectRefused(postAssertion(*gateway_, a["wrong_key_es384"]), "signature is invalid");
  expectRefused(postAssertion(*gateway_, a["unknown_kid"]), "kid is not among");
  expectRefused(postAssertion(*gateway_, a["expired"]), "expired");
  expectRefused(postAssertion(*gateway_, a["exp_too_far"]), "more than five minutes");
  expectRefused(postAssertion(*gateway_, a["wrong_audience"]), "aud must be the token endpoint");
  expectRefused(postAssertion(*gateway_, a["iss_not_sub"]), "iss and sub");
  expectRefused(postAssertion(*gateway_, a["other_client"]), "client authentication failed");
  expectRefused(postAssertion(*gateway_, a["rs256"]), "RS384 or ES384");
  expectRefused(postAssertion(*gateway_, a["alg_none"]), "RS384 or ES384");
  expectRefused(postAssertion(*gateway_, a["hs256_public_key"]), "RS384 or ES384");
  expectRefused(postAssertion(*gateway_, "not-a-jwt"), "not a compact JWS");

  // The wrong assertion type, and two authentication methods at once, are malformed requests.
  TokenReply type = postAssertion(*gateway_, a["valid_rs384"], {}, "urn:example:other");
  EXPECT_EQ(type.status, 400) << type.body;
  EXPECT_EQ(type.error, "invalid_request");
  TokenReply both = postAssertion(*gateway_, a["valid_rs384"], {{"client_secret", "guess"}});
  EXPECT_EQ(both.status, 400) << both.body;
  EXPECT_EQ(both.error, "invalid_request");

  // None of the refusals used up the valid assertion's jti.
  TokenReply valid = postAssertion(*gateway_, a["valid_rs384"]);
  EXPECT_EQ(valid.status, 200) << valid.body;
}

TEST_F(SmartBackendTest, JwksClientHasNoSecretAndSecretClientsStillWork) {
  addClient(*gateway_, {"--role", "puller", "--id", "puller-keys-only", "--jwks", keyFile("jwks.json")});
  auto res = gateway_->client()->Post(
      "/oauth2/token", httplib::Params{{"grant_type", "client_credentials"}, {"client_id", "puller-keys-only"}, {"client_secret", "anything"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401) << res->body;
  // A client registered with a secret keeps using it, and cannot use an assertion.
  auto secret_client = gateway_->addClient("puller");
  expectPatientsReadable(*gateway_, gateway_->fetchToken(secret_client));
  auto a = signAssertions(keys_->path().string(), secret_client.id, tokenEndpoint());
  expectRefused(postAssertion(*gateway_, a["valid_rs384"]), "no registered public keys");
}

TEST_F(SmartBackendTest, RevokedClientIsRefused) {
  addClient(*gateway_, {"--role", "puller", "--id", "puller-revoked", "--jwks", keyFile("jwks.json")});
  auto a = signAssertions(keys_->path().string(), "puller-revoked", tokenEndpoint());
  std::string out;
  ASSERT_EQ(testing::runGateway({"client", "revoke", "puller-revoked", "--config", gateway_->configPath()}, out), 0);
  expectRefused(postAssertion(*gateway_, a["valid_es384"]), "client authentication failed");
}

TEST_F(SmartBackendTest, RegistrationRefusesUnusableKeySets) {
  std::string err;
  testing::writeFile(keys_->file("private-jwks.json"),
                     R"({"keys":[{"kty":"EC","crv":"P-384","kid":"x","x":"AA","y":"AA","d":"AA"}]})");
  addClient(*gateway_, {"--role", "puller", "--jwks", keys_->file("private-jwks.json")}, 2, &err);
  EXPECT_NE(err.find("private"), std::string::npos) << err;
  testing::writeFile(keys_->file("p256-jwks.json"),
                     R"({"keys":[{"kty":"EC","crv":"P-256","kid":"p256","x":"AA","y":"AA"}]})");
  addClient(*gateway_, {"--role", "puller", "--jwks", keys_->file("p256-jwks.json")}, 2, &err);
  EXPECT_NE(err.find("no RS384"), std::string::npos) << err;
  addClient(*gateway_, {"--role", "puller", "--jwks-url", "http://127.0.0.1:1/jwks.json"}, 2, &err);
  EXPECT_NE(err.find("https://"), std::string::npos) << err;
}

TEST_F(SmartBackendTest, AssertionAttemptsAreAudited) {
  addClient(*gateway_, {"--role", "puller", "--id", "puller-audited", "--jwks", keyFile("jwks.json")});
  auto a = signAssertions(keys_->path().string(), "puller-audited", tokenEndpoint());
  expectRefused(postAssertion(*gateway_, a["expired"]), "expired");
  EXPECT_EQ(postAssertion(*gateway_, a["valid_rs384"]).status, 200);
  std::string admin = gateway_->token("admin");
  std::string body;
  for (int i = 0; i < 50; ++i) {
    auto res = gateway_->client(admin)->Get("/fhir/AuditEvent?agent=puller-audited");
    ASSERT_TRUE(res);
    body = res->body;
    if (body.find("token issued") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(body.find("token issued"), std::string::npos) << body;
  for (int i = 0; i < 50; ++i) {
    auto res = gateway_->client(admin)->Get("/fhir/AuditEvent?agent=unverified:puller-audited");
    ASSERT_TRUE(res);
    body = res->body;
    if (body.find("client assertion expired") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(body.find("HTTP 401: client assertion expired"), std::string::npos) << body;
  EXPECT_EQ(body.find(a["expired"]), std::string::npos) << "an assertion was written into the audit trail";
}

// A JWKS served over HTTPS by the client's own server (the dev certificate,
// trusted through auth.jwks_ca_file).
class JwksServer {
 public:
  explicit JwksServer(std::string document)
      : server_((testing::devCertDir() / "server.crt").c_str(), (testing::devCertDir() / "server.key").c_str()),
        document_(std::move(document)) {
    server_.Get("/jwks.json", [this](const httplib::Request&, httplib::Response& res) {
      ++fetches_;
      std::lock_guard lock(mutex_);
      res.set_content(document_, "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~JwksServer() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_) + "/jwks.json"; }
  void serve(std::string document) {
    std::lock_guard lock(mutex_);
    document_ = std::move(document);
  }
  int fetches() const { return fetches_; }

 private:
  httplib::SSLServer server_;
  std::mutex mutex_;
  std::string document_;
  std::atomic<int> fetches_{0};
  int port_ = 0;
  std::thread thread_;
};

TEST_F(SmartBackendTest, JwksUrlIsFetchedCachedAndRefetchedForAnUnknownKid) {
  JwksServer jwks(testing::readFile(keyFile("jwks.json")));
  std::string out = addClient(*gateway_, {"--role", "puller", "--id", "puller-url", "--jwks-url", jwks.url()});
  EXPECT_NE(out.find("jwks_url=" + jwks.url()), std::string::npos) << out;
  EXPECT_EQ(jwks.fetches(), 1);  // the CLI checked the URL once
  auto a = signAssertions(keys_->path().string(), "puller-url", tokenEndpoint());

  TokenReply rs = postAssertion(*gateway_, a["valid_rs384"]);
  ASSERT_EQ(rs.status, 200) << rs.body;
  expectPatientsReadable(*gateway_, rs.access_token);
  EXPECT_EQ(postAssertion(*gateway_, a["valid_es384"]).status, 200);
  EXPECT_EQ(jwks.fetches(), 2) << "the gateway fetched the set once and then used its cache";

  // The client rotates in ec-2. Right after a fetch an unknown kid is
  // refused without fetching again (made-up kids cannot flood the URL)...
  jwks.serve(testing::readFile(keyFile("jwks-rotated.json")));
  expectRefused(postAssertion(*gateway_, a["rotated_es384"]), "kid is not among");
  EXPECT_EQ(jwks.fetches(), 2);
  // ... a few seconds later the unknown kid triggers one refetch.
  std::this_thread::sleep_for(std::chrono::milliseconds(5200));
  TokenReply rotated = postAssertion(*gateway_, a["rotated_es384"]);
  EXPECT_EQ(rotated.status, 200) << rotated.body;
  EXPECT_EQ(jwks.fetches(), 3);
  expectRefused(postAssertion(*gateway_, a["unknown_kid"]), "kid is not among");
  EXPECT_EQ(jwks.fetches(), 3);
}

}  // namespace
}  // namespace ilpgw
