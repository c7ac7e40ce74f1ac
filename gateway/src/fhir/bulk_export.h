// FHIR Bulk Data export (HL7 Bulk Data Access IG v2): system-level and
// Patient-level $export jobs run one at a time per instance on a background
// thread that streams resources from the store into NDJSON files under
// <export.directory>/<job>/<run>/, one file per resource type, never holding
// more than one resource in memory. Jobs are kept in the store (ExportJobs):
// any instance sharing the store answers a job's status URL and, with the
// export directory shared too, serves its files. A job is claimed under a
// lease that its instance renews while it runs; a job whose instance stopped
// (its lease ran out, or at once when the store is this process's alone) runs
// again from the start on whichever instance claims it next (a job the
// gateway died in three times fails instead). Each run writes into its own
// folder, so a run that lost its lease never touches its successor's files.
// Finished jobs expire after export.retention_hours; their files are then
// deleted. One job's files may take at most export.max_bytes.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
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
  std::string directory;         // where job directories go: export.directory
  std::string legacy_directory;  // output of builds that kept jobs in memory: removed at start
  std::int64_t retention_ms = 24LL * 3600 * 1000;  // a finished job's output is kept this long
  std::int64_t max_bytes = 2LL * 1024 * 1024 * 1024;  // most bytes of one job's files
  std::int64_t lease_ms = 60 * 1000;  // a claimed job is this instance's for this long, renewed every second
  std::string owner;                  // this instance's name on its leases (instanceName() when empty)
  // The store is this process's alone (SQLite): a job an earlier run left
  // running is taken again at start, without waiting for its lease to end.
  bool exclusive = true;
  // How often an idle exporter looks for jobs other instances queued.
  std::int64_t poll_ms = 2000;
};

// The options `config` sets (export.directory, export.retention_hours,
// export.max_bytes, export.lease_s; exclusive unless the store is PostgreSQL).
ExportOptions exportOptions(const Config& config);

class BulkExporter {
 public:
  // Deletes expired jobs and files no job owns, frees the leases of an
  // earlier run when the store is exclusive, and starts the worker, which
  // claims queued jobs (its own and other instances') one at a time.
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
  // The next job this instance may run, under its lease; nullopt when none waits.
  std::optional<ExportJob> claimNext();
  // Marks a job the gateway kept dying in as failed; false if it may run again.
  bool failIfKeptDying(ExportJob& job);
  void run(ExportJob job);
  std::string jobDirectory(const std::string& job) const;
  // The folder of the job's current run (its attempt number).
  std::string runDirectory(const ExportJob& job) const;

  ResourceStore& resources_;
  ExportJobs& jobs_;
  ExportOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool wake_pending_ = false;      // a job was queued here: look at once
  std::string running_;            // id of the running job, "" when idle
  std::atomic<bool> cancel_running_{false};       // DELETE of the running job
  std::atomic<std::int64_t> running_exported_{0};  // its progress
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace ilpgw
