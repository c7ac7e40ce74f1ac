#include "http/console_pages.h"

#include <algorithm>
#include <cstdlib>

#include "forward/outbox_sender.h"
#include "ingest/quarantine.h"
#include "ingest/quarantine_reasons.h"
#include "security/audit.h"
#include "security/clients.h"
#include "security/token_request.h"
#include "security/users.h"

namespace ilpgw {
namespace {

constexpr int kListPage = 100;
constexpr size_t kMostRawShown = 64 * 1024;

std::string hiddenCsrf(const ActiveSession& session) {
  return "<input type=\"hidden\" name=\"csrf\" value=\"" + htmlEscape(session.csrf_token) + "\">";
}

std::string postButton(const ActiveSession& session, const std::string& action, const std::string& label,
                       const std::string& fields = {}, const std::string& css = "primary") {
  return "<form class=\"inline\" method=\"post\" action=\"" + htmlEscape(action) + "\">" + hiddenCsrf(session) + fields +
         "<button class=\"" + css + "\" type=\"submit\">" + htmlEscape(label) + "</button></form>";
}

std::string hiddenField(const std::string& name, const std::string& value) {
  return "<input type=\"hidden\" name=\"" + name + "\" value=\"" + htmlEscape(value) + "\">";
}

std::string consoleNav(Lang lang) {
  return std::string("<nav class=\"actions konsol-nav\"><a href=\"/status\">") + tr(lang, "Status", "Status") +
         "</a><a href=\"/konsol/karantina\">" + tr(lang, "Karantina", "Quarantine") + "</a><a href=\"/konsol/kiriman\">" +
         tr(lang, "Surat mati (kiriman ke atas)", "Dead letters (forwarding)") + "</a><a href=\"/konsol/klien\">" +
         tr(lang, "Aplikasi klinik (klien)", "Clinic systems (clients)") + "</a><a href=\"/konsol/pengguna\">" +
         tr(lang, "Pengguna", "Users") + "</a></nav>";
}

// One CSV line split into fields (double quotes, "" inside them).
std::vector<std::string> csvFields(std::string_view line, char separator) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        out.back().push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        out.back().push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == separator) {
      out.emplace_back();
    } else if (c != '\r') {
      out.back().push_back(c);
    }
  }
  return out;
}

// Line `number` (1-based) of a text.
std::string lineOf(std::string_view text, long number) {
  long at = 1;
  size_t start = 0;
  while (at < number) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) return "";
    start = nl + 1;
    ++at;
  }
  size_t end = text.find('\n', start);
  return std::string(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
}

// The raw record beside its reasons: for a CSV row, the header and that row
// as a table with the offending columns marked; otherwise the raw text with
// every offending key marked.
std::string rawRecordHtml(Lang lang, const StoredPayload& payload, const std::string& locator,
                          const std::vector<std::string>& fields) {
  std::string html;
  long row = 0;
  if (locator.rfind("row ", 0) == 0) row = std::strtol(locator.c_str() + 4, nullptr, 10);
  if (row > 1) {
    std::string header_line = lineOf(payload.body, 1);
    if (header_line.rfind("\xEF\xBB\xBF", 0) == 0) header_line.erase(0, 3);
    char separator = std::count(header_line.begin(), header_line.end(), ';') >
                             std::count(header_line.begin(), header_line.end(), ',')
                         ? ';'
                         : ',';
    auto header = csvFields(header_line, separator);
    auto values = csvFields(lineOf(payload.body, row), separator);
    html += "<div class=\"scroll\"><table class=\"pws mentah\"><caption>" +
            htmlEscape(std::string(tr(lang, "Baris ", "Row ")) + std::to_string(row) +
                       tr(lang, " dari berkas yang dikirim", " of the file that was posted")) +
            "</caption><thead><tr><th scope=\"col\">" + tr(lang, "Kolom", "Column") + "</th><th scope=\"col\">" +
            tr(lang, "Isi", "Value") + "</th></tr></thead><tbody>";
    for (size_t i = 0; i < header.size(); ++i) {
      std::string value = i < values.size() ? values[i] : "";
      bool marked = std::find(fields.begin(), fields.end(), header[i]) != fields.end();
      html += std::string("<tr") + (marked ? " class=\"salah\" data-salah=\"ya\"" : "") + "><th scope=\"row\">" +
              htmlEscape(header[i]) + "</th><td>" +
              (value.empty() ? std::string("<em>") + tr(lang, "(kosong)", "(empty)") + "</em>" : htmlEscape(value)) +
              (marked ? std::string(" <strong class=\"tanda\">&larr; ") + tr(lang, "di sini", "here") + "</strong>" : "") +
              "</td></tr>";
    }
    return html + "</tbody></table></div>";
  }
  std::string text = payload.body.substr(0, kMostRawShown);
  std::string escaped = htmlEscape(text);
  for (const auto& f : fields) {
    if (f.empty()) continue;
    std::string needle = htmlEscape("\"" + f + "\"");
    std::string marked;
    size_t at = 0;
    while (true) {
      size_t hit = escaped.find(needle, at);
      if (hit == std::string::npos) break;
      marked += escaped.substr(at, hit - at) + "<mark class=\"salah\" data-salah=\"ya\">" + needle + "</mark>";
      at = hit + needle.size();
    }
    escaped = marked + escaped.substr(at);
  }
  html += "<pre class=\"mentah\">" + escaped + "</pre>";
  if (payload.body.size() > kMostRawShown) {
    html += "<p class=\"note\">" +
            std::string(tr(lang, "Hanya bagian awal kiriman yang ditampilkan.", "Only the start of the post is shown.")) +
            "</p>";
  }
  return html;
}

