// Unit tests of the token endpoint's request parsing: form body, its
// Content-Type and HTTP Basic client credentials.
#include <gtest/gtest.h>

#include "base/crypto.h"
#include "security/token_request.h"

namespace ilpgw {
namespace {

TEST(TokenRequestTest, FormBodyDecodesAndKeepsFirstValue) {
  auto form = parseForm("grant_type=client_credentials&client_id=pkm%2Dselat&scope=system%2F*.read+system%2F*.write"
                        "&client_id=lain&&flag&bad=%zz%4");
  EXPECT_EQ(form["grant_type"], "client_credentials");
  EXPECT_EQ(form["client_id"], "pkm-selat");
  EXPECT_EQ(form["scope"], "system/*.read system/*.write");
  EXPECT_EQ(form.count("flag"), 1u);
  EXPECT_EQ(form["flag"], "");
  EXPECT_EQ(form["bad"], "%zz%4");
  EXPECT_TRUE(parseForm("").empty());
}

TEST(TokenRequestTest, FormContentTypeIgnoresCaseAndParameters) {
  EXPECT_TRUE(isFormContentType("application/x-www-form-urlencoded"));
  EXPECT_TRUE(isFormContentType("Application/X-WWW-Form-Urlencoded; charset=UTF-8"));
  EXPECT_FALSE(isFormContentType("application/json"));
  EXPECT_FALSE(isFormContentType(""));
}

TEST(TokenRequestTest, BasicCredentialsAreFormDecoded) {
  EXPECT_FALSE(parseBasicCredentials("").has_value());
  EXPECT_FALSE(parseBasicCredentials("Bearer abc").has_value());
  auto basic = parseBasicCredentials("basic " + base64Encode("pkm%2Dselat:rahasia+%2B1:x"));
  ASSERT_TRUE(basic.has_value());
  EXPECT_FALSE(basic->malformed);
  EXPECT_EQ(basic->id, "pkm-selat");
  EXPECT_EQ(basic->secret, "rahasia +1:x");
  EXPECT_TRUE(parseBasicCredentials("Basic " + base64Encode("no-colon"))->malformed);
  EXPECT_TRUE(parseBasicCredentials("Basic ***")->malformed);
}

}  // namespace
}  // namespace ilpgw
