// What a client is to the gateway. The store and tokens keep the text form
// ("clinic", "puller", "admin"); everything else compares the enum, parsed
// and printed only here.
#pragma once

#include <optional>
#include <string_view>

namespace ilpgw {

enum class Role {
  kClinic,       // a clinic system: posts and reads its own organization's records
  kPuller,       // the national puller, district office: reads every organization
  kAdmin,        // operators: /admin/*, the audit trail
  kPerson,       // a person logged in to the pages, reading one organization (security/users.h); never registered
  kDevelopment,  // auth disabled (loopback only) or in-process tools; never registered
};

// Only the roles a client can be registered with; nullopt for anything else.
inline std::optional<Role> parseRole(std::string_view text) {
  if (text == "clinic") return Role::kClinic;
  if (text == "puller") return Role::kPuller;
  if (text == "admin") return Role::kAdmin;
  return std::nullopt;
}

inline std::string_view roleName(Role role) {
  switch (role) {
    case Role::kClinic: return "clinic";
    case Role::kPuller: return "puller";
    case Role::kAdmin: return "admin";
    case Role::kPerson: return "person";
    case Role::kDevelopment: return "dev";
  }
  return "dev";
}

}  // namespace ilpgw
