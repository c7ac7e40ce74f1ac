// The SATUSEHAT simulator (tests/simulators/satusehat_simulator.cc) as a
// child process on 127.0.0.1 over TLS with the development certificates:
// started with a seed (organizations and their clients, the master patient
// and practitioner index, registered Location ids), driven through its
// /sim/ control routes (faults, new patients, revoked tokens) and read back
// through GET /sim/state. Killed on destruction.
#pragma once

#include <sys/types.h>

#include <string>

#include "base/json.h"
#include "test_support.h"

namespace ilpgw::testing {

class SatusehatSimulator {
 public:
  // `seed_json`: {"organizations":[{"id","client_id","client_secret","locations":[...]}],
  //  "patients":[{"nik","ihs"[,"nik_ibu","birthDate"]}], "practitioners":[{"nik","ihs"}]}
  explicit SatusehatSimulator(const std::string& seed_json);
  ~SatusehatSimulator();
  SatusehatSimulator(const SatusehatSimulator&) = delete;
  SatusehatSimulator& operator=(const SatusehatSimulator&) = delete;

  int port() const { return port_; }
  std::string fhirBase() const { return "https://127.0.0.1:" + std::to_string(port_) + "/fhir-r4/v1"; }
  std::string authBase() const { return "https://127.0.0.1:" + std::to_string(port_) + "/oauth2/v1"; }

  // The next `count` FHIR writes (of `type` only, when given; "Bundle" for
  // transaction Bundles, which count as one write each): answer
  // `status` (with Retry-After when given); or are stored and answered
  // after `slow_ms`; or are stored and the connection drops inside the
  // answer.
  void failNext(int count, int status, const std::string& retry_after = "", const std::string& type = "");
  void slowNext(int count, int slow_ms);
  void dropNext(int count);
  void revokeTokens();
  // Adds a patient to the master patient index, or gives a known NIK a new
  // IHS id (the old one is then unknown to the platform).
  void addPatient(const std::string& nik, const std::string& ihs);
  // GET /sim/state (see the simulator's header comment); with every stored
  // resource under "resources" when asked.
  rapidjson::Document state(bool with_resources = false) const;

  void stop();   // kill -9; the port stays known
  void start();  // again on the same port, with an empty platform

 private:
  void post(const std::string& path, const std::string& body) const;

  TempDir dir_;
  std::string seed_path_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace ilpgw::testing
