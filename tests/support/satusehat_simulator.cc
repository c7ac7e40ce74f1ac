#include "satusehat_simulator.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <thread>

namespace ilpgw::testing {

SatusehatSimulator::SatusehatSimulator(const std::string& seed_json) {
  seed_path_ = dir_.file("seed.json");
  writeFile(seed_path_, seed_json);
  start();
}

SatusehatSimulator::~SatusehatSimulator() { stop(); }

void SatusehatSimulator::start() {
  if (pid_ > 0) return;
  std::string port_file = dir_.file("port");
  std::filesystem::remove(port_file);
  const auto& certs = devCertDir();
  std::string cert = (certs / "server.crt").string(), key = (certs / "server.key").string();
  std::string port = std::to_string(port_);
  std::string log = dir_.file("simulator.log");
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    std::string binary = ILPGW_SIMULATOR_BINARY;
    FILE* err = freopen(log.c_str(), "a", stderr);
    (void)err;
    execl(binary.c_str(), binary.c_str(), "--cert", cert.c_str(), "--key", key.c_str(), "--seed", seed_path_.c_str(),
          "--port-file", port_file.c_str(), "--port", port.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!std::filesystem::exists(port_file)) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("satusehat-simulator exited during start-up: " + readFile(log));
    }
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("satusehat-simulator did not start");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  port_ = std::stoi(readFile(port_file));
}

void SatusehatSimulator::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

void SatusehatSimulator::post(const std::string& path, const std::string& body) const {
  httplib::Client client("https://127.0.0.1:" + std::to_string(port_));
  client.set_ca_cert_path((devCertDir() / "ca.crt").c_str());
  client.enable_server_certificate_verification(true);
  auto res = client.Post(path.c_str(), body, "application/json");
  if (!res || res->status != 200) throw std::runtime_error("simulator control " + path + " failed");
}

void SatusehatSimulator::failNext(int count, int status, const std::string& retry_after, const std::string& type) {
  post("/sim/fault", "{\"count\":\"" + std::to_string(count) + "\",\"status\":\"" + std::to_string(status) +
                         "\",\"retry_after\":\"" + retry_after + "\",\"type\":\"" + type + "\"}");
}

void SatusehatSimulator::slowNext(int count, int slow_ms) {
  post("/sim/fault", "{\"count\":\"" + std::to_string(count) + "\",\"slow_ms\":\"" + std::to_string(slow_ms) + "\"}");
}

void SatusehatSimulator::dropNext(int count) {
  post("/sim/fault", "{\"count\":\"" + std::to_string(count) + "\",\"drop\":\"true\"}");
}

void SatusehatSimulator::revokeTokens() { post("/sim/revoke-tokens", "{}"); }

void SatusehatSimulator::addPatient(const std::string& nik, const std::string& ihs) {
  post("/sim/patient", "{\"nik\":\"" + nik + "\",\"ihs\":\"" + ihs + "\"}");
}

rapidjson::Document SatusehatSimulator::state(bool with_resources) const {
  httplib::Client client("https://127.0.0.1:" + std::to_string(port_));
  client.set_ca_cert_path((devCertDir() / "ca.crt").c_str());
  client.enable_server_certificate_verification(true);
  client.set_read_timeout(10);
  auto res = client.Get(with_resources ? "/sim/state?resources=1" : "/sim/state");
  rapidjson::Document doc;
  if (!res || res->status != 200 || json::parse(res->body, doc)) throw std::runtime_error("simulator state failed");
  return doc;
}

}  // namespace ilpgw::testing
