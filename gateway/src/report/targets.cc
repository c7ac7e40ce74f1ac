#include "report/targets.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <charconv>
#include <set>
#include <tuple>

#include "base/crypto.h"
#include "base/json.h"
#include "fhir/resource_text.h"
#include "security/audit.h"

namespace ilpgw::report {
namespace {

constexpr std::string_view kSasaranExtension = "https://ilp-gateway.id/fhir/StructureDefinition/pws-sasaran";
constexpr std::string_view kPwsSystem = "https://ilp-gateway.id/fhir/CodeSystem/pws";

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '"')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '"')) s.remove_suffix(1);
  return std::string(s);
}

// One line into fields; a field in double quotes may hold the separator.
std::vector<std::string> split(std::string_view line, char separator) {
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false;
  for (char c : line) {
    if (c == '"') {
      quoted = !quoted;
    } else if (c == separator && !quoted) {
      fields.push_back(trim(field));
      field.clear();
    } else {
      field += c;
    }
  }
  fields.push_back(trim(field));
  return fields;
}

// "120", "120.5" or "120,5" (decimal comma, as Indonesian spreadsheets write it).
std::optional<double> number(std::string text) {
  std::replace(text.begin(), text.end(), ',', '.');
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

bool validOrganization(std::string_view id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.';
  });
}

}  // namespace

std::string describe(const SasaranProblem& problem) {
  std::string where = problem.line > 0 ? "baris " + std::to_string(problem.line) : std::string("berkas");
  if (!problem.column.empty()) where += ", kolom " + problem.column;
  return where + ": " + problem.message;
}

SasaranFile parseSasaranCsv(std::string_view text, const MeasureLibrary& library) {
  SasaranFile out;
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  if (text.size() > 16 * 1024 * 1024) {
    out.problems.push_back({0, "", "lebih besar dari 16 MiB"});
    return out;
  }
  std::vector<std::string_view> lines;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  if (lines.empty() || trim(lines[0]).empty()) {
    out.problems.push_back({1, "", "baris judul kolom tidak ada (tahun;kode_puskesmas;kode_desa;indikator;sasaran)"});
    return out;
  }
  char separator = lines[0].find(';') != std::string_view::npos ? ';' : ',';
  std::vector<std::string> header = split(lines[0], separator);
  std::map<std::string, size_t> column;
  for (size_t i = 0; i < header.size(); ++i) {
    std::string name = header[i];
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name.empty()) continue;
    if (name != "tahun" && name != "kode_puskesmas" && name != "kode_desa" && name != "indikator" &&
        name != "sasaran" && name != "target_persen") {
      out.problems.push_back({1, name, "kolom tidak dikenal (tahun, kode_puskesmas, kode_desa, indikator, sasaran, "
                                       "target_persen)"});
      continue;
    }
    if (!column.emplace(name, i).second) out.problems.push_back({1, name, "kolom ini muncul dua kali"});
  }
  for (const char* required : {"tahun", "kode_puskesmas", "kode_desa", "indikator", "sasaran"}) {
    if (!column.contains(required)) out.problems.push_back({1, required, "kolom wajib tidak ada"});
  }
  if (!out.problems.empty()) return out;

  std::set<std::tuple<int, std::string, std::string, std::string>> seen;
  for (size_t n = 1; n < lines.size(); ++n) {
    int line = static_cast<int>(n) + 1;
    if (trim(lines[n]).empty()) continue;
    std::vector<std::string> fields = split(lines[n], separator);
    auto field = [&](const char* name) -> std::string {
      auto it = column.find(name);
      if (it == column.end() || it->second >= fields.size()) return {};
      return fields[it->second];
    };
    size_t before = out.problems.size();
    SasaranRow row;
    row.line = line;
    auto year = number(field("tahun"));
    if (!year || !(*year >= 2000 && *year <= 2100) || *year != std::floor(*year)) {
      out.problems.push_back({line, "tahun", "\"" + field("tahun") + "\" bukan tahun (2000-2100)"});
    } else {
      row.year = static_cast<int>(*year);
    }
    row.organization = field("kode_puskesmas");
    if (!validOrganization(row.organization)) {
      out.problems.push_back({line, "kode_puskesmas",
                              "\"" + row.organization + "\" bukan kode organisasi (huruf, angka, '-' atau '.')"});
    }
    row.desa = field("kode_desa");
    bool village = row.desa.size() == 10 && std::all_of(row.desa.begin(), row.desa.end(), [](char c) {
                     return c >= '0' && c <= '9';
                   });
    if (!village && row.desa != kNoVillage) {
      out.problems.push_back({line, "kode_desa", "\"" + row.desa + "\" bukan kode desa Kemendagri 10 digit"});
    }
    row.measure = field("indikator");
    if (library.find(row.measure) == nullptr) {
      out.problems.push_back({line, "indikator", "\"" + row.measure + "\" bukan indikator yang dikenal (lihat "
                                                                       "GET /fhir/Measure)"});
    }
    auto population = number(field("sasaran"));
    if (!population || *population < 0) {
      out.problems.push_back({line, "sasaran", "\"" + field("sasaran") + "\" bukan angka 0 atau lebih"});
    } else {
      row.target.population = *population;
    }
    if (std::string percent = field("target_persen"); !percent.empty()) {
      auto p = number(percent);
      if (!p || *p < 0 || *p > 100) {
        out.problems.push_back({line, "target_persen", "\"" + percent + "\" bukan persen 0-100"});
      } else {
        row.target.percent = *p;
      }
    }
    if (out.problems.size() != before) continue;
    if (!seen.emplace(row.year, row.organization, row.desa, row.measure).second) {
      out.problems.push_back({line, "", "tahun, puskesmas, desa dan indikator yang sama sudah ada di baris sebelumnya"});
      continue;
    }
    out.rows.push_back(std::move(row));
  }
  if (out.rows.empty() && out.problems.empty()) out.problems.push_back({0, "", "tidak ada baris data"});
  return out;
}

