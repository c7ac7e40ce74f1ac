#include "fhir/bulk_export.h"

#include <filesystem>
#include <fstream>
#include <random>

#include "fhir/fhir_validator.h"
#include "base/log.h"
#include "base/time_util.h"

namespace ilpgw {
namespace {

constexpr int kMaxJobs = 16;  // queued + finished jobs kept; each holds files on disk

std::string randomJobId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 32; ++i) id += kHex[rng() & 15];
  return id;
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
      linked.param = "patient";
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

BulkExporter::BulkExporter(Store& store, std::string directory) : store_(store), directory_(std::move(directory)) {
  // Jobs do not survive a restart, so neither do their files.
  std::error_code ec;
  std::filesystem::remove_all(directory_, ec);
  worker_ = std::thread([this] { workerLoop(); });
}

BulkExporter::~BulkExporter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (auto& [id, job] : jobs_) job->cancelled = true;
  }
  wake_.notify_all();
  worker_.join();
}

StatusOr<std::string> BulkExporter::start(ExportRequest request) {
  auto job = std::make_shared<Job>();
  job->request = std::move(request);
  job->status.request_url = job->request.request_url;
  std::lock_guard lock(mutex_);
  if (static_cast<int>(jobs_.size()) >= kMaxJobs) {
    return Status(StatusCode::kUnavailable, "too many export jobs; DELETE finished ones first");
  }
  job->id = randomJobId();
  jobs_[job->id] = job;
  queue_.push_back(job);
  wake_.notify_one();
  return job->id;
}

std::optional<ExportStatus> BulkExporter::status(const std::string& job, const std::string& client_id) const {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(job);
  if (it == jobs_.end() || it->second->request.client_id != client_id) return std::nullopt;
  return it->second->status;
}

bool BulkExporter::cancel(const std::string& job, const std::string& client_id) {
  bool running = false;
  {
    std::lock_guard lock(mutex_);
    auto it = jobs_.find(job);
    if (it == jobs_.end() || it->second->request.client_id != client_id) return false;
    std::shared_ptr<Job> found = it->second;
    found->cancelled = true;
    running = found->status.state == ExportState::kRunning;
    jobs_.erase(it);
    std::erase(queue_, found);
  }
  // A running job notices the flag (checked under the mutex before it
  // completes) and removes its own files; a finished or queued one is removed here.
  if (!running) {
    std::error_code ec;
    std::filesystem::remove_all(std::filesystem::path(directory_) / job, ec);
  }
  return true;
}

std::optional<std::string> BulkExporter::filePath(const std::string& job, const std::string& name,
                                                  const std::string& client_id) const {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(job);
  if (it == jobs_.end() || it->second->request.client_id != client_id ||
      it->second->status.state != ExportState::kCompleted) {
    return std::nullopt;
  }
  for (const auto& file : it->second->status.files) {
    if (file.name == name) return (std::filesystem::path(directory_) / job / name).string();
  }
  return std::nullopt;
}

void BulkExporter::workerLoop() {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = queue_.front();
      queue_.pop_front();
      job->status.state = ExportState::kRunning;
    }
    run(*job);
  }
}

void BulkExporter::run(Job& job) {
  std::filesystem::path dir = std::filesystem::path(directory_) / job.id;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  auto fail = [&](const std::string& message) {
    std::lock_guard lock(mutex_);
    job.status.state = ExportState::kFailed;
    job.status.error = message;
  };
  if (ec) {
    fail("cannot create the export directory");
    return;
  }
  std::vector<ExportFile> files;
  std::vector<std::ofstream> streams;
  for (const auto& type : job.request.types) {
    files.push_back({type, type + ".ndjson", 0});
    streams.emplace_back(dir / files.back().name, std::ios::binary | std::ios::trunc);
  }
  std::int64_t exported = 0;
  bool write_failed = false;
  auto visit = [&](size_t index, const StoredResource& resource) {
    if (job.cancelled) return false;
    // The stored body is already one line of JSON: NDJSON needs no re-encoding.
    streams[index] << resource.json << '\n';
    if (!streams[index]) {
      write_failed = true;
      return false;
    }
    ++files[index].count;
    if (++exported % 256 == 0) {
      std::lock_guard lock(mutex_);
      job.status.exported = exported;
    }
    return true;
  };
  auto mark = store_.scan(exportQueries(job.request), visit);
  for (auto& s : streams) s.close();
  if (!job.cancelled && (!mark.isOk() || write_failed)) {
    logLine(LogLevel::kError, "export " + job.id + (write_failed ? ": writing output failed" : ": store read failed"));
    std::filesystem::remove_all(dir, ec);
    fail(write_failed ? "writing the export files failed" : "reading the store failed");
    return;
  }
  std::lock_guard lock(mutex_);
  if (job.cancelled) {
    std::filesystem::remove_all(dir, ec);
    return;
  }
  job.status.exported = exported;
  // Everything committed up to this instant is in the files, and every later
  // commit carries a later lastUpdated, so it is the next export's _since.
  // An empty store has no such instant: the epoch is the safe answer.
  job.status.transaction_time = mark->last_updated.empty() ? instantFromMillis(0) : mark->last_updated;
  // The IG: types with no resources may be left out of the output.
  for (const auto& file : files) {
    if (file.count > 0) {
      job.status.files.push_back(file);
    } else {
      std::filesystem::remove(dir / file.name, ec);
    }
  }
  job.status.state = ExportState::kCompleted;
}

}  // namespace ilpgw
