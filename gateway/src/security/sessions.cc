#include "security/sessions.h"

#include <algorithm>
#include <cctype>
#include <chrono>

#include "base/crypto.h"
#include "base/time_util.h"
#include "security/audit.h"
#include "security/password.h"

namespace ilpgw {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t nowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

AuditInfo authInfo(const std::string& subtype, const std::string& agent, const std::string& remote_addr, int status,
                   const std::string& description) {
  AuditInfo info;
  info.kind = AuditKind::kAuthentication;
  info.subtype = subtype;
  info.action = 'E';
  info.http_status = status;
  info.agent = agent;
  info.remote_addr = remote_addr;
  info.description = description;
  return info;
}

}  // namespace

std::string LoginThrottle::keyHash(const std::string& key) { return hex(sha256("ilp-gateway login throttle\n" + key)); }

StatusOr<int> LoginThrottle::wait(const std::string& key, std::int64_t now_ms) {
  const std::int64_t window_ms = std::int64_t{window_s_} * 1000;
  auto failures = users_.loginFailures(keyHash(key), now_ms - window_ms + 1);
  if (!failures.isOk()) return failures.status();
  if (failures->count < limit_) return 0;
  // Allowed again when the oldest failure in the window leaves it.
  std::int64_t until = failures->oldest_ms + window_ms;
  return std::max<int>(1, static_cast<int>((until - now_ms + 999) / 1000));
}

void LoginThrottle::fail(const std::string& key, std::int64_t now_ms, WriteBatch& batch) const {
  batch.login_failures.push_back(LoginFailureWrite{keyHash(key), now_ms, false});
  batch.purge_login_failures_before_ms = now_ms - std::int64_t{window_s_} * 1000;
}

void LoginThrottle::clear(const std::string& key, WriteBatch& batch) {
  batch.login_failures.push_back(LoginFailureWrite{keyHash(key), 0, true});
}

SessionManager::SessionManager(UserDirectory& users, BatchWriter& writer, AuditLog& audit, SessionPolicy policy)
    : users_(users),
      writer_(writer),
      audit_(audit),
      policy_(policy),
      by_account_(users, policy.account_failures, policy.window_s),
      by_address_(users, policy.address_failures, policy.window_s) {}

std::string SessionManager::idHash(std::string_view session_id) { return hex(sha256(session_id)); }

std::string SessionManager::csrfToken(std::string_view session_id) {
  return base64UrlEncode(sha256("ilp-gateway csrf\n" + std::string(session_id)));
}

bool SessionManager::csrfMatches(const ActiveSession& session, std::string_view token) {
  return !token.empty() && constantTimeEquals(session.csrf_token, token);
}

void SessionManager::auditFailure(const std::string& agent, const std::string& remote_addr, int status,
                                  const std::string& why, WriteBatch batch) {
  if (batch.login_failures.empty()) {
    audit_.recordAudit({makeAuditEvent(authInfo("login", agent, remote_addr, status, why))});
    return;
  }
  // The failure counted and its audit event in one transaction.
  batch.audit.push_back(makeAuditEvent(authInfo("login", agent, remote_addr, status, why)));
  auto committed = writer_.commit(std::move(batch));
  if (!committed.isOk()) {
    audit_.recordAudit({makeAuditEvent(authInfo("login", agent, remote_addr, status, why + " (not counted)"))});
  }
}

