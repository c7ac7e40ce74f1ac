#include "http/pws_page.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <set>
#include <sstream>

#include "base/json.h"
#include "base/log.h"
#include "base/url.h"
#include "fhir/outcome.h"

namespace ilpgw {
namespace {

using report::MeasureResult;
using report::Stratum;

// The page's own script: draws one chart per indicator from the JSON the
// page carries (a script file, so the page's CSP allows no inline script).
constexpr const char* kPageScript = R"js((function () {
  var print = document.getElementById('cetak');
  if (print) print.addEventListener('click', function () { window.print(); });
  var source = document.getElementById('pws-data');
  if (!source) return;
  var data = JSON.parse(source.textContent);
  var drawn = 0;
  if (typeof Chart !== 'undefined') {
    var colours = ['#0b5cad', '#c2410c', '#15803d', '#7e22ce', '#a16207', '#0e7490', '#be123c', '#4d7c0f',
                   '#1d4ed8', '#9a3412', '#6b7280', '#334155'];
    document.querySelectorAll('canvas[data-measure]').forEach(function (canvas) {
      var m = data.charts[canvas.getAttribute('data-measure')];
      if (!m) return;
      new Chart(canvas, {
        type: 'line',
        data: { labels: data.months, datasets: m.lines.map(function (line, i) {
          var colour = colours[i % colours.length];
          return { label: line.label, data: line.counts, borderColor: colour, backgroundColor: colour,
                   borderWidth: 2, pointRadius: 3, tension: 0 };
        }) },
        options: { animation: false, responsive: true, maintainAspectRatio: false,
                   plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } } },
                   scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
      });
      canvas.setAttribute('data-drawn', 'true');
      drawn++;
    });
  }
  document.body.setAttribute('data-charts', String(drawn));
})();
)js";

constexpr const char* kMonthsId[] = {"Januari", "Februari", "Maret",     "April",   "Mei",      "Juni",
                                     "Juli",    "Agustus",  "September", "Oktober", "November", "Desember"};
constexpr const char* kMonthsEn[] = {"January", "February", "March",     "April",   "May",      "June",
                                     "July",    "August",   "September", "October", "November", "December"};

using Month = PageMonth;

std::string monthName(Lang lang, const Month& m) {
  return std::string(lang == Lang::kEn ? kMonthsEn[m.month - 1] : kMonthsId[m.month - 1]) + " " + std::to_string(m.year);
}

// 42,5 in Bahasa Indonesia, 42.5 in English.
std::string decimal(Lang lang, double value, int digits = 1) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, value);
  std::string out = buf;
  if (lang == Lang::kId) std::replace(out.begin(), out.end(), '.', ',');
  return out;
}

// The value as the MeasureReport carries it (two decimals), for data-* attributes.
std::string reportNumber(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", std::round(value * 100.0) / 100.0);
  return buf;
}

std::string desaLabel(Lang lang, const std::string& desa) {
  if (desa == report::kNoVillage) return tr(lang, "tanpa desa", "no village (tanpa desa)");
  return desa;
}

std::string statusText(Lang lang, std::optional<report::PwsStatus> status) {
  if (!status) return tr(lang, "tanpa sasaran", "no target");
  switch (*status) {
    case report::PwsStatus::kBaik: return tr(lang, "baik", "baik (good)");
    case report::PwsStatus::kKurang: return tr(lang, "kurang", "kurang (falling)");
    case report::PwsStatus::kCukup: return tr(lang, "cukup", "cukup (rising)");
    case report::PwsStatus::kJelek: return tr(lang, "jelek", "jelek (poor)");
  }
  return "";
}

const Stratum* findStratum(const MeasureResult& r, const std::string& desa) {
  for (const auto& s : r.strata) {
    if (s.desa == desa) return &s;
  }
  return nullptr;
}

// Desa rows of one puskesmas: every desa any indicator has, tanpa desa last.
std::vector<std::string> desaRows(const std::vector<MeasureResult>& results) {
  std::set<std::string> codes;
  for (const auto& r : results) {
    for (const auto& s : r.strata) {
      if (s.desa != report::kNoVillage) codes.insert(s.desa);
    }
  }
  std::vector<std::string> rows(codes.begin(), codes.end());
  rows.push_back(std::string(report::kNoVillage));  // always shown: 0 there is worth seeing too
  return rows;
}

