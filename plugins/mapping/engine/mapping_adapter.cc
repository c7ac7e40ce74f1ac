#include "mapping_adapter.h"

#include <filesystem>

namespace ilpgw::plugins::mapping {

sdk::AdapterInfo MappingAdapter::info() const noexcept {
  sdk::AdapterInfo info;
  try {
    info.name = name_;
    info.version = spec_.version;
    info.description = spec_.description;
    if (mapping_) {
      if (!mappingDescription(*mapping_).empty()) info.description += " " + mappingDescription(*mapping_);
      info.description += " (mapping file " + file_ + ", version " + mappingVersion(*mapping_) + ")";
      info.formats = mappingMediaTypes(*mapping_);
    } else {
      info.formats = {"text/csv", "text/plain", "application/json"};
    }
    info.options = {{kMappingFileOption, "string", spec_.default_mapping_file,
                     "the mapping file this adapter runs; a relative path starts in the gateway's mappings "
                     "directory (mappings_dir)"}};
  } catch (...) {
  }
  return info;
}

bool MappingAdapter::setup(const sdk::AdapterSetup& setup, std::vector<sdk::Issue>& issues) noexcept {
  auto fatal = [&issues](std::string message) {
    sdk::Issue issue;
    issue.severity = sdk::Severity::kFatal;
    issue.code = "invalid";
    issue.diagnostics = std::move(message);
    issues.push_back(std::move(issue));
    return false;
  };
  try {
    std::string file(setup.option(kMappingFileOption));
    if (file.empty()) file = spec_.default_mapping_file;
    if (file.empty()) return fatal("adapter " + setup.name + ": option mapping_file names no mapping file");
    std::filesystem::path path(file);
    if (path.is_relative() && !setup.mappings_dir.empty()) path = std::filesystem::path(setup.mappings_dir) / path;
    std::string ucum_table;
    if (!setup.mappings_dir.empty()) ucum_table = (std::filesystem::path(setup.mappings_dir) / "ucum-units.json").string();
    CompiledMapping compiled = compileMappingFile(path.string(), ucum_table);
    if (!compiled.mapping) {
      for (auto& message : compiled.errors) fatal(std::move(message));
      return false;
    }
    mapping_ = std::move(compiled.mapping);
    file_ = path.filename().string();
    if (spec_.name_from_config) name_ = setup.name;
    return true;
  } catch (const std::exception& e) {
    return fatal(std::string("adapter setup failed: ") + e.what());
  } catch (...) {
    return fatal("adapter setup failed");
  }
}

sdk::MapResult MappingAdapter::map(std::string_view payload, const sdk::Context& context) const noexcept {
  if (!mapping_) {
    sdk::MapResult result;
    try {
      sdk::Issue issue;
      issue.severity = sdk::Severity::kFatal;
      issue.code = "exception";
      issue.location = "payload";
      issue.diagnostics = "adapter " + name_ + " has no mapping loaded (setup was not called)";
      result.issues.push_back(std::move(issue));
    } catch (...) {
    }
    return result;
  }
  return runMapping(*mapping_, payload, context);
}

}  // namespace ilpgw::plugins::mapping
