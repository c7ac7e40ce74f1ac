#include "ingest/gateway.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "security/audit.h"
#include "fhir/fhir_validator.h"
#include "base/json.h"
#include "base/log.h"
#include "base/metrics.h"
#include "forward/outbox_sender.h"
#include "fhir/outcome.h"
#include "ingest/patient_identity.h"
#include "fhir/resource_text.h"
#include "base/time_util.h"

namespace ilpgw {
namespace {

// How often an ingest re-merges Patient identities after a concurrent post of
// the same person changed the stored Patient between read and commit.
// Each attempt is one group commit, and of N posts of one person in the same
// group one wins per round, so this bounds N for a post that must not fail.
constexpr int kIdentityMergeAttempts = 32;


constexpr const char* kSourceRecordUrl = "https://ilp-gateway.id/fhir/StructureDefinition/source-record";

// Validates an adapter's config block against its declared options and
// returns the effective option list (defaults overlaid with config).
StatusOr<std::vector<std::pair<std::string, std::string>>> effectiveOptions(const sdk::AdapterInfo& info,
                                                                           const PluginConfig& plugin) {
  std::vector<std::pair<std::string, std::string>> options;
  for (const auto& spec : info.options) options.emplace_back(spec.name, spec.default_value);
  rapidjson::Document doc;
  if (auto error = json::parse(plugin.config_json, doc)) {
    return Status(StatusCode::kInvalidArgument, "plugin " + plugin.name + " config: " + *error);
  }
  for (const auto& m : doc.GetObject()) {
    std::string key = m.name.GetString();
    const sdk::OptionSpec* spec = nullptr;
    for (const auto& s : info.options) {
      if (s.name == key) spec = &s;
    }
    if (spec == nullptr) {
      std::string known;
      for (const auto& s : info.options) known += (known.empty() ? "" : ", ") + s.name;
      return Status(StatusCode::kInvalidArgument, "plugin " + plugin.name + ": unknown option \"" + key +
                                                      "\" (known: " + (known.empty() ? "none" : known) + ")");
    }
    std::string value;
    if (spec->type == "string" && m.value.IsString()) {
      value = m.value.GetString();
    } else if (spec->type == "integer" && m.value.IsInt64()) {
      value = std::to_string(m.value.GetInt64());
    } else if (spec->type == "boolean" && m.value.IsBool()) {
      value = m.value.GetBool() ? "true" : "false";
    } else {
      return Status(StatusCode::kInvalidArgument,
                    "plugin " + plugin.name + ": option \"" + key + "\" must be " + spec->type);
    }
    for (auto& [name, current] : options) {
      if (name == key) current = value;
    }
  }
  return options;
}

std::string statusLine(WriteOutcome outcome) {
  return outcome == WriteOutcome::kCreated ? "201 Created" : "200 OK";
}

// One call of an adapter's map(), shared between the caller and the worker
// thread that runs it, so whichever finishes last frees it. The worker owns
// copies of everything the adapter may touch: after a deadline the caller
// returns and its buffers are gone, but the worker may still be running.
struct PendingCall {
  std::shared_ptr<const LoadedAdapter> loaded;  // keeps the library mapped
  std::shared_ptr<const sdk::Host> host;
  std::string payload;
  sdk::Context context;
  std::string marker_dir;
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  bool abandoned = false;  // the caller gave up waiting
  sdk::MapResult result;
};

std::atomic<unsigned long long> marker_counter{0};
constexpr size_t kMarkerSize = 256;

// One marker file per thread that calls adapters, opened once and rewritten
// in place: "R\n<name@version>\n<start>\n" while a call runs, "I" when idle.
// A pwrite into the page cache costs microseconds, where creating and
// unlinking a file per call cost ~100 us here. No fsync: the page cache
// survives a process crash, which is what the marker is for.
class ThreadMarker {
 public:
  ~ThreadMarker() { close(); }
  void running(const std::string& dir, const LoadedAdapter& loaded) {
    if (dir.empty()) return;
    if (dir != dir_) open(dir);
    if (fd_ < 0) return;
    std::string text = "R\n" + loaded.label() + "\n" + nowInstant() + "\n";
    text.resize(kMarkerSize, ' ');
    active_ = ::pwrite(fd_, text.data(), text.size(), 0) == static_cast<ssize_t>(text.size());
  }
  void idle() {
    if (active_ && ::pwrite(fd_, "I", 1, 0) == 1) active_ = false;
  }

