// Fixtures for the FHIR API tests: a temporary directory, a self-signed
// certificate for 127.0.0.1, an in-process gateway (real SQLite store, real
// HTTPS server on an ephemeral loopback port) and resource builders that pass
// the validator.
#pragma once

#include <httplib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "ingest/gateway.h"
#include "base/json.h"
#include "http/server.h"
#include "test_support.h"

namespace ilpgw::apitest {

// The one temporary-directory helper of the test suite (test_support.h).
using ScratchDir = testing::TempDir;

// Certificate and key for CN/SAN 127.0.0.1, made once per test process.
struct TestCert {
  std::string cert;
  std::string key;
};
const TestCert& testCert();

class ApiServer {
 public:
  ApiServer();
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  int port() const { return port_; }
  std::string baseUrl() const { return "https://127.0.0.1:" + std::to_string(port_) + "/fhir"; }
  Gateway& gateway() { return *gateway_; }
  // A TLS client that verifies the server against the test certificate.
  std::unique_ptr<httplib::SSLClient> client() const;

 private:
  ScratchDir dir_;
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  int port_ = 0;
};

// Resource JSON builders (valid FHIR R4 for the gateway's validator).
std::string patientJson(const std::string& nik, const std::string& family, const std::string& given,
                        const std::string& gender, const std::string& birth_date);
std::string encounterJson(const std::string& patient_id, const std::string& status, const std::string& start);
std::string observationJson(const std::string& patient_id, const std::string& encounter_id, const std::string& loinc,
                            const std::string& effective);
std::string conditionJson(const std::string& patient_id, const std::string& encounter_id, const std::string& icd10);
std::string immunizationJson(const std::string& patient_id, const std::string& vaccine, const std::string& date);
std::string medicationRequestJson(const std::string& patient_id, const std::string& encounter_id,
                                  const std::string& status);

// Parses JSON or fails the current test.
rapidjson::Document parseJson(const std::string& text);

}  // namespace ilpgw::apitest
