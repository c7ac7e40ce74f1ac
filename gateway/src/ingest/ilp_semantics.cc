#include "ingest/ilp_semantics.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "base/json.h"

namespace ilpgw {

struct IlpSemantics {
  struct Stage {
    std::string code, display, klaster;
    int from_months = 0;
    int to_months = -1;  // -1: no upper bound
  };
  struct Test {
    std::string component;  // empty: the Observation's own value
    std::optional<double> min, max;  // min inclusive, max exclusive
  };
  struct Rule {
    std::string system, code;
    std::vector<std::string> stages;
    std::string gender;
    std::vector<Test> any;
    std::string result;
  };

  std::string klaster_system, poli_system, poli_map;
  std::map<std::string, std::string> klaster_displays;
  std::string stage_system;
  std::vector<Stage> stages;           // by age
  std::vector<Stage> explicit_stages;  // set by adapters only
  std::string icd10_system;
  std::vector<std::pair<std::string, std::string>> icd10_blocks;  // [first, last] categories
  std::string interpretation_system;
  std::map<std::string, std::string> interpretation_displays;
  std::vector<Rule> rules;
};

namespace {

using rapidjson::Value;

StatusOr<rapidjson::Document> readJsonFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(StatusCode::kNotFound, path.string() + ": cannot read");
  std::stringstream text;
  text << in.rdbuf();
  rapidjson::Document doc;
  if (auto error = json::parse(text.str(), doc)) return Status(StatusCode::kInvalidArgument, path.string() + ": " + *error);
  if (!doc.IsObject()) return Status(StatusCode::kInvalidArgument, path.string() + ": expected a JSON object");
  return doc;
}

// Small reader that turns a missing or mistyped key into one message naming
// the file and the key.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}
  std::string text(const Value& object, const char* key, const std::string& where) {
    const Value* v = json::member(object, key);
    if (v == nullptr || !v->IsString()) {
      fail(where + "." + key + " must be a string");
      return {};
    }
    return v->GetString();
  }
  std::optional<double> number(const Value& object, const char* key, const std::string& where) {
    const Value* v = json::member(object, key);
    if (v == nullptr) return std::nullopt;
    if (!v->IsNumber()) {
      fail(where + "." + key + " must be a number");
      return std::nullopt;
    }
    return v->GetDouble();
  }
  void fail(const std::string& message) {
    if (error_.empty()) error_ = file_ + ": " + message;
  }
  const std::string& error() const { return error_; }

 private:
  std::string file_;
  std::string error_;
};

// Completed months between two yyyy-mm-dd dates; nullopt when unparseable.
std::optional<int> ageInMonths(std::string_view birth, std::string_view visit) {
  auto parse = [](std::string_view d, int& y, int& m, int& day) {
    if (d.size() < 10 || d[4] != '-' || d[7] != '-') return false;
    for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
      if (!std::isdigit(static_cast<unsigned char>(d[i]))) return false;
    }
    y = std::stoi(std::string(d.substr(0, 4)));
    m = std::stoi(std::string(d.substr(5, 2)));
    day = std::stoi(std::string(d.substr(8, 2)));
    return true;
  };
  int by, bm, bd, vy, vm, vd;
  if (!parse(birth, by, bm, bd) || !parse(visit, vy, vm, vd)) return std::nullopt;
  int months = (vy - by) * 12 + (vm - bm) - (vd < bd ? 1 : 0);
  if (months < 0) return std::nullopt;
  return months;
}

const Value* array(const Value& object, const char* key) {
  const Value* v = json::member(object, key);
  return v != nullptr && v->IsArray() ? v : nullptr;
}

// The first coding of `codeable` in `system`, or nullptr.
const Value* codingIn(const Value* codeable, std::string_view system) {
  if (codeable == nullptr || !codeable->IsObject()) return nullptr;
  const Value* codings = array(*codeable, "coding");
  if (codings == nullptr) return nullptr;
  for (const auto& c : codings->GetArray()) {
    if (json::string(c, "system") == system) return &c;
  }
  return nullptr;
}

double numberOf(const Value& v) {
  if (v.IsNumber()) return v.GetDouble();
  return std::nan("");
}

// The Observation's (or a component's) numeric value: valueQuantity.value or valueInteger.
std::optional<double> observedValue(const Value& object) {
  if (const Value* q = json::member(object, "valueQuantity")) {
    if (const Value* v = json::member(*q, "value"); v != nullptr && v->IsNumber()) return numberOf(*v);
  }
  if (const Value* v = json::member(object, "valueInteger"); v != nullptr && v->IsNumber()) return numberOf(*v);
  return std::nullopt;
}

