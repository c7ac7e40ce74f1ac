// The adapter author's tools behind `ilp-gateway adapter ...`:
//   check  loads an adapter in a child process and exercises it over its
//          sample payloads, so a crash, an abort or a hang in the adapter is
//          a report line, never the end of the tool;
//   new    copies the adapter template with the new adapter's name.
#pragma once

#include <string>

#include "base/config.h"

namespace ilpgw {

struct AdapterCheckOptions {
  std::string library;        // the .so under test
  std::string samples_dir;    // empty: <dir of library>/samples/<adapter name>, if present
  std::string options_json = "{}";  // the adapter's config block to check
  int timeout_s = 60;         // the whole check; a hung adapter is killed after it
  bool update_golden = false; // (re)write <sample>.expected.json / .outcome.json
};

// Runs the check, printing a report to `out` (stdout in the CLI). Returns 0
// when the adapter loads and every sample maps to valid FHIR matching its
// golden files, 1 otherwise. `config` supplies mappings_dir, organization and
// timezone.
int checkAdapter(const AdapterCheckOptions& options, const Config& config, std::FILE* out);

// Where the adapter template is: --template-dir, else the installed
// share/ilp-gateway/templates/adapter beside the binary, else the source tree.
std::string defaultTemplateDir();

// Copies the template into `dir` (default ./NAME) replacing @ADAPTER_NAME@,
// @ADAPTER_NAMESPACE@ and @ADAPTER_CLASS@. NAME: lower-case letters, digits
// and '-', starting with a letter. Refuses to overwrite an existing file.
Status newAdapterFromTemplate(const std::string& name, const std::string& dir, const std::string& template_dir);

}  // namespace ilpgw
