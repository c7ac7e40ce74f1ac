#include "fhir/bulk_export.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>

#include "base/crypto.h"
#include "base/host_facts.h"
#include "base/log.h"
#include "base/time_util.h"
#include "fhir/fhir_validator.h"

namespace ilpgw {
namespace {

constexpr int kMaxJobs = 16;  // queued, running and finished jobs kept; each holds files on disk
// A job running when the gateway died this many times fails instead of
// running again (it may be what kills the gateway).
constexpr int kMaxInterruptedRuns = 3;
// How often the running job's progress is written to the store.
constexpr auto kProgressInterval = std::chrono::seconds(1);

std::string randomJobId() { return hex(randomBytes(16)); }  // 32 hex digits, unguessable

std::int64_t nowMillis() { return millisFromInstant(nowInstant()).value_or(0); }

// The instant `ms` from now.
std::string instantIn(std::int64_t ms) { return instantFromMillis(nowMillis() + ms); }

bool expired(const ExportJob& job, const std::string& now) {
  return !job.expires_at.empty() && job.expires_at <= now;
}

ExportJob jobFor(const ExportRequest& request) {
  ExportJob job;
  job.client_id = request.client_id;
  job.level = request.level == ExportLevel::kPatient ? "patient" : "system";
  job.types = request.types;
  job.since = request.since;
  job.organization = request.organization;
  job.request_url = request.request_url;
  job.state = ExportJobState::kQueued;
  job.created_at = nowInstant();
  return job;
}

ExportRequest requestOf(const ExportJob& job) {
  ExportRequest request;
  request.level = job.level == "patient" ? ExportLevel::kPatient : ExportLevel::kSystem;
  request.types = job.types;
  request.since = job.since;
  request.request_url = job.request_url;
  request.client_id = job.client_id;
  request.organization = job.organization;
  return request;
}

// Flushes a written file (or directory) to disk, so a job recorded as
// completed never points at output a power cut could still lose.
bool syncPath(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

std::vector<std::string> splitComma(std::string_view s) {
  std::vector<std::string> parts;
  while (true) {
    size_t comma = s.find(',');
    std::string part(s.substr(0, comma));
    while (!part.empty() && part.front() == ' ') part.erase(0, 1);
    while (!part.empty() && part.back() == ' ') part.pop_back();
    parts.push_back(part);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return parts;
}

}  // namespace

StatusOr<ExportRequest> parseExportRequest(ExportLevel level, const QueryParams& params) {
  ExportRequest request;
  request.level = level;
  for (const auto& [name, value] : params) {
    if (name == "_outputFormat") {
      if (value != "application/fhir+ndjson" && value != "application/ndjson" && value != "ndjson") {
        return Status(StatusCode::kInvalidArgument, "_outputFormat " + value + " is not supported (only application/fhir+ndjson)");
      }
    } else if (name == "_type") {
      for (const auto& type : splitComma(value)) {
        if (!fhir::isSupportedResourceType(type)) {
          return Status(StatusCode::kInvalidArgument, "_type: " + type + " is not a resource type this gateway stores");
        }
        if (level == ExportLevel::kPatient && type != "Patient" && patientLinkParam(type) == nullptr) {
          return Status(StatusCode::kInvalidArgument, "_type: " + type + " is not in the Patient compartment");
        }
        bool seen = false;
        for (const auto& t : request.types) seen |= t == type;
        if (!seen) request.types.push_back(type);
      }
    } else if (name == "_since") {
      auto range = parseFhirDateRange(value);
      if (!range) return Status(StatusCode::kInvalidArgument, "_since must be a FHIR instant");
      request.since = instantFromMillis(range->low);
    } else {
      // _elements, _typeFilter, includeAssociatedData, patient ... are not
      // implemented; the IG lets a server refuse what it does not support.
      return Status(StatusCode::kInvalidArgument, "export parameter " + name + " is not supported");
    }
  }
  if (request.types.empty()) {
    for (const auto& type : fhir::supportedResourceTypes()) {
      if (level == ExportLevel::kSystem || type == "Patient" || patientLinkParam(type) != nullptr) {
        request.types.push_back(type);
      }
    }
  }
  return request;
}

std::vector<SearchQuery> exportQueries(const ExportRequest& request) {
  std::vector<SearchQuery> queries;
  for (const auto& type : request.types) {
    SearchQuery query;
    query.type = type;
    query.want_total = false;
    query.organization = request.organization;  // tenant isolation: filtered in the store's query
    if (request.level == ExportLevel::kPatient && type != "Patient") {
      SearchClause linked;
      linked.kind = SearchKind::kReference;
      const SearchParamDef* link = patientLinkParam(type);
      linked.param = link != nullptr ? std::string(indexedAs(*link).name) : "patient";
      SearchValue any_patient;
      any_patient.target_type = "Patient";
      linked.any_of.push_back(any_patient);
      query.all_of.push_back(std::move(linked));
    }
    if (request.since) {
      SearchClause since;
      since.kind = SearchKind::kLastUpdated;
      // The IG: included when lastUpdated is later than _since.
      SearchValue v;
      v.prefix = SearchPrefix::kGt;
      v.low = *request.since;
      v.high = *request.since;
      since.any_of.push_back(v);
      query.all_of.push_back(std::move(since));
    }
    queries.push_back(std::move(query));
  }
  return queries;
}

ExportOptions exportOptions(const Config& config) {
  ExportOptions options;
  options.directory = config.exportDirectory();
  options.legacy_directory = config.data_dir + "/export";
  options.retention_ms = static_cast<std::int64_t>(config.export_retention_hours) * 3600 * 1000;
  options.max_bytes = config.export_max_bytes;
  options.lease_ms = static_cast<std::int64_t>(config.export_lease_s) * 1000;
  options.exclusive = config.store_backend != "postgresql";
  return options;
}

BulkExporter::BulkExporter(ResourceStore& resources, ExportJobs& jobs, ExportOptions options)
    : resources_(resources), jobs_(jobs), options_(std::move(options)) {
  if (options_.owner.empty()) options_.owner = instanceName();
  std::error_code ec;
  if (!options_.legacy_directory.empty()) std::filesystem::remove_all(options_.legacy_directory, ec);
  std::filesystem::create_directories(options_.directory, ec);
  if (ec) logLine(LogLevel::kError, "export: cannot create " + options_.directory + ": " + ec.message());
  // Exports hold patient data: only the gateway's user may read them.
  std::filesystem::permissions(options_.directory, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);
  resume();
  expireNow();
  worker_ = std::thread([this] { workerLoop(); });
}

BulkExporter::~BulkExporter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

std::string BulkExporter::jobDirectory(const std::string& job) const {
  return (std::filesystem::path(options_.directory) / job).string();
}

std::string BulkExporter::runDirectory(const ExportJob& job) const {
  return (std::filesystem::path(jobDirectory(job.id)) / std::to_string(job.attempts)).string();
}

void BulkExporter::resume() {
  namespace fs = std::filesystem;
  // The folders first, then the jobs: a job's row is written before its
  // folder, so a folder listed here whose job is not in the list that follows
  // belongs to a deleted job, never to one another instance is starting.
  std::vector<fs::path> folders;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.directory, ec)) folders.push_back(entry.path());
  auto jobs = jobs_.listExportJobs();
  if (!jobs.isOk()) {
    logLine(LogLevel::kError, "export: cannot read the export jobs; unfinished jobs resume once the store answers");
    return;
  }
  std::set<std::string> known;
  for (auto& job : jobs.value()) {
    known.insert(job.id);
    if (!options_.exclusive) continue;
    if (job.state != ExportJobState::kQueued && job.state != ExportJobState::kRunning) continue;
    // Nobody else runs jobs on this store: the lease of an earlier run is void.
    if (failIfKeptDying(job) || job.lease_until.empty()) continue;
    job.lease_until.clear();
    (void)jobs_.updateExportJob(job);
  }
  for (const auto& folder : folders) {
    if (!known.contains(folder.filename().string())) fs::remove_all(folder, ec);
  }
}

bool BulkExporter::failIfKeptDying(ExportJob& job) {
  if (job.state != ExportJobState::kRunning || job.attempts < kMaxInterruptedRuns) return false;
  job.state = ExportJobState::kFailed;
  job.error = "the gateway stopped during this export " + std::to_string(job.attempts) +
              " times; start a new export (with fewer types or _since if it is large)";
  job.finished_at = nowInstant();
  job.expires_at = instantIn(options_.retention_ms);
  job.files.clear();
  if (jobs_.updateExportJob(job).isOk()) {
    std::error_code ec;
    std::filesystem::remove_all(jobDirectory(job.id), ec);
  }
  logLine(LogLevel::kError, "export " + job.id + ": interrupted " + std::to_string(job.attempts) +
                                " times by the gateway stopping; marked failed");
  return true;
}

std::optional<ExportJob> BulkExporter::claimNext() {
  for (;;) {
    auto claimed = jobs_.claimExportJob(options_.owner, nowInstant(), instantIn(options_.lease_ms));
    if (!claimed.isOk()) return std::nullopt;  // logged by the store; the next look retries
    if (!claimed.value()) return std::nullopt;
    ExportJob job = std::move(*claimed.value());
    job.lease_owner = options_.owner;
    if (failIfKeptDying(job)) continue;
    if (job.state == ExportJobState::kRunning) {
      logLine(LogLevel::kInfo, "export " + job.id + ": was running when the gateway stopped; runs again from the start");
    }
    return job;
  }
}

void BulkExporter::expireNow() {
  auto expired_jobs = jobs_.listExpiredExportJobs(nowInstant());
  if (!expired_jobs.isOk()) return;  // logged by the store; the next sweep retries
  // The row goes first: files without a row are removed at the next start, a row
  // without files would be a job that claims output it no longer has.
  for (const auto& job : expired_jobs.value()) {
    if (!jobs_.deleteExportJob(job.id).isOk()) continue;
    std::error_code ec;
    std::filesystem::remove_all(jobDirectory(job.id), ec);
    logLine(LogLevel::kInfo, "export " + job.id + ": expired, output deleted");
  }
}

StatusOr<std::string> BulkExporter::start(ExportRequest request) {
  ExportJob job = jobFor(request);
  std::lock_guard lock(mutex_);  // one count-then-create at a time
  auto jobs = jobs_.listExportJobs();
  if (!jobs.isOk()) return jobs.status();
  std::string now = nowInstant();
  auto kept = std::count_if(jobs.value().begin(), jobs.value().end(),
                            [&](const ExportJob& j) { return !expired(j, now); });
  if (kept >= kMaxJobs) {
    return Status(StatusCode::kTooManyRequests, "too many export jobs; DELETE finished ones first");
  }
  job.id = randomJobId();
  Status created = jobs_.createExportJob(job);
  if (!created.isOk()) return created;
  wake_pending_ = true;
  wake_.notify_one();
  return job.id;
}

StatusOr<std::optional<ExportJob>> BulkExporter::visibleJob(const std::string& id,
                                                            const std::string& client_id) const {
  auto found = jobs_.readExportJob(id);
  if (!found.isOk()) return found.status();
  if (found.value() && (found.value()->client_id != client_id || expired(*found.value(), nowInstant()))) {
    found.value().reset();
  }
  return found;
}

StatusOr<std::optional<ExportStatus>> BulkExporter::status(const std::string& id, const std::string& client_id) const {
  auto found = visibleJob(id, client_id);
  if (!found.isOk()) return found.status();
  if (!found.value()) return std::optional<ExportStatus>();
  const ExportJob& job = *found.value();
  ExportStatus status{job.state, job.exported, job.transaction_time, job.request_url, job.files, job.error};
  std::lock_guard lock(mutex_);
  if (running_ == id && job.state == ExportJobState::kRunning) status.exported = running_exported_;
  return std::optional<ExportStatus>(std::move(status));
}

StatusOr<bool> BulkExporter::cancel(const std::string& id, const std::string& client_id) {
  auto found = visibleJob(id, client_id);
  if (!found.isOk()) return found.status();
  if (!found.value()) return false;
  Status deleted = jobs_.deleteExportJob(id);
  if (!deleted.isOk()) return deleted;
  {
    std::lock_guard lock(mutex_);
    if (running_ == id) {
      // The run notices, stops and removes its own files.
      cancel_running_ = true;
      return true;
    }
  }
  // Queued, finished, or running on another instance (which notices at its
  // next progress write and stops).
  std::error_code ec;
  std::filesystem::remove_all(jobDirectory(id), ec);
  return true;
}

StatusOr<std::optional<std::string>> BulkExporter::filePath(const std::string& id, const std::string& name,
                                                            const std::string& client_id) const {
  auto found = visibleJob(id, client_id);
  if (!found.isOk()) return found.status();
  if (!found.value() || found.value()->state != ExportJobState::kCompleted) return std::optional<std::string>();
  for (const auto& file : found.value()->files) {
    if (file.name != name) continue;
    std::string path = (std::filesystem::path(runDirectory(*found.value())) / name).string();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      logLine(LogLevel::kError, "export " + id + ": " + path +
                                    " is not in export.directory (instances sharing a database must share it)");
      return std::optional<std::string>();
    }
    return std::optional<std::string>(path);
  }
  return std::optional<std::string>();
}

