#include "base/metrics.h"

#include <time.h>

#include <cmath>
#include <cstdio>
#include <mutex>

namespace ilpgw::metrics {
namespace {

// Label values as the exposition format escapes them: \ " and newline.
std::string escapeLabel(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string number(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.9g", value);
  return buffer;
}

std::string labelText(const std::vector<std::string>& names, const Labels& values, const std::string& extra = {}) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    out += out.empty() ? "{" : ",";
    out += names[i] + "=\"" + escapeLabel(values[i]) + "\"";
  }
  if (!extra.empty()) out += (out.empty() ? "{" : ",") + extra;
  if (!out.empty()) out += "}";
  return out;
}

}  // namespace

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds), buckets_(new std::atomic<std::uint64_t>[bounds.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<std::int64_t>(std::llround(value * 1e6)), std::memory_order_relaxed);
}

Family::Family(std::string name, std::string help, Type type, std::vector<std::string> label_names,
               std::vector<double> bounds, bool nanoseconds)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)),
      nanoseconds_(nanoseconds) {}

Family::Series& Family::series(const Labels& values) {
  {
    std::shared_lock lock(mutex_);
    auto it = series_.find(values);
    if (it != series_.end()) return *it->second;
  }
  std::unique_lock lock(mutex_);
  auto& slot = series_[values];
  if (!slot) {
    slot = std::make_unique<Series>();
    if (type_ == Type::kHistogram) slot->histogram = std::make_unique<Histogram>(bounds_);
  }
  return *slot;
}

Counter& Family::counter(const Labels& values) { return series(values).counter; }
Gauge& Family::gauge(const Labels& values) { return series(values).gauge; }
Histogram& Family::histogram(const Labels& values) { return *series(values).histogram; }

void Family::print(std::string& out) const {
  static const char* const kTypeNames[] = {"counter", "gauge", "histogram"};
  out += "# HELP " + name_ + " " + help_ + "\n";
  out += "# TYPE " + name_ + " " + kTypeNames[static_cast<int>(type_)] + "\n";
  std::shared_lock lock(mutex_);
  for (const auto& [values, s] : series_) {
    switch (type_) {
      case Type::kCounter:
        out += name_ + labelText(label_names_, values) + " " +
               (nanoseconds_ ? number(static_cast<double>(s->counter.value()) / 1e9)
                             : std::to_string(s->counter.value())) +
               "\n";
        break;
      case Type::kGauge:
        out += name_ + labelText(label_names_, values) + " " + std::to_string(s->gauge.value()) + "\n";
        break;
      case Type::kHistogram: {
        const Histogram& h = *s->histogram;
        std::uint64_t cumulative = 0;
        for (size_t i = 0; i <= h.bounds().size(); ++i) {
          cumulative += h.bucketCount(i);
          std::string le = i < h.bounds().size() ? number(h.bounds()[i]) : "+Inf";
          out += name_ + "_bucket" + labelText(label_names_, values, "le=\"" + le + "\"") + " " +
                 std::to_string(cumulative) + "\n";
        }
        out += name_ + "_sum" + labelText(label_names_, values) + " " + number(h.sum()) + "\n";
        out += name_ + "_count" + labelText(label_names_, values) + " " + std::to_string(h.count()) + "\n";
        break;
      }
    }
  }
}

Family& Registry::family(const std::string& name, const std::string& help, Type type,
                         std::vector<std::string> label_names, std::vector<double> bounds, bool nanoseconds) {
  std::lock_guard lock(mutex_);
  auto& slot = families_[name];
  if (!slot) slot = std::make_unique<Family>(name, help, type, std::move(label_names), std::move(bounds), nanoseconds);
  return *slot;
}

Family& Registry::secondsCounter(const std::string& name, const std::string& help,
                                 std::vector<std::string> label_names) {
  return family(name, help, Type::kCounter, std::move(label_names), {}, true);
}

Family& Registry::counter(const std::string& name, const std::string& help, std::vector<std::string> label_names) {
  return family(name, help, Type::kCounter, std::move(label_names), {});
}

Family& Registry::gauge(const std::string& name, const std::string& help, std::vector<std::string> label_names) {
  return family(name, help, Type::kGauge, std::move(label_names), {});
}

