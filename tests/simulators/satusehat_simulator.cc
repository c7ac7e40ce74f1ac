// A simulator of the national platform SATUSEHAT for the tests: its own
// process on 127.0.0.1 over TLS, started by tests/support/satusehat_simulator.h.
//
// What it plays (docs/satusehat.md says which behaviour comes from which
// public source):
//  - POST /oauth2/v1/accesstoken?grant_type=client_credentials with client_id
//    and client_secret form-encoded; one client per organization; the token
//    answer carries expires_in as a string.
//  - GET /fhir-r4/v1/Patient|Practitioner?identifier=https://fhir.kemkes.go.id/id/nik|NIK
//    against a seeded master patient and practitioner index (and
//    .../nik-ibu|NIK for newborns found through the mother's NIK).
//  - POST /fhir-r4/v1/Patient registers a newborn without NIK (identifier
//    nik-ibu, name, birthDate, gender, multipleBirthInteger, address), one
//    per mother, birth date and order; a Patient with NIK is refused.
//  - POST /fhir-r4/v1/{type} (the platform assigns the id), PUT .../{type}/{id}
//    (the id in the body), GET .../{type}/{id}, GET .../{type}?identifier=s|v.
//  - POST /fhir-r4/v1 with a Bundle of type "transaction" (entries POST and
//    PUT, urn:uuid fullUrls resolved to the ids it assigns): each entry meets
//    the same rules as a single request, and one refusal refuses the whole
//    Bundle, with nothing of it kept; the answer is a "transaction-response".
//  - The rules: Encounter.identifier.system must be
//    http://sys-ids.kemkes.go.id/encounter/{caller's organization} ("RuleNumber:
//    10117"), serviceProvider is the caller, statusHistory is required, end
//    not before start, times carry an offset, one code per Condition, every
//    reference names a resource the platform knows (Location ids of the
//    caller's organization).
//  - The index can re-key a patient (POST /sim/patient with a known NIK):
//    references to the old IHS id are then refused, as for a stale id.
//  - Faults on request of the test (/sim/...): the next N writes (of one
//    resource type, if the test names one; "Bundle" for transactions) answer
//    a status (401, 429 with Retry-After, 5xx), are stored and then answered
//    slowly, or are stored and then the connection drops mid-answer; tokens
//    can be revoked; patients can join the index.
// Everything it was asked is at GET /sim/state (?resources=1: and what it holds).
#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/json.h"

namespace {

using ilpgw::json::parse;
using ilpgw::json::write;

constexpr const char* kNikSystem = "https://fhir.kemkes.go.id/id/nik";
constexpr const char* kNikIbuSystem = "https://fhir.kemkes.go.id/id/nik-ibu";
constexpr const char* kFhirBase = "/fhir-r4/v1";

struct Organization {
  std::string id;
  std::string client_id;
  std::string client_secret;
  std::set<std::string> locations;
};

struct Person {
  std::string nik;
  std::string nik_ibu;
  std::string birth_date;
  std::string ihs;
  int birth_order = 0;  // multipleBirthInteger of a registered newborn
};

struct Stored {
  std::string organization;
  std::string json;
  int version = 1;
};

struct Fault {
  int count = 0;
  int status = 0;
  std::string retry_after;
  int slow_ms = 0;
  bool drop = false;
  std::string type;  // only writes of this resource type; empty: any
};

class Simulator {
 public:
  bool load(const std::string& seed_path) {
    std::ifstream in(seed_path);
    std::stringstream text;
    text << in.rdbuf();
    rapidjson::Document doc;
    if (!in || parse(text.str(), doc) || !doc.IsObject()) return false;
    if (doc.HasMember("token_lifetime_s") && doc["token_lifetime_s"].IsString()) {
      token_lifetime_s_ = std::stoi(doc["token_lifetime_s"].GetString());
    }
    if (doc.HasMember("clock_offset_s") && doc["clock_offset_s"].IsString()) {
      clock_offset_s_ = std::stoi(doc["clock_offset_s"].GetString());
    }
    for (const auto& o : doc["organizations"].GetArray()) {
      Organization org{o["id"].GetString(), o["client_id"].GetString(), o["client_secret"].GetString(), {}};
      if (o.HasMember("locations")) {
        for (const auto& l : o["locations"].GetArray()) org.locations.insert(l.GetString());
      }
      organizations_.push_back(org);
    }
    for (const char* kind : {"patients", "practitioners"}) {
      if (!doc.HasMember(kind)) continue;
      for (const auto& p : doc[kind].GetArray()) addPerson(kind, p);
    }
    return true;
  }

