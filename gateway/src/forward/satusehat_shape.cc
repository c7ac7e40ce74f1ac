#include "forward/satusehat_shape.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "base/json.h"

namespace ilpgw {
namespace {

using Allocator = rapidjson::Document::AllocatorType;

constexpr std::string_view kEncounterSystemPrefix = "http://sys-ids.kemkes.go.id/encounter/";
constexpr std::string_view kPoliSystemSuffix = "/CodeSystem/poli";

bool isDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

// Members holding a dateTime or instant in the resources the gateway makes.
bool isTimeMember(std::string_view name) {
  static const std::set<std::string_view> kNames = {
      "start", "end", "effectiveDateTime", "recordedDate", "authoredOn", "onsetDateTime", "abatementDateTime",
      "issued", "occurrenceDateTime", "performedDateTime", "whenHandedOver", "whenPrepared", "date"};
  return kNames.count(name) != 0;
}

// Seconds since the epoch of "YYYY-MM-DDThh:mm:ss(.f)?(Z|±hh:mm)", for
// comparing two times of one resource; nullopt when not in that form.
std::optional<long long> epochSeconds(std::string_view t) {
  if (t.size() < 20 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':') return std::nullopt;
  auto num = [&](size_t at, size_t n) -> std::optional<int> {
    std::string_view part = t.substr(at, n);
    if (!isDigits(part)) return std::nullopt;
    return std::stoi(std::string(part));
  };
  auto y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2), s = num(17, 2);
  if (!y || !mo || !d || !h || !mi || !s) return std::nullopt;
  // Days from civil (Howard Hinnant's algorithm).
  int yy = *y - (*mo <= 2 ? 1 : 0);
  int era = (yy >= 0 ? yy : yy - 399) / 400;
  int yoe = yy - era * 400;
  int doy = (153 * (*mo + (*mo > 2 ? -3 : 9)) + 2) / 5 + *d - 1;
  int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  long long days = static_cast<long long>(era) * 146097 + doe - 719468;
  long long secs = days * 86400 + *h * 3600 + *mi * 60 + *s;
  size_t zone = 19;
  while (zone < t.size() && (t[zone] == '.' || std::isdigit(static_cast<unsigned char>(t[zone])))) ++zone;
  std::string_view tz = t.substr(zone);
  if (tz == "Z") return secs;
  if (tz.size() != 6 || (tz[0] != '+' && tz[0] != '-') || tz[3] != ':') return std::nullopt;
  auto oh = num(zone + 1, 2), om = num(zone + 4, 2);
  if (!oh || !om) return std::nullopt;
  int sign = tz[0] == '-' ? -1 : 1;
  return secs - sign * (*oh * 3600 + *om * 60);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct Walker {
  const ShapeContext& context;
  std::string platform_organization_ref;
  std::set<std::string> unresolved;

  void walk(rapidjson::Value& value, Allocator& a, bool in_contained) {
    if (value.IsObject()) {
      for (auto& m : value.GetObject()) {
        std::string_view name(m.name.GetString(), m.name.GetStringLength());
        if (name == "contained") {
          walk(m.value, a, true);
        } else if (m.value.IsString() && name == "reference") {
          rewrite(m.value, a);
        } else if (m.value.IsString() && isTimeMember(name)) {
          std::string_view t(m.value.GetString(), m.value.GetStringLength());
          if (auto fixed = withOffset(t, context.timezone_offset)) m.value = json::str(*fixed, a);
        } else {
          walk(m.value, a, in_contained);
        }
      }
    } else if (value.IsArray()) {
      for (auto& v : value.GetArray()) walk(v, a, in_contained);
    }
  }

  // A Location of ours (a posyandu, a room) becomes the platform Location
  // the puskesmas file maps it to, else the puskesmas' default one; a
  // platform Location id (Encounter.location from the poli) stays.
  void rewriteLocation(rapidjson::Value& ref, const std::string& id, Allocator& a) {
    const auto& locations = context.organization->locations;
    for (const auto& [key, platform_id] : locations) {
      if (platform_id == id) return;
    }
    auto mapped = locations.find(id);
    if (mapped == locations.end()) mapped = locations.find("*");
    if (mapped == locations.end()) {
      unresolved.insert("Location/" + id);
      return;
    }
    ref = json::str("Location/" + mapped->second, a);
  }

  void rewrite(rapidjson::Value& ref, Allocator& a) {
    std::string text(ref.GetString(), ref.GetStringLength());
    if (text.empty() || text[0] == '#' || text.rfind("urn:", 0) == 0) return;
    if (text.rfind("Organization/", 0) == 0) {
      ref = json::str(platform_organization_ref, a);  // the only organization a puskesmas' client may name
      return;
    }
    if (text.rfind("Location/", 0) == 0) {
      rewriteLocation(ref, text.substr(9), a);
      return;
    }
    auto link = context.links.find(text);
    if (link != context.links.end()) {
      ref = json::str(text.substr(0, text.find('/') + 1) + link->second, a);
    } else if (text.find("://") == std::string::npos) {
      unresolved.insert(text);
    }
  }
};

bool hasCoding(const rapidjson::Value* codeable, std::string_view system) {
  if (codeable == nullptr || !codeable->IsObject()) return false;
  const auto* codings = json::member(*codeable, "coding");
  if (codings == nullptr || !codings->IsArray()) return false;
  for (const auto& c : codings->GetArray()) {
    if (json::string(c, "system") == system && !json::string(c, "code").empty()) return true;
  }
  return false;
}

std::optional<ShapeProblem> shapeEncounter(rapidjson::Document& doc, std::string_view id, const ShapeContext& context,
                                           Shaped& out) {
  auto& a = doc.GetAllocator();
  const SatusehatOrganization& org = *context.organization;
  std::string system = std::string(kEncounterSystemPrefix) + org.platform_organization_id;
  // identifier: the visit's number under the caller's own organization.
  if (!doc.HasMember("identifier") || !doc["identifier"].IsArray()) {
    doc.RemoveMember("identifier");
    doc.AddMember("identifier", rapidjson::Value(rapidjson::kArrayType), a);
  }
  auto& identifiers = doc["identifier"];
  bool found = false;
  for (auto& ident : identifiers.GetArray()) {
    if (!ident.IsObject()) continue;
    std::string_view s = json::string(ident, "system");
    if (s.rfind(kEncounterSystemPrefix, 0) == 0 && !found) {
      ident.RemoveMember("system");
      ident.AddMember("system", json::str(system, a), a);
      out.identifier_value = std::string(json::string(ident, "value"));
      found = !out.identifier_value.empty();
    }
  }
  if (!found) {
    rapidjson::Value ident(rapidjson::kObjectType);
    ident.AddMember("system", json::str(system, a), a);
    ident.AddMember("value", json::str(id, a), a);
    identifiers.PushBack(ident, a);
    out.identifier_value = std::string(id);
  }
  out.identifier_system = system;

  // period and statusHistory.
  const auto* period = json::member(doc, "period");
  std::string start = period != nullptr ? std::string(json::string(*period, "start")) : "";
  std::string end = period != nullptr ? std::string(json::string(*period, "end")) : "";
  if (start.empty()) {
    return ShapeProblem{"Waktu mulai kunjungan kosong; SATUSEHAT mewajibkannya. / The visit has no start time; "
                        "SATUSEHAT requires one.",
                        "Encounter.period.start"};
  }
  auto s = epochSeconds(withOffset(start, context.timezone_offset).value_or(start));
  auto e = epochSeconds(withOffset(end, context.timezone_offset).value_or(end));
  if (s && e && *e < *s) {
    return ShapeProblem{"Waktu selesai kunjungan lebih awal dari waktu mulainya; perbaiki jam kunjungan di aplikasi "
                        "puskesmas. / The visit ends before it starts; correct the visit times in the clinic software.",
                        "Encounter.period.end"};
  }
  const auto* history = json::member(doc, "statusHistory");
  if (history == nullptr || !history->IsArray() || history->Empty()) {
    doc.RemoveMember("statusHistory");
    rapidjson::Value entry(rapidjson::kObjectType);
    std::string status(json::string(doc, "status"));
    entry.AddMember("status", json::str(status.empty() ? "arrived" : status, a), a);
    rapidjson::Value p(rapidjson::kObjectType);
    p.AddMember("start", json::str(start, a), a);
    if (!end.empty()) p.AddMember("end", json::str(end, a), a);
    entry.AddMember("period", p, a);
    rapidjson::Value list(rapidjson::kArrayType);
    list.PushBack(entry, a);
    doc.AddMember("statusHistory", list, a);
  }

  // The registered Location of the poli (or the puskesmas' default).
  std::string poli;
  if (const auto* service = json::member(doc, "serviceType"); service != nullptr && service->IsObject()) {
    if (const auto* codings = json::member(*service, "coding"); codings != nullptr && codings->IsArray()) {
      for (const auto& c : codings->GetArray()) {
        std::string_view sys = json::string(c, "system");
        if (sys.size() >= kPoliSystemSuffix.size() && sys.substr(sys.size() - kPoliSystemSuffix.size()) == kPoliSystemSuffix) {
          poli = std::string(json::string(c, "code"));
        }
      }
    }
  }
  auto location = org.locations.find(poli);
  if (location == org.locations.end()) location = org.locations.find("*");
  if (location == org.locations.end()) {
    return ShapeProblem{"Poli '" + poli + "' puskesmas " + org.organization +
                            " belum dipetakan ke Location SATUSEHAT; tambahkan di upstream.organizations_file "
                            "(locations), lalu kirim ulang. / Poli '" +
                            poli + "' of " + org.organization +
                            " has no registered SATUSEHAT Location; add it under locations in "
                            "upstream.organizations_file, then resend.",
                        "Encounter.location"};
  }
  doc.RemoveMember("location");
  rapidjson::Value loc(rapidjson::kObjectType);
  rapidjson::Value ref(rapidjson::kObjectType);
  ref.AddMember("reference", json::str("Location/" + location->second, a), a);
  loc.AddMember("location", ref, a);
  rapidjson::Value locations(rapidjson::kArrayType);
  locations.PushBack(loc, a);
  doc.AddMember("location", locations, a);

  // Diagnoses whose Condition the platform does not have yet are left out;
  // the platform refuses references to unknown ids.
  if (doc.HasMember("diagnosis") && doc["diagnosis"].IsArray()) {
    auto& list = doc["diagnosis"];
    for (rapidjson::SizeType i = list.Size(); i-- > 0;) {
      const auto* condition = json::member(list[i], "condition");
      std::string target = condition != nullptr ? std::string(json::string(*condition, "reference")) : "";
      if (context.links.count(target) == 0) {
        if (!target.empty()) out.left_out.push_back(target);
        list.Erase(list.Begin() + i);
      }
    }
    if (list.Empty()) doc.RemoveMember("diagnosis");
  }
  return std::nullopt;
}

std::optional<ShapeProblem> shapeCondition(rapidjson::Document& doc) {
  auto& a = doc.GetAllocator();
  auto* code = doc.HasMember("code") ? &doc["code"] : nullptr;
  if (code == nullptr || !code->IsObject() || !code->HasMember("coding") || !(*code)["coding"].IsArray()) {
    return ShapeProblem{"Diagnosis tanpa kode ICD-10. / The diagnosis has no ICD-10 code.", "Condition.code"};
  }
  auto& codings = (*code)["coding"];
  rapidjson::Value icd(rapidjson::kArrayType);
  for (auto& c : codings.GetArray()) {
    if (json::string(c, "system") == kIcd10System && !json::string(c, "code").empty()) icd.PushBack(rapidjson::Value(c, a), a);
  }
  if (icd.Size() != 1) {
    return ShapeProblem{icd.Empty() ? "Diagnosis tanpa kode ICD-10. / The diagnosis has no ICD-10 code."
                                    : "Satu diagnosis memuat lebih dari satu kode ICD-10; SATUSEHAT menerima satu kode "
                                      "per Condition. / One diagnosis holds several ICD-10 codes; SATUSEHAT takes one "
                                      "per Condition.",
                        "Condition.code.coding"};
  }
  codings = icd;
  return std::nullopt;
}

std::optional<ShapeProblem> shapeMedication(rapidjson::Document& doc, std::string_view type) {
  const std::string expression = std::string(type) + ".medication";
  const auto* reference = json::member(doc, "medicationReference");
  std::string target = reference != nullptr ? std::string(json::string(*reference, "reference")) : "";
  if (!target.empty() && target[0] == '#') {
    if (const auto* contained = json::member(doc, "contained"); contained != nullptr && contained->IsArray()) {
      for (const auto& c : contained->GetArray()) {
        if (json::string(c, "resourceType") == "Medication" && "#" + std::string(json::string(c, "id")) == target) {
          if (hasCoding(json::member(c, "code"), kKfaSystem)) return std::nullopt;
        }
      }
    }
  } else if (hasCoding(json::member(doc, "medicationCodeableConcept"), kKfaSystem)) {
    return std::nullopt;
  }
  return ShapeProblem{"Obat tanpa kode KFA (Kamus Farmasi dan Alat Kesehatan); SATUSEHAT memerlukan kode KFA. Isi "
                      "kode obat KFA di aplikasi puskesmas. / The medication has no KFA code, which SATUSEHAT requires.",
                      expression};
}

}  // namespace

std::optional<std::string> withOffset(std::string_view t, std::string_view offset) {
  // YYYY-MM-DDThh:mm or YYYY-MM-DDThh:mm:ss(.f)
  if (t.size() < 16 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':') return std::nullopt;
  if (!isDigits(t.substr(0, 4)) || !isDigits(t.substr(11, 2)) || !isDigits(t.substr(14, 2))) return std::nullopt;
  if (t.size() == 16) return std::string(t) + ":00" + std::string(offset);
  if (t[16] != ':' || t.size() < 19 || !isDigits(t.substr(17, 2))) return std::nullopt;
  std::string_view rest = t.substr(19);
  if (!rest.empty()) {
    if (rest[0] != '.' || !isDigits(rest.substr(1))) return std::nullopt;  // already has a zone, or is not a time
  }
  return std::string(t) + std::string(offset);
}

NewbornRegistration newbornRegistration(std::string_view child_json, std::string_view mother_nik,
                                        std::string_view mother_json) {
  NewbornRegistration out;
  rapidjson::Document child;
  if (json::parse(child_json, child) || !child.IsObject()) {
    out.problem = ShapeProblem{"Data bayi tidak terbaca. / The child's record is not readable.", "Patient"};
    return out;
  }
  std::vector<std::string> missing;
  const auto* names = json::member(child, "name");
  bool named = false;
  if (names != nullptr && names->IsArray()) {
    for (const auto& n : names->GetArray()) {
      named = named || !json::string(n, "text").empty() || json::member(n, "given") != nullptr ||
              !json::string(n, "family").empty();
    }
  }
  if (!named) missing.push_back("nama / name");
  std::string birth_date(json::string(child, "birthDate"));
  if (birth_date.size() != 10) missing.push_back("tanggal lahir / birth date");
  std::string gender(json::string(child, "gender"));
  if (gender != "male" && gender != "female") missing.push_back("jenis kelamin / sex");
  int order = 0;  // not a twin
  if (const auto* m = json::member(child, "multipleBirthInteger"); m != nullptr && m->IsInt() && m->GetInt() >= 0) {
    order = m->GetInt();
  } else if (const auto* b = json::member(child, "multipleBirthBoolean"); b != nullptr && b->IsBool() && b->GetBool()) {
    missing.push_back("urutan kelahiran kembar / birth order of the twin");
  }
  rapidjson::Document mother;
  const rapidjson::Value* address = json::member(child, "address");
  if ((address == nullptr || !address->IsArray() || address->Empty()) && !mother_json.empty() &&
      !json::parse(mother_json, mother) && mother.IsObject()) {
    address = json::member(mother, "address");  // a newborn lives with its mother
  }
  if (address == nullptr || !address->IsArray() || address->Empty()) missing.push_back("alamat / address");
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    out.problem = ShapeProblem{"Bayi belum bisa didaftarkan di SATUSEHAT, data kurang: " + list +
                                   ". Lengkapi di aplikasi puskesmas. / The child cannot be registered in SATUSEHAT, "
                                   "missing: " + list + ". Complete it in the clinic software.",
                               "Patient"};
    return out;
  }
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("resourceType", "Patient", a);
  rapidjson::Value meta(rapidjson::kObjectType), profiles(rapidjson::kArrayType);
  profiles.PushBack("https://fhir.kemkes.go.id/r4/StructureDefinition/Patient", a);
  meta.AddMember("profile", profiles, a);
  doc.AddMember("meta", meta, a);
  rapidjson::Value identifiers(rapidjson::kArrayType), identifier(rapidjson::kObjectType);
  identifier.AddMember("use", "official", a);
  identifier.AddMember("system", json::str(kNikIbuSystem, a), a);
  identifier.AddMember("value", json::str(mother_nik, a), a);
  identifiers.PushBack(identifier, a);
  doc.AddMember("identifier", identifiers, a);
  doc.AddMember("active", true, a);
  doc.AddMember("name", rapidjson::Value(*names, a), a);
  doc.AddMember("gender", json::str(gender, a), a);
  doc.AddMember("birthDate", json::str(birth_date, a), a);
  doc.AddMember("multipleBirthInteger", order, a);
  doc.AddMember("address", rapidjson::Value(*address, a), a);
  out.json = json::write(doc);
  return out;
}

