// The pieces every command shares: parsed arguments, the config they
// build, how a command fails, who runs it.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "base/config.h"
#include "base/host_facts.h"
#include "base/status.h"

namespace ilpgw::cli {

extern const char* const kUsage;

struct Args {
  std::string command;
  std::string config_path;
  std::vector<std::pair<std::string, std::string>> overrides;
  std::string adapter;
  std::vector<std::string> files;
  // quarantine and outbox commands
  std::string status;
  std::string state;
  long long after = 0;
  int limit = 100;
  bool all = false;
  // adapter check / new
  std::string samples_dir;
  std::string options_json = "{}";
  int timeout_s = 60;
  bool update_golden = false;
  std::string template_dir;
  // client add
  std::string role;
  std::string org;
  std::string client_id;
  std::string cert;
  bool local_only = false;
  std::string jwks_file;  // private_key_jwt: the client's public JWKS ...
  std::string jwks_url;   // ... or the https:// URL that serves it
  // user add / passwd: where the password comes from ("-" = stdin); empty: asked on the terminal
  std::string password_file;
  // store copy
  std::string from;  // sqlite:DIR
  std::string to;    // postgresql:URL
  // restore
  bool force = false;  // replace the store of a non-empty data directory
  // doctor
  std::string lang = "both";    // id, en or both (Bahasa Indonesia first)
  long long min_free_mb = kMinFreeDiskMb;  // less free disk than this is a problem
};

// Parses argv; on a usage error prints it and returns the exit code.
StatusOr<Args> parseArgs(int argc, char** argv, int& exit_code);

// Prints "ilp-gateway: message" to stderr and returns exit code 2.
int fail(const std::string& message);
StatusOr<Config> buildConfig(const Args& args);
bool parseId(const std::string& text, long long& out);
// Who ran an administrative command, for the audit trail.
std::string cliActor();

}  // namespace ilpgw::cli
