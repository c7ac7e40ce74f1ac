#include "base/url.h"

#include <gtest/gtest.h>

namespace ilpgw {
namespace {

TEST(PercentEncodeTest, KeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(percentEncode("Az09-._~"), "Az09-._~");
  EXPECT_EQ(percentEncode("a b&c=d/e:f|g"), "a%20b%26c%3Dd%2Fe%3Af%7Cg");
  EXPECT_EQ(percentEncode(""), "");
}

TEST(PercentEncodeTest, EncodesEveryByteOfUtf8AndControlCharacters) {
  EXPECT_EQ(percentEncode("Bidan \xC3\xA9"), "Bidan%20%C3%A9");
  EXPECT_EQ(percentEncode(std::string_view("\0\n", 2)), "%00%0A");
}

TEST(PercentEncodeTest, KeepsWhatTheCallerAllows) {
  EXPECT_EQ(percentEncode("http://loinc.org|8480-6", ":"), "http:%2F%2Floinc.org%7C8480-6");
  EXPECT_EQ(percentEncode("urn:oid:1.2", ":"), "urn:oid:1.2");
}

}  // namespace
}  // namespace ilpgw