 private:
  void open(const std::string& dir) {
    close();
    dir_ = dir;
    path_ = dir + "/" + std::to_string(::getpid()) + "-" + std::to_string(++marker_counter);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  }
  void close() {
    if (fd_ >= 0) {
      ::close(fd_);
      ::unlink(path_.c_str());
    }
    fd_ = -1;
  }
  std::string dir_;
  std::string path_;
  int fd_ = -1;
  bool active_ = false;
};

thread_local ThreadMarker tls_marker;

// CPU time per stage of an ingest (metrics::ingestCpu()).
metrics::Counter& stageCpu(const char* stage) { return metrics::ingestCpu().counter({stage}); }

sdk::MapResult mapMarked(const LoadedAdapter& loaded, const std::string& marker_dir, std::string_view payload,
                         const sdk::Context& context) {
  static metrics::Counter& cpu = stageCpu("map");  // on whichever thread runs the adapter
  metrics::ThreadCpuScope timed(cpu);
  tls_marker.running(marker_dir, loaded);
  sdk::MapResult result = loaded.adapter().map(payload, context);
  tls_marker.idle();
  return result;
}

// Threads that run adapter calls under a deadline. Reused, because starting
// a thread per call cost ~100 us here; grows when every runner is busy (a
// hung call keeps its runner), and a runner idle for a minute exits.
// Never destroyed: runners may still be inside a hung adapter at exit.
class CallRunners {
 public:
  static CallRunners& instance() {
    static CallRunners* runners = new CallRunners();
    return *runners;
  }
  // Queues `task`; false when no thread could be started for it.
  bool run(std::function<void()> task) {
    std::lock_guard lock(mutex_);
    if (queue_.size() + 1 > idle_) {
      try {
        std::thread([this] { loop(); }).detach();
      } catch (const std::system_error&) {
        return false;
      }
    }
    queue_.push_back(std::move(task));
    ready_.notify_one();
    return true;
  }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    for (;;) {
      ++idle_;
      bool got = ready_.wait_for(lock, std::chrono::seconds(60), [this] { return !queue_.empty(); });
      --idle_;
      if (!got) return;
      std::function<void()> task = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
  }
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> queue_;
  size_t idle_ = 0;
};

void runCall(PendingCall& call) {
  sdk::MapResult result = mapMarked(*call.loaded, call.marker_dir, call.payload, call.context);
  std::lock_guard lock(call.mutex);
  call.result = std::move(result);
  call.done = true;
  if (call.abandoned) {
    call.loaded->hung_calls.fetch_sub(1);
    logLine(LogLevel::kWarning, "adapter " + call.loaded->label() + ": a call that overran its deadline returned");
  }
  call.done_cv.notify_all();
}

// Runs map() under `limits`. A call that overruns its deadline cannot be
// stopped (there is no safe way to kill a thread inside foreign code): the
// caller stops waiting and reports kUnavailable, the thread is left to finish
// on its own and counts as hung until it does. An adapter with too many hung
// calls is refused at once, so a stuck adapter cannot eat every worker.
StatusOr<sdk::MapResult> callAdapter(const ActiveAdapter& adapter, std::shared_ptr<const sdk::Host> host,
                                     std::string_view payload, const sdk::Context& context, const CallLimits& limits,
                                     bool& timed_out) {
  timed_out = false;
  const auto& loaded = adapter.loaded;
  if (limits.timeout_ms <= 0) return mapMarked(*loaded, limits.marker_dir, payload, context);
  if (loaded->hung_calls.load() >= limits.max_hung_calls) {
    return Status(StatusCode::kUnavailable, "adapter " + loaded->label() + " is unhealthy: " +
                                                std::to_string(loaded->hung_calls.load()) +
                                                " calls are still running past their deadline; try again later");
  }
  auto call = std::make_shared<PendingCall>();
  call->loaded = loaded;
  call->host = std::move(host);
  call->payload = std::string(payload);
  call->context = context;
  call->context.host = call->host.get();
  call->marker_dir = limits.marker_dir;
  if (!CallRunners::instance().run([call] { runCall(*call); })) {
    return Status(StatusCode::kUnavailable, "cannot start a thread for adapter " + loaded->label());
  }
  std::unique_lock lock(call->mutex);
  if (call->done_cv.wait_for(lock, std::chrono::milliseconds(limits.timeout_ms), [&] { return call->done; })) {
    return std::move(call->result);
  }
  call->abandoned = true;
  timed_out = true;
  loaded->hung_calls.fetch_add(1);
  loaded->timed_out_calls.fetch_add(1);
  logLine(LogLevel::kError, "adapter " + loaded->label() + " did not answer within " +
                                std::to_string(limits.timeout_ms) + " ms; payload quarantined, " +
                                std::to_string(loaded->hung_calls.load()) + " call(s) still running");
  return Status(StatusCode::kUnavailable, "adapter " + loaded->label() + " did not answer within " +
                                              std::to_string(limits.timeout_ms) + " ms");
}

// Sets meta.source, replacing whatever the adapter put there: which adapter
// version produced a resource is the core's statement, not the adapter's.
void setMetaSource(rapidjson::Document& doc, const std::string& source) {
  auto& a = doc.GetAllocator();
  auto meta = doc.FindMember("meta");
  if (meta == doc.MemberEnd() || !meta->value.IsObject()) {
    if (meta != doc.MemberEnd()) doc.RemoveMember(meta);
    doc.AddMember("meta", rapidjson::Value(rapidjson::kObjectType), a);
    meta = doc.FindMember("meta");
  }
  meta->value.RemoveMember("source");
  meta->value.AddMember("source", json::str(source, a), a);
}

// Resource ids are derived from business keys; in a district gateway the
// same NIK reaches it from several puskesmas. Scoping every key by the
// posting organization gives each organization its own resources, so one
// clinic's post can never become a new version of another clinic's record.
class TenantHost final : public sdk::Host {
 public:
  TenantHost(std::shared_ptr<const sdk::Host> base, std::string_view organization)
      : base_(std::move(base)), prefix_("org|") {
    prefix_ += organization;
    prefix_ += "|";
  }
  std::string resourceId(std::string_view type, std::string_view business_key) const noexcept override {
    try {
      return base_->resourceId(type, prefix_ + std::string(business_key));
    } catch (...) {
      return {};
    }
  }
  bool translate(std::string_view concept_map, std::string_view code, sdk::Coding& out) const noexcept override {
    return base_->translate(concept_map, code, out);
  }
  void log(sdk::Severity severity, std::string_view message) const noexcept override {
    base_->log(severity, message);
  }

