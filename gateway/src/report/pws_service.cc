#include "report/pws_service.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <set>

#include "base/json.h"
#include "base/log.h"
#include "base/time_util.h"
#include "fhir/resource_text.h"
#include "report/targets.h"

namespace ilpgw::report {
namespace {

constexpr std::string_view kMeasureReport = "MeasureReport";

Status invalid(const std::string& message) { return {StatusCode::kInvalidArgument, message}; }

// The one value of a parameter given at most once.
StatusOr<std::optional<std::string>> single(const Params& params, std::string_view name) {
  std::optional<std::string> value;
  for (const auto& [n, v] : params) {
    if (n != name) continue;
    if (value) return invalid("parameter " + std::string(name) + " is given more than once");
    value = v;
  }
  return value;
}

Status onlyKnown(const Params& params, std::initializer_list<std::string_view> known) {
  for (const auto& [name, value] : params) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string list;
      for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      return invalid("parameter " + name + " is not supported here (supported: " + list + ")");
    }
  }
  return Status::ok();
}

std::optional<std::string> organizationOf(std::string_view subject) {
  if (subject.starts_with("Organization/")) subject.remove_prefix(13);
  if (subject.empty() || subject.size() > 64 || !std::all_of(subject.begin(), subject.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.';
      })) {
    return std::nullopt;
  }
  return std::string(subject);
}

struct StoredReportKey {
  std::string measure_url;
  std::string start;
  std::string end;
};

std::optional<StoredReportKey> keyOf(const StoredResource& stored) {
  rapidjson::Document doc;
  if (json::parse(stored.json, doc) || !doc.IsObject()) return std::nullopt;
  StoredReportKey key;
  key.measure_url = std::string(json::string(doc, "measure"));
  if (const auto* period = json::member(doc, "period")) {
    key.start = std::string(json::string(*period, "start"));
    key.end = std::string(json::string(*period, "end"));
  }
  if (key.start.empty() || key.end.empty()) return std::nullopt;
  return key;
}

}  // namespace

PwsService::PwsService(ResourceStore& store, std::shared_ptr<const MeasureLibrary> library)
    : store_(store), library_(std::move(library)), evaluator_(store) {}

