// People who log in to the gateway's pages, as opposed to machine clients
// (clients.h): their roles and which organizations each may see, and the
// account operations of `ilp-gateway user add|list|disable|passwd`, each
// audited in the same transaction as the change.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "security/request_context.h"
#include "store/user_directory.h"

namespace ilpgw {

enum class PersonRole {
  kDistrict,   // district health office (Dinas Kesehatan): every organization, or the listed ones
  kPuskesmas,  // puskesmas staff: their one organization
  kAdmin,      // operators: every organization
};

std::optional<PersonRole> parsePersonRole(std::string_view text);
std::string_view personRoleName(PersonRole role);

// A user as the pages see them once logged in.
struct Person {
  std::string username;
  PersonRole role = PersonRole::kPuskesmas;
  std::vector<std::string> organizations;  // empty with every_organization

  bool everyOrganization() const { return role != PersonRole::kPuskesmas && organizations.empty(); }
  bool mayRead(std::string_view organization) const;
  // The caller for reading one organization's data on this person's behalf
  // (report/pws_service.h): reads only `organization`, writes nothing.
  RequestContext readerFor(const std::string& organization, const std::string& remote_addr) const;
  // The audit trail's agent: "user:<username>".
  std::string agent() const { return "user:" + username; }
};

// nullopt for a record with an unknown role (written by a newer gateway).
std::optional<Person> personOf(const UserRecord& record);

struct NewUser {
  std::string username;  // 3..64 letters, digits, - . _ (not an e-mail, not a NIK)
  std::string role;
  std::vector<std::string> organizations;  // puskesmas: exactly one; district: none = all; admin: none
  std::string password;
};

StatusOr<UserRecord> addUser(UserDirectory& users, BatchWriter& writer, NewUser request, const std::string& actor);
// Disabling ends every open session of the user at once.
Status disableUser(UserDirectory& users, BatchWriter& writer, const std::string& username, const std::string& actor);
// A new password also ends every open session of the user.
Status setUserPassword(UserDirectory& users, BatchWriter& writer, const std::string& username,
                       const std::string& password, const std::string& actor);

}  // namespace ilpgw
