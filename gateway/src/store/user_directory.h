// The people who log in to the gateway's pages (district office, puskesmas
// staff, operators) and their open sessions. Records are written through
// commit() (WriteBatch::users and WriteBatch::sessions, with their audit
// events in the same transaction); this role looks them up. Sessions live in
// the store, not in one process, so several instances on one PostgreSQL
// database share them, and so do the failed-login counters that throttle
// logins.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/types.h"

namespace ilpgw {

class UserDirectory {
 public:
  virtual ~UserDirectory() = default;

  virtual StatusOr<std::optional<UserRecord>> findUser(std::string_view username) = 0;
  // Every user, disabled ones included, by user name.
  virtual StatusOr<std::vector<UserRecord>> listUsers() = 0;
  // The session whose id hashes to `id_hash` (security/sessions.h), expired
  // or not: the caller decides.
  virtual StatusOr<std::optional<SessionRecord>> findSession(std::string_view id_hash) = 0;
  // The failed logins of a throttling key (WriteBatch::login_failures) at or
  // after `since_ms`, written by any instance.
  virtual StatusOr<LoginFailures> loginFailures(std::string_view key_hash, std::int64_t since_ms) = 0;
};

}  // namespace ilpgw
