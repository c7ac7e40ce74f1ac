#include "ingest/plugin_loader.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/crypto.h"

namespace ilpgw {
namespace {

std::string readAll(const std::string& path, bool& ok) {
  std::ifstream in(path, std::ios::binary);
  ok = static_cast<bool>(in);
  std::stringstream text;
  if (ok) text << in.rdbuf();
  return text.str();
}

// Writes `bytes` to a fresh, uniquely named file in the temp directory and
// returns its path; empty on failure.
std::string writePrivateCopy(const std::string& original, const std::string& bytes) {
  std::string stem = std::filesystem::path(original).stem().string();
  std::string pattern = (std::filesystem::temp_directory_path() / ("ilpgw-" + stem + "-XXXXXX.so")).string();
  int fd = mkstemps(pattern.data(), 3);
  if (fd < 0) return {};
  size_t written = 0;
  while (written < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n <= 0) {
      ::close(fd);
      ::unlink(pattern.c_str());
      return {};
    }
    written += static_cast<size_t>(n);
  }
  ::close(fd);
  return pattern;
}

}  // namespace

LoadedAdapter::LoadedAdapter(std::shared_ptr<boost::dll::shared_library> library,
                             std::unique_ptr<sdk::Adapter> adapter, sdk::AdapterInfo info, std::string path,
                             std::string content_hash)
    : library_(std::move(library)),
      adapter_(std::move(adapter)),
      info_(std::move(info)),
      path_(std::move(path)),
      content_hash_(std::move(content_hash)) {}

LoadedAdapter::~LoadedAdapter() {
  // The adapter's destructor is code inside the library: run it while the
  // library is still mapped (library_ is also declared first, so destroyed last).
  adapter_.reset();
}

StatusOr<std::shared_ptr<const LoadedAdapter>> loadAdapter(const std::string& path, LoadOptions options,
                                                           const PrepareSetupFn& prepare) {
  std::error_code fs_error;
  if (!std::filesystem::is_regular_file(path, fs_error)) {
    return Status(StatusCode::kNotFound, "plugin " + path + ": file not found");
  }
  bool readable = false;
  std::string bytes = readAll(path, readable);
  if (!readable) return Status(StatusCode::kNotFound, "plugin " + path + ": cannot read the file");
  std::string content_hash = hex(sha256(bytes));

  std::string load_path = path;
  if (options.private_copy) {
    load_path = writePrivateCopy(path, bytes);
    if (load_path.empty()) {
      return Status(StatusCode::kUnavailable, "plugin " + path + ": cannot write a private copy to the temp directory");
    }
  }
  auto library = std::make_shared<boost::dll::shared_library>();
  boost::dll::fs::error_code error;
  // Local binding, so two plugins (or two versions of one) can't clash on
  // symbol names.
  library->load(load_path, boost::dll::load_mode::rtld_local | boost::dll::load_mode::rtld_now, error);
  // The mapping keeps the copy's pages alive; the name is no longer needed.
  if (options.private_copy) ::unlink(load_path.c_str());
  if (error) {
    return Status(StatusCode::kInvalidArgument, "plugin " + path + ": cannot load: " + error.message());
  }
  if (!library->has("ilpgw_abi_version")) {
    return Status(StatusCode::kInvalidArgument,
                  "plugin " + path + ": missing symbol ilpgw_abi_version (not an ILP Gateway adapter)");
  }
  const std::uint32_t abi = library->get<const std::uint32_t>("ilpgw_abi_version");
  if (abi != sdk::kAbiVersion) {
    return Status(StatusCode::kInvalidArgument, "plugin " + path + ": ABI version " + std::to_string(abi) +
                                                    ", gateway expects " + std::to_string(sdk::kAbiVersion) +
                                                    " (rebuild the adapter against this SDK)");
  }
  if (!library->has("ilpgw_create_adapter")) {
    return Status(StatusCode::kInvalidArgument, "plugin " + path + ": missing symbol ilpgw_create_adapter");
  }
  auto& create = library->get<sdk::CreateAdapterFn>("ilpgw_create_adapter");
  std::unique_ptr<sdk::Adapter> adapter(create());
  if (!adapter) {
    return Status(StatusCode::kInvalidArgument, "plugin " + path + ": ilpgw_create_adapter returned no adapter");
  }
  sdk::AdapterInfo info = adapter->info();
  if (prepare) {
    auto setup = prepare(info);
    if (!setup.isOk()) return setup.status();
    std::vector<sdk::Issue> issues;
    bool ok = adapter->setup(setup.value(), issues);
    std::string message;
    for (const auto& issue : issues) {
      if (issue.severity != sdk::Severity::kFatal && issue.severity != sdk::Severity::kError) continue;
      message += (message.empty() ? "" : "; ") + std::string(issue.diagnostics.data(), issue.diagnostics.size());
    }
    if (!ok) {
      return Status(StatusCode::kInvalidArgument,
                    "plugin " + path + ": setup failed: " + (message.empty() ? "no reason given" : message));
    }
    info = adapter->info();
  }
  if (info.name.empty()) {
    return Status(StatusCode::kInvalidArgument, "plugin " + path + ": adapter has an empty name");
  }
  // Deep-copy the info into strings allocated by the host, so nothing we keep
  // points into the plugin's memory once it is unloaded.
  sdk::AdapterInfo copy;
  copy.name = std::string(info.name.data(), info.name.size());
  copy.version = std::string(info.version.data(), info.version.size());
  copy.description = std::string(info.description.data(), info.description.size());
  for (const auto& f : info.formats) copy.formats.emplace_back(f.data(), f.size());
  for (const auto& o : info.options) {
    copy.options.push_back({std::string(o.name.data(), o.name.size()), std::string(o.type.data(), o.type.size()),
                            std::string(o.default_value.data(), o.default_value.size()),
                            std::string(o.description.data(), o.description.size())});
  }
  for (const auto& o : copy.options) {
    if (o.type != "string" && o.type != "integer" && o.type != "boolean") {
      return Status(StatusCode::kInvalidArgument, "plugin " + path + ": option \"" + o.name +
                                                      "\" has unknown type \"" + o.type +
                                                      "\" (string, integer or boolean)");
    }
  }
  // Destroy the plugin's own AdapterInfo while the library is surely mapped.
  info = sdk::AdapterInfo{};
  return std::shared_ptr<const LoadedAdapter>(std::make_shared<LoadedAdapter>(
      std::move(library), std::move(adapter), std::move(copy), path, std::move(content_hash)));
}

}  // namespace ilpgw
