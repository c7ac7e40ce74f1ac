#include "test_support.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace ilpgw::testing {
namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "ilpgw-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void writeFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string pluginDir() { return ILPGW_PLUGIN_DIR; }
std::string mappingsDir() { return ILPGW_MAPPINGS_DIR; }
std::string sourceDir() { return ILPGW_SOURCE_DIR; }
std::string gatewayBinary() { return ILPGW_BINARY; }

const fs::path& devCertDir() {
  static TempDir* dir = new TempDir();  // lives for the whole process
  static std::once_flag once;
  std::call_once(once, [] {
    std::string command = "bash '" + sourceDir() + "/certs/make-dev-certs.sh' '" + dir->path().string() +
                          "' >/dev/null";
    if (std::system(command.c_str()) != 0) throw std::runtime_error("make-dev-certs.sh failed");
  });
  return dir->path();
}

namespace {

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

}  // namespace

GatewayProcess::GatewayProcess(GatewayOptions options) : plain_http_(options.plain_http) {
  data_dir_ = options.data_dir.empty() ? dir_.file("data") : options.data_dir;
  config_path_ = dir_.file("gateway.json");
  log_path_ = dir_.file("gateway.log");
  output_path_ = dir_.file("gateway.out");
  const fs::path& certs = devCertDir();

  std::string plugins;
  for (const auto& name : options.plugins) {
    if (!plugins.empty()) plugins += ",";
    plugins += "{\"name\":" + quote(name) + ",\"library\":" + quote(name + ".so") + "}";
  }
  for (const auto& entry : options.plugin_entries) {
    if (!plugins.empty()) plugins += ",";
    plugins += entry;
  }
  std::string config =
      "{\n  \"server\": {\"listen\": \"127.0.0.1:" + std::to_string(options.port) + "\", \"threads\": 16";
  if (options.plain_http) config += ", \"plain_http\": true";
  if (!options.server_config.empty()) config += ", " + options.server_config;
  config += "},\n  \"tls\": {\"cert\": " + quote((certs / "server.crt").string()) +
            ", \"key\": " + quote((certs / "server.key").string());
  if (!options.tls_config.empty()) config += ", " + options.tls_config;
  config += "},\n";
  config += std::string("  \"auth\": {\"enabled\": ") + (options.auth ? "true" : "false");
  if (!options.auth_config.empty()) config += ", " + options.auth_config;
  config += "},\n";
  config += "  \"store\": {\"data_dir\": " + quote(data_dir_);
  if (!options.store_config.empty()) config += ", " + options.store_config;
  config += "},\n";
  config += "  \"facility\": {\"organization_id\": " + quote(options.organization_id) + "},\n";
  config += "  \"mappings_dir\": " + quote(options.mappings_dir.empty() ? mappingsDir() : options.mappings_dir) + ",\n";
  config += "  \"plugin_dir\": " + quote(pluginDir()) + ",\n";
  if (!options.extra_config.empty()) config += "  " + options.extra_config + ",\n";
  config += "  \"plugins\": [" + plugins + "]\n}\n";
  writeFile(config_path_, config);

  // stdout goes to a file (JSON logs are written there) that start-up reads.
  int out_fd = open(output_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (out_fd < 0) throw std::runtime_error("cannot create " + output_path_);
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    dup2(out_fd, STDOUT_FILENO);
    int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (log_fd >= 0) dup2(log_fd, STDERR_FILENO);
    std::string binary = gatewayBinary();
    execl(binary.c_str(), binary.c_str(), "serve", "--config", config_path_.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out_fd);
  // Wait for "ilp-gateway listening port=N" (or the process dying).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string seen = readFile(output_path_);
    auto at = seen.find("listening port=");
    if (at != std::string::npos && seen.find('\n', at) != std::string::npos) {
      port_ = std::stoi(seen.substr(at + 15));
      break;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("gateway exited during start-up: " + readFile(log_path_) + readFile(output_path_));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (port_ == 0) {
    kill9();
    throw std::runtime_error("gateway did not start within 30 s: " + readFile(log_path_));
  }
}

GatewayProcess::~GatewayProcess() {
  if (pid_ > 0) terminate();
}

std::string GatewayProcess::log() const { return readFile(log_path_); }
std::string GatewayProcess::output() const { return readFile(output_path_); }

std::unique_ptr<httplib::Client> GatewayProcess::client(const std::string& bearer, const std::string& cert,
                                                        const std::string& key) const {
  std::string base = std::string(plain_http_ ? "http" : "https") + "://127.0.0.1:" + std::to_string(port_);
  auto client = cert.empty() ? std::make_unique<httplib::Client>(base)
                             : std::make_unique<httplib::Client>(base, cert, key);
  if (!bearer.empty()) client->set_bearer_token_auth(bearer.c_str());
  if (!plain_http_) {
    client->set_ca_cert_path((devCertDir() / "ca.crt").string());
    client->enable_server_certificate_verification(true);
  }
  client->set_connection_timeout(5);
  client->set_read_timeout(30);
  client->set_write_timeout(30);
  return client;
}

ClientCredentials GatewayProcess::addClient(const std::string& role, const std::string& organization,
                                            const std::vector<std::string>& extra) const {
  std::vector<std::string> args = {"client", "add", "--config", config_path_, "--role", role};
  if (!organization.empty()) {
    args.push_back("--org");
    args.push_back(organization);
  }
  args.insert(args.end(), extra.begin(), extra.end());
  std::string out;
  std::string err;
  if (runGateway(args, out, &err) != 0) throw std::runtime_error("client add failed: " + err);
  ClientCredentials credentials;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("client_id=", 0) == 0) credentials.id = line.substr(10);
    if (line.rfind("client_secret=", 0) == 0) credentials.secret = line.substr(14);
  }
  if (credentials.id.empty() || credentials.secret.empty()) throw std::runtime_error("client add printed: " + out);
  return credentials;
}