// The outcome of a console action, shown on the page it leads back to.
std::string resultText(Lang lang, const std::string& code, const std::string& count) {
  if (code == "selesai") return tr(lang, "Berhasil: catatan sudah tersimpan.", "Done: the record is stored.");
  if (code == "masih") return tr(lang, "Masih ditolak; lihat alasannya di bawah.", "Still refused; see the reasons below.");
  if (code == "tidak-ada") return tr(lang, "Catatan ini tidak ada.", "This entry does not exist.");
  if (code == "tidak-bisa") {
    return tr(lang, "Belum bisa diproses ulang: adaptor atau kiriman aslinya tidak tersedia.",
              "Cannot be reprocessed: the adapter or the original post is not available.");
  }
  if (code == "dimuat") return tr(lang, "Pemetaan dan adaptor sudah dimuat ulang.", "Mappings and adapters were reloaded.");
  if (code == "dicabut") return tr(lang, "Klien sudah dicabut.", "The client was revoked.");
  if (code == "nonaktif") return tr(lang, "Akun sudah dinonaktifkan.", "The account was disabled.");
  if (code == "dijadwalkan" && !count.empty() && count.size() < 10 &&
      std::all_of(count.begin(), count.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return count + tr(lang, " data dijadwalkan dikirim ulang.", " records queued to be sent again.");
  }
  return "";
}

class Console {
 public:
  explicit Console(std::shared_ptr<PeoplePages> pages) : pages_(std::move(pages)) {}

  // The logged-in admin, or nullopt after answering (login, 403).
  std::optional<ActiveSession> admin(const httplib::Request& req, httplib::Response& res, Lang lang, bool form) {
    auto session = pages_->requireSession(req, res, lang);
    if (!session) return std::nullopt;
    if (session->person.role != PersonRole::kAdmin) {
      audit(req, *session, 403, {}, "admin console refused");
      PeoplePages::sendMessage(res, 403, lang, req, &*session, tr(lang, "Tidak boleh dibuka", "Not allowed"),
                               tr(lang, "Konsol admin hanya untuk akun admin gateway. Halaman status tetap bisa dibuka.",
                                  "The admin console is for the gateway's admin accounts only. The status page stays open to you."));
      return std::nullopt;
    }
    if (form && !pages_->checkCsrf(*session, req, res, lang)) {
      audit(req, *session, 403, {}, "admin console form without its CSRF token");
      return std::nullopt;
    }
    return session;
  }

  void audit(const httplib::Request& req, const ActiveSession& session, int status, std::vector<std::string> entities,
             std::string description, char action = 'E') {
    AuditInfo info;
    info.kind = AuditKind::kRest;
    info.subtype = "operation";
    info.action = action;
    info.http_status = status;
    info.agent = session.person.agent();
    info.remote_addr = req.remote_addr;
    info.entities = std::move(entities);
    info.description = std::move(description);
    pages_->gateway().store().recordAudit({makeAuditEvent(info)});
  }

  void done(httplib::Response& res, const std::string& location) {
    res.status = 303;
    res.set_header("Location", location);
    res.set_header("Cache-Control", "no-store");
  }

  std::string start(const httplib::Request& req, Lang lang, const ActiveSession& session, const std::string& title) {
    std::string html = PeoplePages::pageStart(lang, title, req, &session) + "<main>" + consoleNav(lang) + "<h1>" +
                       htmlEscape(title) + "</h1>";
    // Results arrive as a fixed code (?hasil=...), never as text from the
    // link: a crafted link cannot put words on the console.
    if (std::string text = resultText(lang, req.get_param_value("hasil"), req.get_param_value("jumlah")); !text.empty()) {
      html += "<p class=\"pesan\" role=\"status\">" + htmlEscape(text) + "</p>";
    }
    return html;
  }

  // ---- quarantine ----
  void quarantineList(const httplib::Request& req, httplib::Response& res) {
    Lang lang = PeoplePages::language(req, res);
    auto session = admin(req, res, lang, false);
    if (!session) return;
    QuarantineFilter filter;
    filter.status = req.get_param_value("semua") == "ya" ? "" : "open";
    filter.limit = kListPage;
    std::string after = req.get_param_value("setelah");
    if (!after.empty() && after.size() < 19 && std::all_of(after.begin(), after.end(), ::isdigit)) {
      filter.after_id = std::stoll(after);
    }
    auto page = pages_->gateway().store().listQuarantine(filter);
    if (!page.isOk()) {
      audit(req, *session, 503, {}, "admin console quarantine list");
      return PeoplePages::sendFailure(res, lang, req, *session, tr(lang, "Karantina", "Quarantine"), page.status());
    }
    audit(req, *session, 200, {}, "admin console quarantine list");
    bool en = lang == Lang::kEn;
    std::string html = start(req, lang, *session, tr(lang, "Karantina: catatan yang ditolak", "Quarantine: refused records"));
    html += "<p class=\"note\">" +
            std::string(tr(lang,
                           "Catatan di bawah ditolak saat dikirim. Buka satu untuk melihat alasannya. Setelah berkas "
                           "pemetaan dibetulkan, tekan \"Muat ulang pemetaan\" lalu \"Proses ulang\".",
                           "The records below were refused when posted. Open one to see why. After fixing the mapping "
                           "file, press \"Reload mappings\", then \"Reprocess\".")) +
            "</p><div class=\"actions\">" +
            postButton(*session, "/konsol/muat-ulang", tr(lang, "Muat ulang pemetaan", "Reload mappings"), {}, "") +
            "<a href=\"/konsol/karantina" + (filter.status.empty() ? "" : "?semua=ya") + "\">" +
            (filter.status.empty() ? tr(lang, "Hanya yang menunggu", "Waiting ones only")
                                   : tr(lang, "Tampilkan juga yang sudah selesai", "Show finished ones too")) +
            "</a></div>";
    if (page.value().empty()) {
      html += "<p class=\"kosong\">" + std::string(tr(lang, "Tidak ada catatan yang menunggu.", "No records are waiting.")) + "</p>";
    } else {
      html += "<div class=\"scroll\"><table class=\"pws\"><thead><tr><th scope=\"col\">No.</th><th scope=\"col\">" +
              std::string(tr(lang, "Diterima", "Received")) + "</th><th scope=\"col\">" + tr(lang, "Adaptor", "Adapter") +
              "</th><th scope=\"col\">" + tr(lang, "Puskesmas", "Puskesmas") + "</th><th scope=\"col\">" +
              tr(lang, "Letak", "Where") + "</th><th scope=\"col\">" + tr(lang, "Alasan", "Reason") +
              "</th><th scope=\"col\">" + tr(lang, "Keadaan", "State") + "</th></tr></thead><tbody>";
      for (const auto& e : page.value()) {
        auto issues = entryIssues(e.outcome_json);
        std::string reason = issues.empty() ? "" : plainReason(issues[0].code, issues[0].expression, issues[0].location, en);
        if (issues.size() > 1) reason += " (+" + std::to_string(issues.size() - 1) + ")";
        html += "<tr data-karantina=\"" + std::to_string(e.id) + "\"><td><a href=\"/konsol/karantina/" +
                std::to_string(e.id) + "\">" + std::to_string(e.id) + "</a></td><td>" + htmlEscape(wibTime(e.created_at)) +
                "</td><td>" + htmlEscape(e.adapter) + "</td><td>" + htmlEscape(e.organization) + "</td><td>" +
                htmlEscape(e.locator) + "</td><td>" + htmlEscape(reason) + "</td><td>" +
                (e.status == "open" ? tr(lang, "menunggu", "waiting") : tr(lang, "selesai", "finished")) + "</td></tr>";
      }
      html += "</tbody></table></div>";
      if (static_cast<int>(page.value().size()) == filter.limit) {
        html += "<p><a href=\"/konsol/karantina?setelah=" + std::to_string(page.value().back().id) +
                (filter.status.empty() ? "&amp;semua=ya" : "") + "\">" + tr(lang, "Berikutnya", "Next") + "</a></p>";
      }
    }
    PeoplePages::sendHtml(res, 200, html + "</main>" + PeoplePages::pageEnd());
  }

  void quarantineEntry(const httplib::Request& req, httplib::Response& res) {
    Lang lang = PeoplePages::language(req, res);
    auto session = admin(req, res, lang, false);
    if (!session) return;
    std::int64_t id = std::stoll(req.matches[1]);
    std::string entity = "Quarantine/" + std::to_string(id);
    Store& store = pages_->gateway().store();
    auto found = store.readQuarantine(id);
    if (!found.isOk()) {
      audit(req, *session, 503, {entity}, "admin console quarantine entry");
      return PeoplePages::sendFailure(res, lang, req, *session, tr(lang, "Karantina", "Quarantine"), found.status());
    }
    if (!found.value()) {
      audit(req, *session, 404, {entity}, "admin console quarantine entry");
      return PeoplePages::sendMessage(res, 404, lang, req, &*session, tr(lang, "Tidak ada", "Not found"),
                                      tr(lang, "Catatan karantina ini tidak ada.", "This quarantine entry does not exist."));
    }
    const QuarantineEntry& e = *found.value();
    std::optional<StoredPayload> payload;
    if (e.payload_id) {
      auto read = store.readPayload(*e.payload_id);
      if (!read.isOk()) {
        audit(req, *session, 503, {entity}, "admin console quarantine entry");
        return PeoplePages::sendFailure(res, lang, req, *session, tr(lang, "Karantina", "Quarantine"), read.status());
      }
      payload = read.value();
    }
    std::vector<std::string> entities = {entity};
    if (e.payload_id) entities.push_back("Payload/" + std::to_string(*e.payload_id));
    audit(req, *session, 200, entities, "admin console quarantine entry");

    bool en = lang == Lang::kEn;
    std::string html = start(req, lang, *session, std::string(tr(lang, "Catatan karantina no. ", "Quarantine entry no. ")) +
                                                      std::to_string(e.id));
    html += "<dl class=\"rincian\"><dt>" + std::string(tr(lang, "Adaptor", "Adapter")) + "</dt><dd>" + htmlEscape(e.adapter) +
            "</dd><dt>" + tr(lang, "Puskesmas", "Puskesmas") + "</dt><dd>" + htmlEscape(e.organization) + "</dd><dt>" +
            tr(lang, "Letak di kiriman", "Where in the post") + "</dt><dd>" + htmlEscape(e.locator) + "</dd><dt>" +
            tr(lang, "Diterima", "Received") + "</dt><dd>" + htmlEscape(wibTime(e.created_at)) + "</dd><dt>" +
            tr(lang, "Keadaan", "State") + "</dt><dd data-keadaan=\"" + htmlEscape(e.status) + "\">" +
            (e.status == "open" ? tr(lang, "menunggu diperbaiki", "waiting for a fix")
                                : tr(lang, "selesai, sudah tersimpan", "finished, stored")) +
            "</dd><dt>" + tr(lang, "Percobaan proses ulang", "Reprocessing attempts") + "</dt><dd>" +
            std::to_string(e.attempts) + "</dd></dl>";
    html += "<div class=\"berdampingan\"><section><h2>" + std::string(tr(lang, "Alasan", "Reasons")) + "</h2><ul class=\"alasan\">";
    std::vector<std::string> fields;
    for (const auto& issue : entryIssues(e.outcome_json)) {
      const ReasonMessage& m = reasonMessage(issue.code);
      std::string field = locationField(issue.location);
      if (!field.empty()) fields.push_back(field);
      html += "<li data-kode=\"" + htmlEscape(issue.code) + "\"><strong>" +
              htmlEscape(plainReason(issue.code, issue.expression, issue.location, en)) + "</strong>";
      if (!issue.location.empty()) html += " <span class=\"note\">(" + htmlEscape(issue.location) + ")</span>";
      html += "<br>" + htmlEscape(en ? m.advice_en : m.advice_id);
      // Diagnostics never hold a NIK or name (sdk/adapter.h); they help whoever fixes the mapping.
      if (!issue.diagnostics.empty()) {
        html += "<br><span class=\"note\">" + std::string(tr(lang, "Rincian teknis: ", "Technical detail: ")) +
                htmlEscape(issue.diagnostics) + "</span>";
      }
      html += "</li>";
    }
    html += "</ul>";
    if (e.status == "open") {
      html += "<div class=\"actions\">" +
              postButton(*session, "/konsol/karantina/" + std::to_string(e.id) + "/proses-ulang",
                         tr(lang, "Proses ulang", "Reprocess")) +
              postButton(*session, "/konsol/muat-ulang", tr(lang, "Muat ulang pemetaan", "Reload mappings"),
                         hiddenField("kembali", "/konsol/karantina/" + std::to_string(e.id)), "") +
              "</div><p class=\"note\">" +
              tr(lang,
                 "Bila kesalahan ada di aplikasi klinik, minta klinik mengirim ulang; bila ada di aturan pemetaan, "
                 "betulkan berkas pemetaan, muat ulang, lalu proses ulang.",
                 "If the mistake is in the clinic's system, ask the clinic to resend; if it is in the mapping rules, "
                 "fix the mapping file, reload, then reprocess.") +
              "</p>";
    }
    html += "</section><section><h2>" + std::string(tr(lang, "Data mentah yang dikirim", "The raw data posted")) + "</h2>";
    if (payload) {
      html += rawRecordHtml(lang, *payload, e.locator, fields);
    } else {
      html += "<p class=\"note\">" + std::string(tr(lang, "Kiriman aslinya tidak tersimpan.", "The original post is not stored.")) + "</p>";
    }
    html += "</section></div>";
    PeoplePages::sendHtml(res, 200, html + "</main>" + PeoplePages::pageEnd());
  }

  void reprocess(const httplib::Request& req, httplib::Response& res) {
    Lang lang = PeoplePages::language(req, res);
    auto session = admin(req, res, lang, true);
    if (!session) return;
    std::int64_t id = std::stoll(req.matches[1]);
    ReprocessResult r = reprocessQuarantine(pages_->gateway(), id);
    std::vector<std::string> entities = {"Quarantine/" + std::to_string(id)};
    for (const auto& p : r.produced) entities.push_back(p.substr(0, p.find("/_history/")));
    audit(req, *session, r.http_status, entities, "admin console reprocess quarantine", 'U');
    if (r.http_status >= 500) {
      return PeoplePages::sendFailure(res, lang, req, *session, tr(lang, "Proses ulang gagal", "Reprocessing failed"),
                                      Status(StatusCode::kUnavailable, "store unavailable"));
    }
    const char* result = r.http_status == 404   ? "tidak-ada"
                         : r.http_status != 200 ? "tidak-bisa"
                         : r.status == "resolved" ? "selesai"
                                                  : "masih";
    done(res, "/konsol/karantina/" + std::to_string(id) + "?hasil=" + result);
  }

  void reload(const httplib::Request& req, httplib::Response& res) {
    Lang lang = PeoplePages::language(req, res);
    auto session = admin(req, res, lang, true);
    if (!session) return;
    Status reloaded = pages_->gateway().reload();
    audit(req, *session, reloaded.isOk() ? 200 : 422, {}, "admin console reload adapters and mappings", 'E');
    std::string back = parseForm(req.body)["kembali"];
    if (back.rfind("/konsol/", 0) != 0 || back.find_first_of("?#\\\r\n") != std::string::npos) back = "/konsol/karantina";
    if (!reloaded.isOk()) {
      // The reason names the file and the rule to fix: shown here, not passed through a link.
      return PeoplePages::sendMessage(res, 422, lang, req, &*session,
                                      tr(lang, "Muat ulang ditolak", "Reload refused"),
                                      std::string(tr(lang, "Pemetaan lama tetap dipakai. Yang salah: ",
                                                     "The previous mappings keep serving. What is wrong: ")) +
                                          reloaded.message());
    }
    done(res, back + "?hasil=dimuat");
  }

  // ---- outbox dead letters ----
  void outboxList(const httplib::Request& req, httplib::Response& res) {
    Lang lang = PeoplePages::language(req, res);
    auto session = admin(req, res, lang, false);
    if (!session) return;
    auto page = pages_->gateway().store().listOutbox("dead", 0, kListPage);
    if (!page.isOk()) {
      audit(req, *session, 503, {}, "admin console dead letters");
      return PeoplePages::sendFailure(res, lang, req, *session, tr(lang, "Surat mati", "Dead letters"), page.status());
    }
    audit(req, *session, 200, {}, "admin console dead letters");
    std::string html = start(req, lang, *session, tr(lang, "Surat mati: kiriman yang ditolak tujuan", "Dead letters: refused upstream"));
    html += "<p class=\"note\">" +
            std::string(tr(lang,
                           "Data ini tersimpan di gateway tetapi ditolak oleh tujuan (misalnya SATUSEHAT). Setelah "
                           "penyebabnya dibetulkan, kirim ulang.",
                           "These records are stored in the gateway but the upstream (for example SATUSEHAT) refused "
                           "them. Once the cause is fixed, resend them.")) +
            "</p>";
    if (!pages_->gateway().config().upstream.enabled) {
      html += "<p class=\"note\">" +
              std::string(tr(lang, "Pengiriman ke atas tidak dinyalakan di gateway ini.",
                             "Forwarding upstream is not switched on in this gateway.")) +
              "</p>";
    }
    if (page.value().empty()) {
      html += "<p class=\"kosong\">" + std::string(tr(lang, "Tidak ada surat mati.", "No dead letters.")) + "</p>";
    } else {
      html += "<div class=\"actions\">" +
              postButton(*session, "/konsol/kiriman/kirim-ulang", tr(lang, "Kirim ulang semua", "Resend all")) + "</div>";
      html += "<div class=\"scroll\"><table class=\"pws\"><thead><tr><th scope=\"col\">No.</th><th scope=\"col\">" +
              std::string(tr(lang, "Data", "Record")) + "</th><th scope=\"col\">" + tr(lang, "Dibuat", "Created") +
              "</th><th scope=\"col\">" + tr(lang, "Percobaan", "Attempts") + "</th><th scope=\"col\">" +
              tr(lang, "Jawaban tujuan", "Upstream's answer") + "</th><th scope=\"col\"></th></tr></thead><tbody>";
      for (const auto& item : page.value()) {
        std::string answer = (item.http_status != 0 ? "HTTP " + std::to_string(item.http_status) + " " : "") + item.last_error;
        html += "<tr data-surat=\"" + std::to_string(item.seq) + "\"><td>" + std::to_string(item.seq) + "</td><td>" +
                htmlEscape(item.type + "/" + item.id) + "</td><td>" + htmlEscape(wibTime(item.created_at)) + "</td><td>" +
                std::to_string(item.attempts) + "</td><td>" + htmlEscape(answer) + "</td><td>" +
                postButton(*session, "/konsol/kiriman/" + std::to_string(item.seq) + "/kirim-ulang",
                           tr(lang, "Kirim ulang", "Resend"), {}, "") +
                "</td></tr>";
      }
      html += "</tbody></table></div>";
    }
    PeoplePages::sendHtml(res, 200, html + "</main>" + PeoplePages::pageEnd());
  }

  void resend(const httplib::Request& req, httplib::Response& res, std::int64_t seq) {
    Lang lang = PeoplePages::language(req, res);
    auto session = admin(req, res, lang, true);
    if (!session) return;
    auto changed = pages_->gateway().store().resendOutbox(seq);
    std::string entity = seq == 0 ? "Outbox/dead" : "Outbox/" + std::to_string(seq);
    if (!changed.isOk()) {
      audit(req, *session, 503, {entity}, "admin console resend dead letters", 'U');
      return PeoplePages::sendFailure(res, lang, req, *session, tr(lang, "Kirim ulang gagal", "Resend failed"),
                                      changed.status());
    }
    audit(req, *session, 200, {entity}, "admin console resend dead letters", 'U');
    if (pages_->gateway().sender() != nullptr) pages_->gateway().sender()->notify();
    done(res, "/konsol/kiriman?hasil=dijadwalkan&jumlah=" + std::to_string(changed.value()));
  }

  // ---- machine clients ----
  void clientList(const httplib::Request& req, httplib::Response& res) {
    Lang lang = PeoplePages::language(req, res);
    auto session = admin(req, res, lang, false);
    if (!session) return;
    auto clients = pages_->gateway().store().listClients();
    if (!clients.isOk()) {
      audit(req, *session, 503, {}, "admin console clients");
      return PeoplePages::sendFailure(res, lang, req, *session, tr(lang, "Klien", "Clients"), clients.status());
    }
    audit(req, *session, 200, {}, "admin console clients");
    std::string html = start(req, lang, *session, tr(lang, "Aplikasi yang boleh tersambung (klien)", "Systems allowed to connect (clients)"));
    html += "<p class=\"note\">" +
            std::string(tr(lang,
                           "Mencabut klien langsung menolak kirimannya. Mengganti rahasia membuat rahasia lama tidak "
                           "berlaku; rahasia baru hanya ditampilkan sekali. Klien baru didaftarkan dengan perintah "
                           "ilp-gateway client add.",
                           "Revoking a client refuses its posts at once. Rotating the secret makes the old one invalid; "
                           "the new one is shown once only. New clients are registered with ilp-gateway client add.")) +
            "</p><div class=\"scroll\"><table class=\"pws\"><thead><tr><th scope=\"col\">" +
            tr(lang, "Klien", "Client") + "</th><th scope=\"col\">" + tr(lang, "Peran", "Role") + "</th><th scope=\"col\">" +
            tr(lang, "Puskesmas", "Puskesmas") + "</th><th scope=\"col\">" + tr(lang, "Dibuat", "Created") +
            "</th><th scope=\"col\">" + tr(lang, "Keadaan", "State") + "</th><th scope=\"col\"></th></tr></thead><tbody>";
    for (const auto& c : clients.value()) {
      bool active = c.revoked_at.empty();
      html += "<tr data-klien=\"" + htmlEscape(c.client_id) + "\"><th scope=\"row\">" + htmlEscape(c.client_id) +
              "</th><td>" + htmlEscape(c.role) + "</td><td>" + htmlEscape(c.organization) + "</td><td>" +
              htmlEscape(wibTime(c.created_at)) + "</td><td>" +
              (active ? tr(lang, "aktif", "active")
                      : htmlEscape(std::string(tr(lang, "dicabut ", "revoked ")) + wibTime(c.revoked_at))) +
              "</td><td>";
      if (active) {
        if (!c.secret_hash.empty()) {
          html += postButton(*session, "/konsol/klien/ganti-rahasia", tr(lang, "Ganti rahasia", "Rotate secret"),
                             hiddenField("klien", c.client_id), "") + " ";
        }
        html += postButton(*session, "/konsol/klien/cabut", tr(lang, "Cabut", "Revoke"), hiddenField("klien", c.client_id), "");
      }
      html += "</td></tr>";
    }
    html += "</tbody></table></div>";
    PeoplePages::sendHtml(res, 200, html + "</main>" + PeoplePages::pageEnd());
  }

  void clientChange(const httplib::Request& req, httplib::Response& res, bool rotate) {
    Lang lang = PeoplePages::language(req, res);
    auto session = admin(req, res, lang, true);
    if (!session) return;
    std::string id = parseForm(req.body)["klien"];
    Store& store = pages_->gateway().store();
    const std::string actor = session->person.agent();
    // The change and its AuditEvent commit together (security/clients.h).
    if (!rotate) {
      Status revoked = revokeClient(store, store, id, actor);
      if (!revoked.isOk()) return failed(req, res, lang, *session, revoked);
      return done(res, "/konsol/klien?hasil=dicabut");
    }
    auto issued = rotateClientSecret(store, store, id, actor);
    if (!issued.isOk()) return failed(req, res, lang, *session, issued.status());
    std::string title = tr(lang, "Rahasia baru", "New secret");
    std::string html = start(req, lang, *session, title);
    html += "<p>" + std::string(tr(lang, "Rahasia baru untuk klien ", "The new secret of client ")) + "<strong>" +
            htmlEscape(id) + "</strong>. " +
            tr(lang, "Salin sekarang ke aplikasi klinik: rahasia ini tidak akan ditampilkan lagi.",
               "Copy it into the clinic's system now: it will not be shown again.") +
            "</p><pre class=\"rahasia\">" + htmlEscape(issued.value().secret) + "</pre><p><a href=\"/konsol/klien\">" +
            tr(lang, "Kembali ke daftar klien", "Back to the clients") + "</a></p>";
    PeoplePages::sendHtml(res, 200, html + "</main>" + PeoplePages::pageEnd());
  }

  // ---- people ----
  void userList(const httplib::Request& req, httplib::Response& res) {
    Lang lang = PeoplePages::language(req, res);
    auto session = admin(req, res, lang, false);
    if (!session) return;
    auto users = pages_->gateway().store().listUsers();
    if (!users.isOk()) {
      audit(req, *session, 503, {}, "admin console users");
      return PeoplePages::sendFailure(res, lang, req, *session, tr(lang, "Pengguna", "Users"), users.status());
    }
    audit(req, *session, 200, {}, "admin console users");
    std::string html = start(req, lang, *session, tr(lang, "Pengguna halaman gateway", "People using the gateway's pages"));
    html += "<p class=\"note\">" +
            std::string(tr(lang,
                           "Menonaktifkan akun langsung menutup semua sesinya. Akun baru dan kata sandi baru dibuat "
                           "dengan perintah ilp-gateway user add / passwd.",
                           "Disabling an account ends all its sessions at once. New accounts and passwords are made "
                           "with ilp-gateway user add / passwd.")) +
            "</p><div class=\"scroll\"><table class=\"pws\"><thead><tr><th scope=\"col\">" +
            tr(lang, "Nama pengguna", "User name") + "</th><th scope=\"col\">" + tr(lang, "Peran", "Role") +
            "</th><th scope=\"col\">" + tr(lang, "Puskesmas", "Puskesmas") + "</th><th scope=\"col\">" +
            tr(lang, "Keadaan", "State") + "</th><th scope=\"col\"></th></tr></thead><tbody>";
    for (const auto& u : users.value()) {
      bool active = u.disabled_at.empty();
      html += "<tr data-pengguna=\"" + htmlEscape(u.username) + "\"><th scope=\"row\">" + htmlEscape(u.username) +
              "</th><td>" + htmlEscape(u.role) + "</td><td>" +
              htmlEscape(u.organizations.empty() ? std::string(tr(lang, "semua", "all")) : u.organizations) + "</td><td>" +
              (active ? tr(lang, "aktif", "active")
                      : htmlEscape(std::string(tr(lang, "nonaktif sejak ", "disabled since ")) + wibTime(u.disabled_at))) +
              "</td><td>";
      if (active && u.username != session->person.username) {
        html += postButton(*session, "/konsol/pengguna/nonaktifkan", tr(lang, "Nonaktifkan", "Disable"),
                           hiddenField("pengguna", u.username), "");
      }
      html += "</td></tr>";
    }
    html += "</tbody></table></div>";
    PeoplePages::sendHtml(res, 200, html + "</main>" + PeoplePages::pageEnd());
  }

  void userDisable(const httplib::Request& req, httplib::Response& res) {
    Lang lang = PeoplePages::language(req, res);
    auto session = admin(req, res, lang, true);
    if (!session) return;
    std::string name = parseForm(req.body)["pengguna"];
    if (name == session->person.username) {
      return PeoplePages::sendMessage(res, 409, lang, req, &*session, tr(lang, "Tidak bisa", "Not possible"),
                                      tr(lang, "Akun yang sedang dipakai tidak bisa dinonaktifkan dari sini.",
                                         "The account in use cannot be disabled from here."));
    }
    Store& store = pages_->gateway().store();
    Status disabled = disableUser(store, store, name, session->person.agent());
    if (!disabled.isOk()) return failed(req, res, lang, *session, disabled);
    done(res, "/konsol/pengguna?hasil=nonaktif");
  }

 private:
  void failed(const httplib::Request& req, httplib::Response& res, Lang lang, const ActiveSession& session,
              const Status& status) {
    PeoplePages::sendFailure(res, lang, req, session, tr(lang, "Tidak berhasil", "Not done"), status);
  }

  std::shared_ptr<PeoplePages> pages_;
};

bool safeConsoleChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '/'; }

}  // namespace

