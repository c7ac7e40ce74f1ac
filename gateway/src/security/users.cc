#include "security/users.h"

#include <algorithm>
#include <cctype>

#include "base/time_util.h"
#include "security/audit.h"
#include "security/password.h"

namespace ilpgw {
namespace {

bool validName(std::string_view s, size_t min, size_t max) {
  if (s.size() < min || s.size() > max) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_';
  });
}

std::vector<std::string> splitList(std::string_view text) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at <= text.size() && !text.empty()) {
    size_t comma = text.find(',', at);
    if (comma == std::string_view::npos) comma = text.size();
    if (comma > at) out.emplace_back(text.substr(at, comma - at));
    at = comma + 1;
  }
  return out;
}

AuditWrite userEvent(const std::string& subtype, char action, const std::string& actor, const std::string& username,
                     int status, const std::string& description) {
  AuditInfo info;
  info.kind = AuditKind::kAdmin;
  info.subtype = subtype;
  info.action = action;
  info.http_status = status;
  info.agent = actor;
  info.entities = {"User/" + username};
  info.description = description;
  return makeAuditEvent(info);
}

StatusOr<UserRecord> existingUser(UserDirectory& users, const std::string& username) {
  auto found = users.findUser(username);
  if (!found.isOk()) return found.status();
  if (!found.value()) return Status(StatusCode::kNotFound, "no user " + username);
  return *found.value();
}

}  // namespace

std::optional<PersonRole> parsePersonRole(std::string_view text) {
  if (text == "district") return PersonRole::kDistrict;
  if (text == "puskesmas") return PersonRole::kPuskesmas;
  if (text == "admin") return PersonRole::kAdmin;
  return std::nullopt;
}

std::string_view personRoleName(PersonRole role) {
  switch (role) {
    case PersonRole::kDistrict: return "district";
    case PersonRole::kPuskesmas: return "puskesmas";
    case PersonRole::kAdmin: return "admin";
  }
  return "puskesmas";
}

bool Person::mayRead(std::string_view organization) const {
  if (everyOrganization()) return true;
  return std::find(organizations.begin(), organizations.end(), organization) != organizations.end();
}

RequestContext Person::readerFor(const std::string& organization, const std::string& remote_addr) const {
  RequestContext ctx;
  ctx.authenticated = true;
  ctx.client_id = agent();
  ctx.role = Role::kPerson;
  ctx.organization = organization;
  ctx.scopes = {std::string(kScopeRead)};
  ctx.remote_addr = remote_addr;
  return ctx;
}

std::optional<Person> personOf(const UserRecord& record) {
  auto role = parsePersonRole(record.role);
  if (!role) return std::nullopt;
  Person p;
  p.username = record.username;
  p.role = *role;
  p.organizations = splitList(record.organizations);
  if (p.role == PersonRole::kPuskesmas && p.organizations.size() != 1) return std::nullopt;
  return p;
}

StatusOr<UserRecord> addUser(UserDirectory& users, BatchWriter& writer, NewUser request, const std::string& actor) {
  auto role = parsePersonRole(request.role);
  if (!role) return Status(StatusCode::kInvalidArgument, "--role must be district, puskesmas or admin");
  if (!validName(request.username, 3, 64)) {
    return Status(StatusCode::kInvalidArgument, "user name must be 3..64 letters, digits, - . _");
  }
  for (const auto& org : request.organizations) {
    if (!validName(org, 1, 64)) {
      return Status(StatusCode::kInvalidArgument, "organization ids are letters, digits, - . _ (--org a,b)");
    }
  }
  if (*role == PersonRole::kPuskesmas && request.organizations.size() != 1) {
    return Status(StatusCode::kInvalidArgument, "a puskesmas user needs --org with exactly one organization");
  }
  if (*role == PersonRole::kAdmin && !request.organizations.empty()) {
    return Status(StatusCode::kInvalidArgument, "an admin user sees every organization: no --org");
  }
  if (Status ok = checkNewPassword(request.password); !ok.isOk()) return ok;
  auto existing = users.findUser(request.username);
  if (!existing.isOk()) return existing.status();
  if (existing.value()) return Status(StatusCode::kConflict, "user " + request.username + " already exists");
  auto hashed = hashPassword(request.password);
  if (!hashed.isOk()) return hashed.status();
  UserRecord r;
  r.username = request.username;
  r.role = std::string(personRoleName(*role));
  std::sort(request.organizations.begin(), request.organizations.end());
  request.organizations.erase(std::unique(request.organizations.begin(), request.organizations.end()),
                              request.organizations.end());
  for (const auto& org : request.organizations) r.organizations += (r.organizations.empty() ? "" : ",") + org;
  r.password_hash = hashed.value();
  r.created_at = nowInstant();
  WriteBatch batch;
  batch.users.push_back(r);
  batch.audit.push_back(userEvent("user-add", 'C', actor, r.username, 201,
                                  "role " + r.role + (r.organizations.empty() ? "" : ", organizations " + r.organizations)));
  auto committed = writer.commit(std::move(batch));
  if (!committed.isOk()) return committed.status();
  return r;
}

Status disableUser(UserDirectory& users, BatchWriter& writer, const std::string& username, const std::string& actor) {
  auto found = existingUser(users, username);
  if (!found.isOk()) return found.status();
  UserRecord r = found.value();
  if (!r.disabled_at.empty()) return Status::ok();
  r.disabled_at = nowInstant();
  WriteBatch batch;
  batch.users.push_back(r);
  batch.end_sessions_of.push_back(r.username);
  batch.audit.push_back(userEvent("user-disable", 'U', actor, r.username, 200, "disabled, sessions ended"));
  auto committed = writer.commit(std::move(batch));
  return committed.isOk() ? Status::ok() : committed.status();
}

Status setUserPassword(UserDirectory& users, BatchWriter& writer, const std::string& username,
                       const std::string& password, const std::string& actor) {
  if (Status ok = checkNewPassword(password); !ok.isOk()) return ok;
  auto found = existingUser(users, username);
  if (!found.isOk()) return found.status();
  UserRecord r = found.value();
  auto hashed = hashPassword(password);
  if (!hashed.isOk()) return hashed.status();
  r.password_hash = hashed.value();
  r.password_changed_at = nowInstant();
  WriteBatch batch;
  batch.users.push_back(r);
  batch.end_sessions_of.push_back(r.username);
  batch.audit.push_back(userEvent("user-passwd", 'U', actor, r.username, 200, "new password, sessions ended"));
  auto committed = writer.commit(std::move(batch));
  return committed.isOk() ? Status::ok() : committed.status();
}

}  // namespace ilpgw
