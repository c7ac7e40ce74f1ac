// Evaluation of PWS Measures for one organization and period: reads the
// organization's resources of the types the criteria name, dated inside the
// period and its look-back, through ResourceStore::scanDated (indexed by
// date, tenant-filtered in the store), attributes each patient to a desa and
// counts the populations per desa. The result is plain data (a page renders
// it) and becomes a FHIR MeasureReport through measureReportJson().
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "report/measure.h"
#include "store/resource_store.h"

namespace ilpgw::report {

// The stratum of patients no desa could be found for: counted, never dropped.
inline constexpr std::string_view kNoVillage = "tanpa-desa";
inline constexpr std::string_view kVillageSystem = "https://ilp-gateway.id/fhir/CodeSystem/kode-desa";
inline constexpr std::string_view kAdministrativeCodeUrl =
    "https://fhir.kemkes.go.id/r4/StructureDefinition/administrativeCode";

enum class PeriodKind { kMonth, kQuarter, kYear };

// A calendar month, quarter or year; dates YYYY-MM-DD, inclusive.
struct ReportPeriod {
  PeriodKind kind = PeriodKind::kMonth;
  std::string start;
  std::string end;
  int year = 0;
  int last_month = 0;  // 1-12: the month the period ends in (cumulative target, trend)
};

// periodStart / periodEnd of $evaluate-measure: dates (or dateTimes, whose
// date counts) spanning exactly one calendar month, quarter or year.
StatusOr<ReportPeriod> parseReportPeriod(std::string_view start, std::string_view end);
ReportPeriod monthPeriod(int year, int month);

// A desa's yearly target for one indicator (sasaran, targets.h): the target
// population and the share of it to reach by the end of the year.
struct VillageTarget {
  double population = 0;
  double percent = 100;
};
using TargetTable = std::map<std::string, VillageTarget, std::less<>>;  // by desa code

enum class PwsStatus { kBaik, kKurang, kCukup, kJelek };
const char* pwsStatusCode(PwsStatus status);

struct PopulationCounts {
  std::int64_t initial_population = 0;
  std::int64_t denominator = 0;
  std::int64_t numerator = 0;
};

struct Stratum {
  std::string desa;         // the desa code, or kNoVillage
  PopulationCounts counts;  // in the requested period
  // From 1 January to the period end (the cumulative coverage), and the
  // numerator of the period's last month and the month before (the trend).
  PopulationCounts year_to_date;
  std::int64_t month_numerator = 0;
  std::int64_t previous_month_numerator = 0;
  std::optional<VillageTarget> target;
  // Patients (ids) behind each population of the requested period, sorted.
  std::vector<std::string> initial_population_patients;
  std::vector<std::string> denominator_patients;
  std::vector<std::string> numerator_patients;

  // Cumulative target: yearly target (population x percent) / 12 x month, or
  // the whole yearly target for TargetMethod::kYearly. nullopt without target.
  std::optional<double> cumulativeTarget(const MeasureDefinition& measure, int month) const;
  // Year-to-date numerator over the target population (or, without a target,
  // over the year-to-date denominator), as a percentage.
  std::optional<double> cumulativeCoverage() const;
  // baik / kurang / cukup / jelek; nullopt without a target.
  std::optional<PwsStatus> status(const MeasureDefinition& measure, int month) const;
};

struct MeasureResult {
  const MeasureDefinition* measure = nullptr;
  std::string organization;
  ReportPeriod period;
  std::vector<Stratum> strata;  // by desa code, kNoVillage last
  Stratum total;                // every patient (desa empty)
  std::string watermark_last_updated;  // what the evaluation saw (store watermark)
};

struct EvaluationOptions {
  bool subjects = false;  // keep the patient ids (subject-list)
  // Targets per measure id; desa with a target and no patient still get a row.
  std::map<std::string, TargetTable, std::less<>> targets;
};

class MeasureEvaluator {
 public:
  explicit MeasureEvaluator(ResourceStore& store) : store_(store) {}

  // Every measure over one read of the organization's data: what a
  // dashboard row per desa and column per indicator needs.
  StatusOr<std::vector<MeasureResult>> evaluate(const std::vector<const MeasureDefinition*>& measures,
                                                const std::string& organization, const ReportPeriod& period,
                                                const EvaluationOptions& options = {});

  // Every calendar month of `year` from January to `last_month`, over one
  // read of the data: element [m - 1] equals evaluate(measures, organization,
  // monthPeriod(year, m), options), what a trend over the year needs without
  // reading the year once per month.
  StatusOr<std::vector<std::vector<MeasureResult>>> evaluateMonths(const std::vector<const MeasureDefinition*>& measures,
                                                                   const std::string& organization, int year,
                                                                   int last_month, const EvaluationOptions& options = {});

 private:
  ResourceStore& store_;
};

// The local date (YYYY-MM-DD) a stored clinical resource counts on, as the
// criteria see it; nullopt for other types and undated resources.
std::optional<std::string> clinicalDate(const StoredResource& stored);

enum class ReportType { kSummary, kSubjectList };

// The FHIR R4 MeasureReport of a result: one group with the three
// populations, measureScore, and a stratifier by desa whose strata carry the
// PWS extension (year-to-date count, target, cumulative target and coverage,
// the month's and last month's counts, status). subject-list adds contained
// Lists of the patients behind each population.
// `generated_at` becomes MeasureReport.date (left out when empty).
std::string measureReportJson(const MeasureResult& result, ReportType type, const std::string& id,
                              const std::string& generated_at);

// The id a stored monthly report has: one per measure, organization, month.
std::string monthlyReportId(std::string_view measure_id, std::string_view organization, const ReportPeriod& month);

}  // namespace ilpgw::report
