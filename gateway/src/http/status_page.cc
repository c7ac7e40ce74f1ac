#include "http/status_page.h"

#include <cstdio>
#include <ctime>

#include "ingest/installation_status.h"

namespace ilpgw {
namespace {

std::string lightText(Lang lang, Light light) {
  switch (light) {
    case Light::kGreen: return tr(lang, "BAIK", "GOOD");
    case Light::kYellow: return tr(lang, "PERHATIKAN", "WATCH");
    case Light::kRed: return tr(lang, "PERLU TINDAKAN", "ACT NOW");
    case Light::kOff: return tr(lang, "TIDAK AKTIF", "OFF");
  }
  return "";
}

std::string lamp(Lang lang, Light light) {
  return std::string("<span class=\"lampu lampu-") + lightName(light) + "\">" + lightText(lang, light) + "</span>";
}

std::string bytesText(std::int64_t bytes) {
  char buf[32];
  if (bytes >= 1024LL * 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f GB", static_cast<double>(bytes) / (1024.0 * 1024 * 1024));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / (1024.0 * 1024));
  }
  return buf;
}

std::string ageText(Lang lang, std::int64_t seconds) {
  if (seconds < 120) return std::to_string(seconds) + tr(lang, " detik", " seconds");
  if (seconds < 2 * 3600) return std::to_string(seconds / 60) + tr(lang, " menit", " minutes");
  if (seconds < 2 * 86400) return std::to_string(seconds / 3600) + tr(lang, " jam", " hours");
  return std::to_string(seconds / 86400) + tr(lang, " hari", " days");
}

std::string row(const std::string& id, Lang lang, Light light, const std::string& what, const std::string& detail) {
  return "<tr data-lampu=\"" + id + "\" data-warna=\"" + lightName(light) + "\"><td>" + lamp(lang, light) +
         "</td><th scope=\"row\">" + htmlEscape(what) + "</th><td>" + detail + "</td></tr>";
}

class StatusPage {
 public:
  explicit StatusPage(std::shared_ptr<PeoplePages> pages) : pages_(std::move(pages)) {}

  void show(const httplib::Request& req, httplib::Response& res) {
    Lang lang = PeoplePages::language(req, res);
    auto session = pages_->requireSession(req, res, lang);
    if (!session) return;
    const Person& person = session->person;
    StatusScope scope;
    scope.whole_installation = person.everyOrganization();
    scope.organizations = person.organizations;
    scope.english = lang == Lang::kEn;
    auto status = collectInstallationStatus(pages_->gateway(), scope);
    if (!status.isOk()) {
      pages_->auditView(req, *session, 503, {}, "status page");
      return PeoplePages::sendFailure(res, lang, req, *session,
                                      tr(lang, "Status belum bisa ditampilkan", "The status cannot be shown"),
                                      status.status());
    }
    std::vector<std::string> entities;
    for (const auto& org : status->organizations_shown) entities.push_back("Organization/" + org);
    pages_->auditView(req, *session, 200, entities, "status page");
    PeoplePages::sendHtml(res, 200, page(req, lang, *session, status.value()));
  }

