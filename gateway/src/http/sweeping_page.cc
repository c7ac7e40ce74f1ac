#include "http/sweeping_page.h"

#include <cstdio>
#include <ctime>
#include <set>

#include "base/json.h"
#include "fhir/outcome.h"

namespace ilpgw {
namespace {

struct Shown {
  std::string name;
  std::string gender;
  std::string birth_date;
};

Shown shownOf(const StoredResource& patient) {
  Shown out;
  rapidjson::Document doc;
  if (json::parse(patient.json, doc) || !doc.IsObject()) return out;
  if (const auto* names = json::member(doc, "name"); names != nullptr && names->IsArray() && !names->Empty()) {
    const auto& n = (*names)[0];
    out.name = std::string(json::string(n, "text"));
    if (out.name.empty()) {
      if (const auto* given = json::member(n, "given"); given != nullptr && given->IsArray()) {
        for (const auto& g : given->GetArray()) {
          if (g.IsString()) out.name += (out.name.empty() ? "" : " ") + std::string(g.GetString());
        }
      }
      std::string family(json::string(n, "family"));
      if (!family.empty()) out.name += (out.name.empty() ? "" : " ") + family;
    }
  }
  out.gender = std::string(json::string(doc, "gender"));
  out.birth_date = std::string(json::string(doc, "birthDate"));
  return out;
}

std::string genderText(Lang lang, const std::string& gender) {
  if (gender == "female") return tr(lang, "perempuan", "female");
  if (gender == "male") return tr(lang, "laki-laki", "male");
  return "";
}

using Month = PageMonth;

class SweepingPage {
 public:
  SweepingPage(std::shared_ptr<PeoplePages> pages, std::shared_ptr<report::PwsService> pws,
               std::shared_ptr<const report::MeasureLibrary> lists)
      : pages_(std::move(pages)), pws_(std::move(pws)), lists_(std::move(lists)) {}

  void show(const httplib::Request& req, httplib::Response& res) {
    Lang lang = PeoplePages::language(req, res);
    auto session = pages_->requireSession(req, res, lang);
    if (!session) return;
    const Person& person = session->person;
    auto asked = PeoplePages::requestedMonth(req, res, lang, *session);
    if (!asked) return;
    Month month = *asked;
    std::string org = req.has_param("puskesmas") ? req.get_param_value("puskesmas")
                      : person.organizations.size() == 1 ? person.organizations.front()
                                                         : std::string();
    if (org.empty()) {
      return PeoplePages::sendMessage(res, 400, lang, req, &*session, tr(lang, "Pilih puskesmas", "Choose a puskesmas"),
                                      tr(lang, "Buka daftar ini dari halaman PWS setelah memilih satu puskesmas.",
                                         "Open this list from the PWS page after choosing one puskesmas."));
    }
    if (!person.mayRead(org)) {
      audit(req, *session, org, month, 403, {});
      return PeoplePages::sendMessage(
          res, 403, lang, req, &*session, tr(lang, "Tidak boleh dilihat", "Not allowed"),
          tr(lang, "Akun Anda tidak boleh melihat puskesmas ini. Pilih puskesmas Anda sendiri.",
             "Your account may not see this puskesmas. Choose your own."));
    }
    auto lists = pws_->sweepingLists(person.readerFor(org, req.remote_addr), *lists_, org, month.year, month.month);
    if (!lists.isOk()) return fail(req, res, lang, *session, lists.status());
    std::vector<ResourceKey> keys;
    std::set<std::string> ids;
    for (const auto& list : lists.value()) {
      for (const auto& p : list.patients) {
        if (ids.insert(p.patient_id).second) keys.push_back({"Patient", p.patient_id});
      }
    }
    auto patients = pages_->gateway().store().readCurrent(keys);
    if (!patients.isOk()) return fail(req, res, lang, *session, patients.status());
    std::map<std::string, Shown> shown;
    for (const auto& p : patients.value()) {
      if (p.organization == org) shown[p.id] = shownOf(p);  // the tenancy rule, once more
    }
    std::vector<std::string> entities;
    for (const auto& id : ids) entities.push_back("Patient/" + id);
    audit(req, *session, org, month, 200, entities);
    PeoplePages::sendHtml(res, 200, page(req, lang, *session, org, month, lists.value(), shown));
  }

 private:
  void fail(const httplib::Request& req, httplib::Response& res, Lang lang, const ActiveSession& session,
            const Status& status) {
    PeoplePages::sendFailure(res, lang, req, session, tr(lang, "Daftar belum bisa ditampilkan", "The list cannot be shown"),
                             status);
  }