void addCoding(Value& codings, std::string_view system, std::string_view code, std::string_view display,
               rapidjson::Document::AllocatorType& a) {
  Value c(rapidjson::kObjectType);
  c.AddMember("system", json::str(system, a), a);
  c.AddMember("code", json::str(code, a), a);
  if (!display.empty()) c.AddMember("display", json::str(display, a), a);
  codings.PushBack(c, a);
}

struct ParsedResource {
  rapidjson::Document doc;
  bool ok = false;
  bool changed = false;
};

class RecordSemantics {
 public:
  RecordSemantics(const IlpSemantics& s, const Terminology& terminology, sdk::Record& record)
      : s_(s), terminology_(terminology), record_(record) {}

  // With `parsed`, the documents go there as this left them and the
  // record's text stays the adapter's; without, changed resources are
  // written back into the record.
  void apply(std::vector<rapidjson::Document>* parsed) {
    resources_.resize(record_.resources.size());
    for (std::size_t i = 0; i < record_.resources.size(); ++i) {
      auto& r = resources_[i];
      r.ok = !json::parse(record_.resources[i], r.doc).has_value() && r.doc.IsObject();
      if (!r.ok) continue;  // validation reports it
      std::string type(json::string(r.doc, "resourceType"));
      std::string ref = type + "/" + std::string(json::string(r.doc, "id"));
      if (type == "Patient") patients_[ref] = &r.doc;
    }
    for (auto& r : resources_) {
      if (r.ok && json::string(r.doc, "resourceType") == "Encounter") encounter(r);
    }
    for (auto& r : resources_) {
      if (!r.ok) continue;
      auto type = json::string(r.doc, "resourceType");
      if (type == "Observation") observation(r);
      if (type == "Condition") condition(r);
    }
    if (parsed != nullptr) {
      parsed->clear();
      for (auto& r : resources_) {
        parsed->emplace_back();
        if (r.ok) parsed->back() = std::move(r.doc);
      }
      return;
    }
    for (std::size_t i = 0; i < resources_.size(); ++i) {
      if (resources_[i].changed) record_.resources[i] = json::write(resources_[i].doc);
    }
  }

 private:
  void issue(sdk::Severity severity, std::string code, std::string expression, std::string diagnostics) {
    sdk::Issue out;
    out.severity = severity;
    out.code = std::move(code);
    out.location = record_.locator;
    out.expression = std::move(expression);
    out.diagnostics = std::move(diagnostics);
    record_.issues.push_back(std::move(out));
  }

  const Value* referenced(const Value& resource, const char* element) const {
    const Value* ref = json::member(resource, element);
    if (ref == nullptr) return nullptr;
    auto it = patients_.find(std::string(json::string(*ref, "reference")));
    return it == patients_.end() ? nullptr : it->second;
  }

  const IlpSemantics::Stage* stageByCode(std::string_view code) const {
    for (const auto* list : {&s_.stages, &s_.explicit_stages}) {
      for (const auto& stage : *list) {
        if (stage.code == code) return &stage;
      }
    }
    return nullptr;
  }

