// Login sessions of people on the gateway's pages: checking a password
// (throttled per account and per client address, counted in the store),
// opening a session with a
// random opaque id of which only a hash is stored (store/user_directory.h,
// so every instance on one database knows it), resuming it from its cookie
// with idle and absolute expiry, the CSRF token tied to it, and logout.
// Every login, failed login and logout is an AuditEvent, a login and a
// logout in the same transaction as the session change. No HTTP here: the
// pages (http/people_routes.h) put the id in a cookie.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "security/users.h"
#include "store/audit_log.h"
#include "store/user_directory.h"

namespace ilpgw {

struct SessionPolicy {
  int idle_s = 1800;      // a session unused this long ends
  int max_s = 43200;      // and any session ends this long after login
  int touch_every_s = 60;  // how stale the stored idle expiry may get before a use writes it again
  // Failed logins allowed within window_s before further attempts are
  // refused without looking at the password: per account, per address.
  int account_failures = 5;
  int address_failures = 20;
  int window_s = 900;
};

// Failed attempts per key (an account, a client address) in a sliding
// window, counted in the store (UserDirectory::loginFailures, written with
// WriteBatch::login_failures) so that every instance on one database
// throttles the same attempts. Keys are stored only as a hash.
class LoginThrottle {
 public:
  LoginThrottle(UserDirectory& users, int limit, int window_s) : users_(users), limit_(limit), window_s_(window_s) {}
  // 0 when an attempt at `now_ms` may go ahead, else whole seconds until one
  // may; an error when the store cannot answer.
  StatusOr<int> wait(const std::string& key, std::int64_t now_ms);
  // Adds a failure of `key` at `now_ms` to `batch`, and the purge of every
  // failure older than the window.
  void fail(const std::string& key, std::int64_t now_ms, WriteBatch& batch) const;
  // Adds forgetting `key`'s failures to `batch`.
  static void clear(const std::string& key, WriteBatch& batch);
  static std::string keyHash(const std::string& key);

 private:
  UserDirectory& users_;
  int limit_;
  int window_s_;
};

enum class LoginOutcome { kOk, kRefused, kThrottled, kUnavailable };

struct LoginAnswer {
  LoginOutcome outcome = LoginOutcome::kRefused;
  std::string session_id;  // kOk: the cookie value, shown to nobody else
  int retry_after_s = 0;   // kThrottled
};

struct ActiveSession {
  Person person;
  std::string id_hash;
  std::string csrf_token;  // what every state-changing form of this session must carry
  std::string expires_at;
};

class SessionManager {
 public:
  SessionManager(UserDirectory& users, BatchWriter& writer, AuditLog& audit, SessionPolicy policy);

  const SessionPolicy& policy() const { return policy_; }

  LoginAnswer login(std::string_view username, std::string_view password, const std::string& remote_addr);
  // The session behind a cookie value, or nullopt when there is none, it
  // expired (then it is deleted) or its user was disabled. Moves the idle
  // expiry forward. kUnavailable when the store cannot answer.
  StatusOr<std::optional<ActiveSession>> resume(std::string_view session_id);
  // Ends the session (audited); a session that is already gone is fine.
  Status logout(const ActiveSession& session, const std::string& remote_addr);

  // The synchronizer token of a session: derived one-way from its id, so it
  // is tied to that session and a leaked token reveals nothing of the id.
  static std::string csrfToken(std::string_view session_id);
  static bool csrfMatches(const ActiveSession& session, std::string_view token);
  static std::string idHash(std::string_view session_id);

 private:
  void auditFailure(const std::string& agent, const std::string& remote_addr, int status, const std::string& why,
                    WriteBatch batch = {});

  UserDirectory& users_;
  BatchWriter& writer_;
  AuditLog& audit_;
  SessionPolicy policy_;
  LoginThrottle by_account_;
  LoginThrottle by_address_;
};

}  // namespace ilpgw