std::string sasaranResourceId(std::string_view organization, int year) {
  return "sasaran-" + hex(sha256(std::string(organization) + "|" + std::to_string(year))).substr(0, 32);
}

std::vector<std::string> sasaranResources(const std::vector<SasaranRow>& rows) {
  std::map<std::pair<std::string, int>, std::vector<const SasaranRow*>> tables;
  for (const auto& row : rows) tables[{row.organization, row.year}].push_back(&row);
  std::vector<std::string> out;
  for (const auto& [key, table] : tables) {
    rapidjson::Document doc(rapidjson::kObjectType);
    auto& a = doc.GetAllocator();
    doc.AddMember("resourceType", "Basic", a);
    doc.AddMember("id", json::str(sasaranResourceId(key.first, key.second), a), a);
    rapidjson::Value coding(rapidjson::kObjectType);
    coding.AddMember("system", json::str(kPwsSystem, a), a);
    coding.AddMember("code", "sasaran", a);
    coding.AddMember("display", json::str("Sasaran PWS tahun " + std::to_string(key.second), a), a);
    rapidjson::Value codings(rapidjson::kArrayType);
    codings.PushBack(coding, a);
    rapidjson::Value code(rapidjson::kObjectType);
    code.AddMember("coding", codings, a);
    doc.AddMember("code", code, a);
    rapidjson::Value subject(rapidjson::kObjectType);
    subject.AddMember("reference", json::str("Organization/" + key.first, a), a);
    doc.AddMember("subject", subject, a);
    doc.AddMember("created", json::str(std::to_string(key.second), a), a);
    rapidjson::Value extensions(rapidjson::kArrayType);
    for (const SasaranRow* row : table) {
      rapidjson::Value parts(rapidjson::kArrayType);
      auto part = [&](const char* url, const char* type, rapidjson::Value value) {
        rapidjson::Value e(rapidjson::kObjectType);
        e.AddMember("url", rapidjson::StringRef(url), a);
        e.AddMember(rapidjson::StringRef(type), value, a);
        parts.PushBack(e, a);
      };
      part("indikator", "valueString", json::str(row->measure, a));
      part("desa", "valueCode", json::str(row->desa, a));
      part("sasaran", "valueDecimal", rapidjson::Value(row->target.population));
      part("targetPersen", "valueDecimal", rapidjson::Value(row->target.percent));
      rapidjson::Value e(rapidjson::kObjectType);
      e.AddMember("url", json::str(kSasaranExtension, a), a);
      e.AddMember("extension", parts, a);
      extensions.PushBack(e, a);
    }
    doc.AddMember("extension", extensions, a);
    out.push_back(json::write(doc));
  }
  return out;
}

