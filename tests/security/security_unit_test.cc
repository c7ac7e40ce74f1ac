// Unit tests of the security building blocks: secret hashing, route access
// classes, the token bucket and the store's tenant guard.
#include <gtest/gtest.h>

#include "security/clients.h"
#include "base/crypto.h"
#include "base/log.h"
#include "fhir/resource_text.h"
#include "http/auth.h"
#include "security/password.h"
#include "security/sessions.h"
#include "store/sqlite_store.h"
#include "test_support.h"

namespace ilpgw {
namespace {

TEST(SecretHashTest, SaltedSlowAndVerifiedInConstantTime) {
  std::string a = hashSecret("s3cret");
  std::string b = hashSecret("s3cret");
  EXPECT_NE(a, b) << "salted";
  EXPECT_EQ(a.rfind("pbkdf2-sha256$120000$", 0), 0u);
  EXPECT_TRUE(verifySecret("s3cret", a));
  EXPECT_FALSE(verifySecret("s3creT", a));
  EXPECT_FALSE(verifySecret("s3cret", "pbkdf2-sha256$1$bad"));
  EXPECT_FALSE(verifySecret("s3cret", ""));
}

TEST(ClientIdTest, GeneratedIdsStayReadableInTheLog) {
  // One id in about 43 would be eight random digits if the random part were plain hex.
  for (int i = 0; i < 2000; ++i) {
    std::string id = newClientId("clinic", "pkm-a");
    ASSERT_EQ(id.rfind("clinic-pkm-a-", 0), 0u) << id;
    ASSERT_EQ(maskIdentifiers(id), id);
  }
  EXPECT_EQ(newClientId("puller", "").rfind("puller-", 0), 0u);
}

TEST(Base64Test, RoundTripsBothAlphabets) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "\xff\xfe\xfd"}) {
    EXPECT_EQ(base64Decode(base64Encode(s)).value(), s);
    EXPECT_EQ(base64Decode(base64UrlEncode(s)).value(), s);
  }
  EXPECT_FALSE(base64Decode("a$b").has_value());
}

TEST(AccessTest, EveryRouteFamilyNeedsItsScope) {
  EXPECT_EQ(requiredAccess("GET", "/health"), Access::kOpen);
  EXPECT_EQ(requiredAccess("GET", "/fhir/metadata"), Access::kOpen);
  EXPECT_EQ(requiredAccess("POST", "/oauth2/token"), Access::kTokenEndpoint);
  EXPECT_EQ(requiredAccess("POST", "/ingest/epuskesmas-json"), Access::kWrite);
  EXPECT_EQ(requiredAccess("GET", "/fhir/Patient/1"), Access::kRead);
  EXPECT_EQ(requiredAccess("GET", "/fhir/Patient?name=x"), Access::kRead);
  EXPECT_EQ(requiredAccess("GET", "/fhir/$export"), Access::kRead);
  EXPECT_EQ(requiredAccess("DELETE", "/fhir/_export/0123abcd"), Access::kRead);
  EXPECT_EQ(requiredAccess("POST", "/fhir/Patient/_search"), Access::kRead);
  EXPECT_EQ(requiredAccess("PUT", "/fhir/Patient/1"), Access::kWrite);
  EXPECT_EQ(requiredAccess("POST", "/fhir"), Access::kWrite);
  EXPECT_EQ(requiredAccess("DELETE", "/fhir/Patient/1"), Access::kWrite);
  EXPECT_EQ(requiredAccess("GET", "/fhir/AuditEvent"), Access::kAdmin);
  EXPECT_EQ(requiredAccess("GET", "/fhir/AuditEvent/3"), Access::kAdmin);
  EXPECT_EQ(requiredAccess("GET", "/admin/plugins"), Access::kAdmin);
  EXPECT_EQ(requiredAccess("GET", "/anything/else"), Access::kAuthenticated);
  // Pages check their session cookie themselves; nothing else is a page.
  EXPECT_EQ(requiredAccess("GET", "/masuk"), Access::kPage);
  EXPECT_EQ(requiredAccess("POST", "/keluar"), Access::kPage);
  EXPECT_EQ(requiredAccess("GET", "/pws"), Access::kPage);
  EXPECT_EQ(requiredAccess("GET", "/aset/chart.min.js"), Access::kPage);
  EXPECT_EQ(requiredAccess("GET", "/pws/../fhir/Patient"), Access::kAuthenticated);
  EXPECT_EQ(requiredAccess("GET", "/aset/../fhir/Patient"), Access::kAuthenticated);
  EXPECT_EQ(requiredAccess("POST", "/fhir/pws"), Access::kWrite);
}