  void audit(const httplib::Request& req, const ActiveSession& session, const std::string& org, const Month& month,
             int status, std::vector<std::string> entities) {
    entities.insert(entities.begin(), "Organization/" + org);
    pages_->auditView(req, session, status, std::move(entities), "sweeping lists " + month.text());
  }

  std::string page(const httplib::Request& req, Lang lang, const ActiveSession& session, const std::string& org,
                   const Month& month, const std::vector<report::SweepList>& lists,
                   const std::map<std::string, Shown>& shown) {
    std::string title = tr(lang, "Daftar sasaran yang belum dilayani", "People still to be reached");
    std::string html = PeoplePages::pageStart(lang, title, req, &session);
    html += "<main><h1>" + title + "</h1><p class=\"note\">" +
            tr(lang,
               "Untuk koordinator kader: orang-orang di bawah ini perlu dikunjungi atau diingatkan. Daftar dihitung "
               "dari data yang sudah dikirim ke gateway; data yang belum terkirim bisa membuat seseorang tetap "
               "tercantum.",
               "For the kader coordinator: the people below need a visit or a reminder. The lists are counted from "
               "the data sent to the gateway; data not yet sent can keep someone on a list.") +
            "</p><form class=\"filters\" method=\"get\" action=\"/daftar-sasaran\"><input type=\"hidden\" "
            "name=\"puskesmas\" value=\"" +
            htmlEscape(org) + "\"><div><label for=\"bulan\">" + tr(lang, "Bulan", "Month") +
            "</label><input id=\"bulan\" name=\"bulan\" type=\"month\" value=\"" + month.text() +
            "\" required></div><button type=\"submit\">" + tr(lang, "Tampilkan", "Show") + "</button></form>";
    html += "<div class=\"actions\"><a href=\"/pws?puskesmas=" + htmlEscape(org) + "&amp;bulan=" + month.text() +
            "\">" + tr(lang, "Kembali ke PWS", "Back to PWS") + "</a><button type=\"button\" id=\"cetak\">" +
            tr(lang, "Cetak", "Print") + "</button></div><h2>Puskesmas " + htmlEscape(org) + ", " + month.text() +
            "</h2>";
    for (const auto& list : lists) {
      html += "<section class=\"sweep\" data-list=\"" + htmlEscape(list.measure->id) + "\"><h2>" +
              htmlEscape(list.measure->title) + " (" + std::to_string(list.patients.size()) + ")</h2>";
      if (list.patients.empty()) {
        html += "<p class=\"note\">" + std::string(tr(lang, "Tidak ada.", "Nobody.")) + "</p></section>";
        continue;
      }
      html += "<div class=\"scroll\"><table class=\"pws\"><thead><tr><th scope=\"col\">" +
              std::string(tr(lang, "Desa", "Village (desa)")) + "</th><th scope=\"col\">" + tr(lang, "Nama", "Name") +
              "</th><th scope=\"col\">" + tr(lang, "Jenis kelamin", "Sex") + "</th><th scope=\"col\">" +
              tr(lang, "Tanggal lahir", "Date of birth") + "</th></tr></thead><tbody>";
      for (const auto& p : list.patients) {
        auto it = shown.find(p.patient_id);
        Shown who = it == shown.end() ? Shown{} : it->second;
        std::string desa = p.desa == report::kNoVillage ? tr(lang, "tanpa desa", "no village (tanpa desa)") : p.desa;
        html += "<tr data-patient=\"" + htmlEscape(p.patient_id) + "\"><td>" + htmlEscape(desa) + "</td><th scope=\"row\">" +
                htmlEscape(who.name.empty() ? tr(lang, "(nama tidak tercatat)", "(no name recorded)") : who.name) +
                "</th><td>" + htmlEscape(genderText(lang, who.gender)) + "</td><td>" + htmlEscape(who.birth_date) +
                "</td></tr>";
      }
      html += "</tbody></table></div></section>";
    }
    return html + "<script src=\"/aset/pws.js\"></script></main>" + PeoplePages::pageEnd();
  }

  std::shared_ptr<PeoplePages> pages_;
  std::shared_ptr<report::PwsService> pws_;
  std::shared_ptr<const report::MeasureLibrary> lists_;
};

}  // namespace

void registerSweepingPage(httplib::Server& server, std::shared_ptr<PeoplePages> pages,
                          std::shared_ptr<report::PwsService> pws, std::shared_ptr<const report::MeasureLibrary> lists) {
  auto page = std::make_shared<SweepingPage>(std::move(pages), std::move(pws), std::move(lists));
  server.Get("/daftar-sasaran", [page](const httplib::Request& req, httplib::Response& res) { page->show(req, res); });
}

}  // namespace ilpgw
