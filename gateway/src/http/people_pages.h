// Pages for people (district office, puskesmas staff): the reusable pieces
// every page uses, and the login and logout pages themselves. A person logs
// in at /masuk with a user name and password (security/sessions.h) and gets
// a session cookie that only the pages read: the FHIR API and /ingest keep
// authorizing with OAuth bearer tokens alone, so a cookie never reaches
// them. Every form that changes something carries the session's CSRF token.
// Pages speak Bahasa Indonesia first, English with ?lang=en (remembered in a
// cookie).
#pragma once

#include <httplib.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/gateway.h"
#include "security/sessions.h"

namespace ilpgw {

enum class Lang { kId, kEn };

inline const char* tr(Lang lang, const char* id, const char* en) { return lang == Lang::kEn ? en : id; }
std::string htmlEscape(std::string_view text);
// A FHIR instant as the district office reads it: "26-11-2024 09:05 WIB"
// (UTC+7); the text itself when it is not an instant.
std::string wibTime(const std::string& instant);

// Paths served as pages (security/auth: Access::kPage): they authenticate
// with the session cookie themselves and audit what they show.
bool isPagePath(std::string_view path);

// The month a page reports on.
struct PageMonth {
  int year = 0;
  int month = 0;
  std::string text() const;  // YYYY-MM
};

class PeoplePages {
 public:
  explicit PeoplePages(Gateway& gateway);

  // GET/POST /masuk, POST /keluar, GET / and the stylesheet.
  void install(httplib::Server& server);

  Gateway& gateway() { return gateway_; }

  // The language of this request: ?lang=id|en (then remembered in a cookie),
  // else the cookie, else Bahasa Indonesia.
  static Lang language(const httplib::Request& req, httplib::Response& res);
  // The logged-in person. nullopt after answering: to the login page (GET)
  // or 403 (other methods) without a valid session, 503 when the store is
  // unavailable.
  std::optional<ActiveSession> requireSession(const httplib::Request& req, httplib::Response& res, Lang lang);
  // A state-changing form: its csrf field must be this session's token;
  // otherwise answers 403 and returns false.
  bool checkCsrf(const ActiveSession& session, const httplib::Request& req, httplib::Response& res, Lang lang);

  // The head of every page (title, stylesheet, the bar with the language
  // switch and, logged in, the person and the logout button) and its end.
  static std::string pageStart(Lang lang, const std::string& title, const httplib::Request& req,
                               const ActiveSession* session, const std::string& extra_head = {});
  static std::string pageEnd();
  // Sends HTML with the headers every page has (no caching, no framing, CSP).
  static void sendHtml(httplib::Response& res, int status, const std::string& html);
  // A short page saying what went wrong and what to do, with `status`.
  static void sendMessage(httplib::Response& res, int status, Lang lang, const httplib::Request& req,
                          const ActiveSession* session, const std::string& title, const std::string& text);
  // The month asked for with ?bulan=YYYY-MM, else this month in Indonesia's
  // western time (UTC+7). nullopt after answering 400 for another form.
  static std::optional<PageMonth> requestedMonth(const httplib::Request& req, httplib::Response& res, Lang lang,
                                                 const ActiveSession& session);
  // A page whose data cannot be read: the HTTP status and headers of the one
  // error mapping (errors.h), `title`, and in plain words what to do.
  static void sendFailure(httplib::Response& res, Lang lang, const httplib::Request& req,
                          const ActiveSession& session, const std::string& title, const Status& status);
  // Audits that the session's person viewed a page (`status` 200) or was
  // refused it, naming what was shown in `entities`.
  void auditView(const httplib::Request& req, const ActiveSession& session, int status,
                 std::vector<std::string> entities, std::string description);

 private:
  void showLogin(const httplib::Request& req, httplib::Response& res, Lang lang, int status,
                 const std::string& message);
  void handleLogin(const httplib::Request& req, httplib::Response& res);
  void handleLogout(const httplib::Request& req, httplib::Response& res);

  Gateway& gateway_;
  SessionManager sessions_;
};

}  // namespace ilpgw