std::string cell(Lang lang, const MeasureResult& r, const Stratum* s, int month, const std::string& desa) {
  static const Stratum kEmpty;
  const Stratum& x = s != nullptr ? *s : kEmpty;
  auto coverage = x.cumulativeCoverage();
  auto cumulative = x.cumulativeTarget(*r.measure, month);
  auto status = x.status(*r.measure, month);
  std::string status_code = status ? report::pwsStatusCode(*status) : "none";
  std::string html = "<td class=\"cell\" data-measure=\"" + htmlEscape(r.measure->id) + "\" data-desa=\"" +
                     htmlEscape(desa) + "\" data-count=\"" + std::to_string(x.counts.numerator) + "\" data-ytd=\"" +
                     std::to_string(x.year_to_date.numerator) + "\" data-coverage=\"" +
                     (coverage ? reportNumber(*coverage) : "") + "\" data-status=\"" + status_code + "\">";
  html += "<span class=\"n\">" + std::to_string(x.counts.numerator) + "</span>";
  html += "<span class=\"c\">" + std::string(tr(lang, "kumulatif ", "cumulative ")) +
          std::to_string(x.year_to_date.numerator);
  if (coverage) html += " = " + decimal(lang, *coverage) + "%";
  html += "</span>";
  if (cumulative && x.target && x.target->population > 0) {
    html += "<span class=\"c\">" + std::string(tr(lang, "target ", "target ")) +
            decimal(lang, 100.0 * *cumulative / x.target->population) + "%</span>";
  }
  html += "<span class=\"status status-" + status_code + "\">" + htmlEscape(statusText(lang, status)) + "</span></td>";
  return html;
}

struct OrgResults {
  std::string organization;
  std::vector<MeasureResult> results;               // the chosen month
  std::vector<std::vector<MeasureResult>> months;   // January to the chosen month
};

constexpr const char* kShortMonthsId[] = {"Jan", "Feb", "Mar", "Apr", "Mei", "Jun",
                                          "Jul", "Agu", "Sep", "Okt", "Nov", "Des"};
constexpr const char* kShortMonthsEn[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::string monthCode(const Month& month, int m) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d", month.year, m);
  return buf;
}

// One line of a trend: a desa of one puskesmas, or a puskesmas' total.
struct TrendLine {
  std::string organization;
  std::string desa;  // "" = the puskesmas total
  std::string label;
  std::vector<std::int64_t> counts;  // the month's numerator, January first
};

// The lines of indicator `index`: per desa (every desa any indicator has in
// any month, tanpa desa last, then the total) for one puskesmas, per
// puskesmas for several.
std::vector<TrendLine> trendLines(Lang lang, const std::vector<OrgResults>& orgs, size_t index) {
  std::vector<TrendLine> lines;
  auto series = [&](const OrgResults& org, const std::string& desa) {
    std::vector<std::int64_t> counts;
    for (const auto& month : org.months) {
      const Stratum* s = desa.empty() ? &month[index].total : findStratum(month[index], desa);
      counts.push_back(s != nullptr ? s->counts.numerator : 0);
    }
    return counts;
  };
  if (orgs.size() == 1) {
    const OrgResults& org = orgs.front();
    std::set<std::string> codes;  // the same rows for every indicator, as in the table
    for (const auto& month : org.months) {
      for (const auto& result : month) {
        for (const auto& s : result.strata) {
          if (s.desa != report::kNoVillage) codes.insert(s.desa);
        }
      }
    }
    std::vector<std::string> rows(codes.begin(), codes.end());
    rows.push_back(std::string(report::kNoVillage));
    for (const auto& desa : rows) lines.push_back({org.organization, desa, desaLabel(lang, desa), series(org, desa)});
    lines.push_back({org.organization, "", tr(lang, "Jumlah puskesmas", "Puskesmas total"), series(org, "")});
  } else {
    for (const auto& org : orgs) lines.push_back({org.organization, "", org.organization, series(org, "")});
  }
  return lines;
}

