#include "forward/satusehat_profile.h"

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "base/json.h"

namespace ilpgw {
namespace {

Status problem(const std::string& what, const std::string& text) {
  return Status(StatusCode::kInvalidArgument, what + ": " + text);
}

StatusOr<std::string> readSecretFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(StatusCode::kInvalidArgument, "not readable: " + path);
  std::stringstream text;
  text << in.rdbuf();
  std::string secret = text.str();
  while (!secret.empty() && std::isspace(static_cast<unsigned char>(secret.back()))) secret.pop_back();
  if (secret.empty()) return Status(StatusCode::kInvalidArgument, "empty: " + path);
  return secret;
}

}  // namespace

const SatusehatOrganization* SatusehatProfile::find(std::string_view organization) const {
  for (const auto& o : organizations) {
    if (o.organization == organization) return &o;
  }
  return nullptr;
}

StatusOr<SatusehatProfile> parseSatusehatProfile(std::string_view text, const std::string& what) {
  rapidjson::Document doc;
  if (auto error = json::parse(text, doc)) return problem(what, *error);
  if (!doc.IsObject()) return problem(what, "top level must be a JSON object");
  for (const auto& m : doc.GetObject()) {
    if (std::string_view(m.name.GetString()) != "organizations") {
      return problem(what, std::string("unknown key ") + m.name.GetString());
    }
  }
  const auto* list = json::member(doc, "organizations");
  if (list == nullptr || !list->IsArray() || list->Empty()) return problem(what, "organizations: a non-empty array is required");
  static const std::set<std::string> kKeys = {"organization", "platform_organization_id", "client_id",
                                              "client_secret_file", "client_secret_env", "locations"};
  SatusehatProfile profile;
  std::set<std::string> seen, clients;
  for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
    const auto& o = (*list)[i];
    std::string where = what + ": organizations[" + std::to_string(i) + "]";
    if (!o.IsObject()) return Status(StatusCode::kInvalidArgument, where + ": expected an object");
    for (const auto& m : o.GetObject()) {
      if (kKeys.count(m.name.GetString()) == 0) {
        return Status(StatusCode::kInvalidArgument, where + ": unknown key " + m.name.GetString());
      }
      if (std::string_view(m.name.GetString()) != "locations" && !m.value.IsString()) {
        return Status(StatusCode::kInvalidArgument, where + "." + m.name.GetString() + ": expected a string");
      }
    }
    SatusehatOrganization org;
    org.organization = json::string(o, "organization");
    org.platform_organization_id = json::string(o, "platform_organization_id");
    org.client_id = json::string(o, "client_id");
    for (const char* key : {"organization", "platform_organization_id", "client_id"}) {
      if (json::string(o, key).empty()) return Status(StatusCode::kInvalidArgument, where + "." + key + ": required");
    }
    where = what + ": organization " + org.organization;
    std::string file(json::string(o, "client_secret_file")), env(json::string(o, "client_secret_env"));
    if (file.empty() == env.empty()) {
      return Status(StatusCode::kInvalidArgument, where + ": set exactly one of client_secret_file and client_secret_env");
    }
    if (!file.empty()) {
      auto secret = readSecretFile(file);
      if (!secret.isOk()) return Status(StatusCode::kInvalidArgument, where + ".client_secret_file: " + secret.status().message());
      org.client_secret = secret.value();
    } else {
      const char* value = std::getenv(env.c_str());
      if (value == nullptr || *value == '\0') {
        return Status(StatusCode::kInvalidArgument, where + ".client_secret_env: environment variable " + env + " is not set");
      }
      org.client_secret = value;
    }
    if (const auto* locations = json::member(o, "locations")) {
      if (!locations->IsObject()) return Status(StatusCode::kInvalidArgument, where + ".locations: expected an object");
      for (const auto& l : locations->GetObject()) {
        if (!l.value.IsString() || l.value.GetStringLength() == 0) {
          return Status(StatusCode::kInvalidArgument,
                        where + ".locations." + l.name.GetString() + ": expected a platform Location id");
        }
        org.locations[l.name.GetString()] = l.value.GetString();
      }
    }
    if (!seen.insert(org.organization).second) return Status(StatusCode::kInvalidArgument, where + ": listed twice");
    if (!clients.insert(org.client_id).second) {
      return Status(StatusCode::kInvalidArgument,
                    where + ": client_id is used by another puskesmas (one client belongs to one organization)");
    }
    profile.organizations.push_back(std::move(org));
  }
  return profile;
}

StatusOr<SatusehatProfile> loadSatusehatProfile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(StatusCode::kInvalidArgument, "upstream.organizations_file not readable: " + path);
  std::stringstream text;
  text << in.rdbuf();
  return parseSatusehatProfile(text.str(), path);
}

}  // namespace ilpgw
