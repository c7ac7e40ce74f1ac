// FHIR Bulk Data export (HL7 Bulk Data Access IG v2): system-level and
// Patient-level $export jobs run one at a time on a background thread that
// streams resources from the store into NDJSON files under
// <data_dir>/export/<job>/, one file per resource type, never holding more
// than one resource in memory. Jobs live in memory: a restart forgets them
// and clears the export directory.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fhir/search_params.h"
#include "base/status.h"
#include "store/store.h"

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

struct ExportFile {
  std::string type;
  std::string name;  // file name, e.g. Patient.ndjson
  std::int64_t count = 0;
};

enum class ExportState { kQueued, kRunning, kCompleted, kFailed };

struct ExportStatus {
  ExportState state = ExportState::kQueued;
  std::int64_t exported = 0;        // resources written so far
  std::string transaction_time;     // snapshot instant (when running or done)
  std::string request_url;
  std::vector<ExportFile> files;
  std::string error;
};

class BulkExporter {
 public:
  BulkExporter(Store& store, std::string directory);
  ~BulkExporter();  // cancels running work and joins the worker
  BulkExporter(const BulkExporter&) = delete;
  BulkExporter& operator=(const BulkExporter&) = delete;

  // Queues a job; returns its id.
  StatusOr<std::string> start(ExportRequest request);
  // The job as `client_id` sees it: another client's job is unknown to it.
  std::optional<ExportStatus> status(const std::string& job, const std::string& client_id) const;
  // Stops the job if it runs, deletes its files and forgets it; false if
  // unknown (or another client's).
  bool cancel(const std::string& job, const std::string& client_id);
  // Path of a finished job's output file; nullopt if there is none such (or
  // the job is another client's).
  std::optional<std::string> filePath(const std::string& job, const std::string& name,
                                      const std::string& client_id) const;

 private:
  struct Job {
    std::string id;
    ExportRequest request;
    ExportStatus status;
    std::atomic<bool> cancelled{false};
  };

  void workerLoop();
  void run(Job& job);

  Store& store_;
  std::string directory_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace ilpgw
