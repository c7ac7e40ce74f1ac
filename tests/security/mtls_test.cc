// Mutual TLS (tls.client_ca) and certificate-bound tokens (RFC 8705).
#include <gtest/gtest.h>

#include "security/clients.h"
#include "security_support.h"

namespace ilpgw {
namespace {

using testing::GatewayOptions;
using testing::GatewayProcess;
using testing::parsedJson;

class MtlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testing::makeClientCert("clinic-a", false));
    testing::makeClientCert("clinic-b", false);
    testing::makeClientCert("stranger", true);
    GatewayOptions o;
    o.auth = true;
    o.tls_config = "\"client_ca\": \"" + (testing::devCertDir() / "ca.crt").string() + "\"";
    gateway_ = new GatewayProcess(o);
  }
  static void TearDownTestSuite() {
    delete gateway_;
    delete dir_;
  }
  static std::string cert(const std::string& name) { return *dir_ + "/" + name + ".crt"; }
  static std::string key(const std::string& name) { return *dir_ + "/" + name + ".key"; }
  static std::unique_ptr<httplib::Client> as(const std::string& name, const std::string& bearer = {}) {
    return gateway_->client(bearer, cert(name), key(name));
  }
  static httplib::Result tokenRequest(const std::string& name, const testing::ClientCredentials& c) {
    return as(name)->Post("/oauth2/token",
                          httplib::Params{{"grant_type", "client_credentials"}, {"client_id", c.id}, {"client_secret", c.secret}});
  }
  static GatewayProcess* gateway_;
  static std::string* dir_;
};
GatewayProcess* MtlsTest::gateway_ = nullptr;
std::string* MtlsTest::dir_ = nullptr;

TEST_F(MtlsTest, ConnectionWithoutAClientCertificateIsRefused) {
  auto res = gateway_->client()->Get("/health");
  EXPECT_FALSE(res) << "the TLS handshake must fail without a client certificate";
}

TEST_F(MtlsTest, CertificateFromAnotherCaIsRefused) {
  auto res = as("stranger")->Get("/health");
  EXPECT_FALSE(res);
}

TEST_F(MtlsTest, CertificateFromTheConfiguredCaIsAccepted) {
  auto res = as("clinic-b")->Get("/health");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
}

TEST_F(MtlsTest, ClientRegisteredWithACertificateMustPresentIt) {
  auto c = gateway_->addClient("clinic", "pkm-a", {"--cert", cert("clinic-a")});
  auto wrong = tokenRequest("clinic-b", c);
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401) << wrong->body;
  EXPECT_STREQ(parsedJson(wrong->body)["error"].GetString(), "invalid_client");

  auto right = tokenRequest("clinic-a", c);
  ASSERT_TRUE(right);
  ASSERT_EQ(right->status, 200) << right->body;
  std::string token = parsedJson(right->body)["access_token"].GetString();
  auto claims = parsedJson(testing::decodePart(token, 1));
  ASSERT_TRUE(claims.HasMember("cnf"));
  EXPECT_EQ(std::string(claims["cnf"]["x5t#S256"].GetString()), certificateThumbprintFile(cert("clinic-a")).value());

  auto own = as("clinic-a", token)->Get("/fhir/Patient/x");
  ASSERT_TRUE(own);
  EXPECT_EQ(own->status, 404) << own->body;
  // The same token over a connection authenticated with another certificate.
  auto stolen = as("clinic-b", token)->Get("/fhir/Patient/x");
  ASSERT_TRUE(stolen);
  EXPECT_EQ(stolen->status, 401);
  EXPECT_NE(stolen->get_header_value("WWW-Authenticate").find("invalid_token"), std::string::npos);
}

TEST_F(MtlsTest, TokensAreBoundToTheCertificateThatFetchedThem) {
  auto c = gateway_->addClient("puller");  // registered without a certificate
  auto res = tokenRequest("clinic-b", c);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  std::string token = parsedJson(res->body)["access_token"].GetString();
  auto same = as("clinic-b", token)->Get("/fhir/Patient/x");
  ASSERT_TRUE(same);
  EXPECT_EQ(same->status, 404);
  auto other = as("clinic-a", token)->Get("/fhir/Patient/x");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 401);
}

}  // namespace
}  // namespace ilpgw
