#include "security/smart_configuration.h"

#include "base/json.h"
#include "security/clients.h"

namespace ilpgw {

std::string tokenEndpointUrl(std::string_view base_url) {
  while (!base_url.empty() && base_url.back() == '/') base_url.remove_suffix(1);
  return std::string(base_url) + "/oauth2/token";
}

std::string smartConfigurationJson(std::string_view base_url) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  auto strings = [&](std::initializer_list<std::string_view> items) {
    rapidjson::Value list(rapidjson::kArrayType);
    for (auto item : items) list.PushBack(json::str(item, a), a);
    return list;
  };
  doc.AddMember("token_endpoint", json::str(tokenEndpointUrl(base_url), a), a);
  doc.AddMember("grant_types_supported", strings({"client_credentials"}), a);
  doc.AddMember("token_endpoint_auth_methods_supported",
                strings({"private_key_jwt", "client_secret_basic", "client_secret_post"}), a);
  doc.AddMember("token_endpoint_auth_signing_alg_values_supported", strings({"RS384", "ES384"}), a);
  // Every scope some role may be granted; a client gets those of its role.
  rapidjson::Value scopes(rapidjson::kArrayType);
  for (const char* role : {"clinic", "puller", "admin"}) {
    for (const auto& scope : roleScopes(role)) {
      bool listed = false;
      for (const auto& s : scopes.GetArray()) listed = listed || scope == s.GetString();
      if (!listed) scopes.PushBack(json::str(scope, a), a);
    }
  }
  doc.AddMember("scopes_supported", scopes, a);
  doc.AddMember("capabilities",
                strings({"client-confidential-asymmetric", "client-confidential-symmetric", "permission-v1"}), a);
  return json::write(doc);
}

}  // namespace ilpgw
