#include "ingest/adapter_tools.h"

#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rapidjson/prettywriter.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "ingest/gateway.h"
#include "base/json.h"
#include "base/log.h"
#include "fhir/outcome.h"
#include "ingest/plugin_loader.h"

namespace ilpgw {
namespace {

namespace fs = std::filesystem;

std::string readText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string pretty(const std::string& compact) {
  rapidjson::Document doc;
  if (json::parse(compact, doc)) return compact;
  rapidjson::StringBuffer buffer;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> writer(buffer);
  writer.SetIndent(' ', 2);
  doc.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

// Equal as JSON values (member order and formatting do not matter).
bool sameJson(const std::string& a, const std::string& b) {
  rapidjson::Document da;
  rapidjson::Document db;
  if (json::parse(a, da) || json::parse(b, db)) return false;
  return da == db;
}

bool isGoldenFile(const std::string& name) {
  auto ends = [&](std::string_view suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends(".expected.json") || ends(".outcome.json") || ends(".actual.json") || name.rfind("README", 0) == 0 ||
         name.rfind('.', 0) == 0;
}

// The child's side of the check. Reports through `report` with one line per
// message: "phase TEXT" (what it is about to do, for crash reports),
// "line TEXT" (a report line) or "fail TEXT" (a failed check).
int runCheckChild(const AdapterCheckOptions& options, const Config& base, std::FILE* report) {
  auto phase = [&](const std::string& text) {
    std::fprintf(report, "phase %s\n", text.c_str());
    std::fflush(report);
  };
  auto line = [&](const std::string& text) {
    std::fprintf(report, "line %s\n", text.c_str());
    std::fflush(report);
  };
  auto fail = [&](const std::string& text) {
    std::fprintf(report, "fail %s\n", text.c_str());
    std::fflush(report);
  };

  phase("loading the library");
  auto loaded = loadAdapter(options.library);
  if (!loaded.isOk()) {
    fail(loaded.status().message());
    return 1;
  }
  const sdk::AdapterInfo& info = loaded.value()->info();
  line("adapter  " + info.name + " " + info.version + " (ABI " + std::to_string(sdk::kAbiVersion) + ")");
  line("library  " + options.library);
  if (!info.description.empty()) line("about    " + info.description);
  std::string formats;
  for (const auto& f : info.formats) formats += (formats.empty() ? "" : ", ") + f;
  line("formats  " + (formats.empty() ? std::string("(none declared)") : formats));
  line("route    POST /ingest/" + info.name);
  line("options  " + std::string(info.options.empty() ? "(none)" : ""));
  int failures = 0;
  if (info.version.empty()) {
    fail("the adapter declares no version (AdapterInfo::version)");
    ++failures;
  }
  if (info.formats.empty()) {
    fail("the adapter declares no media types (AdapterInfo::formats)");
    ++failures;
  }
  for (const auto& o : info.options) {
    line("  " + o.name + " (" + o.type + ", default \"" + o.default_value + "\"): " + o.description);
    if (o.description.empty()) {
      fail("option " + o.name + " has no description");
      ++failures;
    }
  }

  phase("applying the options");
  Config config = base;
  std::string empty_mappings;
  std::error_code ec;
  if (!fs::is_directory(config.mappings_dir, ec)) {
    // No mapping files at hand: the adapter gets none (translate() finds nothing).
    std::string pattern = (fs::temp_directory_path() / "ilpgw-check-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) empty_mappings = pattern;
    line("mappings (none: " + config.mappings_dir + " not found; pass --mappings DIR)");
    config.mappings_dir = empty_mappings;
  } else {
    line("mappings " + config.mappings_dir);
  }
  config.plugins = {PluginConfig{info.name, fs::absolute(options.library).string(), options.options_json}};
  auto set = loadAdapterSet(config);
  if (!empty_mappings.empty()) fs::remove_all(empty_mappings, ec);
  if (!set.isOk()) {
    fail(set.status().message());
    return 1;
  }
  const ActiveAdapter& active = set.value()->adapters.begin()->second;

  std::string samples_dir = options.samples_dir;
  if (samples_dir.empty()) {
    fs::path guess = fs::path(options.library).parent_path() / "samples" / info.name;
    if (fs::is_directory(guess, ec)) samples_dir = guess.string();
  }
  std::vector<fs::path> samples;
  if (!samples_dir.empty()) {
    if (!fs::is_directory(samples_dir, ec)) {
      fail("samples directory not found: " + samples_dir);
      return 1;
    }
    for (const auto& entry : fs::directory_iterator(samples_dir)) {
      if (entry.is_regular_file() && !isGoldenFile(entry.path().filename().string())) samples.push_back(entry.path());
    }
    std::sort(samples.begin(), samples.end());
  }
  if (samples.empty()) {
    line("samples  none found (pass --samples DIR; convention: <plugin dir>/samples/" + info.name + "/)");
  }
  std::string content_type = info.formats.empty() ? std::string() : info.formats.front();
  for (const auto& sample : samples) {
    std::string name = sample.filename().string();
    phase("mapping sample " + name);
    std::string payload = readText(sample);
    MappedPayload mapped = mapPayload(active, *set.value(), config, payload, content_type);

    std::vector<sdk::Issue> problems = mapped.payload_issues;
    size_t accepted = 0;
    size_t resources = 0;
    for (const auto& record : mapped.records) {
      problems.insert(problems.end(), record.issues.begin(), record.issues.end());
      if (record.accepted) ++accepted;
      resources += record.writes.size();
    }
    phase("comparing sample " + name + " with its golden files");
    std::string stem = sample.parent_path() / sample.stem();
    std::string expected_path = stem + ".expected.json";
    std::string outcome_path = stem + ".outcome.json";
    std::string bundle = collectionBundle(mapped);
    std::string outcome = outcomeJson(problems);
    bool refused = isBlocking(mapped.payload_issues) || accepted != mapped.records.size();
    std::string summary = "sample   " + name + ": " + std::to_string(mapped.records.size()) + " record(s), " +
                          std::to_string(accepted) + " accepted, " + std::to_string(resources) + " resource(s)";
    if (options.update_golden) {
      std::ofstream(expected_path, std::ios::binary | std::ios::trunc) << pretty(bundle);
      if (!problems.empty()) {
        std::ofstream(outcome_path, std::ios::binary | std::ios::trunc) << pretty(outcome);
      } else {
        fs::remove(outcome_path, ec);
      }
      line(summary + "; golden files written");
      continue;
    }
    bool has_outcome = fs::exists(outcome_path, ec);
    if (has_outcome) {
      // The sample is meant to produce exactly these issues.
      if (!sameJson(readText(outcome_path), outcome)) {
        fail("sample " + name + ": the issues differ from " + fs::path(outcome_path).filename().string() +
             "; now: " + outcome);
        ++failures;
        continue;
      }
    } else if (refused || !problems.empty()) {
      fail("sample " + name + ": " + (refused ? "refused" : "warnings") + ": " + maskIdentifiers(outcome));
      ++failures;
      if (refused) continue;
    }
    if (fs::exists(expected_path, ec)) {
      if (!sameJson(readText(expected_path), bundle)) {
        std::string actual = stem + ".actual.json";
        std::ofstream(actual, std::ios::binary | std::ios::trunc) << pretty(bundle);
        fail("sample " + name + ": output differs from " + fs::path(expected_path).filename().string() +
             " (now written to " + actual + "; diff them, or accept with --update-golden)");
        ++failures;
        continue;
      }
      line(summary + ", valid FHIR, matches " + fs::path(expected_path).filename().string());
    } else {
      line(summary + ", valid FHIR (no " + fs::path(expected_path).filename().string() +
           " to compare; write it with --update-golden)");
    }
  }
  return failures == 0 ? 0 : 1;
}

std::string signalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

}  // namespace

int checkAdapter(const AdapterCheckOptions& options, const Config& config, std::FILE* out) {
  int fds[2];
  if (::pipe(fds) != 0) {
    std::fprintf(out, "FAIL: cannot create a pipe: %s\n", std::strerror(errno));
    return 1;
  }
  std::fflush(out);
  std::fflush(stderr);
  pid_t pid = ::fork();
  if (pid < 0) {
    std::fprintf(out, "FAIL: cannot fork: %s\n", std::strerror(errno));
    return 1;
  }
  if (pid == 0) {
    ::close(fds[0]);
    std::FILE* report = ::fdopen(fds[1], "w");
    int code = report != nullptr ? runCheckChild(options, config, report) : 1;
    if (report != nullptr) std::fclose(report);
    std::fflush(stderr);
    ::_exit(code);  // no static destructors: the adapter's library may be in any state
  }
  ::close(fds[1]);

  std::string buffer;
  std::string last_phase = "starting";
  int failures = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options.timeout_s);
  bool timed_out = false;
  auto handle = [&](const std::string& message) {
    if (message.rfind("phase ", 0) == 0) {
      last_phase = message.substr(6);
    } else if (message.rfind("line ", 0) == 0) {
      std::fprintf(out, "%s\n", message.substr(5).c_str());
    } else if (message.rfind("fail ", 0) == 0) {
      std::fprintf(out, "FAIL: %s\n", message.substr(5).c_str());
      ++failures;
    }
    std::fflush(out);
  };
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    char chunk[4096];
    ssize_t n = ::read(fds[0], chunk, sizeof chunk);
    if (n <= 0) break;  // EOF: the child is done (or died)
    buffer.append(chunk, static_cast<size_t>(n));
    size_t newline;
    while ((newline = buffer.find('\n')) != std::string::npos) {
      handle(buffer.substr(0, newline));
      buffer.erase(0, newline + 1);
    }
  }
  ::close(fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    std::fprintf(out, "FAIL: the adapter did not finish within %d s while %s (it hangs; an adapter must never block)\n",
                 options.timeout_s, last_phase.c_str());
    return 1;
  }
  if (WIFSIGNALED(status)) {
    std::fprintf(out, "FAIL: the adapter crashed (%s) while %s\n", signalName(WTERMSIG(status)).c_str(),
                 last_phase.c_str());
    return 1;
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  if (code != 0 || failures != 0) {
    if (failures == 0) std::fprintf(out, "FAIL: the check exited with code %d while %s\n", code, last_phase.c_str());
    std::fprintf(out, "adapter check FAILED\n");
    return 1;
  }
  std::fprintf(out, "adapter check OK\n");
  return 0;
}

std::string defaultTemplateDir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path installed = exe.parent_path().parent_path() / "share" / "ilp-gateway" / "templates" / "adapter";
    if (fs::is_directory(installed, ec)) return installed.string();
  }
#ifdef ILPGW_SOURCE_TEMPLATE_DIR
  return ILPGW_SOURCE_TEMPLATE_DIR;
#else
  return {};
#endif
}

Status newAdapterFromTemplate(const std::string& name, const std::string& dir, const std::string& template_dir) {
  static const std::regex kName("[a-z][a-z0-9-]{0,62}");
  if (!std::regex_match(name, kName) || name.back() == '-') {
    return Status(StatusCode::kInvalidArgument,
                  "adapter name \"" + name + "\": use lower-case letters, digits and '-', starting with a letter "
                  "(it becomes the route POST /ingest/" + name + ")");
  }
  std::error_code ec;
  if (template_dir.empty() || !fs::is_directory(template_dir, ec)) {
    return Status(StatusCode::kNotFound, "adapter template not found (looked in \"" + template_dir +
                                             "\"); pass --template-dir DIR");
  }
  std::string ns = name;
  std::replace(ns.begin(), ns.end(), '-', '_');
  std::string cls;
  bool upper = true;
  for (char c : name) {
    if (c == '-') {
      upper = true;
      continue;
    }
    cls.push_back(upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
    upper = false;
  }
  cls += "Adapter";
  auto substitute = [&](std::string text) {
    for (const auto& [key, value] : {std::pair<std::string, std::string>{"@ADAPTER_NAME@", name},
                                     {"@ADAPTER_NAMESPACE@", ns},
                                     {"@ADAPTER_CLASS@", cls}}) {
      for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + value.size())) {
        text.replace(at, key.size(), value);
      }
    }
    return text;
  };
  fs::path target = dir.empty() ? fs::path(name) : fs::path(dir);
  std::vector<std::pair<fs::path, fs::path>> files;
  for (const auto& entry : fs::recursive_directory_iterator(template_dir)) {
    if (!entry.is_regular_file()) continue;
    fs::path relative = fs::relative(entry.path(), template_dir);
    std::string rel = substitute(relative.string());
    if (rel.size() > 3 && rel.compare(rel.size() - 3, 3, ".in") == 0) rel.resize(rel.size() - 3);
    fs::path destination = target / rel;
    if (fs::exists(destination, ec)) {
      return Status(StatusCode::kConflict, destination.string() + " already exists; not overwriting anything");
    }
    files.emplace_back(entry.path(), destination);
  }
  for (const auto& [source, destination] : files) {
    fs::create_directories(destination.parent_path(), ec);
    if (ec) return Status(StatusCode::kUnavailable, "cannot create " + destination.parent_path().string());
    std::ofstream outfile(destination, std::ios::binary);
    outfile << substitute(readText(source));
    if (!outfile) return Status(StatusCode::kUnavailable, "cannot write " + destination.string());
  }
  return Status::ok();
}

}  // namespace ilpgw
