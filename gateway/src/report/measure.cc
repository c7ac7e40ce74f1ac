#include "report/measure.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/json.h"

namespace ilpgw::report {
namespace {

Status refuse(const std::string& file, const std::string& field, const std::string& problem) {
  return {StatusCode::kInvalidArgument, file + ": " + field + ": " + problem};
}

bool validId(std::string_view id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.';
  });
}

bool hasCoding(const rapidjson::Value& codeable, std::string_view system, std::string_view code) {
  const auto* codings = json::member(codeable, "coding");
  if (codings == nullptr || !codings->IsArray()) return false;
  for (const auto& c : codings->GetArray()) {
    if (json::string(c, "system") == system && json::string(c, "code") == code) return true;
  }
  return false;
}

const rapidjson::Value* extension(const rapidjson::Value& resource, std::string_view url) {
  const auto* list = json::member(resource, "extension");
  if (list == nullptr || !list->IsArray()) return nullptr;
  for (const auto& e : list->GetArray()) {
    if (json::string(e, "url") == url) return &e;
  }
  return nullptr;
}

}  // namespace

StatusOr<MeasureDefinition> MeasureLibrary::parse(std::string_view text, const std::string& file) {
  rapidjson::Document doc;
  if (auto problem = json::parse(text, doc)) return refuse(file, "(file)", "not JSON: " + *problem);
  if (!doc.IsObject() || json::string(doc, "resourceType") != "Measure") {
    return refuse(file, "resourceType", "must be \"Measure\"");
  }
  MeasureDefinition m;
  m.file = file;
  m.id = std::string(json::string(doc, "id"));
  if (!validId(m.id)) return refuse(file, "id", "must be 1-64 letters, digits, '-' or '.'");
  m.url = std::string(json::string(doc, "url"));
  if (m.url.empty()) return refuse(file, "url", "is required");
  m.title = std::string(json::string(doc, "title"));
  if (m.title.empty()) return refuse(file, "title", "is required (the indicator's name as staff read it)");
  if (json::string(doc, "status") != "active" && json::string(doc, "status") != "draft") {
    return refuse(file, "status", "must be active or draft");
  }
  const auto* scoring = json::member(doc, "scoring");
  if (scoring == nullptr || !hasCoding(*scoring, kMeasureScoringSystem, "proportion")) {
    return refuse(file, "scoring", "must be proportion (" + std::string(kMeasureScoringSystem) + ")");
  }
  if (const auto* lookback = extension(doc, kLookbackExtension)) {
    const auto* v = json::member(*lookback, "valueInteger");
    if (v == nullptr || !v->IsInt() || v->GetInt() < 0 || v->GetInt() > 60) {
      return refuse(file, "extension(pws-lookback-months).valueInteger", "must be an integer from 0 to 60");
    }
    m.lookback_months = v->GetInt();
  }
  if (const auto* method = extension(doc, kTargetMethodExtension)) {
    std::string_view code = json::string(*method, "valueCode");
    if (code == "monthly-linear") {
      m.target_method = TargetMethod::kMonthlyLinear;
    } else if (code == "yearly") {
      m.target_method = TargetMethod::kYearly;
    } else {
      return refuse(file, "extension(pws-target-method).valueCode", "must be monthly-linear or yearly");
    }
  }
  const auto* groups = json::member(doc, "group");
  if (groups == nullptr || !groups->IsArray() || groups->Size() != 1 || !(*groups)[0].IsObject()) {
    return refuse(file, "group", "must hold exactly one group");
  }
  const auto& group = (*groups)[0];
  const auto* populations = json::member(group, "population");
  if (populations == nullptr || !populations->IsArray()) {
    return refuse(file, "group[0].population", "must list initial-population, denominator and numerator");
  }
  bool seen_ip = false, seen_den = false, seen_num = false;
  for (rapidjson::SizeType i = 0; i < populations->Size(); ++i) {
    const auto& p = (*populations)[i];
    std::string field = "group[0].population[" + std::to_string(i) + "]";
    const auto* code = json::member(p, "code");
    Criteria* target = nullptr;
    bool* seen = nullptr;
    for (auto [name, criteria, flag] : {std::tuple{"initial-population", &m.initial_population, &seen_ip},
                                        std::tuple{"denominator", &m.denominator, &seen_den},
                                        std::tuple{"numerator", &m.numerator, &seen_num}}) {
      if (code != nullptr && hasCoding(*code, kPopulationSystem, name)) {
        target = criteria;
        seen = flag;
      }
    }
    if (target == nullptr) {
      return refuse(file, field + ".code", "must be initial-population, denominator or numerator (" +
                                               std::string(kPopulationSystem) + ")");
    }
    if (*seen) return refuse(file, field + ".code", "this population is listed twice");
    *seen = true;
    const auto* criteria = json::member(p, "criteria");
    if (criteria == nullptr || json::string(*criteria, "language") != kCriteriaLanguage) {
      return refuse(file, field + ".criteria.language", "must be " + std::string(kCriteriaLanguage));
    }
    auto parsed = Criteria::parse(json::string(*criteria, "expression"));
    if (!parsed.isOk()) return refuse(file, field + ".criteria.expression", parsed.status().message());
    *target = std::move(parsed.value());
  }
  if (!seen_ip || !seen_den || !seen_num) {
    return refuse(file, "group[0].population", "must list initial-population, denominator and numerator");
  }
  const auto* stratifiers = json::member(group, "stratifier");
  if (stratifiers == nullptr || !stratifiers->IsArray() || stratifiers->Size() != 1) {
    return refuse(file, "group[0].stratifier", "must hold exactly one stratifier, by desa");
  }
  const auto* by = json::member((*stratifiers)[0], "criteria");
  if (by == nullptr || json::string(*by, "language") != kCriteriaLanguage || json::string(*by, "expression") != "desa") {
    return refuse(file, "group[0].stratifier[0].criteria",
                  "must be {\"language\": \"" + std::string(kCriteriaLanguage) + "\", \"expression\": \"desa\"}");
  }
  m.json = json::write(doc);
  return m;
}

StatusOr<std::shared_ptr<const MeasureLibrary>> MeasureLibrary::load(const std::string& dir) {
  auto library = std::make_shared<MeasureLibrary>();
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return std::shared_ptr<const MeasureLibrary>(library);
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") files.push_back(entry.path());
  }
  if (ec) return Status{StatusCode::kInvalidArgument, dir + ": " + ec.message()};
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    std::string name = "measures/" + path.filename().string();
    std::ifstream in(path, std::ios::binary);
    if (!in) return refuse(name, "(file)", "cannot be read");
    std::stringstream text;
    text << in.rdbuf();
    auto measure = parse(text.str(), name);
    if (!measure.isOk()) return measure.status();
    if (library->measures_.contains(measure->id)) {
      return refuse(name, "id", "\"" + measure->id + "\" is also the id of another file");
    }
    std::string id = measure->id;
    library->measures_.emplace(std::move(id), std::move(measure.value()));
  }
  return std::shared_ptr<const MeasureLibrary>(library);
}

const MeasureDefinition* MeasureLibrary::find(std::string_view id) const {
  auto it = measures_.find(id);
  return it == measures_.end() ? nullptr : &it->second;
}

}  // namespace ilpgw::report
