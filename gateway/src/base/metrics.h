// Process-wide metrics for GET /metrics, printed in the Prometheus text
// exposition format 0.0.4. Updating is one relaxed atomic add once a labelled
// series is found; the series of a family are looked up under a shared lock
// and created once. Label values are route patterns, adapter names, status
// codes and results, never ids, raw paths or anything a patient could be
// recognised by. Gauges whose value lives elsewhere (store counts, RSS) are
// set by the scraping route just before it prints.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

namespace ilpgw::metrics {

class Counter {
 public:
  void add(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void set(std::int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void add(std::int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

// Cumulative buckets with fixed upper bounds; the sum is kept in micro-units
// so it can be an atomic integer.
class Histogram {
 public:
  explicit Histogram(const std::vector<double>& bounds);
  void observe(double value);
  const std::vector<double>& bounds() const { return bounds_; }
  std::uint64_t bucketCount(size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // not cumulative; summed when printed
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::int64_t> sum_micros_{0};
};

enum class Type { kCounter, kGauge, kHistogram };

using Labels = std::vector<std::string>;  // values, in the family's label order

// One metric name with its help text and label names; a series per set of
// label values.
class Family {
 public:
  // `nanoseconds`: a counter of nanoseconds, printed in seconds.
  Family(std::string name, std::string help, Type type, std::vector<std::string> label_names,
         std::vector<double> bounds = {}, bool nanoseconds = false);
  Counter& counter(const Labels& values = {});
  Gauge& gauge(const Labels& values = {});
  Histogram& histogram(const Labels& values = {});
  void print(std::string& out) const;

 private:
  struct Series {
    Counter counter;
    Gauge gauge;
    std::unique_ptr<Histogram> histogram;
  };
  Series& series(const Labels& values);

  std::string name_;
  std::string help_;
  Type type_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;
  bool nanoseconds_ = false;
  mutable std::shared_mutex mutex_;
  std::map<Labels, std::unique_ptr<Series>> series_;
};

class Registry {
 public:
  // The same name twice returns the same family.
  Family& counter(const std::string& name, const std::string& help, std::vector<std::string> label_names = {});
  // A counter its users add nanoseconds to; printed in seconds (name it *_seconds_total).
  Family& secondsCounter(const std::string& name, const std::string& help, std::vector<std::string> label_names = {});
  Family& gauge(const std::string& name, const std::string& help, std::vector<std::string> label_names = {});
  Family& histogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                    std::vector<std::string> label_names = {});
  std::string exposition();

 private:
  Family& family(const std::string& name, const std::string& help, Type type, std::vector<std::string> label_names,
                 std::vector<double> bounds, bool nanoseconds = false);
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Family>> families_;
};

// The gateway's registry: one per process.
Registry& registry();

// Latency buckets in seconds, 1 ms to 10 s.
const std::vector<double>& latencyBuckets();

// The gateway's metrics, one function each so every name, help text and
// label set is declared once (docs/operations.md lists them).
Family& httpRequests();          // ilpgw_http_requests_total{method,route,status}
Family& httpRequestDuration();   // ilpgw_http_request_duration_seconds{route}
Family& openConnections();       // ilpgw_http_open_connections
Family& ingestRecords();         // ilpgw_ingest_records_total{adapter,result}
Family& commitBatchSize();       // ilpgw_store_commit_batch_size
Family& commitDuration();        // ilpgw_store_commit_duration_seconds
Family& forwardAttempts();       // ilpgw_forward_attempts_total{result}
Family& tokenFailures();         // ilpgw_auth_failures_total{kind}
Family& ingestCpu();             // ilpgw_ingest_cpu_seconds_total{stage}
Family& storeWriterCpu();        // ilpgw_store_writer_cpu_seconds_total
Family& storeLogSyncs();         // ilpgw_store_log_syncs_total
Family& storeSearchSteps();      // ilpgw_store_search_steps_total
Family& storeSearchWaits();      // ilpgw_store_search_waits_total{result}

// CPU time the calling thread has used, in nanoseconds.
std::uint64_t threadCpuNanos();

// Adds the CPU time the calling thread spends between construction and
// destruction to a seconds counter (Registry::secondsCounter).
class ThreadCpuScope {
 public:
  explicit ThreadCpuScope(Counter& counter) : counter_(counter), start_(threadCpuNanos()) {}
  ~ThreadCpuScope() { counter_.add(threadCpuNanos() - start_); }
  ThreadCpuScope(const ThreadCpuScope&) = delete;
  ThreadCpuScope& operator=(const ThreadCpuScope&) = delete;

 private:
  Counter& counter_;
  std::uint64_t start_;
};

}  // namespace ilpgw::metrics