  void encounter(ParsedResource& r) {
    auto& doc = r.doc;
    auto& a = doc.GetAllocator();
    std::string ref = "Encounter/" + std::string(json::string(doc, "id"));
    const Value* patient = referenced(doc, "subject");
    std::string start;
    if (const Value* period = json::member(doc, "period")) start = std::string(json::string(*period, "start"));

    // Life-cycle stage: the adapter's tag wins; else derived from ages.
    const IlpSemantics::Stage* stage = nullptr;
    if (const Value* meta = json::member(doc, "meta")) {
      if (const Value* tags = array(*meta, "tag")) {
        for (const auto& tag : tags->GetArray()) {
          if (json::string(tag, "system") == s_.stage_system) stage = stageByCode(json::string(tag, "code"));
        }
      }
    }
    if (stage == nullptr && patient != nullptr && start.size() >= 10) {
      std::string code = lifeCycleStage(s_, json::string(*patient, "birthDate"), start.substr(0, 10));
      stage = stageByCode(code);
      if (stage != nullptr) {
        if (!doc.HasMember("meta")) doc.AddMember("meta", Value(rapidjson::kObjectType), a);
        Value& meta = doc["meta"];
        if (!meta.HasMember("tag")) meta.AddMember("tag", Value(rapidjson::kArrayType), a);
        addCoding(meta["tag"], s_.stage_system, stage->code, stage->display, a);
        r.changed = true;
      }
    }
    if (stage != nullptr) encounter_stage_[ref] = stage->code;
    if (patient != nullptr) encounter_gender_[ref] = std::string(json::string(*patient, "gender"));

    // Klaster: kept when the adapter set one; else poli, else the stage.
    const Value* service = json::member(doc, "serviceType");
    if (const Value* set = codingIn(service, s_.klaster_system)) {
      // An adapter that takes the klaster from its payload may leave the
      // display to the one table here.
      auto it = s_.klaster_displays.find(std::string(json::string(*set, "code")));
      if (!set->HasMember("display") && it != s_.klaster_displays.end()) {
        const_cast<Value*>(set)->AddMember("display", Value(it->second.c_str(), a), a);
        r.changed = true;
      }
      return;
    }
    std::string klaster, display;
    if (const Value* poli = codingIn(service, s_.poli_system)) {
      std::string code(json::string(*poli, "code"));
      if (auto found = terminology_.translate(s_.poli_map, code); found && found->system == s_.klaster_system) {
        klaster = found->code;
        display = found->display;
      } else {
        issue(sdk::Severity::kWarning, "code-invalid", "Encounter.serviceType",
              "poli '" + code.substr(0, 24) + "' is not in the " + s_.poli_map + " ConceptMap" +
                  (stage != nullptr ? "; klaster taken from the life-cycle stage" : "; klaster left out"));
      }
    }
    if (klaster.empty() && stage != nullptr) klaster = stage->klaster;
    if (klaster.empty()) return;
    if (display.empty()) {
      auto it = s_.klaster_displays.find(klaster);
      if (it != s_.klaster_displays.end()) display = it->second;
    }
    if (service == nullptr || !service->IsObject()) {
      if (doc.HasMember("serviceType")) doc.RemoveMember("serviceType");
      doc.AddMember("serviceType", Value(rapidjson::kObjectType), a);
    }
    Value& st = doc["serviceType"];
    if (!st.HasMember("coding") || !st["coding"].IsArray()) {
      if (st.HasMember("coding")) st.RemoveMember("coding");
      st.AddMember("coding", Value(rapidjson::kArrayType), a);
    }
    // The klaster goes first: it is what ILP reports group by.
    Value codings(rapidjson::kArrayType);
    addCoding(codings, s_.klaster_system, klaster, display, a);
    for (auto& c : st["coding"].GetArray()) codings.PushBack(Value(c, a), a);
    st["coding"] = codings;
    r.changed = true;
  }

  void observation(ParsedResource& r) {
    auto& doc = r.doc;
    if (doc.HasMember("interpretation")) return;
    const Value* code = json::member(doc, "code");
    std::string encounter;
    if (const Value* e = json::member(doc, "encounter")) encounter = std::string(json::string(*e, "reference"));
    std::string stage = encounter_stage_.count(encounter) ? encounter_stage_[encounter] : std::string();
    std::string gender;
    if (const Value* patient = referenced(doc, "subject")) gender = std::string(json::string(*patient, "gender"));
    else if (encounter_gender_.count(encounter)) gender = encounter_gender_[encounter];
    for (const auto& rule : s_.rules) {
      const Value* coding = codingIn(code, rule.system);
      if (coding == nullptr || json::string(*coding, "code") != rule.code) continue;
      if (!rule.stages.empty() && std::find(rule.stages.begin(), rule.stages.end(), stage) == rule.stages.end()) continue;
      if (!rule.gender.empty() && rule.gender != gender) continue;
      if (!rule.any.empty() && !std::any_of(rule.any.begin(), rule.any.end(), [&](const IlpSemantics::Test& t) {
            return passes(doc, t);
          })) {
        continue;
      }
      auto& a = doc.GetAllocator();
      Value codeable(rapidjson::kObjectType);
      Value codings(rapidjson::kArrayType);
      auto display = s_.interpretation_displays.count(rule.result) ? s_.interpretation_displays.at(rule.result) : "";
      addCoding(codings, s_.interpretation_system, rule.result, display, a);
      codeable.AddMember("coding", codings, a);
      Value list(rapidjson::kArrayType);
      list.PushBack(codeable, a);
      doc.AddMember("interpretation", list, a);
      r.changed = true;
      return;
    }
  }

  bool passes(const Value& observation, const IlpSemantics::Test& test) const {
    std::optional<double> value;
    if (test.component.empty()) {
      value = observedValue(observation);
    } else if (const Value* components = array(observation, "component")) {
      for (const auto& c : components->GetArray()) {
        const Value* code = json::member(c, "code");
        const Value* codings = code != nullptr ? array(*code, "coding") : nullptr;
        if (codings == nullptr) continue;
        for (const auto& coding : codings->GetArray()) {
          if (json::string(coding, "code") == test.component) value = observedValue(c);
        }
      }
    }
    if (!value) return false;
    if (test.min && *value < *test.min) return false;
    if (test.max && *value >= *test.max) return false;
    return true;
  }