StatusOr<std::map<std::string, TargetTable, std::less<>>> loadTargets(ResourceStore& store,
                                                                       std::string_view organization, int year) {
  std::map<std::string, TargetTable, std::less<>> out;
  auto found = store.read("Basic", sasaranResourceId(organization, year));
  if (!found.isOk()) return found.status();
  if (!found.value() || found.value()->organization != organization) return out;
  rapidjson::Document doc;
  if (json::parse(found.value()->json, doc) || !doc.IsObject()) return out;
  const auto* extensions = json::member(doc, "extension");
  if (extensions == nullptr || !extensions->IsArray()) return out;
  for (const auto& e : extensions->GetArray()) {
    if (json::string(e, "url") != kSasaranExtension) continue;
    std::string measure, desa;
    VillageTarget target;
    const auto* parts = json::member(e, "extension");
    if (parts == nullptr || !parts->IsArray()) continue;
    for (const auto& p : parts->GetArray()) {
      std::string_view url = json::string(p, "url");
      if (url == "indikator") measure = std::string(json::string(p, "valueString"));
      if (url == "desa") desa = std::string(json::string(p, "valueCode"));
      const auto* v = json::member(p, "valueDecimal");
      if (v != nullptr && v->IsNumber()) {
        if (url == "sasaran") target.population = v->GetDouble();
        if (url == "targetPersen") target.percent = v->GetDouble();
      }
    }
    if (!measure.empty() && !desa.empty()) out[measure][desa] = target;
  }
  return out;
}

StatusOr<CommitResult> importSasaran(BatchWriter& writer, const std::vector<SasaranRow>& rows,
                                     const std::string& actor, const std::string& source) {
  WriteBatch batch;
  std::vector<std::string> entities;
  for (const auto& text_resource : sasaranResources(rows)) {
    rapidjson::Document doc;
    if (json::parse(text_resource, doc)) return Status(StatusCode::kInternal, "sasaran resource is not JSON");
    ResourceWrite write = prepareResource(doc);
    std::string_view subject = json::string(doc["subject"], "reference");
    write.organization = std::string(subject.substr(subject.find('/') + 1));
    write.source_locator = source;
    entities.push_back("Basic/" + write.id);
    batch.resources.push_back(std::move(write));
  }
  AuditInfo audit;
  audit.kind = AuditKind::kAdmin;
  audit.subtype = "sasaran-import";
  audit.action = 'U';
  audit.agent = actor;
  audit.entities = entities;
  audit.description = "sasaran PWS dimuat: " + std::to_string(rows.size()) + " baris";
  batch.audit.push_back(makeAuditEvent(audit));
  return writer.commit(std::move(batch));
}

StatusOr<std::string> sasaranCsv(ResourceStore& store, std::string_view organization, int year) {
  auto targets = loadTargets(store, organization, year);
  if (!targets.isOk()) return targets.status();
  std::string out = "tahun;kode_puskesmas;kode_desa;indikator;sasaran;target_persen\n";
  auto number = [](double value) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.10g", value);
    return std::string(buf);
  };
  for (const auto& [measure, table] : targets.value()) {
    for (const auto& [desa, target] : table) {
      out += std::to_string(year) + ";" + std::string(organization) + ";" + desa + ";" + measure + ";" +
             number(target.population) + ";" + number(target.percent) + "\n";
    }
  }
  return out;
}

}  // namespace ilpgw::report