TEST(PasswordTest, Argon2idHashesVerifyOnlyTheirPassword) {
  auto hashed = hashPassword("kata-sandi-rahasia");
  ASSERT_TRUE(hashed.isOk()) << hashed.status().message();
  EXPECT_EQ(hashed.value().rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << hashed.value();
  EXPECT_TRUE(verifyPassword("kata-sandi-rahasia", hashed.value()));
  EXPECT_FALSE(verifyPassword("kata-sandi-rahasiA", hashed.value()));
  EXPECT_NE(hashPassword("kata-sandi-rahasia").value(), hashed.value()) << "a fresh salt each time";
  EXPECT_FALSE(verifyPassword("x", "pbkdf2-sha256$1$a$b"));
  EXPECT_FALSE(verifyPassword("x", "$argon2id$garbage"));
  EXPECT_FALSE(checkNewPassword("pendek").isOk());
  EXPECT_FALSE(checkNewPassword("1234567890123").isOk());
  EXPECT_TRUE(checkNewPassword("sepuluh-huruf").isOk());
}

// Counted in the store: two throttles on one store (two instances on one
// database) see each other's failures.
TEST(LoginThrottleTest, RefusesAfterTheLimitWithinTheWindowPerKey) {
  testing::TempDir dir;
  auto store = openSqliteStore({dir.file("gateway.db"), 16});
  ASSERT_TRUE(store.isOk());
  Store& s = *store.value();
  LoginThrottle throttle(s, 2, 60);
  LoginThrottle other(s, 2, 60);
  const std::int64_t t0 = 1'700'000'000'000;
  EXPECT_EQ(throttle.wait("user:a", t0).value(), 0);
  WriteBatch first;
  throttle.fail("user:a", t0, first);
  ASSERT_TRUE(s.commit(std::move(first)).isOk());
  EXPECT_EQ(other.wait("user:a", t0 + 500).value(), 0) << "one failure is below the limit";
  WriteBatch second;
  other.fail("user:a", t0 + 1000, second);
  ASSERT_TRUE(s.commit(std::move(second)).isOk());
  EXPECT_EQ(throttle.wait("user:a", t0 + 2000).value(), 58) << "until the first failure leaves the window";
  EXPECT_EQ(other.wait("user:a", t0 + 2000).value(), 58);
  EXPECT_EQ(throttle.wait("user:b", t0 + 2000).value(), 0) << "per key";
  EXPECT_EQ(throttle.wait("user:a", t0 + 60'000).value(), 0) << "the first failure has left the window";
  WriteBatch forget;
  LoginThrottle::clear("user:a", forget);
  ASSERT_TRUE(s.commit(std::move(forget)).isOk());
  EXPECT_EQ(throttle.wait("user:a", t0 + 2000).value(), 0);
  EXPECT_NE(LoginThrottle::keyHash("user:a").find_first_not_of("0123456789abcdef"), 0u);
  EXPECT_EQ(LoginThrottle::keyHash("user:a").find("user"), std::string::npos) << "keys are stored hashed";
}

TEST(PersonTest, SeesOnlyItsOrganizationsAndReadsWithoutWriting) {
  UserRecord record{"pkm-budi", "puskesmas", "pkm-a", "", "", "", ""};
  auto person = personOf(record);
  ASSERT_TRUE(person.has_value());
  EXPECT_TRUE(person->mayRead("pkm-a"));
  EXPECT_FALSE(person->mayRead("pkm-b"));
  RequestContext reader = person->readerFor("pkm-a", "127.0.0.1");
  EXPECT_TRUE(reader.canRead("pkm-a"));
  EXPECT_FALSE(reader.canRead("pkm-b"));
  EXPECT_FALSE(reader.writeOrganization().has_value());
  EXPECT_EQ(reader.client_id, "user:pkm-budi");
  auto district = personOf(UserRecord{"ana", "district", "pkm-a,pkm-c", "", "", "", ""});
  ASSERT_TRUE(district.has_value());
  EXPECT_TRUE(district->mayRead("pkm-c"));
  EXPECT_FALSE(district->mayRead("pkm-b"));
  EXPECT_TRUE(personOf(UserRecord{"ana", "district", "", "", "", "", ""})->mayRead("pkm-b"));
  EXPECT_FALSE(personOf(UserRecord{"x", "puskesmas", "", "", "", "", ""}).has_value()) << "a puskesmas user needs one";
  EXPECT_FALSE(personOf(UserRecord{"x", "superuser", "", "", "", "", ""}).has_value());
}

TEST(SessionTokenTest, CsrfTokenIsTiedToItsSessionAndRevealsNothingOfIt) {
  std::string a = SessionManager::csrfToken("session-a");
  EXPECT_EQ(a, SessionManager::csrfToken("session-a"));
  EXPECT_NE(a, SessionManager::csrfToken("session-b"));
  EXPECT_EQ(a.find("session-a"), std::string::npos);
  ActiveSession session;
  session.csrf_token = a;
  EXPECT_TRUE(SessionManager::csrfMatches(session, a));
  EXPECT_FALSE(SessionManager::csrfMatches(session, ""));
  EXPECT_FALSE(SessionManager::csrfMatches(session, SessionManager::csrfToken("session-b")));
  EXPECT_EQ(SessionManager::idHash("session-a").size(), 64u);
}

TEST(RateLimiterTest, BurstThenRetryAfter) {
  RateLimiter limiter(2, 3);
  EXPECT_EQ(limiter.take("a"), 0);
  EXPECT_EQ(limiter.take("a"), 0);
  EXPECT_EQ(limiter.take("a"), 0);
  EXPECT_GE(limiter.take("a"), 1);
  EXPECT_EQ(limiter.take("b"), 0) << "per key";
}

TEST(RequestContextTest, ClinicsReadOnlyTheirOrganization) {
  RequestContext clinic{true, "c", Role::kClinic, "pkm-a", {}, "", false, {}, ""};
  EXPECT_TRUE(clinic.canRead("pkm-a"));
  EXPECT_FALSE(clinic.canRead("pkm-b"));
  RequestContext puller{true, "p", Role::kPuller, "", {}, "", false, {}, ""};
  EXPECT_TRUE(puller.canRead("pkm-b"));
  EXPECT_FALSE(puller.readOrganization().has_value());
}

TEST(RequestContextTest, OnlyClinicsAndTheDevelopmentCallerWriteEachForItsOrganization) {
  RequestContext clinic{true, "c", Role::kClinic, "pkm-a", {std::string(kScopeWrite)}, "", false, {}, ""};
  EXPECT_EQ(clinic.writeOrganization(), "pkm-a");
  RequestContext read_only = clinic;
  read_only.scopes = {std::string(kScopeRead)};
  EXPECT_FALSE(read_only.writeOrganization()) << "a token without the write scope writes nothing";
  RequestContext puller{true, "p", Role::kPuller, "", {std::string(kScopeWrite)}, "", false, {}, ""};
  EXPECT_FALSE(puller.writeOrganization()) << "even with a write scope a puller writes no clinical data";
  RequestContext admin{true, "a", Role::kAdmin, "pkm-a", {std::string(kScopeWrite)}, "", false, {}, ""};
  EXPECT_FALSE(admin.writeOrganization());
  EXPECT_EQ(developmentCaller("pkm-dev").writeOrganization(), "pkm-dev");
}

TEST(RoleTest, ParsesAndPrintsTheStoredTextForm) {
  for (Role role : {Role::kClinic, Role::kPuller, Role::kAdmin}) EXPECT_EQ(parseRole(roleName(role)), role);
  EXPECT_FALSE(parseRole("dev")) << "the development caller is never a registered client";
  EXPECT_FALSE(parseRole("Clinic"));
  EXPECT_FALSE(parseRole(""));
}

ResourceWrite patient(const std::string& organization, const std::string& name) {
  rapidjson::Document doc;
  std::string text = R"({"resourceType":"Patient","id":"shared-id","name":[{"text":")" + name + R"("}]})";
  doc.Parse(text.c_str());
  ResourceWrite write = prepareResource(doc);
  write.organization = organization;
  return write;
}

TEST(StoreTenantTest, AnotherOrganizationCannotOverwriteAResource) {
  testing::TempDir dir;
  auto store = openSqliteStore({dir.file("gateway.db"), 16});
  ASSERT_TRUE(store.isOk());
  WriteBatch first;
  first.resources.push_back(patient("pkm-a", "A"));
  ASSERT_TRUE(store.value()->commit(std::move(first)).isOk());
  WriteBatch intruder;
  intruder.resources.push_back(patient("pkm-b", "B"));
  auto refused = store.value()->commit(std::move(intruder));
  ASSERT_FALSE(refused.isOk());
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied);
  auto current = store.value()->read("Patient", "shared-id");
  ASSERT_TRUE(current.isOk() && current.value());
  EXPECT_EQ(current.value()->organization, "pkm-a");
  EXPECT_EQ(current.value()->version, 1);
  WriteBatch owner;
  owner.resources.push_back(patient("pkm-a", "A2"));
  auto updated = store.value()->commit(std::move(owner));
  ASSERT_TRUE(updated.isOk());
  EXPECT_EQ(updated.value().resources[0].version, 2);
}

TEST(StoreAuditTest, ChainSurvivesARefusedBatchInTheSameGroup) {
  testing::TempDir dir;
  auto store = openSqliteStore({dir.file("gateway.db"), 16});
  ASSERT_TRUE(store.isOk());
  WriteBatch a;
  a.resources.push_back(patient("pkm-a", "A"));
  a.audit.push_back({"2024-01-01T00:00:00.000Z", "x", "", "{}"});
  ASSERT_TRUE(store.value()->commit(std::move(a)).isOk());
  WriteBatch refused;
  refused.resources.push_back(patient("pkm-b", "B"));
  refused.audit.push_back({"2024-01-01T00:00:01.000Z", "y", "", "{}"});
  EXPECT_FALSE(store.value()->commit(std::move(refused)).isOk());
  store.value()->recordAudit({{"2024-01-01T00:00:02.000Z", "z", "", "{}"}});
  WriteBatch flush;
  ASSERT_TRUE(store.value()->commit(std::move(flush)).isOk());
  auto rows = store.value()->scanAudit(0, 10);
  ASSERT_TRUE(rows.isOk());
  ASSERT_EQ(rows.value().size(), 2u) << "the refused batch's event was rolled back with it";
  EXPECT_EQ(rows.value()[1].event.agent, "z");
  EXPECT_EQ(rows.value()[1].prev_hash, rows.value()[0].hash);
}

}  // namespace
}  // namespace ilpgw