// The figures of a chart as a table: what a screen reader, a printout and a
// browser without JavaScript read.
std::string trendTable(Lang lang, const std::vector<OrgResults>& orgs, size_t index, const Month& month) {
  const MeasureResult& r = orgs.front().results[index];
  std::string html = "<div class=\"scroll\"><table class=\"trend\" data-measure=\"" + htmlEscape(r.measure->id) +
                     "\"><caption class=\"note\"><span class=\"sr-only\">" + htmlEscape(r.measure->title) +
                     ": </span>" + tr(lang, "jumlah setiap bulan", "each month's count") +
                     "</caption><thead><tr><th scope=\"col\">" +
                     (orgs.size() == 1 ? tr(lang, "Desa", "Village (desa)") : "Puskesmas") + "</th>";
  for (int m = 1; m <= month.month; ++m) {
    html += "<th scope=\"col\" data-month=\"" + monthCode(month, m) + "\">" +
            (lang == Lang::kEn ? kShortMonthsEn[m - 1] : kShortMonthsId[m - 1]) + "</th>";
  }
  html += "</tr></thead><tbody>";
  for (const auto& line : trendLines(lang, orgs, index)) {
    html += "<tr data-organization=\"" + htmlEscape(line.organization) + "\" data-desa=\"" + htmlEscape(line.desa) +
            "\"><th scope=\"row\">" + htmlEscape(line.label) + "</th>";
    for (size_t m = 0; m < line.counts.size(); ++m) {
      html += "<td data-month=\"" + monthCode(month, static_cast<int>(m) + 1) + "\" data-count=\"" +
              std::to_string(line.counts[m]) + "\">" + std::to_string(line.counts[m]) + "</td>";
    }
    html += "</tr>";
  }
  return html + "</tbody></table></div>";
}

std::string table(Lang lang, const OrgResults& org, const Month& month) {
  std::string html = "<div class=\"scroll\"><table class=\"pws\" data-organization=\"" + htmlEscape(org.organization) +
                     "\"><caption class=\"note\">" + tr(lang, "Puskesmas ", "Puskesmas ") +
                     htmlEscape(org.organization) + ", " + monthName(lang, month) + ": " +
                     tr(lang, "angka besar = jumlah bulan ini", "large number = this month's count") +
                     "</caption><thead><tr><th scope=\"col\">" + tr(lang, "Desa", "Village (desa)") + "</th>";
  for (const auto& r : org.results) {
    html += "<th scope=\"col\" data-measure=\"" + htmlEscape(r.measure->id) + "\">" + htmlEscape(r.measure->title) +
            "</th>";
  }
  html += "</tr></thead><tbody>";
  for (const auto& desa : desaRows(org.results)) {
    html += "<tr data-desa=\"" + htmlEscape(desa) + "\"><th scope=\"row\">" + htmlEscape(desaLabel(lang, desa)) + "</th>";
    for (const auto& r : org.results) html += cell(lang, r, findStratum(r, desa), month.month, desa);
    html += "</tr>";
  }
  html += "<tr class=\"total\" data-desa=\"\"><th scope=\"row\">" +
          std::string(tr(lang, "Jumlah puskesmas", "Puskesmas total")) + "</th>";
  for (const auto& r : org.results) html += cell(lang, r, &r.total, month.month, "");
  return html + "</tr></tbody></table></div>";
}

// Chart data: per indicator, the month's count from January on, one line
// per desa (one puskesmas) or per puskesmas (several).
std::string chartJson(Lang lang, const std::vector<OrgResults>& orgs, const Month& month) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  rapidjson::Value months(rapidjson::kArrayType);
  for (int m = 1; m <= month.month; ++m) {
    months.PushBack(json::str(lang == Lang::kEn ? kShortMonthsEn[m - 1] : kShortMonthsId[m - 1], a), a);
  }
  doc.AddMember("months", months, a);
  rapidjson::Value charts(rapidjson::kObjectType);
  if (!orgs.empty()) {
    for (size_t i = 0; i < orgs.front().results.size(); ++i) {
      rapidjson::Value lines(rapidjson::kArrayType);
      for (const auto& line : trendLines(lang, orgs, i)) {
        rapidjson::Value counts(rapidjson::kArrayType);
        for (auto n : line.counts) counts.PushBack(static_cast<std::int64_t>(n), a);
        rapidjson::Value l(rapidjson::kObjectType);
        l.AddMember("label", json::str(line.label, a), a);
        l.AddMember("counts", counts, a);
        lines.PushBack(l, a);
      }
      rapidjson::Value chart(rapidjson::kObjectType);
      chart.AddMember("lines", lines, a);
      charts.AddMember(json::str(orgs.front().results[i].measure->id, a), chart, a);
    }
  }
  doc.AddMember("charts", charts, a);
  std::string out = json::write(doc);
  // Inside <script>: "</" would end the element.
  for (size_t at = out.find("</"); at != std::string::npos; at = out.find("</", at + 3)) out.replace(at, 2, "<\\/");
  return out;
}

