#include "report/evaluator.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <unordered_map>

#include "base/crypto.h"
#include "base/json.h"
#include "base/time_util.h"

namespace ilpgw::report {
namespace {

// ---- Calendar ------------------------------------------------------------------

struct Ymd {
  int y = 0, m = 0, d = 0;
};

std::optional<int> digits(std::string_view text) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

int daysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

std::optional<Ymd> parseDate(std::string_view text) {
  if (text.size() < 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  if (text.size() > 10 && text[10] != 'T') return std::nullopt;
  auto y = digits(text.substr(0, 4)), m = digits(text.substr(5, 2)), d = digits(text.substr(8, 2));
  if (!y || !m || !d || *y < 1900 || *y > 9998 || *m < 1 || *m > 12 || *d < 1 || *d > daysInMonth(*y, *m)) {
    return std::nullopt;
  }
  return Ymd{*y, *m, *d};
}

std::string format(int y, int m, int d) {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02d", y, m, d);
  return buffer;
}

// The first day of the month `delta` months from (y, m).
std::string monthStart(int y, int m, int delta = 0) {
  int index = y * 12 + (m - 1) + delta;
  return format(index / 12, index % 12 + 1, 1);
}

std::string minusMonths(const std::string& date, int months) {
  auto d = parseDate(date);
  if (!d || months == 0) return date;
  int index = d->y * 12 + (d->m - 1) - months;
  int y = index / 12, m = index % 12 + 1;
  return format(y, m, std::min(d->d, daysInMonth(y, m)));
}

// A local date as a UTC instant `days` days away: the widening that makes
// sure a time stamp with any offset is inside the read window.
std::string instantAround(const std::string& date, int days, bool end_of_day) {
  auto millis = millisFromInstant(date + (end_of_day ? "T23:59:59.999Z" : "T00:00:00.000Z"));
  return instantFromMillis((millis ? *millis : 0) + static_cast<std::int64_t>(days) * 86'400'000);
}

// ---- Facts from stored resources ----------------------------------------------------

constexpr std::string_view kKlasterSystem = "https://ilp-gateway.id/fhir/CodeSystem/klaster";
constexpr std::string_view kStageSystem = "https://ilp-gateway.id/fhir/CodeSystem/life-cycle-stage";

struct TypeInfo {
  std::string_view type;
  std::string_view date_param;  // the search parameter scanDated reads
};
constexpr TypeInfo kTypes[] = {{"Encounter", "date"},
                               {"Observation", "date"},
                               {"Condition", "recorded-date"},
                               {"Immunization", "date"},
                               {"MedicationRequest", "authoredon"}};

void addCodings(const rapidjson::Value* concept_value, Fact& fact) {
  if (concept_value == nullptr) return;
  const auto* codings = json::member(*concept_value, "coding");
  if (codings == nullptr || !codings->IsArray()) return;
  for (const auto& c : codings->GetArray()) {
    std::string_view code = json::string(c, "code");
    if (!code.empty()) fact.codes.emplace_back(std::string(json::string(c, "system")), std::string(code));
  }
}

std::string dateOf(const rapidjson::Value& r, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    const auto* v = json::member(r, name);
    if (v == nullptr) continue;
    std::string_view text = v->IsString() ? std::string_view(v->GetString(), v->GetStringLength())
                                          : json::string(*v, "start");  // a Period
    if (parseDate(text)) return std::string(text.substr(0, 10));
  }
  return {};
}

std::string referenceId(const rapidjson::Value& r, const char* member, std::string_view type) {
  const auto* ref = json::member(r, member);
  if (ref == nullptr) return {};
  std::string_view text = json::string(*ref, "reference");
  std::string prefix = std::string(type) + "/";
  if (!text.starts_with(prefix)) return {};
  text.remove_prefix(prefix.size());
  if (size_t h = text.find('/'); h != std::string_view::npos) text = text.substr(0, h);
  return std::string(text);
}

struct ParsedFact {
  std::string patient;
  std::string location;  // Encounter: its first location
  Fact fact;
};

std::optional<ParsedFact> factFrom(const StoredResource& stored) {
  rapidjson::Document doc;
  if (json::parse(stored.json, doc) || !doc.IsObject()) return std::nullopt;
  ParsedFact out;
  Fact& f = out.fact;
  f.type = stored.type;
  f.status = std::string(json::string(doc, "status"));
  if (f.status == "entered-in-error" || (f.type == "Immunization" && f.status == "not-done")) return std::nullopt;
  out.patient = referenceId(doc, f.type == "Immunization" ? "patient" : "subject", "Patient");
  if (out.patient.empty()) return std::nullopt;
  if (f.type == "Encounter") {
    f.date = dateOf(doc, {"period"});
    const auto* service = json::member(doc, "serviceType");
    addCodings(service, f);
    for (const auto& [system, code] : f.codes) {
      if (system == kKlasterSystem) f.klaster = code;
    }
    if (const auto* meta = json::member(doc, "meta")) {
      if (const auto* tags = json::member(*meta, "tag"); tags != nullptr && tags->IsArray()) {
        for (const auto& t : tags->GetArray()) {
          if (json::string(t, "system") == kStageSystem) f.stage = std::string(json::string(t, "code"));
        }
      }
    }
    if (const auto* locations = json::member(doc, "location"); locations != nullptr && locations->IsArray()) {
      for (const auto& l : locations->GetArray()) {
        out.location = referenceId(l, "location", "Location");
        if (!out.location.empty()) break;
      }
    }
  } else if (f.type == "Observation") {
    f.date = dateOf(doc, {"effectiveDateTime", "effectivePeriod", "effectiveInstant"});
    addCodings(json::member(doc, "code"), f);
    if (const auto* list = json::member(doc, "interpretation"); list != nullptr && list->IsArray()) {
      for (const auto& i : list->GetArray()) {
        Fact codes;
        addCodings(&i, codes);
        for (auto& [system, code] : codes.codes) f.interpretation.push_back(std::move(code));
      }
    }
    if (const auto* q = json::member(doc, "valueQuantity")) {
      if (const auto* v = json::member(*q, "value"); v != nullptr && v->IsNumber()) f.value = v->GetDouble();
    } else if (const auto* v = json::member(doc, "valueInteger"); v != nullptr && v->IsNumber()) {
      f.value = v->GetDouble();
    } else if (const auto* b = json::member(doc, "valueBoolean"); b != nullptr && b->IsBool()) {
      f.flag = b->GetBool();
    }
  } else if (f.type == "Condition") {
    f.date = dateOf(doc, {"recordedDate", "onsetDateTime", "onsetPeriod"});
    addCodings(json::member(doc, "code"), f);
    Fact clinical;
    addCodings(json::member(doc, "clinicalStatus"), clinical);
    if (!clinical.codes.empty()) f.status = clinical.codes.front().second;
  } else if (f.type == "Immunization") {
    f.date = dateOf(doc, {"occurrenceDateTime"});
    addCodings(json::member(doc, "vaccineCode"), f);
  } else if (f.type == "MedicationRequest") {
    f.date = dateOf(doc, {"authoredOn"});
    addCodings(json::member(doc, "medicationCodeableConcept"), f);
    // A contained Medication (#id) the request points at.
    std::string_view ref;
    if (const auto* m = json::member(doc, "medicationReference")) ref = json::string(*m, "reference");
    if (const auto* contained = json::member(doc, "contained"); contained != nullptr && contained->IsArray() &&
                                                                ref.starts_with("#")) {
      for (const auto& c : contained->GetArray()) {
        if (json::string(c, "id") == ref.substr(1)) addCodings(json::member(c, "code"), f);
      }
    }
  }
  if (f.date.empty()) return std::nullopt;
  return out;
}

std::string villageOfAddress(const rapidjson::Value& address) {
  const auto* extensions = json::member(address, "extension");
  if (extensions == nullptr || !extensions->IsArray()) return {};
  for (const auto& e : extensions->GetArray()) {
    if (json::string(e, "url") != kAdministrativeCodeUrl) continue;
    const auto* parts = json::member(e, "extension");
    if (parts == nullptr || !parts->IsArray()) continue;
    for (const auto& p : parts->GetArray()) {
      if (json::string(p, "url") == "village") {
        std::string_view code = json::string(p, "valueCode");
        if (!code.empty()) return std::string(code);
      }
    }
  }
  return {};
}

// ---- Results -------------------------------------------------------------------------

double rounded(double value) { return std::round(value * 100.0) / 100.0; }

struct Tally {
  Stratum stratum;
  std::set<std::string> ip, den, num;
};

}  // namespace

std::optional<std::string> clinicalDate(const StoredResource& stored) {
  bool clinical = std::any_of(std::begin(kTypes), std::end(kTypes), [&](const TypeInfo& t) { return t.type == stored.type; });
  if (!clinical) return std::nullopt;
  auto parsed = factFrom(stored);
  if (!parsed) return std::nullopt;
  return parsed->fact.date;
}

StatusOr<ReportPeriod> parseReportPeriod(std::string_view start, std::string_view end) {
  auto s = parseDate(start);
  if (!s) return Status{StatusCode::kInvalidArgument, "periodStart must be a date (YYYY-MM-DD)"};
  auto e = parseDate(end);
  if (!e) return Status{StatusCode::kInvalidArgument, "periodEnd must be a date (YYYY-MM-DD)"};
  ReportPeriod p;
  p.start = format(s->y, s->m, s->d);
  p.end = format(e->y, e->m, e->d);
  p.year = s->y;
  p.last_month = e->m;
  bool ends_month = e->d == daysInMonth(e->y, e->m);
  int months = (e->y * 12 + e->m) - (s->y * 12 + s->m) + 1;
  if (s->d == 1 && ends_month && s->y == e->y) {
    if (months == 1) {
      p.kind = PeriodKind::kMonth;
      return p;
    }
    if (months == 3 && (s->m - 1) % 3 == 0) {
      p.kind = PeriodKind::kQuarter;
      return p;
    }
    if (months == 12) {
      p.kind = PeriodKind::kYear;
      return p;
    }
  }
  return Status{StatusCode::kInvalidArgument,
                "periodStart and periodEnd must span one calendar month, quarter or year (e.g. 2025-03-01 to "
                "2025-03-31)"};
}

ReportPeriod monthPeriod(int year, int month) {
  ReportPeriod p;
  p.kind = PeriodKind::kMonth;
  p.start = format(year, month, 1);
  p.end = format(year, month, daysInMonth(year, month));
  p.year = year;
  p.last_month = month;
  return p;
}

const char* pwsStatusCode(PwsStatus status) {
  switch (status) {
    case PwsStatus::kBaik: return "baik";
    case PwsStatus::kKurang: return "kurang";
    case PwsStatus::kCukup: return "cukup";
    case PwsStatus::kJelek: return "jelek";
  }
  return "jelek";
}

std::optional<double> Stratum::cumulativeTarget(const MeasureDefinition& measure, int month) const {
  if (!target) return std::nullopt;
  double yearly = target->population * target->percent / 100.0;
  return measure.target_method == TargetMethod::kYearly ? yearly : yearly / 12.0 * month;
}

std::optional<double> Stratum::cumulativeCoverage() const {
  if (target && target->population > 0) return 100.0 * static_cast<double>(year_to_date.numerator) / target->population;
  if (!target && year_to_date.denominator > 0) {
    return 100.0 * static_cast<double>(year_to_date.numerator) / static_cast<double>(year_to_date.denominator);
  }
  return std::nullopt;
}

std::optional<PwsStatus> Stratum::status(const MeasureDefinition& measure, int month) const {
  auto cumulative = cumulativeTarget(measure, month);
  if (!cumulative) return std::nullopt;
  bool above = static_cast<double>(year_to_date.numerator) >= *cumulative;
  bool rising = month_numerator >= previous_month_numerator;  // level counts as not falling
  if (above) return rising ? PwsStatus::kBaik : PwsStatus::kKurang;
  return rising ? PwsStatus::kCukup : PwsStatus::kJelek;
}

namespace {

// What one evaluation reads: a dated scan per type, back as far as the
// longest look-back of a measure that reads the type before the period, and
// the oldest local date whose Encounter location may give a patient's desa.
struct ReadPlan {
  std::vector<DatedScan> scans;
  std::string location_floor;
};

// The earliest date a month's evaluation reads from: the period start, the
// first of January (year to date) or the month before the period's last month.
std::string earliestOf(const ReportPeriod& period) {
  return std::min({period.start, format(period.year, 1, 1), monthStart(period.year, period.last_month, -1)});
}

ReadPlan readPlan(const std::vector<const MeasureDefinition*>& measures, const std::string& organization,
                  const std::string& earliest, const std::string& end) {
  std::map<std::string, int> lookback;
  for (const auto* m : measures) {
    for (const Criteria* c : {&m->initial_population, &m->denominator, &m->numerator}) {
      for (const auto& type : c->types()) lookback.emplace(type, 0);
      for (const auto& type : c->lookbackTypes()) lookback[type] = std::max(lookback[type], m->lookback_months);
    }
  }
  // Encounters of the period always: their Location is the desa of a
  // patient whose address has none.
  lookback.emplace("Encounter", 0);
  ReadPlan plan;
  plan.location_floor = minusMonths(earliest, lookback["Encounter"]);
  for (const auto& info : kTypes) {
    auto it = lookback.find(std::string(info.type));
    if (it == lookback.end()) continue;
    DatedScan scan;
    scan.type = std::string(info.type);
    scan.date_param = std::string(info.date_param);
    scan.from = instantAround(minusMonths(earliest, it->second), -1, false);
    scan.to = instantAround(end, 1, true);
    scan.organization = organization;
    plan.scans.push_back(std::move(scan));
  }
  return plan;
}

struct PatientRecord {
  PatientFacts facts;
  std::string address_village;
  std::vector<std::pair<std::string, std::string>> locations;  // (date, Location id) of Encounters, as read
};

struct ReadData {
  std::unordered_map<std::string, PatientRecord> patients;
  std::map<std::string, std::string> location_village;
  std::string watermark_last_updated;
};

// The Location of the newest Encounter dated inside [floor, end] (the later
// one read on a tie); empty when there is none.
const std::string* lastLocation(const PatientRecord& p, const std::string& floor, const std::string& end) {
  const std::pair<std::string, std::string>* last = nullptr;
  for (const auto& l : p.locations) {
    if (l.first < floor || l.first > end) continue;
    if (last == nullptr || l.first >= last->first) last = &l;
  }
  return last == nullptr ? nullptr : &last->second;
}

// The organization's facts dated up to `end`, the Patients behind them, and
// the desa of the Locations patients without a village code may be counted in.
StatusOr<ReadData> readData(ResourceStore& store, const ReadPlan& plan, const std::string& end) {
  ReadData data;
  auto& patients = data.patients;
  auto read = store.scanDated(plan.scans, [&](size_t, const StoredResource& stored) {
    auto parsed = factFrom(stored);
    if (!parsed || parsed->fact.date > end) return true;
    PatientRecord& p = patients[parsed->patient];
    if (!parsed->location.empty()) p.locations.emplace_back(parsed->fact.date, parsed->location);
    p.facts.facts.push_back(std::move(parsed->fact));
    return true;
  });
  if (!read.isOk()) return read.status();
  data.watermark_last_updated = read.value().last_updated;

  std::vector<ResourceKey> keys;
  for (const auto& [id, p] : patients) keys.push_back({"Patient", id});
  std::set<std::string> location_ids;
  constexpr size_t kChunk = 500;
  for (size_t i = 0; i < keys.size(); i += kChunk) {
    std::vector<ResourceKey> chunk(keys.begin() + static_cast<std::ptrdiff_t>(i),
                                   keys.begin() + static_cast<std::ptrdiff_t>(std::min(keys.size(), i + kChunk)));
    auto found = store.readCurrent(chunk);
    if (!found.isOk()) return found.status();
    for (const auto& stored : found.value()) {
      rapidjson::Document doc;
      if (json::parse(stored.json, doc) || !doc.IsObject()) continue;
      PatientRecord& p = patients[stored.id];
      p.facts.birth_date = std::string(json::string(doc, "birthDate"));
      p.facts.gender = std::string(json::string(doc, "gender"));
      if (const auto* addresses = json::member(doc, "address"); addresses != nullptr && addresses->IsArray()) {
        for (const auto& a : addresses->GetArray()) {
          p.address_village = villageOfAddress(a);
          if (!p.address_village.empty()) break;
        }
      }
    }
  }
  for (const auto& [id, p] : patients) {
    if (!p.address_village.empty()) continue;
    for (const auto& l : p.locations) location_ids.insert(l.second);
  }
  std::vector<ResourceKey> location_keys;
  for (const auto& id : location_ids) location_keys.push_back({"Location", id});
  for (size_t i = 0; i < location_keys.size(); i += kChunk) {
    std::vector<ResourceKey> chunk(
        location_keys.begin() + static_cast<std::ptrdiff_t>(i),
        location_keys.begin() + static_cast<std::ptrdiff_t>(std::min(location_keys.size(), i + kChunk)));
    auto found = store.readCurrent(chunk);
    if (!found.isOk()) return found.status();
    for (const auto& stored : found.value()) {
      rapidjson::Document doc;
      if (json::parse(stored.json, doc) || !doc.IsObject()) continue;
      if (const auto* address = json::member(doc, "address")) data.location_village[stored.id] = villageOfAddress(*address);
    }
  }
  return data;
}

// Every measure for one period over data already read: the patients' desa as
// of the period end, then the populations per patient for the period, the
// year to date, the period's last month and the month before.
std::vector<MeasureResult> tally(const std::vector<const MeasureDefinition*>& measures, const std::string& organization,
                                 const ReportPeriod& period, const EvaluationOptions& options, const ReadData& data,
                                 const std::string& location_floor) {
  const std::string year_start = format(period.year, 1, 1);
  const std::string last_month_start = monthStart(period.year, period.last_month);
  const std::string previous_month_start = monthStart(period.year, period.last_month, -1);
  const std::string previous_month_end = instantAround(last_month_start, -1, false).substr(0, 10);

  struct Subject {
    const std::string* id;
    const PatientFacts* facts;
    std::string village;
  };
  std::vector<Subject> subjects;
  subjects.reserve(data.patients.size());
  for (const auto& [id, p] : data.patients) {
    Subject s{&id, &p.facts, p.address_village};
    if (s.village.empty()) {
      if (const std::string* location = lastLocation(p, location_floor, period.end)) {
        auto it = data.location_village.find(*location);
        if (it != data.location_village.end()) s.village = it->second;
      }
    }
    if (s.village.empty()) s.village = std::string(kNoVillage);
    subjects.push_back(std::move(s));
  }

  std::vector<MeasureResult> results;
  for (const auto* m : measures) {
    auto window = [&](const std::string& start, const std::string& end) {
      return CriteriaPeriod{minusMonths(start, m->lookback_months), start, end};
    };
    const CriteriaPeriod in_period = window(period.start, period.end);
    const CriteriaPeriod to_date = window(year_start, period.end);
    const CriteriaPeriod last_month = window(last_month_start, period.end);
    const CriteriaPeriod previous_month = window(previous_month_start, previous_month_end);
    auto populations = [&](const PatientFacts& facts, const CriteriaPeriod& when) {
      PopulationCounts c;
      c.initial_population = m->initial_population.matches(facts, when) ? 1 : 0;
      c.denominator = c.initial_population != 0 && m->denominator.matches(facts, when) ? 1 : 0;
      c.numerator = c.denominator != 0 && m->numerator.matches(facts, when) ? 1 : 0;
      return c;
    };
    std::map<std::string, Tally> tallies;
    const auto* targets = [&]() -> const TargetTable* {
      auto it = options.targets.find(m->id);
      return it == options.targets.end() ? nullptr : &it->second;
    }();
    if (targets != nullptr) {
      for (const auto& [desa, target] : *targets) tallies[desa].stratum.desa = desa;
    }
    Tally total;
    for (const auto& subject : subjects) {
      const PatientFacts& facts = *subject.facts;
      PopulationCounts now = populations(facts, in_period);
      PopulationCounts ytd = period.start == year_start && period.kind == PeriodKind::kYear ? now
                                                                                             : populations(facts, to_date);
      std::int64_t month = period.kind == PeriodKind::kMonth ? now.numerator : populations(facts, last_month).numerator;
      std::int64_t previous = populations(facts, previous_month).numerator;
      if (now.initial_population + ytd.initial_population + month + previous == 0) continue;
      for (Tally* t : {&tallies[subject.village], &total}) {
        t->stratum.counts.initial_population += now.initial_population;
        t->stratum.counts.denominator += now.denominator;
        t->stratum.counts.numerator += now.numerator;
        t->stratum.year_to_date.initial_population += ytd.initial_population;
        t->stratum.year_to_date.denominator += ytd.denominator;
        t->stratum.year_to_date.numerator += ytd.numerator;
        t->stratum.month_numerator += month;
        t->stratum.previous_month_numerator += previous;
        if (options.subjects) {
          if (now.initial_population != 0) t->ip.insert(*subject.id);
          if (now.denominator != 0) t->den.insert(*subject.id);
          if (now.numerator != 0) t->num.insert(*subject.id);
        }
      }
    }
    MeasureResult result;
    result.measure = m;
    result.organization = organization;
    result.period = period;
    result.watermark_last_updated = data.watermark_last_updated;
    auto finish = [&](Tally& t, const std::string& desa) {
      t.stratum.desa = desa;
      if (targets != nullptr) {
        auto it = targets->find(desa);
        if (it != targets->end()) t.stratum.target = it->second;
      }
      t.stratum.initial_population_patients.assign(t.ip.begin(), t.ip.end());
      t.stratum.denominator_patients.assign(t.den.begin(), t.den.end());
      t.stratum.numerator_patients.assign(t.num.begin(), t.num.end());
      return std::move(t.stratum);
    };
    for (auto& [desa, tally] : tallies) {
      if (desa != kNoVillage) result.strata.push_back(finish(tally, desa));
    }
    if (auto it = tallies.find(std::string(kNoVillage)); it != tallies.end()) {
      result.strata.push_back(finish(it->second, std::string(kNoVillage)));
    }
    result.total = finish(total, "");
    if (targets != nullptr) {  // the puskesmas' target is the sum of its desa's
      VillageTarget sum;
      sum.population = 0;
      double reach = 0;
      for (const auto& [desa, t] : *targets) {
        sum.population += t.population;
        reach += t.population * t.percent / 100.0;
      }
      sum.percent = sum.population > 0 ? 100.0 * reach / sum.population : 100;
      result.total.target = sum;
    }
    results.push_back(std::move(result));
  }
  return results;
}

}  // namespace

StatusOr<std::vector<MeasureResult>> MeasureEvaluator::evaluate(const std::vector<const MeasureDefinition*>& measures,
                                                                const std::string& organization,
                                                                const ReportPeriod& period,
                                                                const EvaluationOptions& options) {
  ReadPlan plan = readPlan(measures, organization, earliestOf(period), period.end);
  auto data = readData(store_, plan, period.end);
  if (!data.isOk()) return data.status();
  return tally(measures, organization, period, options, data.value(), plan.location_floor);
}

StatusOr<std::vector<std::vector<MeasureResult>>> MeasureEvaluator::evaluateMonths(
    const std::vector<const MeasureDefinition*>& measures, const std::string& organization, int year, int last_month,
    const EvaluationOptions& options) {
  if (last_month < 1 || last_month > 12) return Status{StatusCode::kInvalidArgument, "the month must be 1 to 12"};
  // One read from what January reads back to the last month's end; each
  // month then counts what its own evaluation would have read.
  const ReportPeriod last = monthPeriod(year, last_month);
  ReadPlan plan = readPlan(measures, organization, earliestOf(monthPeriod(year, 1)), last.end);
  auto data = readData(store_, plan, last.end);
  if (!data.isOk()) return data.status();
  std::vector<std::vector<MeasureResult>> months;
  for (int month = 1; month <= last_month; ++month) {
    const ReportPeriod period = monthPeriod(year, month);
    std::string floor = readPlan(measures, organization, earliestOf(period), period.end).location_floor;
    months.push_back(tally(measures, organization, period, options, data.value(), floor));
  }
  return months;
}

// ---- MeasureReport --------------------------------------------------------------------

namespace {

using rapidjson::Value;
using Alloc = rapidjson::Document::AllocatorType;

Value codeable(std::string_view system, std::string_view code, Alloc& a) {
  Value coding(rapidjson::kObjectType);
  coding.AddMember("system", json::str(system, a), a);
  coding.AddMember("code", json::str(code, a), a);
  Value codings(rapidjson::kArrayType);
  codings.PushBack(coding, a);
  Value c(rapidjson::kObjectType);
  c.AddMember("coding", codings, a);
  return c;
}

Value subExtension(const char* url, const char* value_key, Value value, Alloc& a) {
  Value e(rapidjson::kObjectType);
  e.AddMember("url", rapidjson::StringRef(url), a);
  e.AddMember(rapidjson::StringRef(value_key), value, a);
  return e;
}

Value patientList(const std::string& id, const std::vector<std::string>& patients, Alloc& a) {
  Value list(rapidjson::kObjectType);
  list.AddMember("resourceType", "List", a);
  list.AddMember("id", json::str(id, a), a);
  list.AddMember("status", "current", a);
  list.AddMember("mode", "snapshot", a);
  Value entries(rapidjson::kArrayType);
  for (const auto& p : patients) {
    Value item(rapidjson::kObjectType);
    item.AddMember("reference", json::str("Patient/" + p, a), a);
    Value entry(rapidjson::kObjectType);
    entry.AddMember("item", item, a);
    entries.PushBack(entry, a);
  }
  if (!entries.Empty()) list.AddMember("entry", entries, a);
  return list;
}

// Populations and measureScore of a group or stratum.
void addPopulations(Value& target, const Stratum& s, ReportType type, const std::string& suffix, Value& contained,
                    Alloc& a) {
  Value populations(rapidjson::kArrayType);
  struct Row {
    const char* code;
    std::int64_t count;
    const std::vector<std::string>* patients;
  };
  for (const Row& row : {Row{"initial-population", s.counts.initial_population, &s.initial_population_patients},
                         Row{"denominator", s.counts.denominator, &s.denominator_patients},
                         Row{"numerator", s.counts.numerator, &s.numerator_patients}}) {
    Value p(rapidjson::kObjectType);
    p.AddMember("code", codeable(kPopulationSystem, row.code, a), a);
    p.AddMember("count", static_cast<std::int64_t>(row.count), a);
    if (type == ReportType::kSubjectList) {
      std::string id = std::string(row.code) + suffix;
      Value ref(rapidjson::kObjectType);
      ref.AddMember("reference", json::str("#" + id, a), a);
      p.AddMember("subjectResults", ref, a);
      contained.PushBack(patientList(id, *row.patients, a), a);
    }
    populations.PushBack(p, a);
  }
  target.AddMember("population", populations, a);
  if (s.counts.denominator > 0) {
    Value score(rapidjson::kObjectType);
    score.AddMember("value",
                    rounded(10000.0 * static_cast<double>(s.counts.numerator) / static_cast<double>(s.counts.denominator)) /
                        10000.0,
                    a);
    target.AddMember("measureScore", score, a);
  }
}

Value pwsExtension(const Stratum& s, const MeasureDefinition& m, int month, Alloc& a) {
  Value parts(rapidjson::kArrayType);
  parts.PushBack(subExtension("yearToDateNumerator", "valueInteger", Value(static_cast<std::int64_t>(s.year_to_date.numerator)), a), a);
  parts.PushBack(subExtension("yearToDateDenominator", "valueInteger", Value(static_cast<std::int64_t>(s.year_to_date.denominator)), a), a);
  parts.PushBack(subExtension("monthCount", "valueInteger", Value(static_cast<std::int64_t>(s.month_numerator)), a), a);
  parts.PushBack(subExtension("previousMonthCount", "valueInteger", Value(static_cast<std::int64_t>(s.previous_month_numerator)), a), a);
  if (s.target) {
    parts.PushBack(subExtension("targetPopulation", "valueDecimal", Value(rounded(s.target->population)), a), a);
    parts.PushBack(subExtension("targetPercent", "valueDecimal", Value(rounded(s.target->percent)), a), a);
  }
  if (auto cumulative = s.cumulativeTarget(m, month)) {
    parts.PushBack(subExtension("cumulativeTarget", "valueDecimal", Value(rounded(*cumulative)), a), a);
  }
  if (auto coverage = s.cumulativeCoverage()) {
    parts.PushBack(subExtension("cumulativeCoverage", "valueDecimal", Value(rounded(*coverage)), a), a);
  }
  if (auto status = s.status(m, month)) {
    parts.PushBack(subExtension("status", "valueCode", Value(rapidjson::StringRef(pwsStatusCode(*status))), a), a);
  }
  Value e(rapidjson::kObjectType);
  e.AddMember("url", json::str(std::string(kExtensionBase) + "pws-status", a), a);
  e.AddMember("extension", parts, a);
  Value list(rapidjson::kArrayType);
  list.PushBack(e, a);
  return list;
}

}  // namespace

std::string measureReportJson(const MeasureResult& result, ReportType type, const std::string& id,
                              const std::string& generated_at) {
  const MeasureDefinition& m = *result.measure;
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("resourceType", "MeasureReport", a);
  if (!id.empty()) doc.AddMember("id", json::str(id, a), a);
  Value contained(rapidjson::kArrayType);
  doc.AddMember("status", "complete", a);
  doc.AddMember("type", rapidjson::StringRef(type == ReportType::kSubjectList ? "subject-list" : "summary"), a);
  doc.AddMember("measure", json::str(m.url, a), a);
  Value subject(rapidjson::kObjectType);
  subject.AddMember("reference", json::str("Organization/" + result.organization, a), a);
  doc.AddMember("subject", Value(subject, a), a);
  if (!generated_at.empty()) doc.AddMember("date", json::str(generated_at, a), a);
  doc.AddMember("reporter", subject, a);
  Value period(rapidjson::kObjectType);
  period.AddMember("start", json::str(result.period.start, a), a);
  period.AddMember("end", json::str(result.period.end, a), a);
  doc.AddMember("period", period, a);
  doc.AddMember("improvementNotation",
                codeable("http://terminology.hl7.org/CodeSystem/measure-improvement-notation", "increase", a), a);

  Value group(rapidjson::kObjectType);
  group.AddMember("extension", pwsExtension(result.total, m, result.period.last_month, a), a);
  addPopulations(group, result.total, type, "", contained, a);
  Value strata(rapidjson::kArrayType);
  for (const Stratum& s : result.strata) {
    Value stratum(rapidjson::kObjectType);
    stratum.AddMember("extension", pwsExtension(s, m, result.period.last_month, a), a);
    Value value = codeable(kVillageSystem, s.desa, a);
    value.AddMember("text", json::str(s.desa == kNoVillage ? "tanpa desa" : "desa " + s.desa, a), a);
    stratum.AddMember("value", value, a);
    addPopulations(stratum, s, type, "-" + s.desa, contained, a);
    strata.PushBack(stratum, a);
  }
  Value stratifier(rapidjson::kObjectType);
  Value codes(rapidjson::kArrayType);
  Value desa(rapidjson::kObjectType);
  desa.AddMember("text", "desa", a);
  codes.PushBack(desa, a);
  stratifier.AddMember("code", codes, a);
  stratifier.AddMember("stratum", strata, a);
  Value stratifiers(rapidjson::kArrayType);
  stratifiers.PushBack(stratifier, a);
  group.AddMember("stratifier", stratifiers, a);
  Value groups(rapidjson::kArrayType);
  groups.PushBack(group, a);
  doc.AddMember("group", groups, a);
  if (!contained.Empty()) doc.AddMember("contained", contained, a);
  return json::write(doc);
}

std::string monthlyReportId(std::string_view measure_id, std::string_view organization, const ReportPeriod& month) {
  std::string key = std::string(measure_id) + "|" + std::string(organization) + "|" + month.start.substr(0, 7);
  return "pws-" + hex(sha256(key)).substr(0, 32);
}

}  // namespace ilpgw::report