LoginAnswer SessionManager::login(std::string_view username, std::string_view password,
                                  const std::string& remote_addr) {
  LoginAnswer answer;
  // Only well-formed names reach the store or the audit trail: whatever else
  // was typed (a password in the wrong field) is never recorded.
  bool well_formed = username.size() >= 3 && username.size() <= 64 &&
                     std::all_of(username.begin(), username.end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_';
                     });
  std::string account_key = "user:" + std::string(well_formed ? username : "?");
  std::string address_key = "addr:" + remote_addr;
  std::optional<UserRecord> record;
  if (well_formed) {
    auto found = users_.findUser(username);
    if (!found.isOk()) {
      answer.outcome = LoginOutcome::kUnavailable;
      return answer;
    }
    record = std::move(found.value());
  }
  // The audit trail names only accounts that exist.
  std::string agent = record ? account_key : "user-unknown";
  const std::int64_t now = nowMillis();
  auto address_wait = by_address_.wait(address_key, now);
  auto account_wait = well_formed ? by_account_.wait(account_key, now) : StatusOr<int>(0);
  if (!address_wait.isOk() || !account_wait.isOk()) {
    answer.outcome = LoginOutcome::kUnavailable;  // refused unchecked: the counters cannot be read
    return answer;
  }
  int wait = std::max(address_wait.value(), account_wait.value());
  if (wait > 0) {
    answer.outcome = LoginOutcome::kThrottled;
    answer.retry_after_s = wait;
    auditFailure(agent, remote_addr, 429, "too many failed logins; refused unchecked");
    return answer;
  }
  std::optional<Person> person = record ? personOf(*record) : std::nullopt;
  bool password_ok = record ? verifyPassword(password, record->password_hash) : (verifyPasswordDecoy(password), false);
  if (!record || !person || !password_ok || !record->disabled_at.empty()) {
    WriteBatch counted;
    by_address_.fail(address_key, now, counted);
    if (well_formed) by_account_.fail(account_key, now, counted);
    std::string why = !record ? "unknown user" : !password_ok ? "wrong password"
                                              : !person ? "account has no known role" : "account disabled";
    auditFailure(agent, remote_addr, 401, why, std::move(counted));
    answer.outcome = LoginOutcome::kRefused;
    return answer;
  }
  std::string session_id = base64UrlEncode(randomBytes(32));
  SessionWrite start;
  start.op = SessionOp::kStart;
  start.session.id_hash = idHash(session_id);
  start.session.username = person->username;
  start.session.created_at = instantFromMillis(now);
  start.session.idle_expires_at = instantFromMillis(now + std::int64_t{policy_.idle_s} * 1000);
  start.session.expires_at = instantFromMillis(now + std::int64_t{policy_.max_s} * 1000);
  WriteBatch batch;
  batch.purge_sessions_before = start.session.created_at;
  batch.sessions.push_back(std::move(start));
  LoginThrottle::clear(account_key, batch);  // the account's failures end with the login
  AuditInfo info = authInfo("login", person->agent(), remote_addr, 200, "session opened");
  for (const auto& org : person->organizations) info.entities.push_back("Organization/" + org);
  batch.audit.push_back(makeAuditEvent(info));
  auto committed = writer_.commit(std::move(batch));
  if (!committed.isOk()) {
    answer.outcome = LoginOutcome::kUnavailable;
    return answer;
  }
  answer.outcome = LoginOutcome::kOk;
  answer.session_id = std::move(session_id);
  return answer;
}

StatusOr<std::optional<ActiveSession>> SessionManager::resume(std::string_view session_id) {
  if (session_id.empty() || session_id.size() > 128) return std::optional<ActiveSession>();
  std::string id_hash = idHash(session_id);
  auto found = users_.findSession(id_hash);
  if (!found.isOk()) return found.status();
  if (!found.value()) return std::optional<ActiveSession>();
  const SessionRecord& s = *found.value();
  std::int64_t now = nowMillis();
  std::string now_text = instantFromMillis(now);
  auto endIt = [&]() -> StatusOr<std::optional<ActiveSession>> {
    WriteBatch batch;
    batch.sessions.push_back({SessionOp::kEnd, SessionRecord{id_hash, "", "", "", ""}});
    (void)writer_.commit(std::move(batch));
    return std::optional<ActiveSession>();
  };
  if (s.idle_expires_at <= now_text || s.expires_at <= now_text) return endIt();
  auto user = users_.findUser(s.username);
  if (!user.isOk()) return user.status();
  std::optional<Person> person = user.value() ? personOf(*user.value()) : std::nullopt;
  if (!person || !user.value()->disabled_at.empty()) return endIt();
  // The idle expiry is written again only once it has gone stale by a
  // fraction of the idle time: a page view is not a durable write each time.
  std::int64_t idle_ms = std::int64_t{policy_.idle_s} * 1000;
  std::int64_t stale_ms = std::min<std::int64_t>(std::int64_t{policy_.touch_every_s} * 1000, idle_ms / 4);
  auto stored_idle = millisFromInstant(s.idle_expires_at);
  if (!stored_idle || now + idle_ms - *stored_idle >= stale_ms) {
    WriteBatch batch;
    batch.sessions.push_back({SessionOp::kTouch, SessionRecord{id_hash, "", "", instantFromMillis(now + idle_ms), ""}});
    auto committed = writer_.commit(std::move(batch));
    if (!committed.isOk()) return committed.status();
  }
  ActiveSession active;
  active.person = std::move(*person);
  active.id_hash = id_hash;
  active.csrf_token = csrfToken(session_id);
  active.expires_at = s.expires_at;
  return std::optional<ActiveSession>(std::move(active));
}

Status SessionManager::logout(const ActiveSession& session, const std::string& remote_addr) {
  WriteBatch batch;
  batch.sessions.push_back({SessionOp::kEnd, SessionRecord{session.id_hash, "", "", "", ""}});
  batch.audit.push_back(makeAuditEvent(authInfo("logout", session.person.agent(), remote_addr, 200, "session ended")));
  auto committed = writer_.commit(std::move(batch));
  return committed.isOk() ? Status::ok() : committed.status();
}

}  // namespace ilpgw