  void condition(ParsedResource& r) {
    const Value* code = json::member(r.doc, "code");
    const Value* codings = code != nullptr ? array(*code, "coding") : nullptr;
    if (codings == nullptr) return;
    for (rapidjson::SizeType i = 0; i < codings->Size(); ++i) {
      const Value& c = (*codings)[i];
      if (json::string(c, "system") != s_.icd10_system) continue;
      std::string icd(json::string(c, "code"));
      if (!isKnownIcd10(s_, icd)) {
        issue(sdk::Severity::kError, "code-invalid", "Condition.code.coding[" + std::to_string(i) + "].code",
              "ICD-10 code '" + icd.substr(0, 12) + "' is not in a known ICD-10 category (see mappings/icd10-categories.json)");
      }
    }
  }

  const IlpSemantics& s_;
  const Terminology& terminology_;
  sdk::Record& record_;
  std::vector<ParsedResource> resources_;
  std::map<std::string, const Value*> patients_;
  std::map<std::string, std::string> encounter_stage_;
  std::map<std::string, std::string> encounter_gender_;
};

}  // namespace

std::string lifeCycleStage(const IlpSemantics& s, std::string_view birth_date, std::string_view visit_date) {
  auto months = ageInMonths(birth_date, visit_date);
  if (!months) return {};
  for (const auto& stage : s.stages) {
    if (*months >= stage.from_months && (stage.to_months < 0 || *months < stage.to_months)) return stage.code;
  }
  return {};
}

bool isKnownIcd10(const IlpSemantics& s, std::string_view code) {
  std::string upper(code);
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper.size() < 3 || !std::isalpha(static_cast<unsigned char>(upper[0])) ||
      !std::isdigit(static_cast<unsigned char>(upper[1])) || !std::isdigit(static_cast<unsigned char>(upper[2]))) {
    return false;
  }
  if (upper.size() > 3) {
    if (upper[3] != '.' || upper.size() == 4 || upper.size() > 8) return false;
    for (std::size_t i = 4; i < upper.size(); ++i) {
      if (!std::isalnum(static_cast<unsigned char>(upper[i]))) return false;
    }
  }
  std::string category = upper.substr(0, 3);
  for (const auto& [first, last] : s.icd10_blocks) {
    if (category >= first && category <= last) return true;
  }
  return false;
}

