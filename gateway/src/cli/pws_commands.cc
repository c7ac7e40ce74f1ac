// ilp-gateway sasaran import FILE.csv: the health office's yearly targets
// per puskesmas, desa and indicator (report/targets.h) into the store, one
// version per puskesmas and year; nothing is imported when any row is wrong.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "report/measure.h"
#include "report/targets.h"
#include "store/store.h"

namespace ilpgw::cli {

int sasaranCommand(const Args& args) {
  if (args.files.size() != 2 || args.files[0] != "import") return fail("usage: sasaran import FILE.csv");
  const std::string& path = args.files[1];
  auto config = buildConfig(args);
  if (!config.isOk()) return fail(config.status().message());
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  auto library = report::MeasureLibrary::load(config->mappings_dir + "/measures");
  if (!library.isOk()) return fail(library.status().message());
  report::SasaranFile file = report::parseSasaranCsv(text.str(), *library.value());
  if (!file.problems.empty()) {
    for (const auto& problem : file.problems) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(), report::describe(problem).c_str());
    }
    std::fprintf(stderr, "ilp-gateway: %zu masalah; tidak ada sasaran yang dimuat\n", file.problems.size());
    return 1;
  }
  auto store = openStore(config.value(), commandStore());
  if (!store.isOk()) return fail(store.status().message());
  auto committed = report::importSasaran(*store.value(), file.rows, cliActor(), path);
  if (!committed.isOk()) return fail(committed.status().message());
  std::map<std::pair<std::string, int>, size_t> per_table;
  for (const auto& row : file.rows) ++per_table[{row.organization, row.year}];
  size_t i = 0;
  for (const auto& [key, rows] : per_table) {
    const auto& written = committed->resources[i++];
    std::printf("%s %d: %zu baris, versi %lld%s\n", key.first.c_str(), key.second, rows,
                static_cast<long long>(written.version), written.outcome == WriteOutcome::kUnchanged ? " (tidak berubah)" : "");
  }
  return 0;
}

}  // namespace ilpgw::cli