Family& Registry::histogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                            std::vector<std::string> label_names) {
  return family(name, help, Type::kHistogram, std::move(label_names), std::move(bounds));
}

std::string Registry::exposition() {
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& [name, family] : families_) family->print(out);
  return out;
}

Registry& registry() {
  static Registry instance;
  return instance;
}

const std::vector<double>& latencyBuckets() {
  static const std::vector<double> buckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                              0.25,  0.5,    1.0,   2.5,  5.0,   10.0};
  return buckets;
}

Family& httpRequests() {
  static Family& f = registry().counter("ilpgw_http_requests_total",
                                        "HTTP requests answered, by method, route pattern and status code.",
                                        {"method", "route", "status"});
  return f;
}

Family& httpRequestDuration() {
  static Family& f = registry().histogram("ilpgw_http_request_duration_seconds",
                                          "Time from a request's complete head to its answer, by route pattern.",
                                          latencyBuckets(), {"route"});
  return f;
}

Family& openConnections() {
  static Family& f = registry().gauge("ilpgw_http_open_connections", "Client connections held by a worker now.");
  return f;
}

Family& ingestRecords() {
  static Family& f = registry().counter("ilpgw_ingest_records_total",
                                        "Native records posted to an adapter, accepted (stored) or refused "
                                        "(quarantined).",
                                        {"adapter", "result"});
  return f;
}

Family& commitBatchSize() {
  static Family& f = registry().histogram("ilpgw_store_commit_batch_size",
                                          "WriteBatches committed together in one transaction (group commit).",
                                          {1, 2, 4, 8, 16, 32, 64, 128, 256, 512});
  return f;
}

Family& commitDuration() {
  static Family& f = registry().histogram("ilpgw_store_commit_duration_seconds",
                                          "Time of one group commit, from BEGIN to a durable COMMIT.",
                                          latencyBuckets());
  return f;
}

Family& forwardAttempts() {
  static Family& f = registry().counter("ilpgw_forward_attempts_total",
                                        "Versions sent upstream, by result: sent, retry (will be sent again), dead "
                                        "(a dead letter).",
                                        {"result"});
  return f;
}

Family& tokenFailures() {
  static Family& f = registry().counter("ilpgw_auth_failures_total",
                                        "Refused credentials: kind token_request (POST /oauth2/token refused) or "
                                        "bearer (a request with a missing, invalid or revoked access token).",
                                        {"kind"});
  return f;
}

Family& ingestCpu() {
  static Family& f = registry().secondsCounter(
      "ilpgw_ingest_cpu_seconds_total",
      "CPU time of the request threads in the stages of POST /ingest: map (the adapter and the ILP rules), "
      "validate (parsing and checking each resource), index (search-index extraction), merge (patient identity "
      "merge), answer (the response Bundle).",
      {"stage"});
  return f;
}

Family& storeWriterCpu() {
  static Family& f = registry().secondsCounter(
      "ilpgw_store_writer_cpu_seconds_total",
      "CPU time of the store's writer thread in group commits (SQLite: the whole write; PostgreSQL: sending "
      "statements and reading answers, the server's own time not included).");
  return f;
}

Family& storeLogSyncs() {
  static Family& f = registry().counter(
      "ilpgw_store_log_syncs_total",
      "fsyncs of the SQLite write-ahead log that acknowledge commits; one covers every group committed while "
      "the previous one ran.");
  return f;
}

Family& storeSearchSteps() {
  static Family& f = registry().counter(
      "ilpgw_store_search_steps_total",
      "SQLite virtual-machine steps of the queries that read search pages: work, not time; a plan that walks "
      "every resource of a type instead of the matching ones shows here.");
  return f;
}

Family& storeSearchWaits() {
  static Family& f = registry().counter(
      "ilpgw_store_search_waits_total",
      "Searches and history pages that found every turn taken (store.concurrent_searches), by result: waited "
      "(then answered), refused (no turn within the wait: 503).",
      {"result"});
  return f;
}

std::uint64_t threadCpuNanos() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<std::uint64_t>(t.tv_sec) * 1000000000ULL + static_cast<std::uint64_t>(t.tv_nsec);
}

}  // namespace ilpgw::metrics