StatusOr<std::shared_ptr<const IlpSemantics>> loadIlpSemantics(const std::string& mappings_dir) {
  namespace fs = std::filesystem;
  fs::path main = fs::path(mappings_dir) / "ilp-semantics.json";
  std::error_code ec;
  if (!fs::exists(main, ec)) return std::shared_ptr<const IlpSemantics>();
  auto doc = readJsonFile(main);
  if (!doc.isOk()) return doc.status();
  auto s = std::make_shared<IlpSemantics>();
  Reader read(main.string());
  const Value& root = doc.value();
  if (const Value* k = json::member(root, "klaster")) {
    s->klaster_system = read.text(*k, "system", "klaster");
    s->poli_system = read.text(*k, "poli_system", "klaster");
    s->poli_map = read.text(*k, "concept_map", "klaster");
    if (const Value* d = json::member(*k, "displays"); d != nullptr && d->IsObject()) {
      for (const auto& m : d->GetObject()) {
        if (m.value.IsString()) s->klaster_displays[m.name.GetString()] = m.value.GetString();
      }
    }
  } else {
    read.fail("missing object \"klaster\"");
  }
  if (const Value* i = json::member(root, "interpretation")) {
    s->interpretation_system = read.text(*i, "system", "interpretation");
    if (const Value* d = json::member(*i, "displays"); d != nullptr && d->IsObject()) {
      for (const auto& m : d->GetObject()) {
        if (m.value.IsString()) s->interpretation_displays[m.name.GetString()] = m.value.GetString();
      }
    }
    const Value* rules = array(*i, "rules");
    if (rules == nullptr) read.fail("interpretation.rules must be an array");
    for (rapidjson::SizeType n = 0; rules != nullptr && n < rules->Size(); ++n) {
      const Value& r = (*rules)[n];
      std::string where = "interpretation.rules[" + std::to_string(n) + "]";
      IlpSemantics::Rule rule;
      if (const Value* code = json::member(r, "code")) {
        rule.system = read.text(*code, "system", where + ".code");
        rule.code = read.text(*code, "code", where + ".code");
      } else {
        read.fail(where + ".code is required");
      }
      rule.result = read.text(r, "result", where);
      if (!rule.result.empty() && !s->interpretation_displays.count(rule.result)) {
        read.fail(where + ".result \"" + rule.result + "\" is not in interpretation.displays");
      }
      if (const Value* g = json::member(r, "gender")) rule.gender = g->IsString() ? g->GetString() : "";
      if (const Value* stages = array(r, "stages")) {
        for (const auto& st : stages->GetArray()) {
          if (st.IsString()) rule.stages.emplace_back(st.GetString());
        }
      }
      if (const Value* any = array(r, "any")) {
        for (rapidjson::SizeType t = 0; t < any->Size(); ++t) {
          IlpSemantics::Test test;
          std::string at = where + ".any[" + std::to_string(t) + "]";
          if (const Value* c = json::member((*any)[t], "component")) test.component = c->IsString() ? c->GetString() : "";
          test.min = read.number((*any)[t], "min", at);
          test.max = read.number((*any)[t], "max", at);
          if (!test.min && !test.max) read.fail(at + " needs min or max");
          rule.any.push_back(std::move(test));
        }
      }
      s->rules.push_back(std::move(rule));
    }
  }
  std::string stages_file = std::string(json::string(root, "life_cycle_stages"));
  if (!stages_file.empty()) {
    auto stages = readJsonFile(fs::path(mappings_dir) / stages_file);
    if (!stages.isOk()) return stages.status();
    Reader sr((fs::path(mappings_dir) / stages_file).string());
    s->stage_system = sr.text(stages.value(), "system", "");
    for (const char* key : {"stages", "explicit_only"}) {
      const Value* list = array(stages.value(), key);
      if (list == nullptr) continue;
      for (rapidjson::SizeType n = 0; n < list->Size(); ++n) {
        std::string where = std::string(key) + "[" + std::to_string(n) + "]";
        IlpSemantics::Stage stage;
        stage.code = sr.text((*list)[n], "code", where);
        stage.display = sr.text((*list)[n], "display", where);
        stage.klaster = sr.text((*list)[n], "klaster", where);
        if (std::string(key) == "stages") {
          stage.from_months = static_cast<int>(sr.number((*list)[n], "from_months", where).value_or(0));
          stage.to_months = static_cast<int>(sr.number((*list)[n], "to_months", where).value_or(-1));
          s->stages.push_back(std::move(stage));
        } else {
          s->explicit_stages.push_back(std::move(stage));
        }
      }
    }
    if (!sr.error().empty()) return Status(StatusCode::kInvalidArgument, sr.error());
  }
  std::string icd_file = std::string(json::string(root, "icd10"));
  if (!icd_file.empty()) {
    auto icd = readJsonFile(fs::path(mappings_dir) / icd_file);
    if (!icd.isOk()) return icd.status();
    Reader ir((fs::path(mappings_dir) / icd_file).string());
    s->icd10_system = ir.text(icd.value(), "system", "");
    if (const Value* chapters = array(icd.value(), "chapters")) {
      for (const auto& chapter : chapters->GetArray()) {
        const Value* blocks = array(chapter, "blocks");
        if (blocks == nullptr) continue;
        for (const auto& b : blocks->GetArray()) {
          std::string block = b.IsString() ? b.GetString() : "";
          if (block.size() != 7 || block[3] != '-') {
            ir.fail("block \"" + block + "\" is not of the form A00-A09");
            continue;
          }
          s->icd10_blocks.emplace_back(block.substr(0, 3), block.substr(4, 3));
        }
      }
    }
    if (!ir.error().empty()) return Status(StatusCode::kInvalidArgument, ir.error());
  }
  if (!read.error().empty()) return Status(StatusCode::kInvalidArgument, read.error());
  return std::shared_ptr<const IlpSemantics>(std::move(s));
}

void applyIlpSemantics(const IlpSemantics& semantics, const Terminology& terminology, sdk::MapResult& result,
                       std::vector<std::vector<rapidjson::Document>>* parsed) {
  if (parsed != nullptr) {
    parsed->clear();
    parsed->resize(result.records.size());
  }
  for (size_t r = 0; r < result.records.size(); ++r) {
    auto& record = result.records[r];
    bool refused = std::any_of(record.issues.begin(), record.issues.end(), [](const sdk::Issue& i) {
      return i.severity == sdk::Severity::kError || i.severity == sdk::Severity::kFatal;
    });
    if (refused) continue;
    RecordSemantics(semantics, terminology, record).apply(parsed != nullptr ? &(*parsed)[r] : nullptr);
  }
}

}  // namespace ilpgw