 private:
  std::shared_ptr<const sdk::Host> base_;  // shared: a timed-out call may outlive the request
  std::string prefix_;
};

std::string mediaType(std::string_view content_type) {
  std::string type(content_type.substr(0, content_type.find(';')));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  for (auto& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return type;
}

}  // namespace

StatusOr<std::shared_ptr<const AdapterSet>> loadAdapterSet(const Config& config, LoadOptions load_options) {
  auto terminology = Terminology::loadDirectory(config.mappings_dir);
  if (!terminology.isOk()) return terminology.status();
  auto set = std::make_shared<AdapterSet>();
  set->terminology = std::make_shared<const Terminology>(std::move(terminology.value()));
  set->host = std::make_shared<const GatewayHost>(set->terminology);
  auto semantics = loadIlpSemantics(config.mappings_dir);
  if (!semantics.isOk()) return semantics.status();
  set->semantics = semantics.value();
  for (const auto& plugin : config.plugins) {
    if (!plugin.enabled) {
      set->disabled.push_back(plugin);
      continue;
    }
    std::filesystem::path path(plugin.library);
    if (path.is_relative()) path = std::filesystem::path(config.plugin_dir) / path;
    // Every (re)load maps a fresh private copy and runs setup() again: an
    // adapter configured by data (mapping.so) must see new mapping files and
    // the new set's Host, so objects are never carried over between sets.
    std::vector<std::pair<std::string, std::string>> options;
    auto loaded = loadAdapter(path.string(), load_options,
                              [&](const sdk::AdapterInfo& info) -> StatusOr<sdk::AdapterSetup> {
                                auto effective = effectiveOptions(info, plugin);
                                if (!effective.isOk()) return effective.status();
                                options = effective.value();
                                return sdk::AdapterSetup{plugin.name, config.mappings_dir, options, set->host.get()};
                              });
    if (!loaded.isOk()) return loaded.status();
    const auto& info = loaded.value()->info();
    if (info.name != plugin.name) {
      return Status(StatusCode::kInvalidArgument, "plugin " + path.string() + ": adapter calls itself \"" +
                                                      info.name + "\" but the config names it \"" + plugin.name +
                                                      "\"");
    }
    if (set->adapters.count(plugin.name) != 0) {
      return Status(StatusCode::kInvalidArgument, "plugin " + plugin.name + " is configured twice");
    }
    set->adapters.emplace(plugin.name, ActiveAdapter{loaded.value(), std::move(options), plugin.timeout_ms});
  }
  return std::shared_ptr<const AdapterSet>(std::move(set));
}

std::string adapterCallMarkerDir(const Config& config) { return config.data_dir + "/adapter-calls"; }

std::vector<std::pair<std::string, std::string>> runningAdapterCalls(const std::string& marker_dir) {
  std::vector<std::pair<std::string, std::string>> running;
  std::error_code ec;
  if (!std::filesystem::is_directory(marker_dir, ec)) return running;
  for (const auto& entry : std::filesystem::directory_iterator(marker_dir, ec)) {
    std::ifstream in(entry.path());
    std::string state;
    std::string label;
    std::string started;
    std::getline(in, state);
    std::getline(in, label);
    std::getline(in, started);
    if (state == "R" && !label.empty()) running.emplace_back(label, started);
  }
  return running;
}

std::vector<std::string> reportLeftoverAdapterCalls(const std::string& marker_dir) {
  std::vector<std::string> labels;
  for (const auto& [label, started] : runningAdapterCalls(marker_dir)) {
    labels.push_back(label);
    logLine(LogLevel::kError,
            "adapter " + label + " was still running a call (started " + started +
                ") when the gateway last stopped: it crashed the process, hung, or was killed with it. If the "
                "gateway crashed, disable the adapter with \"enabled\": false in its plugins entry and report it "
                "to its author");
  }
  std::error_code ec;
  if (std::filesystem::is_directory(marker_dir, ec)) {
    for (const auto& entry : std::filesystem::directory_iterator(marker_dir, ec)) {
      std::filesystem::remove(entry.path(), ec);
    }
  }
  return labels;
}

StatusOr<std::unique_ptr<Gateway>> Gateway::start(Config config, ConfigSource source, bool forward) {
  // Before loading anything: a marker left by the previous run names the
  // adapter that was running when it died, even if it is loaded again now.
  reportLeftoverAdapterCalls(adapterCallMarkerDir(config));
  auto adapters = loadAdapterSet(config, LoadOptions{.private_copy = true});
  if (!adapters.isOk()) return adapters.status();
  for (const auto& plugin : adapters.value()->disabled) {
    logLine(LogLevel::kWarning, "plugin " + plugin.name + " is disabled in the configuration");
  }
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) return Status(StatusCode::kUnavailable, "cannot create data directory " + config.data_dir + ": " + ec.message());
  std::filesystem::create_directories(adapterCallMarkerDir(config), ec);
  if (ec) return Status(StatusCode::kUnavailable, "cannot create " + adapterCallMarkerDir(config) + ": " + ec.message());
  // The outbox is filled by the store inside each commit.
  auto store = openStore(config, {.outbox = config.upstream.enabled});
  if (!store.isOk()) return store.status();
  std::unique_ptr<Gateway> gateway(
      new Gateway(std::move(config), std::move(source), std::move(store.value()), adapters.value()));
  if (forward && gateway->config_.upstream.enabled) {
    auto sender = OutboxSender::create(gateway->config_, *gateway->store_);
    if (!sender.isOk()) return sender.status();
    gateway->sender_ = std::move(sender.value());
    gateway->sender_->start();
  }
  return gateway;
}

Gateway::~Gateway() {
  if (sender_) sender_->stop();
}

Status Gateway::reload() {
  std::lock_guard reload_lock(reload_mutex_);
  Config fresh = config_;
  if (config_source_) {
    auto loaded = config_source_();
    if (!loaded.isOk()) {
      logLine(LogLevel::kError, "reload refused, previous adapters keep serving: " + loaded.status().message());
      return loaded.status();
    }
    fresh = std::move(loaded.value());
  }
  auto current = adapters();
  auto next = loadAdapterSet(fresh, LoadOptions{.private_copy = true});
  if (!next.isOk()) {
    logLine(LogLevel::kError, "reload refused, previous adapters keep serving: " + next.status().message());
    return next.status();
  }
  std::string summary;
  for (const auto& [name, active] : next.value()->adapters) {
    summary += (summary.empty() ? "" : ", ") + active.loaded->label();
  }
  {
    std::lock_guard lock(adapters_mutex_);
    adapters_ = next.value();
  }
  // `current` is dropped here; libraries no longer in the new set unload once
  // the requests still holding the old set finish.
  logLine(LogLevel::kInfo, "reloaded adapters: " + (summary.empty() ? std::string("none") : summary));
  return Status::ok();
}

std::shared_ptr<const AdapterSet> Gateway::adapters() const {
  std::lock_guard lock(adapters_mutex_);
  return adapters_;
}

Status checkContentType(const sdk::AdapterInfo& info, std::string_view content_type) {
  std::string type = mediaType(content_type);
  // curl --data sends application/x-www-form-urlencoded unless told otherwise;
  // clinic scripts rely on that, so it counts as "not stated".
  if (type.empty() || type == "application/x-www-form-urlencoded") return Status::ok();
  for (const auto& format : info.formats) {
    if (mediaType(format) == type) return Status::ok();
  }
  std::string accepted;
  for (const auto& format : info.formats) accepted += (accepted.empty() ? "" : ", ") + format;
  return Status(StatusCode::kUnsupportedMedia,
                "adapter " + info.name + " does not accept " + type + " (accepts " + accepted + ")");
}

std::string adapterSourceUri(const LoadedAdapter& loaded) { return "ilp-gateway/" + loaded.label(); }

MappedPayload mapPayload(const ActiveAdapter& adapter, const AdapterSet& set, const Config& config,
                         std::string_view payload, std::string_view content_type, std::string_view organization,
                         const CallLimits& limits) {
  std::string org(organization.empty() ? std::string_view(config.organization_id) : organization);
  auto host = std::make_shared<const TenantHost>(set.host, org);
  sdk::Context context;
  context.host = host.get();
  context.organization_id = org;
  context.timezone_offset = config.timezone_offset;
  context.content_type = std::string(content_type);
  context.options = adapter.options;

  MappedPayload mapped;
  auto called = callAdapter(adapter, host, payload, context, limits, mapped.call_timed_out);
  if (!called.isOk()) {
    mapped.call_status = called.status();
    return mapped;
  }
  sdk::MapResult result = std::move(called.value());
  static metrics::Counter& map_cpu = stageCpu("map");
  static metrics::Counter& validate_cpu = stageCpu("validate");
  static metrics::Counter& index_cpu = stageCpu("index");
  // Each resource is parsed once: the semantics hand over their documents.
  std::vector<std::vector<rapidjson::Document>> parsed;
  if (set.semantics) {
    metrics::ThreadCpuScope timed(map_cpu);
    applyIlpSemantics(*set.semantics, *set.terminology, result, &parsed);
  }
  const std::string source = adapterSourceUri(*adapter.loaded);
  mapped.payload_issues = std::move(result.issues);
  for (auto& issue : mapped.payload_issues) {
    if (issue.location.empty()) issue.location = "payload";
  }
  for (size_t r = 0; r < result.records.size(); ++r) {
    auto& record = result.records[r];
    std::vector<rapidjson::Document>* docs =
        r < parsed.size() && parsed[r].size() == record.resources.size() ? &parsed[r] : nullptr;
    MappedPayload::Record out;
    out.locator = record.locator;
    out.source_key = record.source_key;
    out.issues = std::move(record.issues);
    std::vector<ResourceWrite> writes;
    for (size_t i = 0; i < record.resources.size(); ++i) {
      rapidjson::Document doc;
      if (docs != nullptr && (*docs)[i].IsObject()) doc = std::move((*docs)[i]);
      std::vector<sdk::Issue> issues;
      {
        metrics::ThreadCpuScope timed(validate_cpu);
        if (doc.IsObject()) {
          fhir::validateResource(doc, issues);
        } else if (auto error = json::parse(record.resources[i], doc)) {
          issues.push_back({sdk::Severity::kError, "exception", record.locator,
                            "", "adapter produced invalid JSON for resource " + std::to_string(i) + ": " + *error});
        } else {
          fhir::validateResource(doc, issues);
        }
      }
      for (auto& issue : issues) {
        if (issue.location.empty()) issue.location = record.locator;
        out.issues.push_back(std::move(issue));
      }
      if (!isBlocking(out.issues) && doc.IsObject()) {
        metrics::ThreadCpuScope timed(index_cpu);
        setMetaSource(doc, source);
        ResourceWrite write = prepareResource(doc);
        write.organization = org;
        write.source_locator = record.locator;
        writes.push_back(std::move(write));
      }
    }
    if (record.resources.empty() && !isBlocking(out.issues)) {
      out.issues.push_back({sdk::Severity::kError, "processing", record.locator, "",
                            "the adapter produced no resources for this record"});
    }
    out.accepted = !isBlocking(out.issues);
    if (out.accepted) out.writes = std::move(writes);
    mapped.records.push_back(std::move(out));
  }
  return mapped;
}

std::string batchResponseBundle(const MappedPayload& mapped, const CommitResult& commit) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("resourceType", "Bundle", a);
  doc.AddMember("type", "batch-response", a);
  rapidjson::Value entries(rapidjson::kArrayType);
  size_t written_index = 0;
  for (const auto& record : mapped.records) {
    auto source = [&](rapidjson::Value& entry) {
      rapidjson::Value ext(rapidjson::kArrayType);
      rapidjson::Value item(rapidjson::kObjectType);
      item.AddMember("url", rapidjson::StringRef(kSourceRecordUrl), a);
      item.AddMember("valueString", json::str(record.locator, a), a);
      ext.PushBack(item, a);
      entry.AddMember("extension", ext, a);
    };
    if (!record.accepted) {
      rapidjson::Value entry(rapidjson::kObjectType);
      source(entry);
      rapidjson::Value response(rapidjson::kObjectType);
      response.AddMember("status", "422 Unprocessable Entity", a);
      response.AddMember("outcome", operationOutcome(record.issues, a), a);
      entry.AddMember("response", response, a);
      entries.PushBack(entry, a);
      continue;
    }
    bool first = true;
    for (size_t i = 0; i < record.writes.size(); ++i, ++written_index) {
      const WrittenResource& w = commit.resources.at(written_index);
      rapidjson::Value entry(rapidjson::kObjectType);
      source(entry);
      rapidjson::Value response(rapidjson::kObjectType);
      response.AddMember("status", json::str(statusLine(w.outcome), a), a);
      std::string location = w.type + "/" + w.id + "/_history/" + std::to_string(w.version);
      response.AddMember("location", json::str(location, a), a);
      response.AddMember("etag", json::str("W/\"" + std::to_string(w.version) + "\"", a), a);
      response.AddMember("lastModified", json::str(w.last_updated, a), a);
      if (first && !record.issues.empty()) response.AddMember("outcome", operationOutcome(record.issues, a), a);
      first = false;
      entry.AddMember("response", response, a);
      entries.PushBack(entry, a);
    }
  }
  doc.AddMember("entry", entries, a);
  return json::write(doc);
}