std::string GatewayProcess::fetchToken(const ClientCredentials& credentials, const std::string& scope) const {
  httplib::Params form = {{"grant_type", "client_credentials"},
                          {"client_id", credentials.id},
                          {"client_secret", credentials.secret}};
  if (!scope.empty()) form.emplace("scope", scope);
  auto res = client()->Post("/oauth2/token", form);
  if (!res || res->status != 200) {
    throw std::runtime_error("token request failed: " + (res ? std::to_string(res->status) + " " + res->body
                                                             : httplib::to_string(res.error())));
  }
  auto at = res->body.find("\"access_token\":\"");
  if (at == std::string::npos) throw std::runtime_error("no access_token in " + res->body);
  at += 16;
  return res->body.substr(at, res->body.find('"', at) - at);
}

std::string GatewayProcess::token(const std::string& role, const std::string& organization) const {
  return fetchToken(addClient(role, organization));
}

int GatewayProcess::terminate() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 300; ++i) {  // up to 30 s
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill9();
  return -SIGKILL;
}

void GatewayProcess::kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string runShell(const std::string& command, int& exit_code) {
  exit_code = -1;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "";
  std::string out;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
  int status = pclose(pipe);
  if (status != -1 && WIFEXITED(status)) exit_code = WEXITSTATUS(status);
  return out;
}

int runGateway(const std::vector<std::string>& args, std::string& stdout_text, std::string* stderr_text,
               const std::string& working_dir) {
  TempDir scratch;
  std::string out_path = scratch.file("out");
  std::string err_path = scratch.file("err");
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    if (!working_dir.empty() && chdir(working_dir.c_str()) != 0) _exit(126);
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    std::vector<char*> argv;
    std::string binary = gatewayBinary();
    argv.push_back(binary.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  stdout_text = readFile(out_path);
  if (stderr_text != nullptr) *stderr_text = readFile(err_path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool putOrganizations(const GatewayProcess& gateway, int first, int count) {
  auto client = gateway.client();
  for (int start = first; start < first + count; start += 200) {
    std::string bundle = R"({"resourceType":"Bundle","type":"transaction","entry":[)";
    for (int i = start; i < std::min(first + count, start + 200); ++i) {
      std::string id = "org-" + std::to_string(i);
      if (i > start) bundle += ",";
      bundle += R"({"resource":{"resourceType":"Organization","id":")" + id + R"(","name":"Puskesmas )" +
                std::to_string(i) + R"("},"request":{"method":"PUT","url":"Organization/)" + id + "\"}}";
    }
    bundle += "]}";
    auto res = client->Post("/fhir", bundle, "application/fhir+json");
    if (!res || res->status != 200) {
      ADD_FAILURE() << "transaction of Organizations: " << (res ? res->body : httplib::to_string(res.error()));
      return false;
    }
  }
  return true;
}

}  // namespace ilpgw::testing
