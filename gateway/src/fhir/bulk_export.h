// FHIR Bulk Data export (HL7 Bulk Data Access IG v2): system-level and
// Patient-level $export jobs run one at a time on a background thread that
// streams resources from the store into NDJSON files under
// <data_dir>/exports/<job>/, one file per resource type, never holding more
// than one resource in memory. Jobs are kept in the store (ExportJobs), so a
// job and its status URL survive a restart: a job that was queued or running
// when the gateway stopped runs again from the start when it comes back (a
// job the gateway died in three times fails instead). Finished jobs expire
// after export.retention_hours; their files are then deleted. One job's files
// may take at most export.max_bytes.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/config.h"
#include "base/status.h"
#include "fhir/search_params.h"
#include "store/export_jobs.h"
#include "store/resource_store.h"

namespace ilpgw {

enum class ExportLevel { kSystem, kPatient };

struct ExportRequest {
  ExportLevel level = ExportLevel::kSystem;
  std::vector<std::string> types;     // resource types to export, in output order
  std::optional<std::string> since;   // UTC instant: resources with lastUpdated > since
  std::string request_url;            // the kick-off URL, echoed in the manifest
  // Security: the requesting client (only it may poll, download or cancel the
  // job) and the organization whose resources it may export (nullopt = all).
  std::string client_id;
  std::optional<std::string> organization;
};

// Checks kick-off parameters (_type, _since, _outputFormat; anything else is
// an error) and the default type list of the level.
StatusOr<ExportRequest> parseExportRequest(ExportLevel level, const QueryParams& params);

// The store queries a request runs, one per type (Patient level: resources
// linked to any Patient, plus the Patients themselves).
std::vector<SearchQuery> exportQueries(const ExportRequest& request);

using ExportFile = ExportOutputFile;
using ExportState = ExportJobState;

struct ExportStatus {
  ExportState state = ExportState::kQueued;
  std::int64_t exported = 0;        // resources written so far
  std::string transaction_time;     // snapshot instant (when done)
  std::string request_url;
  std::vector<ExportFile> files;
  std::string error;
};

struct ExportOptions {
  std::string directory;         // where job directories go: <data_dir>/exports
  std::string legacy_directory;  // output of builds that kept jobs in memory: removed at start
  std::int64_t retention_ms = 24LL * 3600 * 1000;  // a finished job's output is kept this long
  std::int64_t max_bytes = 2LL * 1024 * 1024 * 1024;  // most bytes of one job's files
};

// The options `config` sets (export.retention_hours, export.max_bytes).
ExportOptions exportOptions(const Config& config);

class BulkExporter {
 public:
  // Resumes the jobs a previous run left queued or running, deletes expired
  // jobs and files no job owns, and starts the worker.
  BulkExporter(ResourceStore& resources, ExportJobs& jobs, ExportOptions options);
  ~BulkExporter();  // stops the running job (it stays queued for the next start) and joins the worker
  BulkExporter(const BulkExporter&) = delete;
  BulkExporter& operator=(const BulkExporter&) = delete;

  // Queues a job; returns its id. kTooManyRequests when too many jobs are kept.
  StatusOr<std::string> start(ExportRequest request);
  // The job as `client_id` sees it: another client's job, a deleted or an
  // expired one is unknown (nullopt).
  StatusOr<std::optional<ExportStatus>> status(const std::string& job, const std::string& client_id) const;
  // Stops the job if it runs, deletes its files and forgets it; false if
  // unknown (or another client's).
  StatusOr<bool> cancel(const std::string& job, const std::string& client_id);
  // Path of a finished job's output file; nullopt if there is none such (or
  // the job is another client's, or expired).
  StatusOr<std::optional<std::string>> filePath(const std::string& job, const std::string& name,
                                                const std::string& client_id) const;
  // Deletes expired jobs and their files now (the worker also does it on its own).
  void expireNow();

 private:
  // The job if `client_id` may see it now.
  StatusOr<std::optional<ExportJob>> visibleJob(const std::string& job, const std::string& client_id) const;
  void resume();
  void workerLoop();
  void run(ExportJob job);
  std::string jobDirectory(const std::string& job) const;

  ResourceStore& resources_;
  ExportJobs& jobs_;
  ExportOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::string> queue_;  // ids of queued jobs, oldest first
  std::string running_;            // id of the running job, "" when idle
  std::atomic<bool> cancel_running_{false};       // DELETE of the running job
  std::atomic<std::int64_t> running_exported_{0};  // its progress
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace ilpgw