  void addPerson(const std::string& kind, const rapidjson::Value& p) {
    Person person;
    person.ihs = ilpgw::json::string(p, "ihs");
    person.nik = ilpgw::json::string(p, "nik");
    person.nik_ibu = ilpgw::json::string(p, "nik_ibu");
    person.birth_date = ilpgw::json::string(p, "birthDate");
    auto& index = kind == "patients" ? patients_ : practitioners_;
    for (auto& known : index) {
      if (!person.nik.empty() && known.nik == person.nik) {
        known = person;  // the index re-keys a person: the old IHS id is gone
        return;
      }
    }
    index.push_back(person);
  }

  void routes(httplib::Server& server) {
    // Every answer carries the platform's time, as a real web server's does
    // (seeded clock_offset_s: a platform clock that differs from ours).
    server.set_post_routing_handler([this](const httplib::Request&, httplib::Response& res) {
      std::time_t t = std::time(nullptr) + clock_offset_s_;
      char date[64];
      std::tm tm{};
      gmtime_r(&t, &tm);
      std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
      res.set_header("Date", date);
    });
    server.Post("/oauth2/v1/accesstoken", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mutex_);
      token(req, res);
    });
    const std::string base = kFhirBase;
    server.Get(base + R"(/([A-Za-z]+))", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mutex_);
      if (auto org = authorize(req, res)) search(*org, req.matches[1], req, res);
    });
    server.Get(base + R"(/([A-Za-z]+)/([A-Za-z0-9\-\.]+))", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mutex_);
      if (auto org = authorize(req, res)) readResource(req.matches[1], req.matches[2], res);
    });
    server.Post(base + R"(/([A-Za-z]+))", [this](const httplib::Request& req, httplib::Response& res) {
      writeResource(req, res, req.matches[1], "");
    });
    server.Put(base + R"(/([A-Za-z]+)/([A-Za-z0-9\-\.]+))", [this](const httplib::Request& req, httplib::Response& res) {
      writeResource(req, res, req.matches[1], req.matches[2]);
    });
    server.Post(base + "/?", [this](const httplib::Request& req, httplib::Response& res) { transaction(req, res); });
    server.Post("/sim/fault", [this](const httplib::Request& req, httplib::Response& res) {
      rapidjson::Document doc;
      if (parse(req.body, doc) || !doc.IsObject()) return badRequest(res);
      std::lock_guard lock(mutex_);
      Fault f;
      f.count = std::stoi(std::string(ilpgw::json::string(doc, "count")));
      f.status = doc.HasMember("status") ? std::stoi(std::string(ilpgw::json::string(doc, "status"))) : 0;
      f.retry_after = ilpgw::json::string(doc, "retry_after");
      f.slow_ms = doc.HasMember("slow_ms") ? std::stoi(std::string(ilpgw::json::string(doc, "slow_ms"))) : 0;
      f.drop = ilpgw::json::string(doc, "drop") == "true";
      f.type = ilpgw::json::string(doc, "type");
      fault_ = f;
      res.set_content("{}", "application/json");
    });
    server.Post("/sim/revoke-tokens", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(mutex_);
      tokens_.clear();
      res.set_content("{}", "application/json");
    });
    server.Post("/sim/patient", [this](const httplib::Request& req, httplib::Response& res) {
      rapidjson::Document doc;
      if (parse(req.body, doc) || !doc.IsObject()) return badRequest(res);
      std::lock_guard lock(mutex_);
      addPerson("patients", doc);
      res.set_content("{}", "application/json");
    });
    server.Get("/sim/state", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mutex_);
      res.set_content(state(req.get_param_value("resources") == "1"), "application/json");
    });
  }

 private:
  static void badRequest(httplib::Response& res) {
    res.status = 400;
    res.set_content("{}", "application/json");
  }

  static std::string outcome(const std::string& text, const std::string& expression, const std::string& code = "invalid") {
    rapidjson::Document doc(rapidjson::kObjectType);
    auto& a = doc.GetAllocator();
    doc.AddMember("resourceType", "OperationOutcome", a);
    rapidjson::Value issue(rapidjson::kObjectType);
    issue.AddMember("severity", "error", a);
    issue.AddMember("code", ilpgw::json::str(code, a), a);
    rapidjson::Value details(rapidjson::kObjectType);
    details.AddMember("text", ilpgw::json::str(text, a), a);
    issue.AddMember("details", details, a);
    if (!expression.empty()) {
      rapidjson::Value expr(rapidjson::kArrayType);
      expr.PushBack(ilpgw::json::str(expression, a), a);
      issue.AddMember("expression", expr, a);
    }
    rapidjson::Value issues(rapidjson::kArrayType);
    issues.PushBack(issue, a);
    doc.AddMember("issue", issues, a);
    return write(doc);
  }

  void refuse(httplib::Response& res, int status, const std::string& text, const std::string& expression,
              const std::string& code = "invalid") {
    res.status = status;
    res.set_content(outcome(text, expression, code), "application/fhir+json");
    refusals_.push_back(text + (expression.empty() ? "" : " @ " + expression));
  }

  void token(const httplib::Request& req, httplib::Response& res) {
    ++token_requests_;
    if (req.get_param_value("grant_type") != "client_credentials") {
      return refuse(res, 400, "grant_type must be client_credentials", "grant_type");
    }
    httplib::Params form;
    httplib::detail::parse_query_text(req.body, form);
    auto value = [&](const char* key) {
      auto it = form.find(key);
      return it == form.end() ? std::string() : it->second;
    };
    for (const auto& org : organizations_) {
      if (org.client_id == value("client_id") && org.client_secret == value("client_secret")) {
        std::string t = "tok-" + std::to_string(++token_serial_) + "-" + org.id;
        tokens_[t] = org.id;
        ++tokens_by_client_[org.client_id];
        res.set_content(R"({"organization_name":"sim","token_type":"BearerToken","client_id":")" + org.client_id +
                            R"(","access_token":")" + t + R"(","expires_in":")" + std::to_string(token_lifetime_s_) +
                            R"(","status":"approved"})",
                        "application/json");
        return;
      }
    }
    refuse(res, 401, "Invalid client credentials", "client_id", "security");
  }

  std::optional<std::string> authorize(const httplib::Request& req, httplib::Response& res) {
    std::string auth = req.get_header_value("Authorization");
    auto it = auth.rfind("Bearer ", 0) == 0 ? tokens_.find(auth.substr(7)) : tokens_.end();
    if (it == tokens_.end()) {
      ++unauthorized_;
      refuse(res, 401, "Invalid access token", "", "security");
      return std::nullopt;
    }
    return it->second;
  }

  const Organization* organization(const std::string& id) const {
    for (const auto& o : organizations_) {
      if (o.id == id) return &o;
    }
    return nullptr;
  }

  void search(const std::string& org, const std::string& type, const httplib::Request& req, httplib::Response& res) {
    ++searches_;
    std::string identifier = req.get_param_value("identifier");
    auto bar = identifier.find('|');
    if (bar == std::string::npos) return refuse(res, 400, "identifier=system|value is required", "identifier");
    std::string system = identifier.substr(0, bar), value = identifier.substr(bar + 1);
    std::vector<std::string> found;
    if (type == "Patient" || type == "Practitioner") {
      const auto& index = type == "Patient" ? patients_ : practitioners_;
      for (const auto& p : index) {
        bool match = (system == kNikSystem && !p.nik.empty() && p.nik == value) ||
                     (type == "Patient" && system == kNikIbuSystem && !p.nik_ibu.empty() && p.nik_ibu == value);
        if (match) {
          found.push_back(R"({"resourceType":")" + type + R"(","id":")" + p.ihs + R"(","identifier":[{"system":")" +
                          system + R"(","value":")" + value + R"("}])" +
                          (p.birth_date.empty() ? "" : R"(,"birthDate":")" + p.birth_date + "\"") + "}");
        }
      }
    } else {
      auto it = by_identifier_.find(type + "|" + system + "|" + value);
      if (it != by_identifier_.end()) {
        for (const auto& id : it->second) {
          const Stored& s = resources_[type][id];
          if (s.organization == org) found.push_back(s.json);
        }
      }
    }
    std::string body = R"({"resourceType":"Bundle","type":"searchset","total":)" + std::to_string(found.size()) +
                       R"(,"entry":[)";
    for (size_t i = 0; i < found.size(); ++i) body += (i ? "," : "") + std::string(R"({"resource":)") + found[i] + "}";
    res.set_content(body + "]}", "application/fhir+json");
  }

  void readResource(const std::string& type, const std::string& id, httplib::Response& res) {
    auto t = resources_.find(type);
    if (t == resources_.end() || t->second.count(id) == 0) return refuse(res, 404, "Resource not found", "", "not-found");
    res.set_content(t->second[id].json, "application/fhir+json");
  }

  // ---- The rules --------------------------------------------------------------

  static bool hasOffset(const std::string& t) {
    static const std::regex with_offset(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$)");
    return std::regex_match(t, with_offset);
  }

  static long long epochOf(const std::string& t) {
    std::tm tm{};
    if (!strptime(t.substr(0, 19).c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
    long long s = timegm(&tm);
    auto tz = t.find_last_of("+-");
    if (t.back() != 'Z' && tz != std::string::npos && tz > 10) {
      int sign = t[tz] == '-' ? -1 : 1;
      s -= sign * (std::stoi(t.substr(tz + 1, 2)) * 3600 + std::stoi(t.substr(tz + 4, 2)) * 60);
    }
    return s;
  }

  // The first rule the resource breaks: (text, expression), or nullopt.
  // `pending`: "Type/id" of the resources a transaction creates alongside it,
  // which its references may name.
  std::optional<std::pair<std::string, std::string>> violation(const std::string& org, const std::string& type,
                                                               const rapidjson::Value& r,
                                                               const std::set<std::string>& pending) {
    if (!r.IsObject() || ilpgw::json::string(r, "resourceType") != type) {
      return std::make_pair(std::string("resourceType does not match the URL"), std::string("resourceType"));
    }
    if (type == "Encounter") {
      bool own = false;
      if (r.HasMember("identifier") && r["identifier"].IsArray()) {
        for (const auto& id : r["identifier"].GetArray()) {
          std::string_view system = ilpgw::json::string(id, "system");
          if (system.rfind("http://sys-ids.kemkes.go.id/encounter/", 0) == 0) {
            if (system != "http://sys-ids.kemkes.go.id/encounter/" + org) {
              return std::make_pair(std::string("RuleNumber: 10117, Organization in Encounter.identifier does not "
                                                "match the organization of the client"),
                                    std::string("Encounter.identifier[0].system"));
            }
            own = true;
          }
        }
      }
      if (!own) {
        return std::make_pair(std::string("Encounter.identifier with system http://sys-ids.kemkes.go.id/encounter/"
                                          "{organization} is required"),
                              std::string("Encounter.identifier"));
      }
      if (!r.HasMember("statusHistory") || !r["statusHistory"].IsArray() || r["statusHistory"].Empty()) {
        return std::make_pair(std::string("Encounter.statusHistory is required"), std::string("Encounter.statusHistory"));
      }
      const auto* period = ilpgw::json::member(r, "period");
      if (period != nullptr && period->IsObject()) {
        std::string start(ilpgw::json::string(*period, "start")), end(ilpgw::json::string(*period, "end"));
        if (!start.empty() && !end.empty() && epochOf(end) < epochOf(start)) {
          return std::make_pair(std::string("Encounter.period.end is before Encounter.period.start"),
                                std::string("Encounter.period.end"));
        }
      }
    }
    if (type == "Condition") {
      const auto* code = ilpgw::json::member(r, "code");
      if (code == nullptr || !code->IsObject() || !code->HasMember("coding") || !(*code)["coding"].IsArray() ||
          (*code)["coding"].Size() != 1) {
        return std::make_pair(std::string("Condition.code must hold exactly one ICD-10 coding"),
                              std::string("Condition.code.coding"));
      }
    }
    if (auto bad = checkReferences(org, r, type, pending)) return bad;
    if (auto bad = checkTimes(r, type)) return bad;
    return std::nullopt;
  }

  std::optional<std::pair<std::string, std::string>> checkReferences(const std::string& org, const rapidjson::Value& v,
                                                                     const std::string& path,
                                                                     const std::set<std::string>& pending) {
    if (v.IsObject()) {
      for (const auto& m : v.GetObject()) {
        std::string name = m.name.GetString();
        if (name == "contained") continue;
        if (name == "reference" && m.value.IsString()) {
          std::string ref = m.value.GetString();
          if (ref.empty() || ref[0] == '#') continue;
          auto slash = ref.find('/');
          std::string type = ref.substr(0, slash), id = slash == std::string::npos ? "" : ref.substr(slash + 1);
          bool known = false;
          if (type == "Patient" || type == "Practitioner") {
            for (const auto& p : type == "Patient" ? patients_ : practitioners_) known = known || p.ihs == id;
          } else if (type == "Organization") {
            if (id != org) {
              return std::make_pair("Organization/" + id + " is not the organization of the client", path);
            }
            known = true;
          } else if (type == "Location") {
            const Organization* o = organization(org);
            known = o != nullptr && o->locations.count(id) != 0;
          } else {
            known = pending.count(ref) != 0 || (resources_.count(type) != 0 && resources_[type].count(id) != 0);
          }
          if (!known) return std::make_pair("Reference to an unknown resource: " + ref, path + ".reference");
        } else {
          if (auto bad = checkReferences(org, m.value, path + "." + name, pending)) return bad;
        }
      }
    } else if (v.IsArray()) {
      for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
        if (auto bad = checkReferences(org, v[i], path + "[" + std::to_string(i) + "]", pending)) return bad;
      }
    }
    return std::nullopt;
  }

  std::optional<std::pair<std::string, std::string>> checkTimes(const rapidjson::Value& v, const std::string& path) {
    static const std::set<std::string> kTimes = {"start", "end", "effectiveDateTime", "recordedDate", "authoredOn",
                                                 "onsetDateTime", "issued"};
    if (v.IsObject()) {
      for (const auto& m : v.GetObject()) {
        std::string name = m.name.GetString();
        if (m.value.IsString() && kTimes.count(name) != 0) {
          std::string t = m.value.GetString();
          if (t.size() > 10 && !hasOffset(t)) {
            return std::make_pair("Time without an offset (expected YYYY-MM-DDThh:mm:ss+zz:zz): " + t, path + "." + name);
          }
        } else if (auto bad = checkTimes(m.value, path + "." + name)) {
          return bad;
        }
      }
    } else if (v.IsArray()) {
      for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
        if (auto bad = checkTimes(v[i], path + "[" + std::to_string(i) + "]")) return bad;
      }
    }
    return std::nullopt;
  }

  // Facilities register only newborns without NIK, through the mother's
  // NIK; the index keeps one child per mother, birth date and birth order
  // (a second registration answers the child already there).
  void registerNewborn(const rapidjson::Document& doc, httplib::Response& res) {
    std::string mother;
    if (doc.HasMember("identifier") && doc["identifier"].IsArray()) {
      for (const auto& ident : doc["identifier"].GetArray()) {
        if (ilpgw::json::string(ident, "system") == kNikIbuSystem) mother = ilpgw::json::string(ident, "value");
      }
    }
    if (mother.empty()) {
      return refuse(res, 400, "Patient registration by a facility needs the identifier nik-ibu (newborns)",
                    "Patient.identifier");
    }
    for (const char* required : {"name", "birthDate", "gender", "multipleBirthInteger", "address"}) {
      if (!doc.HasMember(required)) return refuse(res, 400, std::string(required) + " is required", std::string("Patient.") + required);
    }
    if (!doc["address"].IsArray() || doc["address"].Empty()) return refuse(res, 400, "address is required", "Patient.address");
    if (!doc["multipleBirthInteger"].IsInt()) return refuse(res, 400, "multipleBirthInteger must be an integer", "Patient.multipleBirthInteger");
    std::string birth_date(ilpgw::json::string(doc, "birthDate"));
    int order = doc["multipleBirthInteger"].GetInt();
    const Person* known = nullptr;
    for (const auto& p : patients_) {
      if (p.nik_ibu == mother && p.birth_date == birth_date && p.birth_order == order) known = &p;
    }
    if (known == nullptr) {
      Person child;
      child.nik_ibu = mother;
      child.birth_date = birth_date;
      child.birth_order = order;
      child.ihs = "P" + std::to_string(1000000000ULL + ++id_serial_);
      patients_.push_back(child);
      known = &patients_.back();
      ++created_["Patient"];
    }
    res.status = 201;
    res.set_content(R"({"resourceType":"Patient","id":")" + known->ihs + "\"}", "application/fhir+json");
  }

  std::string newId() {
    char buf[48];
    unsigned long long serial = ++id_serial_;
    std::snprintf(buf, sizeof buf, "%08x-5a7e-4e11-9b1d-%012llx", static_cast<unsigned>(serial * 2654435761u), serial);
    return buf;
  }

  static std::string utcNow() {
    std::time_t t = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S+00:00", std::gmtime(&t));
    return buf;
  }

  // ---- Writes: single requests and transaction Bundles ----------------------

  struct Refusal {
    int status = 400;
    std::string text;
    std::string expression;
    std::string code = "invalid";
  };

  // What the platform refuses in a create (`id` empty) or an update of
  // `type`/`id` by `org`: the same checks for a single request and for each
  // entry of a transaction Bundle.
  std::optional<Refusal> checkWrite(const std::string& org, const std::string& type, const std::string& id,
                                    const rapidjson::Value& r, const std::set<std::string>& pending) {
    if (!id.empty()) {
      auto t = resources_.find(type);
      if (t == resources_.end() || t->second.count(id) == 0) {
        return Refusal{404, "Resource " + type + "/" + id + " not found", "", "not-found"};
      }
      if (ilpgw::json::string(r, "id") != id) return Refusal{400, "id in the body must match the URL", "id"};
    }
    if (auto bad = violation(org, type, r, pending)) return Refusal{400, bad->first, bad->second};
    return std::nullopt;
  }

  // Keeps `r` as `type`/`assigned` (a new resource when `create`) with its
  // meta, and indexes its identifiers; what GET and search answer from now on.
  const Stored& store(const std::string& org, const std::string& type, const std::string& assigned, bool create,
                      rapidjson::Value& r, rapidjson::Document::AllocatorType& a) {
    Stored& stored = resources_[type][assigned];
    if (create) {
      stored.version = 1;
      ++created_[type];
      r.RemoveMember("id");
      r.AddMember("id", ilpgw::json::str(assigned, a), a);
    } else {
      ++stored.version;
      ++puts_;
    }
    stored.organization = org;
    r.RemoveMember("meta");
    rapidjson::Value meta(rapidjson::kObjectType);
    meta.AddMember("versionId", ilpgw::json::str(std::to_string(stored.version), a), a);
    meta.AddMember("lastUpdated", ilpgw::json::str(utcNow(), a), a);
    r.AddMember("meta", meta, a);
    stored.json = write(r);
    if (create && r.HasMember("identifier") && r["identifier"].IsArray()) {
      for (const auto& ident : r["identifier"].GetArray()) {
        std::string key = type + "|" + std::string(ilpgw::json::string(ident, "system")) + "|" +
                          std::string(ilpgw::json::string(ident, "value"));
        by_identifier_[key].push_back(assigned);
        if (type == "Encounter") ++encounter_copies_[std::string(ilpgw::json::string(ident, "value"))];
      }
    }
    return stored;
  }

  // Faults the test asked for. A fault naming a type applies to writes of
  // that type; transaction Bundles are writes of type "Bundle".
  bool faultDue(const std::string& type) const {
    return fault_.count > 0 && (fault_.type.empty() || fault_.type == type);
  }

  // Answers an injected failure instead of the write, when one is due.
  bool injectFailure(const std::string& type, httplib::Response& res) {
    if (!faultDue(type) || fault_.status == 0) return false;
    --fault_.count;
    ++injected_;
    if (fault_.status == 401) {
      ++unauthorized_;
      tokens_.clear();
    }
    if (!fault_.retry_after.empty()) res.set_header("Retry-After", fault_.retry_after);
    refuse(res, fault_.status, "injected failure", "", fault_.status == 429 ? "throttled" : "transient");
    return true;
  }

  // After the write is stored: a slow answer (returns its delay) or one that
  // breaks inside the body, when one is due; otherwise `body` as usual.
  int answerStored(const std::string& type, const std::string& body, httplib::Response& res) {
    int slow_ms = 0;
    bool drop = false;
    if (faultDue(type) && (fault_.slow_ms > 0 || fault_.drop)) {
      --fault_.count;
      ++injected_;
      slow_ms = fault_.slow_ms;
      drop = fault_.drop;
    }
    if (drop) {
      res.set_content_provider(body.size(), "application/fhir+json",
                               [](size_t, size_t, httplib::DataSink&) { return false; });
      return 0;
    }
    res.set_content(body, "application/fhir+json");
    return slow_ms;
  }

  void writeResource(const httplib::Request& req, httplib::Response& res, const std::string& type,
                     const std::string& id) {
    int slow_ms = 0;
    {
      std::lock_guard lock(mutex_);
      ++writes_;
      auto org = authorize(req, res);
      if (!org || injectFailure(type, res)) return;
      rapidjson::Document doc;
      if (parse(req.body, doc) || !doc.IsObject()) return refuse(res, 400, "body is not a JSON object", "");
      if (type == "Patient" && id.empty()) return registerNewborn(doc, res);
      if (auto bad = checkWrite(*org, type, id, doc, {})) {
        return refuse(res, bad->status, bad->text, bad->expression, bad->code);
      }
      std::string assigned = id.empty() ? newId() : id;
      const Stored& stored = store(*org, type, assigned, id.empty(), doc, doc.GetAllocator());
      res.status = id.empty() ? 201 : 200;
      res.set_header("Location", std::string(kFhirBase) + "/" + type + "/" + assigned + "/_history/" +
                                     std::to_string(stored.version));
      slow_ms = answerStored(type, stored.json, res);
    }
    if (slow_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(slow_ms));
  }

  // One request entry of a transaction Bundle, checked before anything of
  // the Bundle is kept.
  struct Entry {
    std::string type;
    std::string id;  // assigned (POST) or named by the URL (PUT)
    bool create = true;
    rapidjson::Value* resource = nullptr;
  };

  // Where a rule's expression ("Condition.code.coding") points inside
  // entry `i` of the Bundle ("Bundle.entry[2].resource.code.coding").
  static std::string entryExpression(size_t i, const std::string& type, const std::string& expression) {
    std::string entry = "Bundle.entry[" + std::to_string(i) + "]";
    if (expression.empty()) return entry;
    if (expression == type) return entry + ".resource";
    if (expression.rfind(type + ".", 0) == 0 || expression.rfind(type + "[", 0) == 0) {
      return entry + ".resource" + expression.substr(type.size());
    }
    return entry + ".resource." + expression;
  }

  // References to urn:uuid entries of the Bundle become Type/<platform id>;
  // any other urn:uuid stays and is then refused as an unknown reference.
  static void rewriteReferences(rapidjson::Value& v, const std::map<std::string, std::string>& assigned,
                                rapidjson::Document::AllocatorType& a) {
    if (v.IsObject()) {
      for (auto& m : v.GetObject()) {
        if (std::string_view(m.name.GetString()) == "reference" && m.value.IsString()) {
          auto it = assigned.find(m.value.GetString());
          if (it != assigned.end()) m.value = ilpgw::json::str(it->second, a);
        } else {
          rewriteReferences(m.value, assigned, a);
        }
      }
    } else if (v.IsArray()) {
      for (auto& item : v.GetArray()) rewriteReferences(item, assigned, a);
    }
  }

  // POST to the FHIR base with a Bundle of type "transaction"
  // (http://hl7.org/fhir/R4/http.html#transaction): every entry is checked
  // by the rules of a single request, with the Bundle's urn:uuid entries
  // resolved to the ids the platform assigns; one refusal refuses the whole
  // Bundle and nothing of it is kept. Otherwise 200 with a Bundle of type
  // "transaction-response", one entry.response per entry, in order.
  void transaction(const httplib::Request& req, httplib::Response& res) {
    int slow_ms = 0;
    {
      std::lock_guard lock(mutex_);
      ++writes_;
      ++transactions_;
      auto org = authorize(req, res);
      if (!org || injectFailure("Bundle", res)) return;
      rapidjson::Document doc;
      if (parse(req.body, doc) || !doc.IsObject()) return refuse(res, 400, "body is not a JSON object", "");
      if (ilpgw::json::string(doc, "resourceType") != "Bundle") {
        return refuse(res, 400, "Only a Bundle can be posted to the FHIR base", "Bundle.resourceType");
      }
      if (ilpgw::json::string(doc, "type") != "transaction") {
        return refuse(res, 400, "Bundle.type must be transaction", "Bundle.type");
      }
      if (!doc.HasMember("entry") || !doc["entry"].IsArray() || doc["entry"].Empty()) {
        return refuse(res, 400, "A transaction Bundle needs at least one entry", "Bundle.entry");
      }
      auto& a = doc.GetAllocator();
      auto& entries = doc["entry"];
      std::vector<Entry> plan;
      std::map<std::string, std::string> assigned;  // fullUrl urn:uuid:... -> Type/id
      std::set<std::string> pending;                // Type/id the Bundle creates
      std::set<std::string> targets;                // Type/id the Bundle writes
      for (rapidjson::SizeType i = 0; i < entries.Size(); ++i) {
        std::string at = "Bundle.entry[" + std::to_string(i) + "]";
        auto& e = entries[i];
        if (!e.IsObject() || !e.HasMember("resource") || !e["resource"].IsObject()) {
          return refuse(res, 400, "Every entry needs a resource", at + ".resource");
        }
        const auto* request = ilpgw::json::member(e, "request");
        if (request == nullptr || !request->IsObject()) {
          return refuse(res, 400, "Every entry needs a request", at + ".request");
        }
        std::string method(ilpgw::json::string(*request, "method")), url(ilpgw::json::string(*request, "url"));
        Entry entry;
        entry.resource = &e["resource"];
        entry.type = url.substr(0, url.find('/'));
        if (method == "POST") {
          if (url.find('/') != std::string::npos) {
            return refuse(res, 400, "POST needs the resource type as url", at + ".request.url");
          }
          entry.id = newId();
        } else if (method == "PUT") {
          auto slash = url.find('/');
          entry.id = slash == std::string::npos ? "" : url.substr(slash + 1);
          if (entry.id.empty() || entry.id.find('/') != std::string::npos) {
            return refuse(res, 400, "PUT needs Type/id as url", at + ".request.url");
          }
          entry.create = false;
        } else {
          return refuse(res, 400, "request.method " + method + " is not supported in a transaction (POST and PUT are)",
                        at + ".request.method", "not-supported");
        }
        if (entry.type.empty() || ilpgw::json::string(*entry.resource, "resourceType") != entry.type) {
          return refuse(res, 400, "resourceType does not match request.url", at + ".resource.resourceType");
        }
        if (entry.type == "Patient") {
          return refuse(res, 400, "Patients are registered one by one, not inside a transaction", at + ".resource",
                        "not-supported");
        }
        std::string key = entry.type + "/" + entry.id;
        if (!targets.insert(key).second) return refuse(res, 400, "Two entries write " + key, at + ".request.url");
        std::string full_url(ilpgw::json::string(e, "fullUrl"));
        if (full_url.rfind("urn:uuid:", 0) == 0) {
          if (!assigned.emplace(full_url, key).second) {
            return refuse(res, 400, "Two entries have the fullUrl " + full_url, at + ".fullUrl");
          }
        }
        if (entry.create) pending.insert(key);
        plan.push_back(entry);
      }
      for (size_t i = 0; i < plan.size(); ++i) {
        rewriteReferences(*plan[i].resource, assigned, a);
        if (auto bad = checkWrite(*org, plan[i].type, plan[i].create ? "" : plan[i].id, *plan[i].resource, pending)) {
          std::string where = bad->expression.empty() && !plan[i].create
                                  ? "Bundle.entry[" + std::to_string(i) + "].request.url"
                                  : entryExpression(i, plan[i].type, bad->expression);
          return refuse(res, bad->status, bad->text, where, bad->code);
        }
      }
      // Everything passed: keep it all and answer each entry.
      rapidjson::Document answer(rapidjson::kObjectType);
      auto& b = answer.GetAllocator();
      answer.AddMember("resourceType", "Bundle", b);
      answer.AddMember("type", "transaction-response", b);
      rapidjson::Value answers(rapidjson::kArrayType);
      for (auto& entry : plan) {
        const Stored& stored = store(*org, entry.type, entry.id, entry.create, *entry.resource, a);
        std::string version = std::to_string(stored.version);
        rapidjson::Value response(rapidjson::kObjectType);
        response.AddMember("status", ilpgw::json::str(entry.create ? "201 Created" : "200 OK", b), b);
        response.AddMember("location", ilpgw::json::str(entry.type + "/" + entry.id + "/_history/" + version, b), b);
        response.AddMember("etag", ilpgw::json::str("W/\"" + version + "\"", b), b);
        response.AddMember("lastModified", ilpgw::json::str(utcNow(), b), b);
        rapidjson::Value item(rapidjson::kObjectType);
        item.AddMember("response", response, b);
        answers.PushBack(item, b);
      }
      answer.AddMember("entry", answers, b);
      res.status = 200;
      slow_ms = answerStored("Bundle", write(answer), res);
    }
    if (slow_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(slow_ms));
  }

  std::string state(bool with_resources) const {
    rapidjson::Document doc(rapidjson::kObjectType);
    auto& a = doc.GetAllocator();
    auto counts = [&](const std::map<std::string, int>& m) {
      rapidjson::Value v(rapidjson::kObjectType);
      for (const auto& [k, n] : m) v.AddMember(ilpgw::json::str(k, a), rapidjson::Value(n), a);
      return v;
    };
    doc.AddMember("created", counts(created_), a);
    doc.AddMember("encounterCopies", counts(encounter_copies_), a);
    doc.AddMember("tokensByClient", counts(tokens_by_client_), a);
    doc.AddMember("tokenRequests", token_requests_, a);
    doc.AddMember("unauthorized", unauthorized_, a);
    doc.AddMember("writes", writes_, a);
    doc.AddMember("transactions", transactions_, a);
    doc.AddMember("puts", puts_, a);
    doc.AddMember("searches", searches_, a);
    doc.AddMember("injected", injected_, a);
    rapidjson::Value refusals(rapidjson::kArrayType);
    for (const auto& r : refusals_) refusals.PushBack(ilpgw::json::str(r, a), a);
    doc.AddMember("refusals", refusals, a);
    rapidjson::Value stored(rapidjson::kObjectType);
    for (const auto& [type, byid] : resources_) {
      if (!with_resources) break;
      rapidjson::Value list(rapidjson::kArrayType);
      for (const auto& [id, s] : byid) {
        rapidjson::Document r(&a);
        if (!parse(s.json, r)) list.PushBack(rapidjson::Value(r, a), a);
      }
      stored.AddMember(ilpgw::json::str(type, a), list, a);
    }
    doc.AddMember("resources", stored, a);
    return write(doc);
  }

  std::mutex mutex_;
  std::vector<Organization> organizations_;
  std::vector<Person> patients_;
  std::vector<Person> practitioners_;
  std::map<std::string, std::string> tokens_;  // token -> organization id
  std::map<std::string, int> tokens_by_client_;
  std::map<std::string, std::map<std::string, Stored>> resources_;
  std::map<std::string, std::vector<std::string>> by_identifier_;
  std::map<std::string, int> created_;
  std::map<std::string, int> encounter_copies_;
  std::vector<std::string> refusals_;
  Fault fault_;
  int clock_offset_s_ = 0;
  int token_lifetime_s_ = 14399;
  int token_serial_ = 0;
  unsigned long long id_serial_ = 0;
  int token_requests_ = 0;
  int unauthorized_ = 0;
  int writes_ = 0;
  int transactions_ = 0;
  int puts_ = 0;
  int searches_ = 0;
  int injected_ = 0;
};

}  // namespace

