// The pure parts of private_key_jwt: parsing client assertions and JWKS
// documents, and the claim rules at exact clock values. The end-to-end test
// with assertions from another implementation is smart_backend_test.cc.
#include "security/client_assertion.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include "base/crypto.h"

namespace ilpgw {
namespace {

constexpr std::int64_t kNow = 1800000000;
constexpr const char* kAud = "https://gw.example/oauth2/token";

std::string b64(std::string_view s) { return base64UrlEncode(s); }

struct P384 {
  P384() : key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"), EVP_PKEY_free) {}
  std::string jwk(const std::string& kid) const {
    unsigned char point[97];
    size_t length = 0;
    EVP_PKEY_get_octet_string_param(key.get(), OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &length);
    std::string p(reinterpret_cast<char*>(point), length);
    return R"({"kty":"EC","crv":"P-384","kid":")" + kid + R"(","x":")" + b64(p.substr(1, 48)) + R"(","y":")" +
           b64(p.substr(49, 48)) + "\"}";
  }
  // A compact JWS over `header` and `payload`, ES384 with a JOSE r||s signature.
  std::string sign(const std::string& header, const std::string& payload) const {
    std::string input = b64(header) + "." + b64(payload);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t length = 0;
    EVP_DigestSignInit(ctx, nullptr, EVP_sha384(), nullptr, key.get());
    EVP_DigestSign(ctx, nullptr, &length, reinterpret_cast<const unsigned char*>(input.data()), input.size());
    std::string der(length, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(der.data()), &length,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    EVP_MD_CTX_free(ctx);
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(length));
    std::string raw(96, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()), 48);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + 48, 48);
    ECDSA_SIG_free(sig);
    return input + "." + b64(raw);
  }
  std::shared_ptr<EVP_PKEY> key;
};

std::string claims(std::int64_t exp, const std::string& iss = "c1", const std::string& aud = kAud) {
  return R"({"iss":")" + iss + R"(","sub":")" + iss + R"(","aud":")" + aud + R"(","exp":)" + std::to_string(exp) +
         R"(,"jti":"j1"})";
}

TEST(ClientAssertionTest, ParseRefusesMalformedAssertions) {
  std::string header = b64(R"({"alg":"ES384","kid":"k"})");
  std::string body = b64(claims(kNow + 60));
  EXPECT_TRUE(parseClientAssertion(header + "." + body + "." + b64("sig")).isOk());
  for (const std::string& bad :
       {std::string("a.b"), header + "." + body, header + "." + body + ".x.y", header + ".@@." + b64("s"),
        b64("[]") + "." + body + "." + b64("s"), b64(R"({"kid":"k"})") + "." + body + "." + b64("s"),
        b64(R"({"alg":"ES384","crit":["exp"]})") + "." + body + "." + b64("s"),
        header + "." + b64(R"({"aud":5})") + "." + b64("s"), header + "." + b64(R"({"exp":"soon"})") + "." + b64("s"),
        header + "." + b64(R"({"iss":["c1"]})") + "." + b64("s"), std::string(kAssertionMaxBytes + 1, 'a')}) {
    auto parsed = parseClientAssertion(bad);
    EXPECT_FALSE(parsed.isOk()) << bad;
    if (!parsed.isOk()) {
      EXPECT_EQ(parsed.status().code(), StatusCode::kUnauthenticated);
    }
  }
  auto several = parseClientAssertion(header + "." + b64(R"({"aud":["a","b"],"exp":1.5e9})") + "." + b64("s"));
  ASSERT_TRUE(several.isOk());
  EXPECT_EQ(several->aud, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(*several->exp, 1500000000);
}

TEST(ClientAssertionTest, JwksKeepsOnlyUsablePublicKeys) {
  P384 a;
  P384 b;
  auto keys = parseJwks(R"({"keys":[)" + a.jwk("a") + "," + b.jwk("b") +
                        R"(,{"kty":"EC","crv":"P-256","kid":"p256","x":"AA","y":"AA"}]})");
  ASSERT_TRUE(keys.isOk()) << keys.status().message();
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].alg, "ES384");

  std::string enc = a.jwk("enc");
  enc.insert(1, R"("use":"enc",)");
  EXPECT_FALSE(parseJwks(R"({"keys":[)" + enc + "]}").isOk()) << "nothing usable left";
  std::string with_d = a.jwk("d");
  with_d.insert(1, R"("d":"AAAA",)");
  for (const std::string& bad : {std::string("[]"), std::string(R"({"keys":{}})"), R"({"keys":[)" + with_d + "]}",
                                 std::string(R"({"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0"}]})"),
                                 R"({"keys":[)" + a.jwk("") + "]}", R"({"keys":[)" + a.jwk("x") + "," + b.jwk("x") + "]}",
                                 // a point not on the curve
                                 R"({"keys":[{"kty":"EC","crv":"P-384","kid":"off","x":")" + b64(std::string(48, '\1')) +
                                     R"(","y":")" + b64(std::string(48, '\1')) + "\"}]}",
                                 // RSA below 2048 bits
                                 R"({"keys":[{"kty":"RSA","kid":"small","e":"AQAB","n":")" +
                                     b64(std::string(128, '\xc1')) + "\"}]}"}) {
    EXPECT_FALSE(parseJwks(bad).isOk()) << bad;
  }
}