std::string csvField(std::string text) {
  if (text.find_first_of(";\"\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string csv(const std::vector<OrgResults>& orgs, const Month& month) {
  // Separator ; and decimal comma: what a spreadsheet set to Indonesian opens as columns.
  std::string out =
      "puskesmas;desa;indikator;judul;bulan;jumlah_bulan_ini;jumlah_bulan_lalu;kumulatif;sasaran;target_persen;"
      "target_kumulatif;cakupan_kumulatif_persen;status\r\n";
  for (const auto& org : orgs) {
    auto rows = desaRows(org.results);
    rows.push_back("");  // the puskesmas total
    for (const auto& desa : rows) {
      for (const auto& r : org.results) {
        const Stratum* s = desa.empty() ? &r.total : findStratum(r, desa);
        static const Stratum kEmpty;
        const Stratum& x = s != nullptr ? *s : kEmpty;
        auto coverage = x.cumulativeCoverage();
        auto cumulative = x.cumulativeTarget(*r.measure, month.month);
        auto status = x.status(*r.measure, month.month);
        out += csvField(org.organization) + ";" + (desa.empty() ? "jumlah" : csvField(desa)) + ";" +
               csvField(r.measure->id) + ";" + csvField(r.measure->title) + ";" + month.text() + ";" +
               std::to_string(x.month_numerator) + ";" + std::to_string(x.previous_month_numerator) + ";" +
               std::to_string(x.year_to_date.numerator) + ";" +
               (x.target ? decimal(Lang::kId, x.target->population, 2) : "") + ";" +
               (x.target ? decimal(Lang::kId, x.target->percent, 2) : "") + ";" +
               (cumulative ? decimal(Lang::kId, *cumulative, 2) : "") + ";" +
               (coverage ? decimal(Lang::kId, *coverage, 2) : "") + ";" + (status ? report::pwsStatusCode(*status) : "") +
               "\r\n";
      }
    }
  }
  return out;
}

class PwsPage {
 public:
  PwsPage(std::shared_ptr<PeoplePages> pages, std::shared_ptr<report::PwsService> pws)
      : pages_(std::move(pages)), pws_(std::move(pws)) {}

  void show(const httplib::Request& req, httplib::Response& res, bool as_csv) {
    Lang lang = PeoplePages::language(req, res);
    auto session = pages_->requireSession(req, res, lang);
    if (!session) return;
    const Person& person = session->person;
    auto visible = organizations(person);
    if (!visible.isOk()) return fail(req, res, lang, *session, visible.status());
    auto asked = PeoplePages::requestedMonth(req, res, lang, *session);
    if (!asked) return;
    Month month = *asked;
    std::string chosen = req.has_param("puskesmas") ? req.get_param_value("puskesmas")
                         : visible->empty()          ? std::string()
                                                     : visible->front();
    std::vector<std::string> selected;
    if (chosen == "semua") {
      selected = visible.value();
    } else if (!chosen.empty()) {
      if (!person.mayRead(chosen)) {
        audit(req, *session, chosen, month, 403, as_csv);
        return PeoplePages::sendMessage(
            res, 403, lang, req, &*session, tr(lang, "Tidak boleh dilihat", "Not allowed"),
            tr(lang, "Akun Anda tidak boleh melihat puskesmas ini. Pilih puskesmas Anda sendiri.",
               "Your account may not see this puskesmas. Choose your own."));
      }
      selected = {chosen};
    }
    std::vector<OrgResults> orgs;
    for (const auto& org : selected) {
      // The chosen month and the months before it in its year, from one read.
      auto months = pws_->months(person.readerFor(org, req.remote_addr), org, month.year, month.month);
      if (!months.isOk()) return fail(req, res, lang, *session, months.status());
      OrgResults results{org, months->back(), std::move(months.value())};
      orgs.push_back(std::move(results));
    }
    audit(req, *session, chosen, month, 200, as_csv);
    if (as_csv) {
      res.set_header("Cache-Control", "no-store");
      res.set_header("Content-Disposition", "attachment; filename=\"pws-" +
                                                (chosen == "semua" ? std::string("semua") : chosen) + "-" +
                                                month.text() + ".csv\"");
      res.set_content("\xEF\xBB\xBF" + csv(orgs, month), "text/csv; charset=utf-8");  // BOM: spreadsheets read UTF-8
      return;
    }
    PeoplePages::sendHtml(res, 200, page(req, lang, *session, visible.value(), chosen, month, orgs));
  }

 private:
  // The puskesmas this person may choose from: their own, their list, or
  // (every organization) the organizations of the registered clinic clients.
  StatusOr<std::vector<std::string>> organizations(const Person& person) {
    if (!person.everyOrganization()) return person.organizations;
    auto clients = pages_->gateway().store().listClients();
    if (!clients.isOk()) return clients.status();
    std::set<std::string> orgs;
    for (const auto& c : clients.value()) {
      if (c.role == "clinic" && c.revoked_at.empty() && !c.organization.empty()) orgs.insert(c.organization);
    }
    return std::vector<std::string>(orgs.begin(), orgs.end());
  }

  void fail(const httplib::Request& req, httplib::Response& res, Lang lang, const ActiveSession& session,
            const Status& status) {
    PeoplePages::sendFailure(res, lang, req, session, tr(lang, "Angka belum bisa ditampilkan", "The figures cannot be shown"),
                             status);
  }

  void audit(const httplib::Request& req, const ActiveSession& session, const std::string& chosen, const Month& month,
             int status, bool as_csv) {
    std::vector<std::string> entities;
    if (!chosen.empty() && chosen != "semua") entities.push_back("Organization/" + chosen);
    pages_->auditView(req, session, status, std::move(entities),
                      std::string(as_csv ? "PWS CSV " : "PWS page ") + month.text() +
                          (chosen == "semua" ? ", every puskesmas the user may see" : ""));
  }

  std::string page(const httplib::Request& req, Lang lang, const ActiveSession& session,
                   const std::vector<std::string>& visible, const std::string& chosen, const Month& month,
                   const std::vector<OrgResults>& orgs) {
    std::string title = tr(lang, "PWS per desa", "PWS by village");
    std::string html = PeoplePages::pageStart(lang, title, req, &session);
    html += "<main><h1>" + title + ": " + monthName(lang, month) + "</h1><p class=\"note\">" +
            tr(lang,
               "Pemantauan Wilayah Setempat: angka setiap desa dihitung dari data yang sudah dikirim ke gateway, "
               "sama dengan laporan MeasureReport yang ditarik Dinas Kesehatan dan SATUSEHAT.",
               "Local area monitoring (PWS): each village's figures are counted from the data sent to the "
               "gateway, the same as the MeasureReport the district office and SATUSEHAT pull.") +
            "</p>";
    html += "<form class=\"filters\" method=\"get\" action=\"/pws\"><div><label for=\"puskesmas\">Puskesmas</label>"
            "<select id=\"puskesmas\" name=\"puskesmas\">";
    for (const auto& org : visible) {
      html += "<option value=\"" + htmlEscape(org) + "\"" + (org == chosen ? " selected" : "") + ">" + htmlEscape(org) +
              "</option>";
    }
    if (visible.size() > 1) {
      html += std::string("<option value=\"semua\"") + (chosen == "semua" ? " selected" : "") + ">" +
              tr(lang, "Semua puskesmas", "Every puskesmas") + "</option>";
    }
    html += "</select></div><div><label for=\"bulan\">" + std::string(tr(lang, "Bulan", "Month")) +
            "</label><input id=\"bulan\" name=\"bulan\" type=\"month\" value=\"" + month.text() +
            "\" required></div><button type=\"submit\">" + tr(lang, "Tampilkan", "Show") + "</button></form>";
    std::string query = "?puskesmas=" + percentEncode(chosen) + "&bulan=" + month.text();
    html += "<div class=\"actions\"><a href=\"/pws.csv" + htmlEscape(query) + "\" download>" +
            tr(lang, "Unduh CSV", "Download CSV") + "</a>" +
            (chosen != "semua" && !chosen.empty()
                 ? "<a href=\"/daftar-sasaran" + htmlEscape(query) + "\">" +
                       tr(lang, "Daftar sasaran yang belum dilayani", "People still to be reached") + "</a>"
                 : std::string()) +
            "<button type=\"button\" id=\"cetak\">" +
            tr(lang, "Cetak", "Print") + "</button></div>";
    html += "<ul class=\"legend\"><li><span class=\"status status-baik\">baik</span> " +
            std::string(tr(lang, "sudah mencapai target dan naik", "at or above target and rising")) +
            "</li><li><span class=\"status status-kurang\">kurang</span> " +
            tr(lang, "sudah mencapai target tetapi turun", "at or above target but falling") +
            "</li><li><span class=\"status status-cukup\">cukup</span> " +
            tr(lang, "di bawah target tetapi naik", "below target but rising") +
            "</li><li><span class=\"status status-jelek\">jelek</span> " +
            tr(lang, "di bawah target dan turun", "below target and falling") + "</li></ul><p class=\"note\">" +
            tr(lang,
               "Setiap sel: jumlah bulan ini (angka besar), jumlah kumulatif sejak Januari dengan cakupannya "
               "terhadap sasaran setahun, target kumulatif sampai bulan ini, dan status PWS.",
               "Each cell: this month's count (large number), the cumulative count since January with its "
               "coverage of the yearly target population, the cumulative target up to this month, and the PWS "
               "status.") +
            "</p>";
    if (orgs.empty()) {
      html += "<p class=\"error\">" +
              std::string(tr(lang, "Belum ada puskesmas yang boleh Anda lihat.", "There is no puskesmas you may see yet.")) +
              "</p>";
    }
    for (const auto& org : orgs) {
      html += "<h2>Puskesmas " + htmlEscape(org.organization) + "</h2>" + table(lang, org, month);
    }
    if (!orgs.empty() && !orgs.front().results.empty()) {
      html += "<h2>" +
              std::string(orgs.size() == 1 ? tr(lang, "Tren per desa sejak Januari", "Trend by village since January")
                                           : tr(lang, "Tren per puskesmas sejak Januari",
                                                "Trend by puskesmas since January")) +
              "</h2><p class=\"note\">" +
              tr(lang, "Garis: jumlah setiap bulan. Angka yang sama ada di tabel di bawah setiap grafik.",
                 "Lines: each month's count. The same figures are in the table under each chart.") +
              "</p><div class=\"charts\">";
      for (size_t i = 0; i < orgs.front().results.size(); ++i) {
        const auto& r = orgs.front().results[i];
        html += "<figure class=\"chart\"><h3>" + htmlEscape(r.measure->title) +
                "</h3><div class=\"canvas\"><canvas data-measure=\"" + htmlEscape(r.measure->id) +
                "\" role=\"img\" aria-label=\"" + htmlEscape(r.measure->title) + ": " +
                tr(lang, "jumlah setiap bulan sejak Januari, angkanya di tabel berikut",
                   "each month's count since January, figures in the next table") +
                "\"></canvas></div>" + trendTable(lang, orgs, i, month) + "</figure>";
      }
      html += "</div><script type=\"application/json\" id=\"pws-data\">" + chartJson(lang, orgs, month) +
              "</script><script src=\"/aset/chart.min.js\"></script><script src=\"/aset/pws.js\"></script>";
    } else {
      html += "<script src=\"/aset/pws.js\"></script>";
    }
    return html + "</main>" + PeoplePages::pageEnd();
  }

  std::shared_ptr<PeoplePages> pages_;
  std::shared_ptr<report::PwsService> pws_;
};

}  // namespace

void registerPwsPage(httplib::Server& server, std::shared_ptr<PeoplePages> pages,
                     std::shared_ptr<report::PwsService> pws) {
  auto page = std::make_shared<PwsPage>(pages, std::move(pws));
  server.Get("/pws", [page](const httplib::Request& req, httplib::Response& res) { page->show(req, res, false); });
  server.Get("/pws.csv", [page](const httplib::Request& req, httplib::Response& res) { page->show(req, res, true); });
  server.Get("/aset/pws.js", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "max-age=3600");
    res.set_content(kPageScript, "text/javascript; charset=utf-8");
  });
  // Chart.js from the installed Debian package, read once; never copied into
  // the repository nor fetched from the internet.
  auto chart = std::make_shared<std::string>();
  {
    std::ifstream in(kChartJsPath, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    *chart = text.str();
    if (chart->empty()) {
      logLine(LogLevel::kWarning, std::string("PWS page: ") + kChartJsPath +
                                      " not found (install libjs-chart.js); the page shows its tables without charts");
    }
  }
  server.Get("/aset/chart.min.js", [chart](const httplib::Request&, httplib::Response& res) {
    if (chart->empty()) {
      res.status = 404;
      res.set_content("", "text/javascript");
      return;
    }
    res.set_header("Cache-Control", "max-age=86400");
    res.set_content(*chart, "text/javascript; charset=utf-8");
  });
}

}  // namespace ilpgw
