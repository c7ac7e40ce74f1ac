#include "api_fixture.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace ilpgw::apitest {

const TestCert& testCert() {
  static ScratchDir* dir = new ScratchDir();  // lives for the process; removed by the OS temp cleaner otherwise
  static const TestCert cert = [] {
    TestCert c{(dir->path() / "server.crt").string(), (dir->path() / "server.key").string()};
    std::string command = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
                          "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout '" +
                          c.key + "' -out '" + c.cert + "' 2>/dev/null";
    if (std::system(command.c_str()) != 0) throw std::runtime_error("openssl could not make a test certificate");
    return c;
  }();
  return cert;
}

ApiServer::ApiServer() {
  Config config;
  config.listen_host = "127.0.0.1";
  config.listen_port = 0;
  config.threads = 16;
  config.tls_cert = testCert().cert;
  config.tls_key = testCert().key;
  config.data_dir = (dir_.path() / "data").string();
  config.mappings_dir = (dir_.path() / "mappings").string();
  config.organization_id = "test-puskesmas";
  // Not about security: auth.enabled=false (loopback only) stands in a
  // development caller that reads everything and writes for organization_id.
  config.auth_enabled = false;
  std::filesystem::create_directories(config.mappings_dir);
  auto gateway = Gateway::start(config);
  if (!gateway.isOk()) throw std::runtime_error("gateway: " + gateway.status().message());
  gateway_ = std::move(gateway.value());
  auto server = makeServer(*gateway_);
  if (!server.isOk()) throw std::runtime_error("server: " + server.status().message());
  server_ = std::move(server.value());
  auto port = server_->bind();
  if (!port.isOk()) throw std::runtime_error("bind: " + port.status().message());
  port_ = port.value();
  thread_ = std::thread([this] { server_->serve(); });
}

ApiServer::~ApiServer() {
  server_->stop();
  thread_.join();
  server_.reset();
  gateway_.reset();
}

std::unique_ptr<httplib::SSLClient> ApiServer::client() const {
  auto client = std::make_unique<httplib::SSLClient>("127.0.0.1", port_);
  client->set_ca_cert_path(testCert().cert.c_str());
  client->enable_server_certificate_verification(true);
  client->set_connection_timeout(5);
  client->set_read_timeout(30);
  return client;
}

std::string patientJson(const std::string& nik, const std::string& family, const std::string& given,
                        const std::string& gender, const std::string& birth_date) {
  return R"({"resourceType":"Patient","identifier":[{"system":"https://fhir.kemkes.go.id/id/nik","value":")" + nik +
         R"("}],"name":[{"use":"official","family":")" + family + R"(","given":[")" + given + R"("]}],"gender":")" +
         gender + R"(","birthDate":")" + birth_date + R"("})";
}

std::string encounterJson(const std::string& patient_id, const std::string& status, const std::string& start) {
  return R"({"resourceType":"Encounter","status":")" + status +
         R"(","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},"subject":{"reference":"Patient/)" +
         patient_id + R"("},"period":{"start":")" + start +
         R"("},"serviceProvider":{"reference":"Organization/test-puskesmas"}})";
}

std::string observationJson(const std::string& patient_id, const std::string& encounter_id, const std::string& loinc,
                            const std::string& effective) {
  return R"({"resourceType":"Observation","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":")" +
         loinc + R"("}]},"subject":{"reference":"Patient/)" + patient_id + R"("},"encounter":{"reference":"Encounter/)" +
         encounter_id + R"("},"effectiveDateTime":")" + effective +
         R"(","valueQuantity":{"value":120,"unit":"mm[Hg]","system":"http://unitsofmeasure.org","code":"mm[Hg]"}})";
}

std::string conditionJson(const std::string& patient_id, const std::string& encounter_id, const std::string& icd10) {
  return R"({"resourceType":"Condition","code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10","code":")" + icd10 +
         R"("}]},"subject":{"reference":"Patient/)" + patient_id + R"("},"encounter":{"reference":"Encounter/)" +
         encounter_id + R"("}})";
}

std::string immunizationJson(const std::string& patient_id, const std::string& vaccine, const std::string& date) {
  return R"({"resourceType":"Immunization","status":"completed","vaccineCode":{"coding":[{"system":"http://sys-ids.kemkes.go.id/kfa","code":")" +
         vaccine + R"("}]},"patient":{"reference":"Patient/)" + patient_id + R"("},"occurrenceDateTime":")" + date +
         R"("})";
}

std::string medicationRequestJson(const std::string& patient_id, const std::string& encounter_id,
                                  const std::string& status) {
  return R"({"resourceType":"MedicationRequest","status":")" + status +
         R"(","intent":"order","medicationCodeableConcept":{"coding":[{"system":"http://sys-ids.kemkes.go.id/kfa","code":"93001019"}]},"subject":{"reference":"Patient/)" +
         patient_id + R"("},"encounter":{"reference":"Encounter/)" + encounter_id + R"("}})";
}

rapidjson::Document parseJson(const std::string& text) {
  rapidjson::Document doc;
  auto error = json::parse(text, doc);
  EXPECT_FALSE(error.has_value()) << *error << " in " << text.substr(0, 300);
  return doc;
}

}  // namespace ilpgw::apitest