 private:
  std::string page(const httplib::Request& req, Lang lang, const ActiveSession& session, const InstallationStatus& s) {
    std::string title = tr(lang, "Status gateway", "Gateway status");
    std::string html = PeoplePages::pageStart(lang, title, req, &session);
    html += "<main><h1>" + title + "</h1>";
    html += "<p class=\"ringkas\" data-warna=\"" + std::string(lightName(s.overall)) + "\">" + lamp(lang, s.overall) + " ";
    html += s.overall == Light::kGreen ? tr(lang, "Semua baik.", "All is well.")
            : s.overall == Light::kYellow
                ? tr(lang, "Ada yang perlu diperhatikan; lihat baris kuning.", "Something needs watching; see the yellow rows.")
                : tr(lang, "Ada yang perlu ditangani; lihat baris merah dan petunjuknya di docs/operations.md.",
                     "Something needs action; see the red rows and what to do in docs/operations.md.");
    html += "</p>";
    if (!s.organizations_shown.empty()) {
      std::string orgs;
      for (const auto& o : s.organizations_shown) orgs += (orgs.empty() ? "" : ", ") + o;
      html += "<p class=\"note\">" + std::string(tr(lang, "Data untuk puskesmas: ", "Data of puskesmas: ")) +
              htmlEscape(orgs) + "</p>";
    }
    if (session.person.role == PersonRole::kAdmin) {
      html += "<div class=\"actions\"><a href=\"/konsol/karantina\">" +
              std::string(tr(lang, "Buka konsol admin", "Open the admin console")) + "</a></div>";
    }

    html += "<h2>" + std::string(tr(lang, "Data masuk hari ini", "Data received today")) + "</h2>";
    html += "<div class=\"scroll\"><table class=\"pws status-table\"><tbody>";
    std::string today = std::to_string(s.posts_today) + tr(lang, " kiriman, ", " posts, ") +
                        std::to_string(s.refused_records_today) +
                        tr(lang, " catatan ditolak (masuk karantina)", " records refused (into quarantine)");
    if (s.refused_today_fixed > 0) {
      today += ", " + std::to_string(s.refused_today_fixed) + tr(lang, " sudah diperbaiki", " fixed since");
    }
    if (!s.top_reasons.empty()) {
      today += "<ul class=\"alasan\">";
      for (const auto& r : s.top_reasons) today += "<li>" + htmlEscape(r) + "</li>";
      today += "</ul>";
    }
    html += row("hari-ini", lang, s.today_light, tr(lang, "Kiriman hari ini", "Posts today"), today);
    std::string quarantine = std::to_string(s.quarantine_open) +
                             tr(lang, " catatan menunggu diperbaiki", " records waiting for a fix");
    if (s.quarantine_open > 0) {
      quarantine += session.person.role == PersonRole::kAdmin
                        ? std::string(" · <a href=\"/konsol/karantina\">") + tr(lang, "Buka karantina", "Open the quarantine") + "</a>"
                        : std::string(" · ") + tr(lang, "hubungi pengelola gateway di Dinas Kesehatan",
                                                 "contact the gateway's administrator at the district office");
    }
    html += row("karantina", lang, s.quarantine_light, tr(lang, "Karantina", "Quarantine"), quarantine);
    html += "</tbody></table></div>";

    html += "<h2>" + std::string(tr(lang, "Aplikasi klinik yang tersambung", "Connected clinic systems")) + "</h2>";
    if (s.clients.empty()) {
      html += "<p class=\"note\">" +
              std::string(tr(lang, "Belum ada aplikasi klinik yang terdaftar.", "No clinic system is registered yet.")) +
              "</p>";
    } else {
      html += "<div class=\"scroll\"><table class=\"pws status-table\"><thead><tr><th scope=\"col\"></th><th "
              "scope=\"col\">" +
              std::string(tr(lang, "Aplikasi (klien)", "System (client)")) + "</th><th scope=\"col\">" +
              tr(lang, "Puskesmas", "Puskesmas") + "</th><th scope=\"col\">" +
              tr(lang, "Kiriman berhasil terakhir", "Last successful post") + "</th><th scope=\"col\">" +
              tr(lang, "Kiriman hari ini", "Posts today") + "</th></tr></thead><tbody>";
      for (const auto& c : s.clients) {
        std::string last = c.last_success_at.empty()
                               ? std::string(tr(lang, "tidak ada dalam 7 hari terakhir", "none in the last 7 days"))
                               : wibTime(c.last_success_at);
        std::string posts = std::to_string(c.posts_today);
        if (c.refused_posts_today > 0) {
          posts += " (" + std::to_string(c.refused_posts_today) + tr(lang, " ditolak)", " refused)");
        }
        html += "<tr data-klien=\"" + htmlEscape(c.client_id) + "\" data-warna=\"" + lightName(c.light) + "\"><td>" +
                lamp(lang, c.light) + "</td><th scope=\"row\">" + htmlEscape(c.client_id) + "</th><td>" +
                htmlEscape(c.organization) + "</td><td>" + htmlEscape(last) + "</td><td>" + posts + "</td></tr>";
      }
      html += "</tbody></table></div>";
    }

    html += "<h2>" + std::string(tr(lang, "Gateway", "Gateway")) + "</h2>";
    html += "<div class=\"scroll\"><table class=\"pws status-table\"><tbody>";
    if (s.show_forwarding) {
      std::string forward;
      if (!s.forwarding_enabled) {
        forward = tr(lang, "Pengiriman ke atas (misalnya SATUSEHAT) tidak dinyalakan.",
                     "Forwarding upstream (for example to SATUSEHAT) is not switched on.");
      } else {
        forward = std::to_string(s.outbox_pending) + tr(lang, " menunggu dikirim, ", " waiting to be sent, ") +
                  std::to_string(s.outbox_dead) + tr(lang, " ditolak tujuan (surat mati)", " refused upstream (dead letters)");
        if (s.outbox_pending > 0) {
          forward += "; " + std::string(tr(lang, "yang tertua menunggu ", "the oldest has waited ")) +
                     ageText(lang, s.oldest_unsent_age_s);
        }
        forward += "<br>" + std::string(tr(lang, "Terakhir berhasil dikirim: ", "Last sent: ")) +
                   (s.last_forward_at.empty() ? std::string(tr(lang, "belum sejak gateway dinyalakan", "not since the gateway started"))
                                              : wibTime(s.last_forward_at));
        if (!s.last_forward_error.empty()) {
          forward += "<br>" + std::string(tr(lang, "Gangguan terakhir: ", "Last problem: ")) + htmlEscape(s.last_forward_error);
        }
      }
      html += row("pengiriman", lang, s.forwarding_light, tr(lang, "Pengiriman ke atas", "Forwarding upstream"), forward);
    }
    std::string cert = s.plain_http ? tr(lang, "Gateway melayani tanpa TLS (hanya untuk uji).",
                                         "The gateway serves without TLS (for tests only).")
                       : !s.certificate_days_left
                           ? tr(lang, "Sertifikat tidak bisa dibaca; jalankan ilp-gateway doctor.",
                                "The certificate cannot be read; run ilp-gateway doctor.")
                       : *s.certificate_days_left < 0
                           ? tr(lang, "Sertifikat sudah kedaluwarsa.", "The certificate has expired.")
                           : std::to_string(*s.certificate_days_left) + tr(lang, " hari lagi sampai kedaluwarsa",
                                                                            " days until it expires");
    html += row("sertifikat", lang, s.certificate_light, tr(lang, "Sertifikat TLS", "TLS certificate"), cert);
    html += row("disk", lang, s.disk_light, tr(lang, "Sisa disk", "Free disk"),
                s.free_disk_bytes ? bytesText(*s.free_disk_bytes) : tr(lang, "tidak diketahui", "unknown"));
    html += row("penyimpanan", lang, Light::kGreen, tr(lang, "Besar penyimpanan", "Store size"),
                s.store_bytes ? bytesText(*s.store_bytes) : tr(lang, "di PostgreSQL", "in PostgreSQL"));
    html += row("versi", lang, Light::kGreen, tr(lang, "Versi", "Version"), htmlEscape(s.version));
    html += "</tbody></table></div>";
    html += "<p class=\"note\">" +
            std::string(tr(lang, "Hari ini dihitung sejak pukul 00.00 WIB. Muat ulang halaman untuk angka terbaru.",
                           "Today counts from 00:00 WIB (UTC+7). Reload the page for the latest figures.")) +
            "</p>";
    if (s.counts_capped) {
      html += "<p class=\"note\">" +
              std::string(tr(lang, "Sangat banyak data hari ini: sebagian angka di atas adalah batas bawah (setidaknya).",
                             "Very much data today: some figures above are lower bounds (at least).")) +
              "</p>";
    }
    html += "</main>" + PeoplePages::pageEnd();
    return html;
  }

  std::shared_ptr<PeoplePages> pages_;
};

}  // namespace

void registerStatusPage(httplib::Server& server, std::shared_ptr<PeoplePages> pages) {
  auto page = std::make_shared<StatusPage>(std::move(pages));
  server.Get("/status", [page](const httplib::Request& req, httplib::Response& res) { page->show(req, res); });
}

}  // namespace ilpgw
