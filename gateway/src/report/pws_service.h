// The PWS operations the FHIR API (http/pws_routes) and the command line
// call, without HTTP: the Measures, $evaluate-measure with R4 parameters and
// tenant isolation from the caller, the stored monthly MeasureReports and
// their search, and the refresher that recomputes a stored month when data
// for it (or for an earlier month of its year) arrives later.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/status.h"
#include "report/evaluator.h"
#include "report/measure.h"
#include "security/request_context.h"
#include "store/resource_store.h"

namespace ilpgw::report {

using Params = std::vector<std::pair<std::string, std::string>>;

struct EvaluateAnswer {
  std::string body;  // the MeasureReport
  std::vector<std::string> audit_entities;
};

// One sweeping list (daftar sasaran): the patients of one organization and
// month in a list Measure's denominator but not its numerator (the people a
// kader should visit), with the desa each is counted in.
struct SweepEntry {
  std::string patient_id;
  std::string desa;  // the desa code, or kNoVillage
};
struct SweepList {
  const MeasureDefinition* measure = nullptr;
  std::vector<SweepEntry> patients;  // by desa, then patient id
};

class PwsService {
 public:
  PwsService(ResourceStore& store, std::shared_ptr<const MeasureLibrary> library);
  ~PwsService();
  PwsService(const PwsService&) = delete;
  PwsService& operator=(const PwsService&) = delete;

  const MeasureLibrary& library() const { return *library_; }

  // GET /fhir/Measure/{id}/$evaluate-measure: periodStart, periodEnd
  // (required), subject=Organization/{id} (a clinic caller: its own, the
  // default), reportType=summary|subject-list (default summary). A summary
  // of one calendar month is also stored as that month's MeasureReport.
  StatusOr<EvaluateAnswer> evaluate(const RequestContext& caller, std::string_view measure_id, const Params& params);

  // Every Measure of the library for one organization and calendar month,
  // with its targets: what the PWS page shows, from the same evaluation as
  // $evaluate-measure. kPermissionDenied when the caller may not read the
  // organization.
  StatusOr<std::vector<MeasureResult>> month(const RequestContext& caller, const std::string& organization, int year,
                                             int month);

  // The same for every month of the year from January to `month`, from one
  // read of the data: element [m - 1] is month(caller, organization, year, m).
  StatusOr<std::vector<std::vector<MeasureResult>>> months(const RequestContext& caller,
                                                           const std::string& organization, int year, int month);

  // The sweeping lists of `lists` (mappings/sweeping/) for one organization
  // and month: the same evaluator, keeping the patients behind each count.
  StatusOr<std::vector<SweepList>> sweepingLists(const RequestContext& caller, const MeasureLibrary& lists,
                                                 const std::string& organization, int year, int month);

  // The stored monthly MeasureReports the caller may read, filtered by
  // measure (id or canonical URL), period (a date inside the report's
  // period; ge/le/gt/lt/eq prefixes) and subject (Organization/{id} or id).
  StatusOr<std::vector<StoredResource>> searchReports(const RequestContext& caller, const Params& params);
  StatusOr<std::optional<StoredResource>> readReport(const RequestContext& caller, std::string_view id,
                                                     std::optional<std::int64_t> version);

  // Recomputes every stored monthly report that data committed since the last
  // call may have changed (a new version only where a count changed).
  // Returns how many reports got a new version.
  StatusOr<int> refreshOnce();
  // Runs refreshOnce() every `interval` on a thread of its own until destroyed.
  void startRefresher(std::chrono::milliseconds interval);

 private:
  // Evaluates `measures` for one organization and period, with its targets.
  StatusOr<std::vector<MeasureResult>> run(const std::vector<const MeasureDefinition*>& measures,
                                           const std::string& organization, const ReportPeriod& period,
                                           bool subjects);
  // Stores the summary of one month (unchanged content: no new version).
  StatusOr<bool> storeMonthly(const MeasureResult& result);

  ResourceStore& store_;
  std::shared_ptr<const MeasureLibrary> library_;
  MeasureEvaluator evaluator_;
  std::mutex refresh_mutex_;  // one refresh at a time
  std::optional<std::int64_t> seen_seq_;
  std::mutex reporting_mutex_;
  std::set<std::string> reporting_;  // organizations with stored monthly reports
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread refresher_;
};

}  // namespace ilpgw::report