std::string businessIdentifierSystem(std::string_view type, std::string_view platform_organization_id) {
  return "http://sys-ids.kemkes.go.id/" + lower(type) + "/" + std::string(platform_organization_id);
}

Shaped shapeForPlatform(std::string_view type, std::string_view id, std::string_view resource_json,
                        const ShapeContext& context) {
  Shaped out;
  rapidjson::Document doc;
  if (json::parse(resource_json, doc) || !doc.IsObject()) {
    out.problem = ShapeProblem{"Data tersimpan rusak dan tidak bisa dikirim. / The stored resource is not readable.",
                               std::string(type)};
    return out;
  }
  auto& a = doc.GetAllocator();
  const SatusehatOrganization& org = *context.organization;
  // Our id, version and provenance stay here; the platform keeps its own.
  doc.RemoveMember("meta");
  doc.RemoveMember("id");
  if (!context.platform_id.empty()) doc.AddMember("id", json::str(context.platform_id, a), a);

  std::optional<ShapeProblem> problem;
  if (type == "Encounter") {
    problem = shapeEncounter(doc, id, context, out);
  } else {
    // Every other resource carries our id as its business identifier, so a
    // create whose answer was lost can be found and adopted.
    out.identifier_system = businessIdentifierSystem(type, org.platform_organization_id);
    out.identifier_value = std::string(id);
    if (!doc.HasMember("identifier") || !doc["identifier"].IsArray()) {
      doc.RemoveMember("identifier");
      doc.AddMember("identifier", rapidjson::Value(rapidjson::kArrayType), a);
    }
    bool present = false;
    for (const auto& ident : doc["identifier"].GetArray()) {
      present = present || (json::string(ident, "system") == out.identifier_system &&
                            json::string(ident, "value") == out.identifier_value);
    }
    if (!present) {
      rapidjson::Value ident(rapidjson::kObjectType);
      ident.AddMember("system", json::str(out.identifier_system, a), a);
      ident.AddMember("value", json::str(id, a), a);
      doc["identifier"].PushBack(ident, a);
    }
    if (type == "Condition") problem = shapeCondition(doc);
    if (type == "MedicationRequest" || type == "MedicationDispense" || type == "MedicationStatement") {
      problem = shapeMedication(doc, type);
    }
  }
  if (problem) {
    out.problem = problem;
    return out;
  }
  Walker walker{context, "Organization/" + org.platform_organization_id, {}};
  walker.walk(doc, a, false);
  out.unresolved.assign(walker.unresolved.begin(), walker.unresolved.end());
  out.json = json::write(doc);
  return out;
}

}  // namespace ilpgw