TEST(ClientAssertionTest, ClaimRulesAtExactTimes) {
  P384 key;
  auto keys = parseJwks(R"({"keys":[)" + key.jwk("k1") + "]}");
  ASSERT_TRUE(keys.isOk());
  auto check = [&](const std::string& header, const std::string& body, std::int64_t now = kNow) {
    auto parsed = parseClientAssertion(key.sign(header, body));
    if (!parsed.isOk()) return parsed.status().code();
    return verifyClientAssertion(parsed.value(), keys.value(), "c1", kAud, now).code();
  };
  const std::string h = R"({"alg":"ES384","kid":"k1"})";
  EXPECT_EQ(check(h, claims(kNow + 1)), StatusCode::kOk);
  EXPECT_EQ(check(h, claims(kNow + kAssertionMaxLifetimeS + kAssertionClockSkewS)), StatusCode::kOk);
  EXPECT_EQ(check(h, claims(kNow + kAssertionMaxLifetimeS + kAssertionClockSkewS + 1)), StatusCode::kUnauthenticated);
  EXPECT_EQ(check(h, claims(kNow)), StatusCode::kUnauthenticated) << "exp is exclusive";
  EXPECT_EQ(check(h, claims(kNow + 60, "c2")), StatusCode::kUnauthenticated);
  EXPECT_EQ(check(h, claims(kNow + 60, "c1", "https://other/oauth2/token")), StatusCode::kUnauthenticated);
  EXPECT_EQ(check(h, R"({"iss":"c1","sub":"c1","aud":")" + std::string(kAud) + R"(","jti":"j"})"),
            StatusCode::kUnauthenticated)
      << "no exp";
  EXPECT_EQ(check(h, R"({"iss":"c1","sub":"c1","aud":")" + std::string(kAud) + R"(","exp":)" +
                         std::to_string(kNow + 60) + "}"),
            StatusCode::kUnauthenticated)
      << "no jti";
  EXPECT_EQ(check(R"({"alg":"ES384","kid":"k2"})", claims(kNow + 60)), StatusCode::kNotFound);
  EXPECT_EQ(check(R"({"alg":"RS384","kid":"k1"})", claims(kNow + 60)), StatusCode::kUnauthenticated);
  EXPECT_EQ(check(R"({"alg":"none","kid":"k1"})", claims(kNow + 60)), StatusCode::kUnauthenticated);
  EXPECT_EQ(check(R"({"alg":"ES384"})", claims(kNow + 60)), StatusCode::kUnauthenticated);

  // A signature over other bytes, or truncated, does not verify.
  std::string good = key.sign(h, claims(kNow + 60));
  std::string tampered = good;
  tampered[good.find('.') + 3] ^= 1;
  auto parsed = parseClientAssertion(tampered);
  if (parsed.isOk()) {
    EXPECT_FALSE(verifyClientAssertion(parsed.value(), keys.value(), "c1", kAud, kNow).isOk());
  }
  auto truncated = parseClientAssertion(good.substr(0, good.size() - 4));
  ASSERT_TRUE(truncated.isOk());
  EXPECT_FALSE(verifyClientAssertion(truncated.value(), keys.value(), "c1", kAud, kNow).isOk());
}

}  // namespace
}  // namespace ilpgw
