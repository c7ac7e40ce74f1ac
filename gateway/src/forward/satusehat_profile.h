// The puskesmas a district gateway forwards for, as the national platform
// SATUSEHAT knows them: read from upstream.organizations_file at start-up.
// Each is its own organization on the platform with its own OAuth2 client
// (one client id belongs to one organization) and its own registered
// Location ids. Secrets come from a file or an environment variable and are
// never logged. docs/satusehat.md describes the file.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace ilpgw {

struct SatusehatOrganization {
  std::string organization;              // our organization id (the clinics' tenant)
  std::string platform_organization_id;  // the platform's Organization id
  std::string client_id;
  std::string client_secret;              // loaded from the file or the environment
  // poli code (Encounter.serviceType, system .../CodeSystem/poli) or the id
  // of one of our Locations (a posyandu) -> platform Location id; "*" is the
  // puskesmas' default Location.
  std::map<std::string, std::string> locations;
};

struct SatusehatProfile {
  std::vector<SatusehatOrganization> organizations;
  const SatusehatOrganization* find(std::string_view organization) const;
};

// Parses the file's text; `what` names it in messages. Unknown keys,
// missing fields, unreadable secret files and unset environment variables
// are errors naming the puskesmas and the key.
StatusOr<SatusehatProfile> parseSatusehatProfile(std::string_view text, const std::string& what);
StatusOr<SatusehatProfile> loadSatusehatProfile(const std::string& path);

}  // namespace ilpgw
