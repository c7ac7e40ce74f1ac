// The SigningKeys role on every backend, and the token service on top of it:
// what one instance signs, another instance on the same store verifies; a
// rotation made elsewhere is found by the kid of the first token it signs,
// and the retired key still verifies what it signed.
#include <gtest/gtest.h>

#include "security/token_service.h"
#include "store_backends.h"

namespace ilpgw {
namespace {

class StoreSigningKeysTest : public testing::StoreBackendTest {};
ILPGW_ALL_BACKENDS(StoreSigningKeysTest);

TEST_P(StoreSigningKeysTest, KeysAreStoredReplacedAndRemoved) {
  auto store = open();
  ASSERT_TRUE(store->writeSigningKeys({SigningKey{"k1", "PEM-1", true, "2025-03-01T00:00:00.000Z", ""},
                                       SigningKey{"k2", "PEM-2", true, "2025-03-02T00:00:00.000Z", ""}},
                                      {})
                  .isOk());
  ASSERT_TRUE(store->writeSigningKeys({SigningKey{"k1", "PUB-1", false, "2025-03-01T00:00:00.000Z",
                                                  "2025-03-02T00:00:00.000Z"}},
                                      {"k2"})
                  .isOk());
  auto keys = store->readSigningKeys();
  ASSERT_TRUE(keys.isOk()) << keys.status().message();
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ(keys->at(0).kid, "k1");
  EXPECT_EQ(keys->at(0).pem, "PUB-1");
  EXPECT_FALSE(keys->at(0).can_sign);
  EXPECT_EQ(keys->at(0).created_at, "2025-03-01T00:00:00.000Z");
  EXPECT_EQ(keys->at(0).retired_at, "2025-03-02T00:00:00.000Z");
}

TEST_P(StoreSigningKeysTest, WhatOneInstanceSignsAnotherVerifiesAlsoAfterARotation) {
  auto store = open();
  auto first = TokenService::open(*store, 900);
  ASSERT_TRUE(first.isOk()) << first.status().message();
  auto second = TokenService::open(*store, 900);  // finds the key the first made
  ASSERT_TRUE(second.isOk()) << second.status().message();
  ASSERT_EQ(store->readSigningKeys()->size(), 1u);

  TokenClaims claims;
  claims.client_id = "pkm-selat-simpus";
  claims.role = "clinic";
  claims.organization = "pkm-selat";
  claims.scopes = {"system/*.write"};
  auto token = first.value()->issue(claims);
  ASSERT_TRUE(token.isOk());
  auto verified = second.value()->verify(token.value());
  ASSERT_TRUE(verified.isOk()) << verified.status().message();
  EXPECT_EQ(verified->organization, "pkm-selat");

  // Rotated elsewhere (`ilp-gateway key rotate`): a third instance signs with
  // the new key; the first verifies it at once and still verifies its own.
  auto kid = rotateSigningKey(*store, 900);
  ASSERT_TRUE(kid.isOk()) << kid.status().message();
  auto third = TokenService::open(*store, 900);
  ASSERT_TRUE(third.isOk());
  auto fresh = third.value()->issue(claims);
  ASSERT_TRUE(fresh.isOk());
  EXPECT_TRUE(first.value()->verify(fresh.value()).isOk());
  EXPECT_TRUE(third.value()->verify(token.value()).isOk()) << "the retired key verifies what it signed";
  auto keys = store->readSigningKeys();
  ASSERT_EQ(keys->size(), 2u);
  int signing = 0;
  for (const auto& k : keys.value()) {
    signing += k.can_sign ? 1 : 0;
    if (!k.can_sign) {
      EXPECT_EQ(k.pem.find("PRIVATE"), std::string::npos) << "a retired key keeps only its public part";
      EXPECT_FALSE(k.retired_at.empty());
    }
  }
  EXPECT_EQ(signing, 1);

  // A token signed by a key the store never had is refused.
  testing::TempDir elsewhere;
  auto stranger = TokenService::open(elsewhere.file("keys"), 900);
  ASSERT_TRUE(stranger.isOk());
  auto foreign = stranger.value()->issue(claims);
  ASSERT_TRUE(foreign.isOk());
  EXPECT_EQ(first.value()->verify(foreign.value()).status().code(), StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace ilpgw
