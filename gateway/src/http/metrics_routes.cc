#include "http/metrics_routes.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <vector>

#include "base/metrics.h"
#include "base/text.h"
#include "base/time_util.h"
#include "fhir/fhir_validator.h"
#include "forward/outbox_sender.h"
#include "http/errors.h"

namespace ilpgw {
namespace {

using Clock = std::chrono::steady_clock;

// When the head of the request this worker serves was read; requests on a
// connection are served one after the other by one worker.
thread_local Clock::time_point t_head_read;
thread_local bool t_timed = false;

bool isLoopback(const std::string& addr) {
  return addr == "::1" || addr.rfind("127.", 0) == 0 || addr.rfind("::ffff:127.", 0) == 0;
}

std::vector<std::string_view> segments(std::string_view path) { return splitNonEmpty(path, '/'); }

bool knownType(std::string_view name) {
  static const std::set<std::string, std::less<>> types = [] {
    std::set<std::string, std::less<>> all(fhir::supportedResourceTypes().begin(),
                                           fhir::supportedResourceTypes().end());
    for (const char* extra : {"AuditEvent", "ConceptMap", "Measure", "MeasureReport"}) all.insert(extra);
    return all;
  }();
  return types.count(name) > 0;
}

bool fixedWord(std::string_view word) {
  static const std::set<std::string_view> words = {
      "_history", "_search", "_export", "metadata", ".well-known", "smart-configuration", "quarantine", "payloads",
      "outbox",   "plugins", "reload",  "token",    "$export",     "$translate",          "$reprocess", "$resend",
      "$evaluate-measure", "$everything", "$validate"};
  return words.count(word) > 0;
}

std::string methodLabel(const std::string& method) {
  static const std::set<std::string> methods = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
  return methods.count(method) > 0 ? method : "other";
}

// Values kept where they live and read at scrape time.
void refreshGauges(Gateway& gateway) {
  auto& registry = metrics::registry();
  Store& store = gateway.store();
  if (auto stats = store.stats(); stats.isOk()) {
    registry.gauge("ilpgw_quarantine_open", "Quarantine entries waiting for a fix (status open).")
        .gauge()
        .set(stats->quarantined_open);
  }
  if (auto outbox = store.outboxStats(); outbox.isOk()) {
    registry.gauge("ilpgw_outbox_pending", "Versions waiting to be forwarded upstream.").gauge().set(outbox->pending);
    registry.gauge("ilpgw_outbox_dead", "Dead letters: versions upstream refused for good (outbox resend).")
        .gauge()
        .set(outbox->dead);
    registry.gauge("ilpgw_outbox_oldest_pending_age_seconds", "Age of the oldest pending version; 0 when none.")
        .gauge()
        .set(outbox->oldestPendingAgeSeconds(nowMs()));
  }
  if (auto jobs = store.listExportJobs(); jobs.isOk()) {
    static const char* const kStates[] = {"queued", "running", "completed", "failed"};
    std::int64_t counts[4] = {0, 0, 0, 0};
    for (const auto& job : jobs.value()) ++counts[static_cast<int>(job.state)];
    auto& family = registry.gauge("ilpgw_export_jobs", "Bulk Data $export jobs kept now, by state.", {"state"});
    for (int i = 0; i < 4; ++i) family.gauge({kStates[i]}).set(counts[i]);
  }
  std::ifstream statm("/proc/self/statm");
  long long pages_total = 0;
  long long pages_resident = 0;
  if (statm >> pages_total >> pages_resident) {
    registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.")
        .gauge()
        .set(pages_resident * sysconf(_SC_PAGESIZE));
  }
}

}  // namespace

std::string routePattern(std::string_view path) {
  auto parts = segments(path);
  if (parts.empty()) return "/";
  static const std::set<std::string_view> top = {"fhir",   "ingest", "admin",   "oauth2",
                                                 "health", "ready",  "metrics", ".well-known"};
  if (top.count(parts[0]) == 0) return "/{other}";
  std::string out;
  constexpr size_t kMostSegments = 6;
  for (size_t i = 0; i < parts.size() && i < kMostSegments; ++i) {
    std::string_view p = parts[i];
    out += '/';
    if (i == 0 || fixedWord(p)) {
      out += p;
    } else if (parts[0] == "ingest" && i == 1) {
      out += "{adapter}";
    } else if (parts[0] == "fhir" && i == 1 && knownType(p)) {
      out += p;
    } else if (parts[0] == "fhir" && i == 1) {
      out += p.front() == '$' ? "{operation}" : "{type}";
    } else if (parts[0] == "fhir" && i == 4 && parts.size() > 3 && parts[3] == "_history") {
      out += "{vid}";
    } else {
      out += p.front() == '$' ? "{operation}" : "{id}";
    }
  }
  if (parts.size() > kMostSegments) out += "/...";
  return out;
}

void requestHeadRead() {
  t_head_read = Clock::now();
  t_timed = true;
}

void requestAnswered(const httplib::Request& req, const httplib::Response& res) {
  std::string route = routePattern(req.path);
  metrics::httpRequests().counter({methodLabel(req.method), route, std::to_string(res.status)}).add();
  if (t_timed) {
    double seconds = std::chrono::duration<double>(Clock::now() - t_head_read).count();
    metrics::httpRequestDuration().histogram({route}).observe(seconds);
    t_timed = false;
  }
}

void registerMetricsRoutes(httplib::Server& server, Gateway& gateway) {
  // Series that are 0 until something happens are printed from the start.
  for (const char* kind : {"bearer", "token_request"}) metrics::tokenFailures().counter({kind});
  if (gateway.config().store_backend == "sqlite") {
    for (const char* result : {"waited", "refused"}) metrics::storeSearchWaits().counter({result});
  }
  if (gateway.config().upstream.enabled) {
    for (const char* result : {"sent", "retry", "dead"}) metrics::forwardAttempts().counter({result});
  }
  server.Get("/metrics", [&gateway](const httplib::Request& req, httplib::Response& res) {
    if (!isLoopback(req.remote_addr)) {
      sendStatus(res, Status(StatusCode::kPermissionDenied,
                             "GET /metrics answers only on the gateway host (127.0.0.1); scrape it there"));
      return;
    }
    refreshGauges(gateway);
    res.set_content(metrics::registry().exposition(), "text/plain; version=0.0.4; charset=utf-8");
  });
}

}  // namespace ilpgw
