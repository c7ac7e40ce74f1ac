// The SMART discovery document (GET /.well-known/smart-configuration, also
// under the FHIR base as SMART App Launch 2 asks): what a backend client needs
// to know before its first token request. It lists only what the token
// endpoint really accepts, so it changes together with handleToken().
#pragma once

#include <string>
#include <string_view>

namespace ilpgw {

// The token endpoint's URL under `base_url` ("https://host:port", no
// trailing slash needed). Also the `aud` a client assertion must carry.
std::string tokenEndpointUrl(std::string_view base_url);

// The JSON document for a gateway reachable at `base_url`.
std::string smartConfigurationJson(std::string_view base_url);

}  // namespace ilpgw
