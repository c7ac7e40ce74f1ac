// Time to evaluate every bundled PWS Measure for one puskesmas-month over a
// large store. Fills a SQLite store (directly through commit(), in big
// batches) with a year of visits of several puskesmas, then evaluates the
// month the way $evaluate-measure does and prints the time.
//
//   bench_measure_eval [--data DIR] [--resources N] [--organizations K] [--month YYYY-MM] [--runs R]
//                      [--trend-month YYYY-MM]
//
// Then the PWS page's trend: every month from January to --trend-month
// (default 2025-12) in one read (MeasureEvaluator::evaluateMonths), and the
// same months evaluated one by one.
//
// A DIR that already holds a store is reused as it is (generation is slow).
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "base/config.h"
#include "base/json.h"
#include "fhir/resource_text.h"
#include "report/evaluator.h"
#include "report/measure.h"
#include "store/store.h"

namespace {

using namespace ilpgw;

struct Options {
  std::string data = "/tmp/ilpgw-bench-measure";
  long resources = 1'000'000;
  int organizations = 10;
  std::string month = "2025-03";
  int runs = 3;
  std::string trend_month = "2025-12";
};

void add(WriteBatch& batch, const std::string& json, const std::string& org) {
  rapidjson::Document doc;
  if (json::parse(json, doc)) {
    std::fprintf(stderr, "bad generated JSON: %s\n", json.c_str());
    std::exit(2);
  }
  ResourceWrite w = prepareResource(doc);
  w.organization = org;
  batch.resources.push_back(std::move(w));
}

std::string obs(const std::string& id, const std::string& patient, const std::string& date, const std::string& system,
                const std::string& code, const std::string& value) {
  return R"({"resourceType":"Observation","id":")" + id + R"(","status":"final","code":{"coding":[{"system":")" +
         system + R"(","code":")" + code + R"("}]},"subject":{"reference":"Patient/)" + patient +
         R"("},"effectiveDateTime":")" + date + R"(T09:00:00+07:00")" + value + "}";
}

