// Bulk Data $export jobs: what was asked, how far it got, and the files it
// produced, kept so a job (and its status URL) survives a restart and is seen
// by every instance sharing the store. The files themselves are in the export
// directory (fhir/bulk_export.h); this role keeps only their list. A job runs
// under a lease: the instance that claimed it renews the lease while it runs,
// and another instance takes the job over only once the lease has run out.
// Each call is its own durable write through the store's writer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace ilpgw {

enum class ExportJobState { kQueued, kRunning, kCompleted, kFailed };

struct ExportOutputFile {
  std::string type;
  std::string name;  // file name in the job's directory, e.g. Patient.ndjson
  std::int64_t count = 0;
};

struct ExportJob {
  std::string id;
  std::string client_id;  // the client that started it: only it may see the job
  // The kick-off request, enough to run the job again after a restart.
  std::string level;               // system | patient
  std::vector<std::string> types;  // in output order
  std::optional<std::string> since;
  std::optional<std::string> organization;  // tenant filter; nullopt = every organization
  std::string request_url;
  // Where it stands.
  ExportJobState state = ExportJobState::kQueued;
  int attempts = 0;           // runs started; a restart during a run starts another
  std::int64_t exported = 0;  // resources written (so far, while running)
  std::int64_t bytes = 0;     // bytes of output written
  std::string transaction_time;
  std::vector<ExportOutputFile> files;  // when completed
  std::string error;                    // when failed
  std::string created_at;
  std::string finished_at;  // completed or failed; "" before
  std::string expires_at;   // when its output is deleted; "" while not finished
  // Who runs it: the instance holding the lease and until when (a FHIR instant
  // in UTC; "" = nobody, free to claim).
  std::string lease_owner;
  std::string lease_until;
};

class ExportJobs {
 public:
  virtual ~ExportJobs() = default;

  virtual Status createExportJob(const ExportJob& job) = 0;
  // Replaces where the job stands (state, attempts, progress, files, error,
  // finished_at, expires_at, lease_until); the request part never changes.
  // Only the holder of the lease may: `job.lease_owner` must be the stored
  // one, else kConflict (another instance took the job over). A job deleted
  // meanwhile stays deleted (kNotFound).
  virtual Status updateExportJob(const ExportJob& job) = 0;
  // Takes the oldest queued or running job whose lease ended before `now`
  // (or that has none) for `owner` until `until`, and returns it; nullopt when
  // no job waits. Two instances never take the same job.
  virtual StatusOr<std::optional<ExportJob>> claimExportJob(std::string_view owner, std::string_view now,
                                                            std::string_view until) = 0;
  virtual StatusOr<std::optional<ExportJob>> readExportJob(std::string_view id) = 0;
  // Every job, oldest first (few: the exporter caps how many are kept).
  virtual StatusOr<std::vector<ExportJob>> listExportJobs() = 0;
  // Finished jobs with expires_at <= now (a FHIR instant in UTC).
  virtual StatusOr<std::vector<ExportJob>> listExpiredExportJobs(std::string_view now) = 0;
  virtual Status deleteExportJob(std::string_view id) = 0;
};

}  // namespace ilpgw