PwsService::~PwsService() {
  {
    std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (refresher_.joinable()) refresher_.join();
}

StatusOr<std::vector<MeasureResult>> PwsService::run(const std::vector<const MeasureDefinition*>& measures,
                                                     const std::string& organization, const ReportPeriod& period,
                                                     bool subjects) {
  auto targets = loadTargets(store_, organization, period.year);
  if (!targets.isOk()) return targets.status();
  EvaluationOptions options;
  options.subjects = subjects;
  options.targets = std::move(targets.value());
  return evaluator_.evaluate(measures, organization, period, options);
}

StatusOr<bool> PwsService::storeMonthly(const MeasureResult& result) {
  std::string id = monthlyReportId(result.measure->id, result.organization, result.period);
  // No generation time in the stored report: equal counts are equal content,
  // so recomputing an unchanged month writes no new version.
  rapidjson::Document doc;
  if (json::parse(measureReportJson(result, ReportType::kSummary, id, ""), doc)) {
    return Status{StatusCode::kInternal, "MeasureReport JSON did not parse"};
  }
  WriteBatch batch;
  ResourceWrite write = prepareResource(doc);
  write.organization = result.organization;
  write.source_locator = "$evaluate-measure";
  batch.resources.push_back(std::move(write));
  auto committed = store_.commit(std::move(batch));
  if (!committed.isOk()) return committed.status();
  {
    std::lock_guard lock(reporting_mutex_);
    reporting_.insert(result.organization);
  }
  WriteOutcome outcome = committed->resources.front().outcome;
  return outcome == WriteOutcome::kCreated || outcome == WriteOutcome::kUpdated;
}

StatusOr<EvaluateAnswer> PwsService::evaluate(const RequestContext& caller, std::string_view measure_id,
                                              const Params& params) {
  const MeasureDefinition* measure = library_->find(measure_id);
  if (measure == nullptr) return Status{StatusCode::kNotFound, "Measure/" + std::string(measure_id) + " does not exist"};
  if (Status known = onlyKnown(params, {"periodStart", "periodEnd", "subject", "reportType"}); !known.isOk()) {
    return known;
  }
  auto start = single(params, "periodStart");
  if (!start.isOk()) return start.status();
  auto end = single(params, "periodEnd");
  if (!end.isOk()) return end.status();
  auto subject = single(params, "subject");
  if (!subject.isOk()) return subject.status();
  auto type_text = single(params, "reportType");
  if (!type_text.isOk()) return type_text.status();
  if (!start.value() || !end.value()) return invalid("periodStart and periodEnd are required");
  auto period = parseReportPeriod(*start.value(), *end.value());
  if (!period.isOk()) return period.status();
  ReportType type = ReportType::kSummary;
  if (type_text.value()) {
    if (*type_text.value() == "subject-list") {
      type = ReportType::kSubjectList;
    } else if (*type_text.value() != "summary") {
      return invalid("reportType must be summary or subject-list, not \"" + *type_text.value() + "\"");
    }
  }
  // Tenant isolation: a clinic (puskesmas) evaluates only its organization.
  std::optional<std::string> own = caller.readOrganization();
  std::string organization;
  if (subject.value()) {
    if (!subject.value()->starts_with("Organization/")) {
      return invalid("subject must be Organization/{id} (the puskesmas whose desa are reported)");
    }
    auto org = organizationOf(*subject.value());
    if (!org) return invalid("subject \"" + *subject.value() + "\" is not an Organization reference");
    organization = *org;
  } else if (own) {
    organization = *own;
  } else {
    return invalid("subject=Organization/{id} is required");
  }
  if (own && *own != organization) {
    return Status{StatusCode::kPermissionDenied, "a clinic client evaluates only its own organization"};
  }
  bool stores = period->kind == PeriodKind::kMonth && type == ReportType::kSummary;
  if (stores) {  // before reading: data committed while this evaluates is looked at by the refresher
    std::lock_guard lock(reporting_mutex_);
    reporting_.insert(organization);
  }
  auto results = run({measure}, organization, period.value(), type == ReportType::kSubjectList);
  if (!results.isOk()) return results.status();
  const MeasureResult& result = results->front();
  std::string id;
  if (period->kind == PeriodKind::kMonth) {
    id = monthlyReportId(measure->id, organization, period.value());
    if (stores) {
      auto stored = storeMonthly(result);
      if (!stored.isOk()) {
        logLine(LogLevel::kWarning, "pws: monthly report " + id + " not stored: " + stored.status().message());
      }
    }
  }
  EvaluateAnswer answer;
  answer.body = measureReportJson(result, type, type == ReportType::kSummary ? id : std::string(), nowInstant());
  answer.audit_entities = {"Measure/" + measure->id, "Organization/" + organization};
  if (type == ReportType::kSubjectList) {
    for (const auto& p : result.total.initial_population_patients) answer.audit_entities.push_back("Patient/" + p);
  }
  return answer;
}

StatusOr<std::vector<MeasureResult>> PwsService::month(const RequestContext& caller, const std::string& organization,
                                                       int year, int month) {
  if (!caller.canRead(organization)) {
    return Status{StatusCode::kPermissionDenied, "this caller may not read organization " + organization};
  }
  if (year < 1900 || year > 9999 || month < 1 || month > 12) return invalid("the month must be YYYY-MM");
  std::vector<const MeasureDefinition*> measures;
  for (const auto& [id, m] : library_->measures()) measures.push_back(&m);
  return run(measures, organization, monthPeriod(year, month), false);
}

StatusOr<std::vector<std::vector<MeasureResult>>> PwsService::months(const RequestContext& caller,
                                                                     const std::string& organization, int year,
                                                                     int month) {
  if (!caller.canRead(organization)) {
    return Status{StatusCode::kPermissionDenied, "this caller may not read organization " + organization};
  }
  if (year < 1900 || year > 9999 || month < 1 || month > 12) return invalid("the month must be YYYY-MM");
  std::vector<const MeasureDefinition*> measures;
  for (const auto& [id, m] : library_->measures()) measures.push_back(&m);
  auto targets = loadTargets(store_, organization, year);
  if (!targets.isOk()) return targets.status();
  EvaluationOptions options;
  options.targets = std::move(targets.value());
  return evaluator_.evaluateMonths(measures, organization, year, month, options);
}

StatusOr<std::vector<SweepList>> PwsService::sweepingLists(const RequestContext& caller, const MeasureLibrary& lists,
                                                          const std::string& organization, int year, int month) {
  if (!caller.canRead(organization)) {
    return Status{StatusCode::kPermissionDenied, "this caller may not read organization " + organization};
  }
  if (year < 1900 || year > 9999 || month < 1 || month > 12) return invalid("the month must be YYYY-MM");
  std::vector<const MeasureDefinition*> measures;
  for (const auto& [id, m] : lists.measures()) measures.push_back(&m);
  if (measures.empty()) return std::vector<SweepList>();
  EvaluationOptions options;
  options.subjects = true;
  auto results = evaluator_.evaluate(measures, organization, monthPeriod(year, month), options);
  if (!results.isOk()) return results.status();
  std::vector<SweepList> out;
  for (const auto& r : results.value()) {
    SweepList list;
    list.measure = r.measure;
    for (const auto& s : r.strata) {
      std::vector<std::string> gap;
      std::set_difference(s.denominator_patients.begin(), s.denominator_patients.end(), s.numerator_patients.begin(),
                          s.numerator_patients.end(), std::back_inserter(gap));
      for (auto& id : gap) list.patients.push_back({std::move(id), s.desa});
    }
    out.push_back(std::move(list));
  }
  return out;
}

StatusOr<std::vector<StoredResource>> PwsService::searchReports(const RequestContext& caller, const Params& params) {
  if (Status known = onlyKnown(params, {"measure", "period", "subject"}); !known.isOk()) return known;
  auto measure = single(params, "measure");
  if (!measure.isOk()) return measure.status();
  auto subject = single(params, "subject");
  if (!subject.isOk()) return subject.status();
  SearchQuery query;
  query.type = std::string(kMeasureReport);
  query.want_total = false;
  query.organization = caller.readOrganization();
  if (subject.value()) {
    auto org = organizationOf(*subject.value());
    if (!org) return invalid("subject \"" + *subject.value() + "\" is not an Organization reference");
    if (query.organization && *query.organization != *org) return std::vector<StoredResource>{};
    query.organization = *org;
  }
  std::optional<std::string> measure_url;
  if (measure.value()) {
    const MeasureDefinition* m = library_->find(*measure.value());
    measure_url = m != nullptr ? m->url : *measure.value();
  }
  struct PeriodTest {
    std::string prefix;
    std::int64_t low = 0, high = 0;
  };
  std::vector<PeriodTest> periods;
  for (const auto& [name, value] : params) {
    if (name != "period") continue;
    PeriodTest t;
    std::string_view v = value;
    for (const char* p : {"eq", "ge", "le", "gt", "lt"}) {
      if (v.starts_with(p)) {
        t.prefix = p;
        v.remove_prefix(2);
      }
    }
    if (t.prefix.empty()) t.prefix = "eq";
    auto range = parseFhirDateRange(v);
    if (!range) return invalid("period \"" + value + "\" is not a date (YYYY, YYYY-MM or YYYY-MM-DD, with eq, ge, le, gt or lt)");
    t.low = range->low;
    t.high = range->high;
    periods.push_back(t);
  }
  std::vector<StoredResource> out;
  auto scanned = store_.scan({query}, [&](size_t, const StoredResource& stored) {
    auto key = keyOf(stored);
    if (!key) return true;
    if (measure_url && key->measure_url != *measure_url) return true;
    auto low = parseFhirDateRange(key->start), high = parseFhirDateRange(key->end);
    if (!low || !high) return true;
    for (const auto& t : periods) {
      bool ok = t.prefix == "eq"   ? low->low >= t.low && high->high <= t.high
                : t.prefix == "ge" ? high->high >= t.low
                : t.prefix == "le" ? low->low <= t.high
                : t.prefix == "gt" ? high->high > t.high
                                   : low->low < t.low;
      if (!ok) return true;
    }
    out.push_back(stored);
    return out.size() < 10'000;
  });
  if (!scanned.isOk()) return scanned.status();
  return out;
}

StatusOr<std::optional<StoredResource>> PwsService::readReport(const RequestContext& caller, std::string_view id,
                                                               std::optional<std::int64_t> version) {
  auto found = version ? store_.readVersion(kMeasureReport, id, *version) : store_.read(kMeasureReport, id);
  if (!found.isOk()) return found.status();
  if (found.value() && !caller.canRead(found.value()->organization)) found.value().reset();
  return found;
}

StatusOr<int> PwsService::refreshOnce() {
  std::lock_guard lock(refresh_mutex_);
  if (!seen_seq_) {  // the first call only learns where the store is and who has reports
    HistoryQuery newest;
    newest.limit = 1;
    auto page = store_.history(newest);
    if (!page.isOk()) return page.status();
    SearchQuery reports;
    reports.type = std::string(kMeasureReport);
    reports.want_total = false;
    std::set<std::string> organizations;
    auto scanned = store_.scan({reports}, [&](size_t, const StoredResource& r) {
      organizations.insert(r.organization);
      return true;
    });
    if (!scanned.isOk()) return scanned.status();
    {
      std::lock_guard lock(reporting_mutex_);
      reporting_.insert(organizations.begin(), organizations.end());
    }
    seen_seq_ = page->watermark.seq;
    return 0;
  }
  std::set<std::string> reporting;
  {
    std::lock_guard lock(reporting_mutex_);
    reporting = reporting_;
  }
  // The earliest clinical date each organization received since the last call.
  std::map<std::string, std::string> earliest;
  while (true) {
    HistoryQuery changes;
    changes.order = SearchOrder::kOldestFirst;
    changes.after_seq = *seen_seq_;
    changes.limit = 1000;
    auto page = store_.history(changes);
    if (!page.isOk()) return page.status();
    for (const auto& version : page->versions) {
      seen_seq_ = std::max(*seen_seq_, version.seq);
      // Only organizations with stored reports need the (parsing) look.
      if (!reporting.contains(version.organization)) continue;
      auto date = clinicalDate(version);
      if (!date && version.type == "Basic" && version.id.starts_with("sasaran-")) {
        // New targets: every stored month of their year.
        rapidjson::Document doc;
        if (!json::parse(version.json, doc) && doc.IsObject()) date = std::string(json::string(doc, "created")) + "-01-01";
      }
      if (!date) continue;
      auto [it, fresh] = earliest.emplace(version.organization, *date);
      if (!fresh && *date < it->second) it->second = *date;
    }
    if (!page->more || page->versions.empty()) break;
  }
  int changed = 0;
  for (const auto& [organization, first_date] : earliest) {
    const std::string date = first_date;  // lambdas capture no structured bindings (clang)
    // Every stored month ending on or after the date: its count, its
    // look-back or its year-to-date figures may include the new data.
    std::map<std::pair<std::string, std::string>, std::set<std::string>> months;  // period -> measure urls
    SearchQuery query;
    query.type = std::string(kMeasureReport);
    query.organization = organization;
    query.want_total = false;
    auto scanned = store_.scan({query}, [&](size_t, const StoredResource& stored) {
      auto key = keyOf(stored);
      if (key && key->end >= date) months[{key->start, key->end}].insert(key->measure_url);
      return true;
    });
    if (!scanned.isOk()) return scanned.status();
    for (const auto& [span, urls] : months) {
      std::vector<const MeasureDefinition*> measures;
      for (const auto& [id, m] : library_->measures()) {
        if (urls.contains(m.url)) measures.push_back(&m);
      }
      auto month = parseReportPeriod(span.first, span.second);
      if (measures.empty() || !month.isOk() || month->kind != PeriodKind::kMonth) continue;
      auto results = run(measures, organization, month.value(), false);
      if (!results.isOk()) return results.status();
      for (const auto& r : results.value()) {
        auto stored = storeMonthly(r);
        if (!stored.isOk()) return stored.status();
        if (stored.value()) ++changed;
      }
    }
  }
  if (changed > 0) logLine(LogLevel::kInfo, "pws: " + std::to_string(changed) + " monthly reports recomputed");
  return changed;
}

void PwsService::startRefresher(std::chrono::milliseconds interval) {
  refresher_ = std::thread([this, interval] {
    while (true) {
      auto refreshed = refreshOnce();
      if (!refreshed.isOk()) logLine(LogLevel::kWarning, "pws: refresh failed: " + refreshed.status().message());
      std::unique_lock lock(stop_mutex_);
      if (stop_cv_.wait_for(lock, interval, [this] { return stopping_; })) return;
    }
  });
}

}  // namespace ilpgw::report
