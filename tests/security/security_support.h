// Helpers shared by the security tests: JSON parsing, example data, forging
// JWTs with a chosen key, and extra client certificates.
#pragma once

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <string>

#include "base/json.h"
#include "test_support.h"

namespace ilpgw::testing {

inline rapidjson::Document parsedJson(const std::string& body) {
  rapidjson::Document doc;
  auto error = json::parse(body, doc);
  EXPECT_FALSE(error.has_value()) << body;
  return doc;
}

inline std::string exampleVisit() { return readFile(sourceDir() + "/docs/examples/epuskesmas-visit.json"); }

// Locations (Type/id/_history/v) of a batch-response Bundle.
std::vector<std::string> bundleLocations(const std::string& body);

// A JWT over `header` and `payload` JSON, ES256-signed with `key` (any EC P-256 key).
std::string signJwt(const std::string& header, const std::string& payload, EVP_PKEY* key);
// The gateway's current signing key (read from its key directory) and its kid.
EVP_PKEY* loadSigningKey(const std::string& data_dir, std::string& kid);
// A fresh P-256 key the gateway does not know.
EVP_PKEY* newKey();
std::string decodePart(const std::string& token, int part);  // 0 header, 1 payload

// A client certificate (and key) signed by the dev CA, or by a separate CA
// when `own_ca`. Returns the directory holding <name>.crt and <name>.key.
std::string makeClientCert(const std::string& name, bool own_ca);

}  // namespace ilpgw::testing
