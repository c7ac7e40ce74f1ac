// What the status page shows (http/status_page.h), gathered in one place:
// every connected clinic system with its last successful post, today's posts
// and refused records with their top reasons in plain words, quarantine
// entries waiting, the forwarding backlog, and the facts about the machine
// (certificate, disk, store size, version), each with a light: green, yellow
// or red. Scoped to the organizations a person may see; the installation's
// own parts (forwarding, other kinds of clients) only for whole-installation
// viewers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "ingest/gateway.h"
#include "ingest/quarantine_reasons.h"

namespace ilpgw {

enum class Light { kGreen, kYellow, kRed, kOff };
const char* lightName(Light light);  // hijau | kuning | merah | mati

// Which data a viewer may see.
struct StatusScope {
  bool whole_installation = false;          // every organization and the installation's own parts
  std::vector<std::string> organizations;   // otherwise only these
  bool english = false;                     // the language of the reasons
};

struct ClientActivity {
  std::string client_id;
  std::string organization;
  std::string last_success_at;   // empty: none within kActivityDays
  std::int64_t posts_today = 0;
  std::int64_t refused_posts_today = 0;  // answered 4xx/5xx
  Light light = Light::kRed;
};

struct InstallationStatus {
  std::string today_start;  // the instant today began (UTC+7)
  std::vector<ClientActivity> clients;
  std::int64_t posts_today = 0;
  std::int64_t refused_records_today = 0;  // quarantined today
  std::int64_t refused_today_fixed = 0;    // of them, reprocessed since
  std::vector<std::string> top_reasons;  // plain sentences, most records first
  Light today_light = Light::kGreen;
  std::int64_t quarantine_open = 0;
  Light quarantine_light = Light::kGreen;
  // Forwarding: only for whole-installation viewers.
  bool show_forwarding = false;
  bool forwarding_enabled = false;
  std::int64_t outbox_pending = 0;
  std::int64_t outbox_dead = 0;
  std::int64_t oldest_unsent_age_s = 0;
  std::string last_forward_at;  // since this process started
  std::string last_forward_error;
  Light forwarding_light = Light::kOff;
  // The machine.
  bool plain_http = false;
  std::optional<std::int64_t> certificate_days_left;
  Light certificate_light = Light::kRed;
  std::optional<std::int64_t> free_disk_bytes;
  Light disk_light = Light::kRed;
  std::optional<std::int64_t> store_bytes;  // SQLite files; nullopt for PostgreSQL
  std::string version;
  Light overall = Light::kGreen;  // the worst light shown
  bool counts_capped = false;     // a count reached its reading limit: "at least"
  std::vector<std::string> organizations_shown;  // for the audit trail; empty = all
};

// How far back a clinic system's last successful post is looked for.
constexpr int kActivityDays = 7;

StatusOr<InstallationStatus> collectInstallationStatus(Gateway& gateway, const StatusScope& scope);

}  // namespace ilpgw