bool isConsolePath(std::string_view path) {
  if (path == "/konsol") return true;
  if (path.rfind("/konsol/", 0) != 0 || path.size() > 64) return false;
  // Lower-case words, digits and single slashes: no dot segment can reach another route.
  if (path.find("//") != std::string_view::npos) return false;
  return std::all_of(path.begin(), path.end(), safeConsoleChar);
}

void registerConsolePages(httplib::Server& server, std::shared_ptr<PeoplePages> pages) {
  auto c = std::make_shared<Console>(std::move(pages));
  using Req = const httplib::Request&;
  using Res = httplib::Response&;
  server.Get("/konsol", [](Req, Res res) {
    res.status = 303;
    res.set_header("Location", "/konsol/karantina");
  });
  server.Get("/konsol/karantina", [c](Req req, Res res) { c->quarantineList(req, res); });
  server.Get(R"(/konsol/karantina/([0-9]{1,18}))", [c](Req req, Res res) { c->quarantineEntry(req, res); });
  server.Post(R"(/konsol/karantina/([0-9]{1,18})/proses-ulang)", [c](Req req, Res res) { c->reprocess(req, res); });
  server.Post("/konsol/muat-ulang", [c](Req req, Res res) { c->reload(req, res); });
  server.Get("/konsol/kiriman", [c](Req req, Res res) { c->outboxList(req, res); });
  server.Post("/konsol/kiriman/kirim-ulang", [c](Req req, Res res) { c->resend(req, res, 0); });
  server.Post(R"(/konsol/kiriman/([0-9]{1,18})/kirim-ulang)",
              [c](Req req, Res res) { c->resend(req, res, std::stoll(req.matches[1])); });
  server.Get("/konsol/klien", [c](Req req, Res res) { c->clientList(req, res); });
  server.Post("/konsol/klien/cabut", [c](Req req, Res res) { c->clientChange(req, res, false); });
  server.Post("/konsol/klien/ganti-rahasia", [c](Req req, Res res) { c->clientChange(req, res, true); });
  server.Get("/konsol/pengguna", [c](Req req, Res res) { c->userList(req, res); });
  server.Post("/konsol/pengguna/nonaktifkan", [c](Req req, Res res) { c->userDisable(req, res); });
}

}  // namespace ilpgw
