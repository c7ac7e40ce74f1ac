// ilp-gateway map | adapter: adapters without a running server.
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "ingest/adapter_tools.h"
#include "security/audit.h"
#include "security/clients.h"
#include "base/config.h"
#include "security/token_service.h"
#include "ingest/gateway.h"
#include "ingest/quarantine.h"
#include "base/log.h"
#include "fhir/outcome.h"
#include "http/server.h"
#include "cli/args.h"
#include "cli/commands.h"

namespace ilpgw::cli {

int mapCommand(const Args& args) {
  if (args.adapter.empty() || args.files.size() != 1) return fail("map needs --adapter NAME and one FILE");
  auto config = buildConfig(args);
  if (!config.isOk()) return fail(config.status().message());
  auto set = ilpgw::loadAdapterSet(config.value());
  if (!set.isOk()) return fail(set.status().message());
  auto it = set.value()->adapters.find(args.adapter);
  if (it == set.value()->adapters.end()) return fail("no adapter named " + args.adapter + " in the configuration");
  std::ifstream in(args.files[0], std::ios::binary);
  if (!in) return fail("cannot read " + args.files[0]);
  std::stringstream text;
  text << in.rdbuf();
  ilpgw::MappedPayload mapped = ilpgw::mapPayload(it->second, *set.value(), config.value(), text.str(), "");
  std::vector<ilpgw::sdk::Issue> problems = mapped.payload_issues;
  bool failed = ilpgw::isBlocking(mapped.payload_issues);
  for (const auto& record : mapped.records) {
    problems.insert(problems.end(), record.issues.begin(), record.issues.end());
    if (!record.accepted) failed = true;
  }
  if (failed) {
    std::cout << ilpgw::outcomeJson(problems) << "\n";
    return 1;
  }
  std::cout << ilpgw::collectionBundle(mapped) << "\n";
  if (!problems.empty()) std::cerr << ilpgw::outcomeJson(problems) << "\n";
  return 0;
}

int adapterCommand(const Args& args) {
  if (args.files.empty()) return fail("adapter needs a sub-command: check FILE.so | new NAME [DIR]");
  const std::string& sub = args.files[0];
  if (sub == "check") {
    if (args.files.size() != 2) return fail("adapter check needs one FILE.so");
    auto config = buildConfig(args);
    if (!config.isOk()) return fail(config.status().message());
    // Golden files must not depend on which gateway.json happens to be in the
    // working directory: samples map as the default facility unless
    // --organization says otherwise.
    bool organization_given = false;
    for (const auto& [flag, value] : args.overrides) organization_given |= flag == "--organization";
    if (!organization_given) config.value().organization_id = ilpgw::Config{}.organization_id;
    config.value().timezone_offset = ilpgw::Config{}.timezone_offset;
    ilpgw::AdapterCheckOptions options;
    options.library = args.files[1];
    options.samples_dir = args.samples_dir;
    options.options_json = args.options_json;
    options.timeout_s = args.timeout_s;
    options.update_golden = args.update_golden;
    return ilpgw::checkAdapter(options, config.value(), stdout);
  }
  if (sub == "new") {
    if (args.files.size() < 2 || args.files.size() > 3) return fail("adapter new needs NAME and optionally DIR");
    std::string dir = args.files.size() == 3 ? args.files[2] : args.files[1];
    std::string template_dir = args.template_dir.empty() ? ilpgw::defaultTemplateDir() : args.template_dir;
    ilpgw::Status made = ilpgw::newAdapterFromTemplate(args.files[1], dir, template_dir);
    if (!made.isOk()) return fail(made.message());
    std::printf("created adapter %s in %s; next: see %s/README.md\n", args.files[1].c_str(), dir.c_str(), dir.c_str());
    return 0;
  }
  return fail("unknown adapter sub-command " + sub + " (check, new)");
}

}  // namespace ilpgw::cli
