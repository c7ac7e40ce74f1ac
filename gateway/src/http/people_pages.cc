#include "http/people_pages.h"

#include <cctype>
#include <cstdio>
#include <ctime>

#include "base/crypto.h"
#include "base/url.h"
#include "http/console_pages.h"
#include "http/errors.h"
#include "security/audit.h"
#include "security/token_request.h"

namespace ilpgw {
namespace {

// __Host-: the browser keeps them only when Secure, with Path=/ and no Domain.
constexpr const char* kSessionCookie = "__Host-ilpgw-sesi";
constexpr const char* kLoginCookie = "__Host-ilpgw-masuk";  // login-form CSRF (double submit)
constexpr const char* kLangCookie = "ilpgw-bahasa";
constexpr const char* kCookieAttributes = "; Path=/; Secure; HttpOnly; SameSite=Strict";

// The stylesheet of every page: plain, readable on a small laptop, printable
// on A4 landscape.
constexpr const char* kStylesheet = R"css(
:root { --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --accent: #0b5cad; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, "Segoe UI", Roboto, Arial, sans-serif; color: var(--ink); background: #f6f8fa; }
.bar { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; padding: .5rem 1rem; background: #0b3d6e; color: #fff; }
.bar a, .bar button.link { color: #fff; }
.brand { font-weight: 700; margin-right: auto; }
.who { font-size: .9rem; }
form.inline { display: inline; margin: 0; }
button.link { background: none; border: 0; padding: 0; font: inherit; text-decoration: underline; cursor: pointer; }
main { padding: 1rem; max-width: 100%; }
main.narrow { max-width: 26rem; margin: 2rem auto; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 1.5rem; }
h1 { font-size: 1.4rem; margin: 0 0 .75rem; }
h2 { font-size: 1.1rem; margin: 1.25rem 0 .5rem; }
label { display: block; font-weight: 600; margin: .75rem 0 .25rem; }
input, select { font: inherit; padding: .4rem .5rem; border: 1px solid #8c959f; border-radius: 4px; }
main.narrow input { width: 100%; }
button.primary { margin-top: 1rem; font: inherit; font-weight: 600; padding: .5rem 1.25rem; border: 0; border-radius: 4px; background: var(--accent); color: #fff; cursor: pointer; }
.error { background: #ffebe9; border: 1px solid #ff8182; padding: .5rem .75rem; border-radius: 4px; }
.note { color: var(--muted); font-size: .9rem; }
.filters { display: flex; flex-wrap: wrap; gap: .75rem; align-items: flex-end; background: #fff; border: 1px solid var(--line); padding: .75rem; border-radius: 6px; }
.filters label { margin: 0 0 .25rem; }
.filters button, .actions a, .actions button { font: inherit; padding: .4rem .9rem; border-radius: 4px; border: 1px solid var(--accent); background: #fff; color: var(--accent); cursor: pointer; text-decoration: none; }
.filters button { background: var(--accent); color: #fff; }
.actions { display: flex; gap: .5rem; margin: .75rem 0; }
.legend { display: flex; flex-wrap: wrap; gap: .5rem 1rem; font-size: .9rem; margin: .5rem 0; padding: 0; list-style: none; }
.scroll { overflow-x: auto; background: #fff; border: 1px solid var(--line); border-radius: 6px; }
table.pws { border-collapse: collapse; font-size: .85rem; min-width: 100%; }
table.pws caption { text-align: left; padding: .3rem .45rem; }
table.pws th, table.pws td { border: 1px solid var(--line); padding: .3rem .45rem; vertical-align: top; text-align: left; }
table.pws thead th { background: #eaeef2; position: sticky; top: 0; }
table.pws th[scope=row] { position: sticky; left: 0; background: #fff; white-space: nowrap; }
table.pws tr.total th, table.pws tr.total td { font-weight: 700; background: #f6f8fa; }
.cell .n { font-size: 1.05rem; font-weight: 700; }
.cell .c { display: block; color: var(--muted); white-space: nowrap; }
.status { display: inline-block; margin-top: .15rem; padding: 0 .4rem; border-radius: 3px; font-weight: 700; white-space: nowrap; }
.status-baik { background: #2da44e; color: #fff; }
.status-kurang, .status-cukup { background: #f2cc60; color: #1b1f24; }
.status-jelek { background: #cf222e; color: #fff; }
.status-none { background: #eaeef2; color: var(--muted); font-weight: 400; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(20rem, 1fr)); gap: .75rem; }
.chart { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .5rem; break-inside: avoid; }
.chart h3 { font-size: .95rem; margin: 0 0 .25rem; }
.chart .canvas { position: relative; height: 12rem; }
.lampu { display: inline-block; min-width: 8.5rem; text-align: center; padding: .1rem .5rem; border-radius: 3px; font-weight: 700; white-space: nowrap; }
.lampu-hijau { background: #2da44e; color: #fff; }
.lampu-kuning { background: #f2cc60; color: #1b1f24; }
.lampu-merah { background: #cf222e; color: #fff; }
.lampu-mati { background: #eaeef2; color: var(--muted); }
.ringkas { font-size: 1.1rem; }
table.status-table td { vertical-align: middle; }
ul.alasan { margin: .25rem 0; padding-left: 1.2rem; }
.konsol-nav { flex-wrap: wrap; }
.actions button.primary { margin-top: 0; background: var(--accent); color: #fff; }
.pesan { background: #ddf4ff; border: 1px solid #54aeff; padding: .5rem .75rem; border-radius: 4px; }
dl.rincian { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dl.rincian dt { font-weight: 600; }
dl.rincian dd { margin: 0; }
.berdampingan { display: grid; grid-template-columns: repeat(auto-fit, minmax(22rem, 1fr)); gap: 1rem; }
tr.salah th, tr.salah td, mark.salah { background: #ffebe9; outline: 2px solid #cf222e; }
.tanda { color: #cf222e; }
pre.mentah, pre.rahasia { background: #fff; border: 1px solid var(--line); padding: .5rem; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
table.trend { font-size: .75rem; margin-top: .25rem; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
table.trend th, table.trend td { padding: .1rem .3rem; text-align: right; }
table.trend th[scope=row] { text-align: left; }
@media print {
  @page { size: A4 landscape; margin: 10mm; }
  body { background: #fff; font-size: 10px; }
  .bar, .filters, .actions, .noprint { display: none !important; }
  main { padding: 0; }
  .scroll { overflow: visible; border: 0; }
  table.pws { font-size: 8px; }
  table.pws thead th, table.pws th[scope=row] { position: static; }
  .status, .lampu { border: 1px solid #000; }
  .charts { grid-template-columns: repeat(3, 1fr); }
  .chart .canvas { height: 45mm; }
}
)css";

std::string cookieValue(const httplib::Request& req, std::string_view name) {
  std::string header = req.get_header_value("Cookie");
  std::string_view rest = header;
  while (!rest.empty()) {
    size_t end = rest.find(';');
    std::string_view part = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    size_t eq = part.find('=');
    if (eq != std::string_view::npos && part.substr(0, eq) == name) return std::string(part.substr(eq + 1));
  }
  return "";
}

void setCookie(httplib::Response& res, const std::string& name, const std::string& value, const std::string& extra = {}) {
  res.set_header("Set-Cookie", name + "=" + value + kCookieAttributes + extra);
}

// Where to go after logging in: a path on this gateway only.
std::string safeNext(const std::string& next) {
  if (next.size() < 1 || next.size() > 512 || next[0] != '/' || (next.size() > 1 && (next[1] == '/' || next[1] == '\\'))) {
    return "/pws";
  }
  for (char c : next) {
    if (static_cast<unsigned char>(c) < 0x20) return "/pws";
  }
  return next;
}

// The current path and query with lang replaced.
std::string withLang(const httplib::Request& req, const char* lang) {
  std::string query;
  for (const auto& [name, value] : req.params) {
    if (name == "lang") continue;
    query += (query.empty() ? "?" : "&") + percentEncode(name) + "=" + percentEncode(value);
  }
  return req.path + query + (query.empty() ? "?" : "&") + "lang=" + lang;
}

}  // namespace

std::string htmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

// An instant as the district office reads it: local time (WIB, UTC+7).
std::string wibTime(const std::string& instant) {
  if (instant.size() < 16) return instant;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0;
  if (std::sscanf(instant.c_str(), "%4d-%2d-%2dT%2d:%2d", &y, &mo, &d, &h, &mi) != 5) return instant;
  std::tm parts{};
  parts.tm_year = y - 1900;
  parts.tm_mon = mo - 1;
  parts.tm_mday = d;
  parts.tm_hour = h + 7;
  parts.tm_min = mi;
  std::time_t t = timegm(&parts);
  gmtime_r(&t, &parts);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%02d-%02d-%04d %02d:%02d WIB", parts.tm_mday, parts.tm_mon + 1,
                parts.tm_year + 1900, parts.tm_hour, parts.tm_min);
  return buf;
}

bool isPagePath(std::string_view path) {
  // Exact paths only: nothing under them (a dot segment) can reach another route unchecked.
  return path == "/" || path == "/masuk" || path == "/keluar" || path == "/pws" || path == "/pws.csv" || path == "/daftar-sasaran" ||
         path == "/status" || path == "/aset/gaya.css" || path == "/aset/pws.js" || path == "/aset/chart.min.js" ||
         isConsolePath(path);
}

PeoplePages::PeoplePages(Gateway& gateway)
    : gateway_(gateway),
      sessions_(gateway.store(), gateway.store(), gateway.store(),
                SessionPolicy{gateway.config().session_idle_s, gateway.config().session_max_s, 60,
                              gateway.config().login_failures_account, gateway.config().login_failures_address,
                              gateway.config().login_window_s}) {}

Lang PeoplePages::language(const httplib::Request& req, httplib::Response& res) {
  if (req.has_param("lang")) {
    std::string asked = req.get_param_value("lang");
    Lang lang = asked == "en" ? Lang::kEn : Lang::kId;
    setCookie(res, kLangCookie, lang == Lang::kEn ? "en" : "id", "; Max-Age=31536000");
    return lang;
  }
  return cookieValue(req, kLangCookie) == "en" ? Lang::kEn : Lang::kId;
}

void PeoplePages::sendHtml(httplib::Response& res, int status, const std::string& html) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "same-origin");
  res.set_header("Content-Security-Policy",
                 "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
                 "form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  res.set_content(html, "text/html; charset=utf-8");
}

std::string PeoplePages::pageStart(Lang lang, const std::string& title, const httplib::Request& req,
                                   const ActiveSession* session, const std::string& extra_head) {
  std::string html = std::string("<!doctype html>\n<html lang=\"") + (lang == Lang::kEn ? "en" : "id") +
                     "\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, "
                     "initial-scale=1\"><title>" +
                     htmlEscape(title) + " · ILP Gateway</title><link rel=\"stylesheet\" href=\"/aset/gaya.css\">" +
                     extra_head + "</head><body><header class=\"bar\"><span class=\"brand\">ILP Gateway</span>";
  if (lang == Lang::kEn) {
    html += "<a href=\"" + htmlEscape(withLang(req, "id")) + "\" lang=\"id\" hreflang=\"id\">Bahasa Indonesia</a>";
  } else {
    html += "<a href=\"" + htmlEscape(withLang(req, "en")) + "\" lang=\"en\" hreflang=\"en\">English</a>";
  }
  if (session != nullptr) {
    html += std::string("<a href=\"/status\">") + tr(lang, "Status", "Status") + "</a>";
    html += "<span class=\"who\">" + std::string(tr(lang, "Masuk sebagai ", "Logged in as ")) + "<strong>" +
            htmlEscape(session->person.username) + "</strong></span>";
    html += "<form class=\"inline\" method=\"post\" action=\"/keluar\"><input type=\"hidden\" name=\"csrf\" value=\"" +
            htmlEscape(session->csrf_token) + "\"><button class=\"link\" type=\"submit\">" +
            tr(lang, "Keluar", "Log out") + "</button></form>";
  }
  return html + "</header>\n";
}

std::string PeoplePages::pageEnd() { return "</body></html>\n"; }

void PeoplePages::sendMessage(httplib::Response& res, int status, Lang lang, const httplib::Request& req,
                              const ActiveSession* session, const std::string& title, const std::string& text) {
  std::string html = pageStart(lang, title, req, session) + "<main class=\"narrow\"><h1>" + htmlEscape(title) +
                     "</h1><p>" + htmlEscape(text) + "</p><p><a href=\"/pws\">" +
                     tr(lang, "Kembali ke halaman PWS", "Back to the PWS page") + "</a></p></main>" + pageEnd();
  sendHtml(res, status, html);
}

std::string PageMonth::text() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d", year, month);
  return buf;
}

std::optional<PageMonth> PeoplePages::requestedMonth(const httplib::Request& req, httplib::Response& res, Lang lang,
                                                     const ActiveSession& session) {
  if (!req.has_param("bulan")) {
    std::time_t now = std::time(nullptr) + 7 * 3600;
    std::tm parts{};
    gmtime_r(&now, &parts);
    return PageMonth{parts.tm_year + 1900, parts.tm_mon + 1};
  }
  std::string text = req.get_param_value("bulan");
  bool digits = text.size() == 7 && text[4] == '-';
  for (size_t i : {0, 1, 2, 3, 5, 6}) digits = digits && std::isdigit(static_cast<unsigned char>(text[i]));
  if (digits) {
    PageMonth m{std::stoi(text.substr(0, 4)), std::stoi(text.substr(5, 2))};
    if (m.year >= 2000 && m.year <= 2100 && m.month >= 1 && m.month <= 12) return m;
  }
  sendMessage(res, 400, lang, req, &session, tr(lang, "Bulan tidak dikenal", "Unknown month"),
              tr(lang, "Pilih bulan dalam bentuk TTTT-BB, misalnya 2025-03.",
                 "Choose the month as YYYY-MM, for example 2025-03."));
  return std::nullopt;
}

void PeoplePages::sendFailure(httplib::Response& res, Lang lang, const httplib::Request& req,
                              const ActiveSession& session, const std::string& title, const Status& status) {
  ErrorAnswer answer = errorAnswer(status);
  for (const auto& [name, value] : answer.headers) res.set_header(name.c_str(), value);
  sendMessage(res, answer.http_status, lang, req, &session, title,
              answer.http_status >= 500 ? tr(lang, "Gateway sedang tidak bisa membaca data. Coba lagi sebentar lagi.",
                                             "The gateway cannot read its data right now. Try again in a moment.")
                                        : status.message());
}

void PeoplePages::auditView(const httplib::Request& req, const ActiveSession& session, int status,
                            std::vector<std::string> entities, std::string description) {
  AuditInfo info;
  info.kind = AuditKind::kRest;
  info.subtype = "operation";
  info.action = 'E';
  info.http_status = status;
  info.agent = session.person.agent();
  info.remote_addr = req.remote_addr;
  info.entities = std::move(entities);
  info.description = std::move(description);
  gateway_.store().recordAudit({makeAuditEvent(info)});
}

std::optional<ActiveSession> PeoplePages::requireSession(const httplib::Request& req, httplib::Response& res,
                                                         Lang lang) {
  auto session = sessions_.resume(cookieValue(req, kSessionCookie));
  if (!session.isOk()) {
    res.set_header("Retry-After", "5");
    sendMessage(res, 503, lang, req, nullptr, tr(lang, "Sedang tidak tersedia", "Temporarily unavailable"),
                tr(lang, "Penyimpanan data gateway sedang tidak bisa dibaca. Coba lagi sebentar lagi.",
                   "The gateway's data store cannot be read right now. Try again in a moment."));
    return std::nullopt;
  }
  if (session.value()) return std::move(session.value());
  if (req.method == "GET" || req.method == "HEAD") {
    res.status = 303;
    res.set_header("Location", "/masuk?next=" + percentEncode(req.target));
    res.set_header("Cache-Control", "no-store");
    return std::nullopt;
  }
  sendMessage(res, 403, lang, req, nullptr, tr(lang, "Silakan masuk dulu", "Please log in first"),
              tr(lang, "Sesi Anda sudah berakhir atau belum masuk. Masuk lagi lalu ulangi.",
                 "Your session has ended or you are not logged in. Log in again and repeat."));
  return std::nullopt;
}

bool PeoplePages::checkCsrf(const ActiveSession& session, const httplib::Request& req, httplib::Response& res,
                            Lang lang) {
  auto form = parseForm(req.body);
  if (SessionManager::csrfMatches(session, form["csrf"])) return true;
  sendMessage(res, 403, lang, req, &session, tr(lang, "Permintaan ditolak", "Request refused"),
              tr(lang,
                 "Formulir ini tidak berasal dari halaman gateway yang Anda buka. Muat ulang halaman lalu coba lagi.",
                 "This form did not come from the gateway page you opened. Reload the page and try again."));
  return false;
}

void PeoplePages::showLogin(const httplib::Request& req, httplib::Response& res, Lang lang, int status,
                            const std::string& message) {
  std::string token = base64UrlEncode(randomBytes(24));
  setCookie(res, kLoginCookie, token);
  std::string next = req.has_param("next") ? safeNext(req.get_param_value("next")) : "/pws";
  if (req.method == "POST") next = safeNext(parseForm(req.body)["next"]);
  std::string title = tr(lang, "Masuk", "Log in");
  std::string html = pageStart(lang, title, req, nullptr) + "<main class=\"narrow\"><h1>" + title + "</h1><p>" +
                     tr(lang,
                        "Masukkan nama pengguna dan kata sandi yang Anda terima dari pengelola gateway di Dinas "
                        "Kesehatan.",
                        "Enter the user name and password you received from the gateway's administrator at the "
                        "district health office.") +
                     "</p>";
  if (!message.empty()) html += "<p class=\"error\" role=\"alert\">" + htmlEscape(message) + "</p>";
  html += "<form method=\"post\" action=\"/masuk\"><input type=\"hidden\" name=\"csrf\" value=\"" + token +
          "\"><input type=\"hidden\" name=\"next\" value=\"" + htmlEscape(next) + "\"><label for=\"username\">" +
          tr(lang, "Nama pengguna", "User name") +
          "</label><input id=\"username\" name=\"username\" autocomplete=\"username\" autocapitalize=\"none\" "
          "spellcheck=\"false\" required maxlength=\"64\"><label for=\"password\">" +
          tr(lang, "Kata sandi", "Password") +
          "</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" "
          "required maxlength=\"128\"><button class=\"primary\" type=\"submit\">" +
          tr(lang, "Masuk", "Log in") + "</button></form><p class=\"note\">" +
          tr(lang, "Lupa kata sandi? Hubungi pengelola gateway: kata sandi baru dibuat olehnya.",
             "Forgot your password? Ask the gateway's administrator to set a new one.") +
          "</p></main>" + pageEnd();
  sendHtml(res, status, html);
}

void PeoplePages::handleLogin(const httplib::Request& req, httplib::Response& res) {
  Lang lang = language(req, res);
  auto form = parseForm(req.body);
  std::string cookie = cookieValue(req, kLoginCookie);
  if (cookie.empty() || !constantTimeEquals(cookie, form["csrf"])) {
    showLogin(req, res, lang, 403,
              tr(lang, "Formulir masuk sudah kedaluwarsa atau tidak berasal dari halaman ini. Silakan coba lagi.",
                 "The login form expired or did not come from this page. Please try again."));
    return;
  }
  LoginAnswer answer = sessions_.login(form["username"], form["password"], req.remote_addr);
  switch (answer.outcome) {
    case LoginOutcome::kOk:
      setCookie(res, kSessionCookie, answer.session_id);
      setCookie(res, kLoginCookie, "", "; Max-Age=0");
      res.status = 303;
      res.set_header("Location", safeNext(form["next"]));
      res.set_header("Cache-Control", "no-store");
      return;
    case LoginOutcome::kRefused:
      showLogin(req, res, lang, 401,
                tr(lang, "Nama pengguna atau kata sandi salah, atau akun ini sudah dinonaktifkan.",
                   "Wrong user name or password, or this account has been disabled."));
      return;
    case LoginOutcome::kThrottled: {
      int minutes = (answer.retry_after_s + 59) / 60;
      res.set_header("Retry-After", std::to_string(answer.retry_after_s));
      showLogin(req, res, lang, 429,
                std::string(tr(lang, "Terlalu banyak percobaan yang salah. Coba lagi dalam ",
                               "Too many failed attempts. Try again in ")) +
                    std::to_string(minutes) + tr(lang, " menit.", minutes == 1 ? " minute." : " minutes."));
      return;
    }
    case LoginOutcome::kUnavailable:
      res.set_header("Retry-After", "5");
      showLogin(req, res, lang, 503,
                tr(lang, "Gateway sedang tidak bisa memeriksa akun. Coba lagi sebentar lagi.",
                   "The gateway cannot check accounts right now. Try again in a moment."));
      return;
  }
}

void PeoplePages::handleLogout(const httplib::Request& req, httplib::Response& res) {
  Lang lang = language(req, res);
  auto session = requireSession(req, res, lang);
  if (!session) return;
  if (!checkCsrf(*session, req, res, lang)) return;
  Status ended = sessions_.logout(*session, req.remote_addr);
  if (!ended.isOk()) {
    res.set_header("Retry-After", "5");
    sendMessage(res, 503, lang, req, &*session, tr(lang, "Belum bisa keluar", "Could not log out"),
                tr(lang, "Gateway sedang tidak bisa menutup sesi. Coba lagi sebentar lagi.",
                   "The gateway cannot end the session right now. Try again in a moment."));
    return;
  }
  setCookie(res, kSessionCookie, "", "; Max-Age=0");
  res.status = 303;
  res.set_header("Location", "/masuk");
  res.set_header("Cache-Control", "no-store");
}

void PeoplePages::install(httplib::Server& server) {
  server.Get("/masuk", [this](const httplib::Request& req, httplib::Response& res) {
    Lang lang = language(req, res);
    auto session = sessions_.resume(cookieValue(req, kSessionCookie));
    if (session.isOk() && session.value()) {
      res.status = 303;
      res.set_header("Location", req.has_param("next") ? safeNext(req.get_param_value("next")) : "/pws");
      return;
    }
    showLogin(req, res, lang, 200, "");
  });
  server.Post("/masuk", [this](const httplib::Request& req, httplib::Response& res) { handleLogin(req, res); });
  server.Post("/keluar", [this](const httplib::Request& req, httplib::Response& res) { handleLogout(req, res); });
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.status = 303;
    res.set_header("Location", "/pws");
  });
  server.Get("/aset/gaya.css", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "max-age=3600");
    res.set_content(kStylesheet, "text/css; charset=utf-8");
  });
}

}  // namespace ilpgw
