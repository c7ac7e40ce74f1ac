// The UserDirectory role on every backend: user records written through
// commit() with their audit event, sessions started, touched, ended one by
// one, all of one user, and purged when expired; failed-login counters
// counted, purged and cleared.
#include <gtest/gtest.h>

#include "store_backends.h"

namespace ilpgw {
namespace {

class StoreUsersTest : public testing::StoreBackendTest {};
ILPGW_ALL_BACKENDS(StoreUsersTest);

UserRecord user(const std::string& name, const std::string& role, const std::string& orgs) {
  UserRecord u;
  u.username = name;
  u.role = role;
  u.organizations = orgs;
  u.password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";
  return u;
}

SessionRecord session(const std::string& id_hash, const std::string& username, const std::string& idle,
                      const std::string& absolute) {
  return SessionRecord{id_hash, username, "2025-03-01T00:00:00.000Z", idle, absolute};
}

TEST_P(StoreUsersTest, UsersAreStoredReplacedAndListed) {
  auto store = open();
  WriteBatch add;
  add.users = {user("dinkes-ana", "district", ""), user("pkm-budi", "puskesmas", "pkm-selat")};
  AuditWrite event{"2025-03-01T00:00:00.000Z", "cli:root", "|User/pkm-budi|", R"({"resourceType":"AuditEvent"})"};
  add.audit.push_back(event);
  ASSERT_TRUE(store->commit(add).isOk());

  auto found = store->findUser("pkm-budi");
  ASSERT_TRUE(found.isOk()) << found.status().message();
  ASSERT_TRUE(found.value().has_value());
  EXPECT_EQ(found.value()->role, "puskesmas");
  EXPECT_EQ(found.value()->organizations, "pkm-selat");
  EXPECT_FALSE(found.value()->created_at.empty());  // the store fills it when empty
  EXPECT_TRUE(found.value()->disabled_at.empty());
  auto missing = store->findUser("nobody");
  ASSERT_TRUE(missing.isOk());
  EXPECT_FALSE(missing.value().has_value());

  UserRecord disabled = *found.value();
  disabled.disabled_at = "2025-03-02T00:00:00.000Z";
  WriteBatch change;
  change.users.push_back(disabled);
  ASSERT_TRUE(store->commit(change).isOk());
  store.reset();
  store = open();  // durable
  auto listed = store->listUsers();
  ASSERT_TRUE(listed.isOk());
  ASSERT_EQ(listed.value().size(), 2u);
  EXPECT_EQ(listed.value()[0].username, "dinkes-ana");
  EXPECT_EQ(listed.value()[1].disabled_at, "2025-03-02T00:00:00.000Z");
  EXPECT_EQ(listed.value()[1].created_at, found.value()->created_at);
  AuditQuery query;
  query.entity = "User/pkm-budi";
  auto audit = store->searchAudit(query);
  ASSERT_TRUE(audit.isOk());
  EXPECT_EQ(audit.value().size(), 1u);
}

TEST_P(StoreUsersTest, SessionsStartTouchEndAndExpire) {
  auto store = open();
  WriteBatch start;
  start.users = {user("ana", "district", ""), user("budi", "puskesmas", "pkm-selat")};
  start.sessions = {{SessionOp::kStart, session("h-ana-1", "ana", "2025-03-01T00:30:00.000Z", "2025-03-01T12:00:00.000Z")},
                    {SessionOp::kStart, session("h-ana-2", "ana", "2025-03-01T00:30:00.000Z", "2025-03-01T12:00:00.000Z")},
                    {SessionOp::kStart, session("h-budi", "budi", "2025-03-01T00:10:00.000Z", "2025-03-01T12:00:00.000Z")}};
  ASSERT_TRUE(store->commit(start).isOk());
  auto ana1 = store->findSession("h-ana-1");
  ASSERT_TRUE(ana1.isOk());
  ASSERT_TRUE(ana1.value().has_value());
  EXPECT_EQ(ana1.value()->username, "ana");
  EXPECT_EQ(ana1.value()->expires_at, "2025-03-01T12:00:00.000Z");

  // A touch moves only the idle expiry, and never brings an ended session back.
  WriteBatch touch;
  touch.sessions = {{SessionOp::kTouch, SessionRecord{"h-ana-1", "", "", "2025-03-01T01:00:00.000Z", ""}},
                    {SessionOp::kEnd, SessionRecord{"h-ana-2", "", "", "", ""}},
                    {SessionOp::kTouch, SessionRecord{"h-ana-2", "", "", "2025-03-01T01:00:00.000Z", ""}}};
  ASSERT_TRUE(store->commit(touch).isOk());
  ana1 = store->findSession("h-ana-1");
  ASSERT_TRUE(ana1.isOk());
  EXPECT_EQ(ana1.value()->idle_expires_at, "2025-03-01T01:00:00.000Z");
  EXPECT_EQ(ana1.value()->expires_at, "2025-03-01T12:00:00.000Z");
  EXPECT_FALSE(store->findSession("h-ana-2").value().has_value());

  // Purging at 00:20 removes budi's session (idle since 00:10), keeps ana's.
  WriteBatch purge;
  purge.purge_sessions_before = "2025-03-01T00:20:00.000Z";
  ASSERT_TRUE(store->commit(purge).isOk());
  EXPECT_FALSE(store->findSession("h-budi").value().has_value());
  EXPECT_TRUE(store->findSession("h-ana-1").value().has_value());

  // Every session of a user ends at once (disabled, new password).
  WriteBatch more;
  more.sessions = {{SessionOp::kStart, session("h-ana-3", "ana", "2025-03-01T00:30:00.000Z", "2025-03-01T12:00:00.000Z")}};
  ASSERT_TRUE(store->commit(more).isOk());
  WriteBatch end_all;
  end_all.end_sessions_of = {"ana"};
  ASSERT_TRUE(store->commit(end_all).isOk());
  EXPECT_FALSE(store->findSession("h-ana-1").value().has_value());
  EXPECT_FALSE(store->findSession("h-ana-3").value().has_value());
}

TEST_P(StoreUsersTest, LoginFailuresAreCountedPurgedAndCleared) {
  auto store = open();
  const std::int64_t t0 = 1'700'000'000'000;
  WriteBatch failures;
  failures.login_failures = {{"aa", t0, false}, {"aa", t0 + 10, false}, {"bb", t0 + 20, false}};
  failures.audit.push_back({"2025-03-01T00:00:00.000Z", "user-unknown", "", R"({"resourceType":"AuditEvent"})"});
  ASSERT_TRUE(store->commit(failures).isOk());
  auto aa = store->loginFailures("aa", t0);
  ASSERT_TRUE(aa.isOk()) << aa.status().message();
  EXPECT_EQ(aa->count, 2);
  EXPECT_EQ(aa->oldest_ms, t0);
  EXPECT_EQ(store->loginFailures("aa", t0 + 1)->count, 1);
  EXPECT_EQ(store->loginFailures("aa", t0 + 1)->oldest_ms, t0 + 10);
  EXPECT_EQ(store->loginFailures("cc", 0)->count, 0);
  // Another instance on the same store sees them (durable, shared).
  store.reset();
  store = open();
  EXPECT_EQ(store->loginFailures("bb", 0)->count, 1);
  WriteBatch purge;
  purge.purge_login_failures_before_ms = t0 + 5;  // every key's older failures
  purge.login_failures = {{"bb", 0, true}};
  ASSERT_TRUE(store->commit(purge).isOk());
  EXPECT_EQ(store->loginFailures("aa", 0)->count, 1);
  EXPECT_EQ(store->loginFailures("aa", 0)->oldest_ms, t0 + 10);
  EXPECT_EQ(store->loginFailures("bb", 0)->count, 0);
}

}  // namespace
}  // namespace ilpgw