void BulkExporter::workerLoop() {
  using Clock = std::chrono::steady_clock;
  // Expired output is swept at least every minute (sooner when it is kept
  // for less than two minutes, as in tests).
  auto sweep_every = std::chrono::milliseconds(std::clamp<std::int64_t>(options_.retention_ms / 2, 50, 60000));
  auto next_sweep = Clock::now() + sweep_every;
  auto next_look = Clock::now();  // jobs an earlier run or another instance left waiting
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait_until(lock, std::min(next_sweep, next_look), [&] { return stopping_ || wake_pending_; });
      if (stopping_) return;
      wake_pending_ = false;
    }
    if (Clock::now() >= next_sweep) {
      expireNow();
      next_sweep = Clock::now() + sweep_every;
    }
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
      }
      auto job = claimNext();
      if (!job) break;
      {
        std::lock_guard lock(mutex_);
        running_ = job->id;
        cancel_running_ = false;
        running_exported_ = 0;
      }
      run(std::move(*job));
      std::lock_guard lock(mutex_);
      running_.clear();
    }
    next_look = Clock::now() + std::chrono::milliseconds(options_.poll_ms);
  }
}

void BulkExporter::run(ExportJob job) {
  namespace fs = std::filesystem;
  job.state = ExportJobState::kRunning;
  ++job.attempts;
  job.exported = 0;
  job.bytes = 0;
  job.files.clear();
  job.error.clear();
  fs::path dir = runDirectory(job);
  std::error_code ec;
  // Earlier runs' folders hold partial output; a run that lost its lease may
  // still write into its own, never into this one.
  for (const auto& entry : fs::directory_iterator(jobDirectory(job.id), ec)) {
    if (entry.path() != dir) fs::remove_all(entry.path(), ec);
  }
  fs::remove_all(dir, ec);
  ec.clear();
  fs::create_directories(dir, ec);
  bool no_directory = static_cast<bool>(ec);
  auto stopping = [&] {
    std::lock_guard lock(mutex_);
    return stopping_;
  };
  // Records where the job stands and renews the lease; false once the job
  // was deleted or taken over by another instance meanwhile (this run's
  // folder is then removed: a deleted job keeps no files, a taken one has a
  // folder of its own).
  bool taken = false;  // by another instance: its files are not this run's to remove
  auto record = [&](ExportJob& j) {
    j.lease_until = instantIn(options_.lease_ms);
    Status s = jobs_.updateExportJob(j);
    if (s.code() == StatusCode::kNotFound || s.code() == StatusCode::kConflict) {
      if (s.code() == StatusCode::kConflict) {
        taken = true;
        logLine(LogLevel::kError, "export " + j.id + ": another instance took this job over; this run stops");
      }
      fs::remove_all(dir, ec);
      return false;
    }
    if (!s.isOk()) logLine(LogLevel::kError, "export " + j.id + ": cannot record its progress: " + s.message());
    return true;
  };
  auto finish = [&](ExportJobState state, const std::string& error) {
    job.state = state;
    job.error = error;
    job.finished_at = nowInstant();
    job.expires_at = instantIn(options_.retention_ms);
    (void)record(job);
  };
  if (!record(job)) {
    if (!taken) fs::remove_all(jobDirectory(job.id), ec);
    return;
  }
  if (no_directory) {
    finish(ExportJobState::kFailed, "cannot create the export directory");
    return;
  }

  std::vector<ExportFile> files;
  std::vector<std::ofstream> streams;
  for (const auto& type : job.types) {
    files.push_back({type, type + ".ndjson", 0});
    streams.emplace_back(dir / files.back().name, std::ios::binary | std::ios::trunc);
  }
  bool write_failed = false;
  bool too_large = false;
  bool interrupted = false;
  auto last_progress = std::chrono::steady_clock::now();
  auto visit = [&](size_t index, const StoredResource& resource) {
    if (cancel_running_) return false;
    if ((job.exported & 255) == 0 && stopping()) {
      interrupted = true;
      return false;
    }
    std::int64_t line = static_cast<std::int64_t>(resource.json.size()) + 1;
    if (job.bytes + line > options_.max_bytes) {
      too_large = true;
      return false;
    }
    // The stored body is already one line of JSON: NDJSON needs no re-encoding.
    streams[index] << resource.json << '\n';
    if (!streams[index]) {
      write_failed = true;
      return false;
    }
    job.bytes += line;
    ++files[index].count;
    running_exported_ = ++job.exported;
    if (std::chrono::steady_clock::now() - last_progress >= kProgressInterval) {
      last_progress = std::chrono::steady_clock::now();
      if (!record(job)) cancel_running_ = true;  // deleted or taken over meanwhile
    }
    return true;
  };
  auto mark = resources_.scan(exportQueries(requestOf(job)), visit);
  for (size_t i = 0; i < streams.size(); ++i) {
    streams[i].close();
    if (!streams[i]) write_failed = true;
  }
  if (cancel_running_) {
    // Deleted (here or on another instance): nothing of the job stays.
    fs::remove_all(taken ? dir : fs::path(jobDirectory(job.id)), ec);
    return;
  }
  if (interrupted) {
    // The gateway is stopping: the job goes back to the queue, free for any
    // instance at once, and this run does not count as an interrupted one.
    fs::remove_all(dir, ec);
    job.state = ExportJobState::kQueued;
    --job.attempts;
    job.exported = 0;
    job.bytes = 0;
    job.lease_until.clear();  // free for any instance
    Status s = jobs_.updateExportJob(job);
    if (!s.isOk() && s.code() != StatusCode::kNotFound) {
      logLine(LogLevel::kError, "export " + job.id + ": cannot put it back in the queue: " + s.message());
    }
    logLine(LogLevel::kInfo, "export " + job.id + ": stopped with the gateway; runs again on the next instance to start");
    return;
  }
  if (too_large || write_failed || !mark.isOk()) {
    fs::remove_all(jobDirectory(job.id), ec);  // a failed job keeps no files
    std::string error;
    if (too_large) {
      error = "the export would take more than export.max_bytes (" + std::to_string(options_.max_bytes) +
              " bytes) on disk; export fewer types (_type) or only recent changes (_since)";
    } else {
      error = write_failed ? "writing the export files failed (is the disk full?)" : "reading the store failed";
    }
    logLine(LogLevel::kError, "export " + job.id + ": " + error);
    job.exported = 0;
    job.bytes = 0;
    finish(ExportJobState::kFailed, error);
    return;
  }
  // Everything committed up to this instant is in the files, and every later
  // commit carries a later lastUpdated, so it is the next export's _since.
  // An empty store has no such instant: the epoch is the safe answer.
  job.transaction_time = mark->last_updated.empty() ? instantFromMillis(0) : mark->last_updated;
  // The IG: types with no resources may be left out of the output.
  bool synced = true;
  for (const auto& file : files) {
    if (file.count > 0) {
      job.files.push_back(file);
      synced = syncPath(dir / file.name) && synced;
    } else {
      fs::remove(dir / file.name, ec);
    }
  }
  synced = syncPath(dir) && synced;
  if (!synced) {
    fs::remove_all(jobDirectory(job.id), ec);
    job.files.clear();
    finish(ExportJobState::kFailed, "writing the export files failed (is the disk full?)");
    return;
  }
  finish(ExportJobState::kCompleted, "");
}

}  // namespace ilpgw
