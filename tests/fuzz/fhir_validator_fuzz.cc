// libFuzzer target: the FHIR R4 validator on arbitrary JSON (resources that
// adapters, and later direct FHIR clients, hand to it).
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "fhir/fhir_validator.h"
#include "base/json.h"
#include "fhir/resource_text.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  rapidjson::Document doc;
  if (ilpgw::json::parse(std::string_view(reinterpret_cast<const char*>(data), size), doc)) return 0;
  std::vector<ilpgw::sdk::Issue> issues;
  ilpgw::fhir::validateResource(doc, issues);
  bool blocking = false;
  for (const auto& issue : issues) {
    if (issue.severity == ilpgw::sdk::Severity::kError || issue.severity == ilpgw::sdk::Severity::kFatal) {
      blocking = true;
    }
  }
  // What the validator accepts goes to the store: the text split must hold.
  if (!blocking && doc.IsObject()) {
    ilpgw::ResourceWrite write = ilpgw::prepareResource(doc);
    (void)ilpgw::assembleResource(write, 1, "2024-01-01T00:00:00.000Z");
  }
  return 0;
}