std::string collectionBundle(const MappedPayload& mapped) {
  std::string out = "{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":[";
  bool first = true;
  for (const auto& record : mapped.records) {
    for (const auto& write : record.writes) {
      if (!first) out += ",";
      first = false;
      out += "{\"fullUrl\":\"urn:ilpgw:" + write.type + "/" + write.id + "\",\"resource\":" + unversionedResource(write) + "}";
    }
  }
  out += "]}";
  return out;
}

namespace {

// A refusal or a failed commit: nothing was stored.
IngestResponse failed(const Status& status, std::string_view expression = {}) {
  ErrorAnswer answer = errorAnswer(status, expression);
  return {answer.http_status, std::move(answer.body), false, false, std::move(answer.headers)};
}

}  // namespace

IngestResponse Gateway::ingest(const RequestContext& caller, std::string_view adapter_name,
                               std::string_view payload, std::string_view content_type) {
  // Who may post for which organization: RequestContext::writeOrganization().
  std::optional<std::string> writes_for = caller.writeOrganization();
  if (!writes_for) return failed(Status(StatusCode::kPermissionDenied, std::string(kWriteForbiddenText)));
  const std::string& organization = *writes_for;
  auto set = adapters();
  auto it = set->adapters.find(adapter_name);
  if (it == set->adapters.end()) {
    return failed(Status(StatusCode::kNotFound,
                         "no adapter named \"" + std::string(adapter_name) + "\" is loaded (see GET /admin/plugins)"));
  }
  const ActiveAdapter& adapter = it->second;
  Status type_ok = checkContentType(adapter.loaded->info(), content_type);
  if (!type_ok.isOk()) return failed(Status(StatusCode::kUnsupportedMedia, type_ok.message()));

  CallLimits limits;
  limits.timeout_ms = adapter.timeout_ms;
  limits.marker_dir = adapterCallMarkerDir(config_);
  MappedPayload mapped = mapPayload(adapter, *set, config_, payload, content_type, organization, limits);
  if (static_cast<long long>(mapped.records.size()) > config_.batch_max_records) {
    return failed(Status(StatusCode::kTooLarge, "the post holds " + std::to_string(mapped.records.size()) +
                                                     " records; at most " + std::to_string(config_.batch_max_records) +
                                                     " per post (limits.batch_max_records)"),
                  "payload");
  }

  WriteBatch batch;
  batch.payload = PayloadWrite{std::string(adapter_name), organization, std::string(content_type),
                               std::string(payload)};
  // The AuditEvent goes into the same transaction as the data it describes.
  AuditInfo audit;
  audit.subtype = "create";
  audit.action = 'C';
  audit.agent = caller.client_id;
  audit.organization = organization;
  audit.remote_addr = caller.remote_addr;
  audit.request_id = caller.request_id;
  audit.description = "POST /ingest/" + std::string(adapter_name);
  auto addAudit = [&](WriteBatch& b, int status) {
    audit.http_status = status;
    b.audit.push_back(makeAuditEvent(audit));
  };
  if (!mapped.call_status.isOk()) {
    // The adapter hung or is unhealthy: only this payload fails. Keep it in
    // quarantine for reprocessing once the adapter is fixed.
    int status = mapped.call_timed_out ? 504 : 503;
    std::string outcome = outcomeJson(sdk::Severity::kError, "timeout", mapped.call_status.message());
    batch.quarantine.push_back({"payload", "", outcome});
    addAudit(batch, status);
    auto committed = store_->commit(std::move(batch));
    if (!committed.isOk()) return failed(committed.status());
    return {status, outcome, false, true, {}};
  }
  if (isBlocking(mapped.payload_issues)) {
    // Unreadable as a whole: keep it in quarantine, then answer 400.
    batch.quarantine.push_back({"payload", "", outcomeJson(mapped.payload_issues)});
    addAudit(batch, 400);
    auto committed = store_->commit(std::move(batch));
    if (!committed.isOk()) return failed(committed.status());
    return {400, outcomeJson(mapped.payload_issues), false, true, {}};
  }

  // The identity merge reads each stored Patient and commits on condition
  // that it is still that version (or still absent). A concurrent post of the
  // same person fails the precondition; the merge then runs again on the
  // newer version, so neither post loses the other's identifiers.
  std::vector<std::pair<size_t, size_t>> patient_slots;
  std::vector<ResourceWrite> unmerged_patients;
  for (size_t r = 0; r < mapped.records.size(); ++r) {
    for (size_t w = 0; w < mapped.records[r].writes.size(); ++w) {
      if (mapped.records[r].writes[w].type != "Patient") continue;
      patient_slots.emplace_back(r, w);
      unmerged_patients.push_back(mapped.records[r].writes[w]);
    }
  }
  std::vector<size_t> issues_before;
  for (const auto& record : mapped.records) issues_before.push_back(record.issues.size());
  StatusOr<CommitResult> committed = Status(StatusCode::kInternal, "not committed");
  size_t accepted = 0;
  for (int attempt = 0;; ++attempt) {
    if (attempt > 0) {
      for (size_t i = 0; i < patient_slots.size(); ++i) {
        mapped.records[patient_slots[i].first].writes[patient_slots[i].second] = unmerged_patients[i];
      }
      for (size_t r = 0; r < mapped.records.size(); ++r) mapped.records[r].issues.resize(issues_before[r]);
      batch = WriteBatch{};
      batch.payload = PayloadWrite{std::string(adapter_name), organization, std::string(content_type),
                                   std::string(payload)};
      audit.entities.clear();
    }
    {
      static metrics::Counter& merge_cpu = stageCpu("merge");
      metrics::ThreadCpuScope timed(merge_cpu);
      mergePatientIdentities(*store_, mapped);
    }
    accepted = 0;
    for (auto& record : mapped.records) {
      if (record.accepted) {
        ++accepted;
        for (const auto& write : record.writes) {
          batch.resources.push_back(write);
          audit.entities.push_back(write.type + "/" + write.id);
        }
      } else {
        batch.quarantine.push_back({record.locator, record.source_key, outcomeJson(record.issues)});
      }
    }
    addAudit(batch, accepted == 0 ? 422 : 201);
    committed = store_->commit(std::move(batch));
    if (committed.isOk() || committed.status().code() != StatusCode::kPreconditionFailed ||
        attempt + 1 >= kIdentityMergeAttempts) {
      break;
    }
  }
  if (!committed.isOk() && committed.status().code() == StatusCode::kPreconditionFailed) {
    // Only the identity preconditions can fail here: the person keeps being
    // changed by other posts. Nothing was stored; the client may retry.
    committed = Status(StatusCode::kUnavailable,
                       "the same patient is being changed by other posts at this moment; nothing was stored");
  }
  // Nothing was stored; on a refusal (another organization's resource) the
  // caller's own audit hook records it.
  if (!committed.isOk()) return failed(committed.status());
  metrics::ingestRecords().counter({std::string(adapter_name), "accepted"}).add(accepted);
  metrics::ingestRecords().counter({std::string(adapter_name), "refused"}).add(mapped.records.size() - accepted);
  if (mapped.records.empty()) {
    return {422, outcomeJson(sdk::Severity::kError, "required", "the payload holds no records", "payload"), false,
            true, {}};
  }
  if (accepted == 0) {
    std::vector<sdk::Issue> all;
    for (const auto& record : mapped.records) all.insert(all.end(), record.issues.begin(), record.issues.end());
    return {422, outcomeJson(all), false, true, {}};
  }
  if (sender_) sender_->notify();
  static metrics::Counter& answer_cpu = stageCpu("answer");
  metrics::ThreadCpuScope timed(answer_cpu);
  return {201, batchResponseBundle(mapped, committed.value()), accepted == mapped.records.size(), true, {}};
}

}  // namespace ilpgw