long generate(Store& store, const Options& o) {
  std::mt19937 rng(42);
  const long visits_per_org_month = o.resources / (o.organizations * 12L * 4L);  // ~4 resources a visit
  const int patients_per_org = static_cast<int>(visits_per_org_month * 3);
  long written = 0;
  for (int org_index = 0; org_index < o.organizations; ++org_index) {
    std::string org = "pkm-" + std::to_string(org_index);
    // Patients: birth dates spread over 0-80 years, a desa in the address for most.
    WriteBatch batch;
    for (int p = 0; p < patients_per_org; ++p) {
      std::string id = org + "-p" + std::to_string(p);
      int age_months = static_cast<int>(rng() % 960);
      int by = 2025 - age_months / 12 - 1, bm = 1 + static_cast<int>(rng() % 12);
      char birth[16];
      std::snprintf(birth, sizeof birth, "%04d-%02d-15", by + (age_months < 12 ? 1 : 0), bm);
      std::string address;
      if (rng() % 10 != 0) {
        address = R"(,"address":[{"extension":[{"url":"https://fhir.kemkes.go.id/r4/StructureDefinition/administrativeCode","extension":[{"url":"village","valueCode":"62030110)" +
                  std::to_string(10 + static_cast<int>(rng() % 12)) + R"("}]}]}])";
      }
      add(batch,
          R"({"resourceType":"Patient","id":")" + id + R"(","gender":")" + (rng() % 2 ? "female" : "male") +
              R"(","birthDate":")" + birth + "\"" + address + "}",
          org);
      if (batch.resources.size() >= 2000) {
        written += static_cast<long>(batch.resources.size());
        if (!store.commit(std::move(batch)).isOk()) std::exit(3);
        batch = {};
      }
    }
    for (int month = 1; month <= 12; ++month) {
      for (long v = 0; v < visits_per_org_month; ++v) {
        std::string patient = org + "-p" + std::to_string(rng() % static_cast<unsigned>(patients_per_org));
        char date[16];
        std::snprintf(date, sizeof date, "2025-%02d-%02d", month, 1 + static_cast<int>(rng() % 28));
        std::string key = org + "-" + std::to_string(month) + "-" + std::to_string(v);
        int kind = static_cast<int>(rng() % 6);
        const char* klaster = kind <= 1 ? "2" : kind <= 3 ? "3" : "4";
        add(batch,
            R"({"resourceType":"Encounter","id":"e)" + key +
                R"(","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},"serviceType":{"coding":[{"system":"https://ilp-gateway.id/fhir/CodeSystem/klaster","code":")" +
                klaster + R"("}]},"subject":{"reference":"Patient/)" + patient + R"("},"period":{"start":")" + date +
                R"(T08:00:00+07:00"}})",
            org);
        switch (kind) {
          case 0:  // antenatal contact with iron tablets
            add(batch,
                R"({"resourceType":"Condition","id":"c)" + key +
                    R"(","code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10","code":"Z34.1"}]},"subject":{"reference":"Patient/)" +
                    patient + R"("},"recordedDate":")" + date + R"(T08:00:00+07:00"})",
                org);
            add(batch, obs("w" + key, patient, date, "http://loinc.org", "29463-7", R"(,"valueQuantity":{"value":60})"), org);
            add(batch,
                R"({"resourceType":"MedicationRequest","id":"m)" + key +
                    R"(","status":"active","intent":"order","medicationCodeableConcept":{"coding":[{"system":"http://sys-ids.kemkes.go.id/kfa","code":"93001019"}]},"subject":{"reference":"Patient/)" +
                    patient + R"("},"authoredOn":")" + date + R"(T08:00:00+07:00"})",
                org);
            break;
          case 1:  // toddler: weight and an immunization
            add(batch, obs("w" + key, patient, date, "http://loinc.org", "29463-7",
                           ",\"valueQuantity\":{\"value\":" + std::to_string(8 + rng() % 6) + "}"),
                org);
            add(batch,
                R"({"resourceType":"Immunization","id":"i)" + key +
                    R"(","status":"completed","vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"198"}]},"patient":{"reference":"Patient/)" +
                    patient + R"("},"occurrenceDateTime":")" + date + R"("})",
                org);
            add(batch, obs("h" + key, patient, date, "http://loinc.org", "8302-2", R"(,"valueQuantity":{"value":80})"), org);
            break;
          case 2:
          case 3:  // NCD screening, some with hypertension
            add(batch, obs("b" + key, patient, date, "http://loinc.org", "85354-9", ""), org);
            add(batch, obs("g" + key, patient, date, "http://loinc.org", "2339-0", R"(,"valueQuantity":{"value":130})"), org);
            add(batch, obs("i" + key, patient, date, "http://loinc.org", "39156-5", R"(,"valueQuantity":{"value":24})"), org);
            if (kind == 3) {
              add(batch,
                  R"({"resourceType":"Condition","id":"c)" + key +
                      R"(","code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10","code":"I10"}]},"subject":{"reference":"Patient/)" +
                      patient + R"("},"recordedDate":")" + date + R"(T08:00:00+07:00"})",
                  org);
            }
            break;
          default:  // TB symptom screening, positive for some
            add(batch,
                obs("t" + key, patient, date, "http://snomed.info/sct", "171126009",
                    std::string(R"(,"valueInteger":2,"interpretation":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation","code":")") +
                        (rng() % 3 == 0 ? "POS" : "NEG") + "\"}]}]"),
                org);
            add(batch, obs("v" + key, patient, date, "http://loinc.org", "8310-5", R"(,"valueQuantity":{"value":37})"), org);
            add(batch, obs("x" + key, patient, date, "http://loinc.org", "11545-1", ""), org);
            break;
        }
        if (batch.resources.size() >= 2000) {
          written += static_cast<long>(batch.resources.size());
          if (!store.commit(std::move(batch)).isOk()) std::exit(3);
          batch = {};
        }
      }
    }
    written += static_cast<long>(batch.resources.size());
    if (!batch.resources.empty() && !store.commit(std::move(batch)).isOk()) std::exit(3);
    std::fprintf(stderr, "  %s: %ld resources so far\n", org.c_str(), written);
  }
  return written;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::string value = argv[i + 1];
    if (flag == "--data") o.data = value;
    else if (flag == "--resources") o.resources = std::stol(value);
    else if (flag == "--organizations") o.organizations = std::stoi(value);
    else if (flag == "--month") o.month = value;
    else if (flag == "--runs") o.runs = std::stoi(value);
    else if (flag == "--trend-month") o.trend_month = value;
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  Config config;
  config.data_dir = o.data;
  bool fresh = !std::filesystem::exists(std::filesystem::path(o.data) / "gateway.db");
  auto store = openStore(config, {});
  if (!store.isOk()) {
    std::fprintf(stderr, "store: %s\n", store.status().message().c_str());
    return 1;
  }
  if (fresh) {
    auto start = std::chrono::steady_clock::now();
    long written = generate(*store.value(), o);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("generated %ld resources for %d organizations in %.0f s\n", written, o.organizations, seconds);
  }
  auto stats = store.value()->stats();
  if (stats.isOk()) std::printf("store: %lld current resources\n", static_cast<long long>(stats->resources));

  auto library = report::MeasureLibrary::load(std::string(ILPGW_MAPPINGS_DIR) + "/measures");
  if (!library.isOk()) {
    std::fprintf(stderr, "%s\n", library.status().message().c_str());
    return 1;
  }
  std::vector<const report::MeasureDefinition*> measures;
  for (const auto& [id, m] : library.value()->measures()) measures.push_back(&m);
  auto period = report::parseReportPeriod(o.month + "-01", o.month + "-31");
  if (!period.isOk()) period = report::parseReportPeriod(o.month + "-01", o.month + "-30");
  if (!period.isOk()) {
    std::fprintf(stderr, "--month: %s\n", period.status().message().c_str());
    return 2;
  }
  report::MeasureEvaluator evaluator(*store.value());
  auto cpuMs = [] {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000.0 +
           (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1000.0;
  };
  for (int run = 0; run < o.runs; ++run) {
    auto start = std::chrono::steady_clock::now();
    double cpu_start = cpuMs();
    auto results = evaluator.evaluate(measures, "pkm-0", period.value());
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    double cpu = cpuMs() - cpu_start;
    if (!results.isOk()) {
      std::fprintf(stderr, "evaluate: %s\n", results.status().message().c_str());
      return 1;
    }
    std::printf("run %d: %zu measures for pkm-0, %s..%s: %.0f ms wall, %.0f ms CPU\n", run + 1, results->size(),
                period->start.c_str(), period->end.c_str(), ms, cpu);
    if (run == 0) {
      for (const auto& r : results.value()) {
        std::printf("  %-28s desa %2zu  ip %5lld  den %5lld  num %5lld  ytd num %6lld\n", r.measure->id.c_str(),
                    r.strata.size(), static_cast<long long>(r.total.counts.initial_population),
                    static_cast<long long>(r.total.counts.denominator),
                    static_cast<long long>(r.total.counts.numerator),
                    static_cast<long long>(r.total.year_to_date.numerator));
      }
    }
  }
  // The PWS page's trend: every month of the year up to --trend-month from
  // one read (what the page evaluates), against one evaluation per month.
  int trend_month = std::stoi(o.trend_month.substr(5, 2));
  int trend_year = std::stoi(o.trend_month.substr(0, 4));
  for (int run = 0; run < o.runs; ++run) {
    auto start = std::chrono::steady_clock::now();
    double cpu_start = cpuMs();
    auto months = evaluator.evaluateMonths(measures, "pkm-0", trend_year, trend_month);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    double cpu = cpuMs() - cpu_start;
    if (!months.isOk()) {
      std::fprintf(stderr, "evaluateMonths: %s\n", months.status().message().c_str());
      return 1;
    }
    std::printf("trend run %d: %zu months x %zu measures for pkm-0 in one read: %.0f ms wall, %.0f ms CPU\n", run + 1,
                months->size(), measures.size(), ms, cpu);
  }
  {
    auto start = std::chrono::steady_clock::now();
    double cpu_start = cpuMs();
    for (int m = 1; m <= trend_month; ++m) {
      if (!evaluator.evaluate(measures, "pkm-0", report::monthPeriod(trend_year, m)).isOk()) return 1;
    }
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::printf("the same months evaluated one by one: %.0f ms wall, %.0f ms CPU\n", ms, cpuMs() - cpu_start);
  }
  return 0;
}