// satusehat-simulator --cert C --key K --seed SEED.json --port-file F
int main(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int i = 1; i + 1 < argc; i += 2) args[argv[i]] = argv[i + 1];
  Simulator sim;
  if (!sim.load(args["--seed"])) {
    std::cerr << "satusehat-simulator: cannot read the seed file " << args["--seed"] << "\n";
    return 2;
  }
  httplib::SSLServer server(args["--cert"].c_str(), args["--key"].c_str());
  if (!server.is_valid()) {
    std::cerr << "satusehat-simulator: TLS set-up failed\n";
    return 2;
  }
  server.set_tcp_nodelay(true);
  server.set_keep_alive_timeout(2);
  server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    res.status = 500;
    res.set_content(R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"exception"}]})",
                    "application/fhir+json");
  });
  sim.routes(server);
  int port = args.count("--port") ? std::stoi(args["--port"]) : 0;
  if (port == 0) {
    port = server.bind_to_any_port("127.0.0.1");
  } else if (!server.bind_to_port("127.0.0.1", port)) {
    port = -1;
  }
  if (port <= 0) {
    std::cerr << "satusehat-simulator: cannot bind\n";
    return 2;
  }
  {
    std::string tmp = args["--port-file"] + ".tmp";
    std::ofstream(tmp) << port << "\n";
    std::rename(tmp.c_str(), args["--port-file"].c_str());
  }
  server.listen_after_bind();
  return 0;
}
