// libFuzzer target: the mapping-file (ConceptMap) loader. It reads a
// directory, so each input is written as the one file of a scratch directory.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "fhir/terminology.h"

namespace {
const std::string& scratchDir() {
  static const std::string dir = [] {
    std::string pattern = "/tmp/ilpgw-fuzz-mappings-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    return pattern;
  }();
  return dir;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  {
    std::ofstream out(scratchDir() + "/map.json", std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  auto loaded = ilpgw::Terminology::loadDirectory(scratchDir());
  if (loaded.isOk()) {
    ilpgw::sdk::Coding coding;
    for (const auto& [id, text] : loaded.value().conceptMaps()) {
      (void)text;
      (void)loaded.value().translate(id, "UMUM");
      (void)loaded.value().translate(id, "");
    }
    (void)coding;
  }
  return 0;
}
