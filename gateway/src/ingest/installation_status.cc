#include "ingest/installation_status.h"

#include <algorithm>
#include <ctime>

#include "base/host_facts.h"
#include "base/json.h"
#include "base/time_util.h"
#include "forward/outbox_sender.h"

namespace ilpgw {
namespace {

constexpr std::int64_t kWibOffsetS = 7 * 3600;  // Indonesia's western time: "today" for the district office
constexpr int kAuditPage = 500;
constexpr int kQuarantinePage = 500;
// Upper bounds on what one page view reads; beyond them counts say "at least".
constexpr std::int64_t kMostAuditEvents = 50000;
constexpr std::int64_t kMostQuarantineEntries = 20000;

Light worse(Light a, Light b) {
  auto rank = [](Light l) { return l == Light::kRed ? 3 : l == Light::kYellow ? 2 : l == Light::kGreen ? 1 : 0; };
  return rank(a) >= rank(b) ? a : b;
}

std::string instantOfSeconds(std::int64_t s) { return instantFromMillis(s * 1000); }

// "HTTP 201: POST /ingest/simpus-csv" -> 201 when the event is a post to /ingest; 0 otherwise.
int ingestStatus(const std::string& event_json) {
  rapidjson::Document doc;
  if (json::parse(event_json, doc) || !doc.IsObject()) return 0;
  std::string_view desc = json::string(doc, "outcomeDesc");
  auto colon = desc.find(": POST /ingest/");
  if (desc.substr(0, 5) != "HTTP " || colon == std::string_view::npos) return 0;
  int status = 0;
  for (char c : desc.substr(5, colon - 5)) {
    if (c < '0' || c > '9') return 0;
    status = status * 10 + (c - '0');
  }
  return status;
}

bool inScope(const StatusScope& scope, const std::string& organization) {
  return scope.whole_installation ||
         std::find(scope.organizations.begin(), scope.organizations.end(), organization) != scope.organizations.end();
}

// Reads the client's posts in [from, to) from the audit trail (one
// AuditEvent per post, its outcome "HTTP <status>: POST /ingest/...").
Status scanPosts(Store& store, const std::string& from, const std::string& to, const std::string& today_start,
                 ClientActivity& client, bool& capped) {
  AuditQuery query;
  query.agent = client.client_id;
  query.recorded_ge = from;
  query.recorded_lt = to;
  query.limit = kAuditPage;
  std::int64_t read = 0;
  while (read < kMostAuditEvents) {
    auto page = store.searchAudit(query);
    if (!page.isOk()) return page.status();
    for (const auto& record : page.value()) {
      int status = ingestStatus(record.event.json);
      if (status == 0) continue;
      if (status < 300) client.last_success_at = std::max(client.last_success_at, record.event.recorded);
      if (record.event.recorded >= today_start) {
        ++client.posts_today;
        if (status >= 400) ++client.refused_posts_today;
      }
    }
    read += static_cast<std::int64_t>(page.value().size());
    if (static_cast<int>(page.value().size()) < query.limit) break;
    query.after_seq = page.value().back().seq;
  }
  if (read >= kMostAuditEvents) capped = true;
  return Status::ok();
}

// Today first; the days before only for a client without a success today,
// so a page view reads little more than today's trail.
Status clientActivity(Store& store, const std::string& week_start, const std::string& today_start,
                      ClientActivity& client, bool& capped) {
  Status today = scanPosts(store, today_start, "", today_start, client, capped);
  if (!today.isOk() || !client.last_success_at.empty()) return today;
  return scanPosts(store, week_start, today_start, today_start, client, capped);
}

Light clientLight(const ClientActivity& c, std::int64_t now_s) {
  if (c.last_success_at.empty()) return Light::kRed;
  auto at = millisFromInstant(c.last_success_at);
  std::int64_t age_s = at ? now_s - *at / 1000 : 0;
  if (c.refused_posts_today > 0 && c.refused_posts_today == c.posts_today) return Light::kYellow;
  return age_s <= 2 * 86400 ? Light::kGreen : Light::kYellow;
}

}  // namespace

const char* lightName(Light light) {
  switch (light) {
    case Light::kGreen: return "hijau";
    case Light::kYellow: return "kuning";
    case Light::kRed: return "merah";
    case Light::kOff: return "mati";
  }
  return "mati";
}

StatusOr<InstallationStatus> collectInstallationStatus(Gateway& gateway, const StatusScope& scope) {
  InstallationStatus out;
  Store& store = gateway.store();
  const Config& config = gateway.config();
  std::int64_t now_s = static_cast<std::int64_t>(std::time(nullptr));
  std::int64_t today_start_s = (now_s + kWibOffsetS) / 86400 * 86400 - kWibOffsetS;
  out.today_start = instantOfSeconds(today_start_s);
  std::string week_start = instantOfSeconds(now_s - kActivityDays * 86400);
  if (!scope.whole_installation) out.organizations_shown = scope.organizations;

  // Clinic systems: the registered clinic clients of the organizations shown.
  auto clients = store.listClients();
  if (!clients.isOk()) return clients.status();
  for (const auto& record : clients.value()) {
    if (!record.revoked_at.empty() || record.role != "clinic" || !inScope(scope, record.organization)) continue;
    ClientActivity c;
    c.client_id = record.client_id;
    c.organization = record.organization;
    Status read = clientActivity(store, week_start, out.today_start, c, out.counts_capped);
    if (!read.isOk()) return read;
    c.light = clientLight(c, now_s);
    out.posts_today += c.posts_today;
    out.clients.push_back(std::move(c));
  }

  // Refused records today and open quarantine, per organization shown (or all).
  std::vector<std::string> orgs = scope.whole_installation ? std::vector<std::string>{""} : scope.organizations;
  ReasonTally tally(scope.english);
  // The whole installation's open count is the store's own (as /metrics reports it).
  std::vector<bool> passes = {true};
  if (scope.whole_installation) {
    auto stats = store.stats();
    if (!stats.isOk()) return stats.status();
    out.quarantine_open = stats->quarantined_open;
  } else {
    passes.push_back(false);
  }
  for (const auto& org : orgs) {
    for (const bool today : passes) {
      QuarantineFilter filter;
      filter.organization = org;
      filter.limit = kQuarantinePage;
      if (today) filter.created_ge = out.today_start;
      else filter.status = "open";
      std::int64_t read = 0;
      while (read < kMostQuarantineEntries) {
        auto page = store.listQuarantine(filter);
        if (!page.isOk()) return page.status();
        for (const auto& entry : page.value()) {
          if (today) {
            ++out.refused_records_today;
            if (entry.status != "open") ++out.refused_today_fixed;
            tally.add(entry.adapter, entry.locator, entry.outcome_json);
          } else {
            ++out.quarantine_open;
          }
        }
        read += static_cast<std::int64_t>(page.value().size());
        if (static_cast<int>(page.value().size()) < filter.limit) break;
        filter.after_id = page.value().back().id;
      }
      if (read >= kMostQuarantineEntries) out.counts_capped = true;
    }
  }
  for (const auto& count : tally.top(5)) out.top_reasons.push_back(tally.sentence(count));
  // Refused records fixed since (reprocessed) no longer need anyone.
  out.today_light = out.refused_records_today == out.refused_today_fixed ? Light::kGreen : Light::kYellow;
  out.quarantine_light = out.quarantine_open == 0 ? Light::kGreen : Light::kRed;

  // Forwarding is the installation's, not one organization's.
  out.show_forwarding = scope.whole_installation;
  out.forwarding_enabled = config.upstream.enabled;
  if (out.show_forwarding && out.forwarding_enabled) {
    auto stats = store.outboxStats();
    if (!stats.isOk()) return stats.status();
    out.outbox_pending = stats->pending;
    out.outbox_dead = stats->dead;
    out.oldest_unsent_age_s = stats->oldestPendingAgeSeconds(now_s * 1000);
    if (gateway.sender() != nullptr) {
      SenderStatus sender = gateway.sender()->status();
      out.last_forward_at = sender.last_sent_at;
      out.last_forward_error = sender.last_error;
    }
    out.forwarding_light = out.outbox_dead > 0 || out.oldest_unsent_age_s > 86400 ? Light::kRed
                           : out.oldest_unsent_age_s > 3600                     ? Light::kYellow
                                                                                : Light::kGreen;
  }

  // The machine.
  out.plain_http = config.plain_http;
  if (config.plain_http) {
    out.certificate_light = Light::kYellow;
  } else if (auto validity = certificateValidity(config.tls_cert)) {
    out.certificate_days_left = validity->daysLeft(now_s);
    out.certificate_light = *out.certificate_days_left < 7 ? Light::kRed
                            : *out.certificate_days_left < kCertificateWarnDays ? Light::kYellow
                                                              : Light::kGreen;
  }
  out.free_disk_bytes = freeDiskBytes(config.data_dir);
  if (out.free_disk_bytes) {
    std::int64_t mb = *out.free_disk_bytes / (1024 * 1024);
    out.disk_light = mb < kMinFreeDiskMb ? Light::kRed : mb < 5 * kMinFreeDiskMb ? Light::kYellow : Light::kGreen;
  }
  if (config.store_backend == "sqlite") out.store_bytes = filesSize(config.data_dir, "gateway.db");
  out.version = ILPGW_VERSION;

  out.overall = worse(out.today_light, out.quarantine_light);
  for (const auto& c : out.clients) out.overall = worse(out.overall, c.light);
  out.overall = worse(out.overall, out.forwarding_light);
  out.overall = worse(worse(out.overall, out.certificate_light), out.disk_light);
  return out;
}

}  // namespace ilpgw
