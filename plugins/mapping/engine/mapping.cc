#include "mapping.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "csv.h"
#include "ilpgw/sdk/identifiers.h"
#include "ilpgw/sdk/ucum.h"
#include "ilpgw/sdk/values.h"
#include "json_pointer_lines.h"

namespace ilpgw::plugins::mapping {

using namespace ilpgw::sdk::values;

// ===========================================================================
// Compiled form
// ===========================================================================

enum class FieldType {
  kString, kDecimal, kInteger, kBoolean, kDate, kDateTime, kSex, kNik, kDigits, kEnum, kCode, kIcd10,
  kBloodPressure, kBmi, kCount, kVillageCode,
};

struct TypeInfo {
  std::string_view name;
  FieldType type;
  std::vector<std::string_view> keys;   // type-specific keys allowed on the field
  std::vector<std::string_view> parts;  // sub-values a template may name: {{bp.systolic}}
  bool derived;                         // computed from other fields, no path
};

const std::vector<TypeInfo>& typeTable() {
  static const std::vector<TypeInfo> kTypes = {
      {"string", FieldType::kString, {"case"}, {}, false},
      {"decimal", FieldType::kDecimal, {"min", "max"}, {}, false},
      {"integer", FieldType::kInteger, {"min", "max"}, {}, false},
      {"boolean", FieldType::kBoolean, {}, {}, false},
      {"date", FieldType::kDate, {"layouts", "not_after"}, {"compact"}, false},
      {"datetime", FieldType::kDateTime, {"layouts"}, {"date", "compact"}, false},
      {"sex", FieldType::kSex, {}, {"code"}, false},
      {"nik", FieldType::kNik, {"nik_birth_date", "nik_sex"}, {}, false},
      {"digits", FieldType::kDigits, {"length", "min_length", "max_length"}, {}, false},
      {"enum", FieldType::kEnum, {"values"}, {}, false},
      {"code", FieldType::kCode, {"concept_map", "unknown", "dose_suffix", "ucum"}, {"code", "system", "display", "text", "dose"},
       false},
      {"icd10", FieldType::kIcd10, {}, {"category"}, false},
      {"blood-pressure", FieldType::kBloodPressure, {}, {"systolic", "diastolic"}, false},
      {"village-code", FieldType::kVillageCode, {}, {"province", "city", "district"}, false},
      {"bmi", FieldType::kBmi, {"from"}, {}, true},
      {"count", FieldType::kCount, {"from"}, {}, true},
  };
  return kTypes;
}

const TypeInfo* findType(std::string_view name) {
  for (const auto& t : typeTable()) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

const TypeInfo& typeInfo(FieldType type) {
  for (const auto& t : typeTable()) {
    if (t.type == type) return t;
  }
  return typeTable().front();
}

enum class Unknown { kError, kWarning, kText, kIgnore };

struct FieldSpec {
  std::string name;
  std::string path;  // as written, for messages
  std::vector<std::string> path_parts;
  bool from_root = false;  // JSON: "$.posyandu.nama"
  FieldType type = FieldType::kString;
  bool required = false;
  bool invalid_is_warning = false;
  std::vector<std::string> layouts;
  std::string concept_map;
  Unknown unknown = Unknown::kError;
  bool dose_suffix = false;
  bool ucum = false;  // a code already valid UCUM needs no ConceptMap entry
  std::map<std::string, std::string> values;  // enum: upper-cased input -> output
  std::string case_mode;
  int length = 0, min_length = 0, max_length = 0;
  std::optional<double> min, max;
  std::vector<std::string> from;
  std::string nik_birth_date, nik_sex, not_after;
  std::string expression;
  std::optional<std::string> constant;  // "value": a fixed input instead of a path
};

struct Placeholder {
  enum class Kind { kField, kGroupField, kBuiltin, kId, kRef, kKey } kind = Kind::kField;
  std::string name;   // field, group, builtin or resource name
  std::string field;  // group field
  std::string part;
};

struct Segment {
  std::string literal;
  std::optional<Placeholder> placeholder;
};
using Template = std::vector<Segment>;

struct Condition {
  enum class Op { kPresent, kAbsent, kEquals, kIn, kAll, kAny, kNot } op = Op::kPresent;
  std::vector<Placeholder> refs;
  std::vector<std::string> values;  // lower-cased
  std::vector<Condition> children;
};

// An object node's member, key and value (std::pair<std::string, Node> inside
// Node is rejected by clang with libstdc++: Node is incomplete there).
struct NodeMember;

struct Node {
  enum class Kind { kObject, kArray, kTemplate, kLiteral, kForeach } kind = Kind::kLiteral;
  std::vector<NodeMember> members;
  std::vector<Node> items;  // array items; kForeach: the one item template
  Template text;
  std::string literal;  // JSON text of a number, boolean or null
  std::optional<Condition> when;
  std::string foreach;  // group name
};

struct NodeMember {
  std::string first;
  Node second;
};

struct RepeatSpec {
  std::string name;
  std::vector<int> numbers;  // numbered columns: icd10_{n}
  std::string array_path;
  std::vector<std::string> array_parts;
  bool array_from_root = false;
  std::vector<FieldSpec> fields;
};

struct ResourceSpec {
  std::string name;
  std::string type;
  std::vector<Template> id_keys;
  std::optional<Condition> when;
  std::string foreach;
  Node body;
};

struct Mapping {
  std::string file_name;
  std::string name, version, description;
  bool csv = true;
  char separator = 0;
  bool decimal_comma = true;
  std::vector<std::string> records_parts;
  std::string records_path;
  std::string locator = "record";
  Template source_key;
  std::vector<std::string> media_types;
  std::vector<FieldSpec> fields;
  std::vector<RepeatSpec> repeats;
  std::vector<ResourceSpec> resources;
  std::map<std::string, std::string> expressions;  // field (or group.field) -> first FHIR path using it
  std::shared_ptr<const UcumUnits> ucum;  // loaded when a field says "ucum": true
};

std::string mappingName(const Mapping& m) { return m.name; }
std::string mappingVersion(const Mapping& m) { return m.version; }
std::string mappingDescription(const Mapping& m) { return m.description; }
std::vector<std::string> mappingMediaTypes(const Mapping& m) { return m.media_types; }

namespace {

constexpr unsigned kPayloadParseFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseNumbersAsStringsFlag |
                                        rapidjson::kParseValidateEncodingFlag;

std::vector<std::string> splitPath(std::string_view path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t dot = path.find('.', start);
    if (dot == std::string_view::npos) dot = path.size();
    parts.emplace_back(path.substr(start, dot - start));
    start = dot + 1;
  }
  return parts;
}

std::string jsonEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('"');
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
          out += buffer;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
  return out;
}

// ===========================================================================
// Compiler: validates the file and builds the compiled form
// ===========================================================================

class Compiler {
 public:
  Compiler(std::string_view text, std::string file_name, std::string ucum_table)
      : text_(text), lines_(text), ucum_table_(std::move(ucum_table)) {
    mapping_.file_name = std::move(file_name);
    if (ucum_table_.empty()) {
      ucum_table_ = (std::filesystem::path(mapping_.file_name).parent_path() / "ucum-units.json").string();
    }
  }

  CompiledMapping run() {
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag>(text_.data(), text_.size());
    if (doc.HasParseError()) {
      errors_.push_back(mapping_.file_name + ":" +
                        std::to_string(JsonPointerLines::lineOfOffset(text_, doc.GetErrorOffset())) +
                        ": not valid JSON: " + rapidjson::GetParseError_En(doc.GetParseError()));
      return finish();
    }
    if (!doc.IsObject()) {
      error("", "a mapping file is a JSON object");
      return finish();
    }
    compileTop(doc);
    return finish();
  }

 private:
  // ---- messages -----------------------------------------------------------

  void error(const std::string& pointer, const std::string& message) {
    errors_.push_back(mapping_.file_name + ":" + std::to_string(lines_.line(pointer)) + ": " +
                      (pointer.empty() ? "" : "at " + pointer + ": ") + message);
  }

  CompiledMapping finish() {
    CompiledMapping out;
    if (errors_.empty()) {
      out.mapping = std::make_shared<const Mapping>(std::move(mapping_));
    } else {
      // Report in file order: a person fixes them top to bottom.
      std::stable_sort(errors_.begin(), errors_.end(), [this](const std::string& a, const std::string& b) {
        return lineOf(a) < lineOf(b);
      });
      out.errors = std::move(errors_);
    }
    return out;
  }

  int lineOf(const std::string& message) const {
    std::size_t colon = message.find(':', mapping_.file_name.size());
    if (colon == std::string::npos) return 0;
    return std::atoi(message.c_str() + colon + 1);
  }

  // Rejects keys not in `allowed`, naming the key and what is allowed.
  bool checkKeys(const rapidjson::Value& object, const std::string& pointer, const std::string& what,
                 const std::vector<std::string_view>& allowed) {
    bool ok = true;
    for (const auto& m : object.GetObject()) {
      std::string_view key(m.name.GetString(), m.name.GetStringLength());
      if (key == "comment") continue;
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::string list;
        for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        error(pointer + "/" + pointerToken(key),
              "unknown key \"" + std::string(key) + "\" in " + what + " (allowed: " + list + ", comment)");
        ok = false;
      }
    }
    return ok;
  }

  std::optional<std::string> stringMember(const rapidjson::Value& object, const char* key, const std::string& pointer,
                                          bool required) {
    auto it = object.FindMember(key);
    if (it == object.MemberEnd()) {
      if (required) error(pointer, "missing required key \"" + std::string(key) + "\"");
      return std::nullopt;
    }
    if (!it->value.IsString()) {
      error(pointer + "/" + key, "\"" + std::string(key) + "\" must be a string");
      return std::nullopt;
    }
    return std::string(it->value.GetString(), it->value.GetStringLength());
  }

  // ---- top level ----------------------------------------------------------

  void compileTop(const rapidjson::Value& doc) {
    checkKeys(doc, "", "the mapping file",
              {"$schema", "mapping", "version", "description", "input", "fields", "repeats", "resources"});
    mapping_.name = stringMember(doc, "mapping", "", true).value_or("");
    mapping_.version = stringMember(doc, "version", "", false).value_or("1.0.0");
    mapping_.description = stringMember(doc, "description", "", false).value_or("");
    auto input = doc.FindMember("input");
    if (input == doc.MemberEnd() || !input->value.IsObject()) {
      error("", "missing required object \"input\"");
    } else {
      compileInput(input->value, "/input");
    }
    auto fields = doc.FindMember("fields");
    if (fields != doc.MemberEnd()) {
      if (!fields->value.IsObject()) {
        error("/fields", "\"fields\" must be an object of field name -> field");
      } else {
        for (const auto& m : fields->value.GetObject()) {
          std::string name = m.name.GetString();
          compileField(m.value, "/fields/" + pointerToken(name), name, false, mapping_.fields);
        }
      }
    }
    auto repeats = doc.FindMember("repeats");
    if (repeats != doc.MemberEnd()) {
      if (!repeats->value.IsObject()) {
        error("/repeats", "\"repeats\" must be an object of group name -> repeat");
      } else {
        for (const auto& m : repeats->value.GetObject()) compileRepeat(m.value, m.name.GetString());
      }
    }
    checkDerivedFields(mapping_.fields, "/fields", nullptr);
    for (auto& repeat : mapping_.repeats) {
      checkDerivedFields(repeat.fields, "/repeats/" + pointerToken(repeat.name) + "/fields", &repeat);
    }
    auto resources = doc.FindMember("resources");
    if (resources == doc.MemberEnd() || !resources->value.IsArray() || resources->value.Empty()) {
      error("", "\"resources\" must be a non-empty array");
    } else {
      // Names first, so a template may refer to any resource.
      for (rapidjson::SizeType i = 0; i < resources->value.Size(); ++i) {
        const auto& r = resources->value[i];
        if (!r.IsObject()) continue;
        auto name = r.FindMember("name");
        if (name != r.MemberEnd() && name->value.IsString()) {
          std::string n = name->value.GetString();
          if (!resource_names_.insert(n).second) {
            error("/resources/" + std::to_string(i) + "/name", "resource name \"" + n + "\" is used twice");
          }
          resource_foreach_[n] = "";
          auto fe = r.FindMember("foreach");
          if (fe != r.MemberEnd() && fe->value.IsString()) resource_foreach_[n] = fe->value.GetString();
        }
      }
      for (rapidjson::SizeType i = 0; i < resources->value.Size(); ++i) {
        compileResource(resources->value[i], "/resources/" + std::to_string(i));
      }
    }
    if (!mapping_.source_key.empty()) checkTemplate(mapping_.source_key, "/input/source_key", "");
  }

  void compileInput(const rapidjson::Value& input, const std::string& pointer) {
    checkKeys(input, pointer, "input",
              {"format", "media_types", "separator", "decimal_comma", "records", "locator", "source_key"});
    auto format = stringMember(input, "format", pointer, true);
    if (format && *format != "csv" && *format != "json") {
      error(pointer + "/format", "format must be \"csv\" or \"json\"");
    }
    mapping_.csv = !format || *format == "csv";
    mapping_.locator = mapping_.csv ? "row" : "record";
    if (auto separator = stringMember(input, "separator", pointer, false)) {
      if (*separator == "auto") mapping_.separator = 0;
      else if (*separator == "," || *separator == ";") mapping_.separator = (*separator)[0];
      else if (*separator == "\t" || *separator == "tab") mapping_.separator = '\t';
      else error(pointer + "/separator", "separator must be \"auto\", \",\", \";\" or \"tab\"");
      if (!mapping_.csv) error(pointer + "/separator", "separator applies to csv input only");
    }
    auto dc = input.FindMember("decimal_comma");
    if (dc != input.MemberEnd()) {
      if (!dc->value.IsBool()) error(pointer + "/decimal_comma", "decimal_comma must be true or false");
      else mapping_.decimal_comma = dc->value.GetBool();
    }
    if (auto records = stringMember(input, "records", pointer, false)) {
      if (mapping_.csv) error(pointer + "/records", "records applies to json input only");
      mapping_.records_path = *records;
      if (!records->empty() && *records != ".") mapping_.records_parts = splitPath(*records);
    }
    if (auto locator = stringMember(input, "locator", pointer, false)) {
      if (mapping_.csv) error(pointer + "/locator", "csv records are always located as \"row N\"");
      else if (locator->empty()) error(pointer + "/locator", "locator must not be empty");
      else mapping_.locator = *locator;
    } else if (!mapping_.csv && !mapping_.records_parts.empty()) {
      mapping_.locator = mapping_.records_path;
    }
    if (auto key = stringMember(input, "source_key", pointer, false)) {
      mapping_.source_key = parseTemplate(*key, pointer + "/source_key");
    }
    auto media = input.FindMember("media_types");
    if (media != input.MemberEnd()) {
      if (!media->value.IsArray()) {
        error(pointer + "/media_types", "media_types must be an array of strings");
      } else {
        for (const auto& v : media->value.GetArray()) {
          if (v.IsString()) mapping_.media_types.emplace_back(v.GetString());
          else error(pointer + "/media_types", "media_types must be an array of strings");
        }
      }
    }
    if (mapping_.media_types.empty()) {
      mapping_.media_types = mapping_.csv ? std::vector<std::string>{"text/csv", "text/plain"}
                                          : std::vector<std::string>{"application/json"};
    }
  }

  // ---- fields ---------------------------------------------------------------

  void compileField(const rapidjson::Value& value, const std::string& pointer, const std::string& name,
                    bool in_repeat, std::vector<FieldSpec>& out) {
    if (!isName(name)) {
      error(pointer, "field name \"" + name + "\" must be letters, digits and _ (it is used as {{" + name + "}})");
    }
    if (!value.IsObject()) {
      error(pointer, "a field is an object with at least \"type\"");
      return;
    }
    FieldSpec field;
    field.name = name;
    auto type_name = stringMember(value, "type", pointer, true);
    const TypeInfo* type = type_name ? findType(*type_name) : nullptr;
    if (type_name && type == nullptr) {
      std::string list;
      for (const auto& t : typeTable()) list += (list.empty() ? "" : ", ") + std::string(t.name);
      error(pointer + "/type", "unknown type \"" + *type_name + "\" (known: " + list + ")");
    }
    std::vector<std::string_view> allowed = {"type", "required", "invalid", "expression", "description"};
    if (type == nullptr || !type->derived) {
      allowed.push_back("path");
      allowed.push_back("value");
    }
    if (type != nullptr) allowed.insert(allowed.end(), type->keys.begin(), type->keys.end());
    checkKeys(value, pointer, "a field of type " + type_name.value_or("?"), allowed);
    if (type == nullptr) return;
    field.type = type->type;
    if (!type->derived && value.HasMember("value")) {
      // A fixed input: looks a constant up like data ("tbc" in the skrining map).
      field.constant = stringMember(value, "value", pointer, true);
      if (value.HasMember("path")) error(pointer, "a field takes \"path\" or \"value\", not both");
      field.path = "(value)";
    } else if (!type->derived) {
      auto path = stringMember(value, "path", pointer, true);
      if (path) {
        field.path = *path;
        if (mapping_.csv) {
          field.path = toLower(trim(*path));
          if (field.path.empty()) error(pointer + "/path", "path (the column name) must not be empty");
        } else if (*path == ".") {
          if (!in_repeat) error(pointer + "/path", "path \".\" (the element itself) is for fields of an array repeat");
        } else {
          std::string p = *path;
          if (p.rfind("$.", 0) == 0) {
            field.from_root = true;
            p = p.substr(2);
          }
          field.path_parts = splitPath(p);
          for (const auto& part : field.path_parts) {
            if (part.empty()) error(pointer + "/path", "path \"" + *path + "\" has an empty step");
          }
        }
      }
    }
    auto required = value.FindMember("required");
    if (required != value.MemberEnd()) {
      if (!required->value.IsBool()) error(pointer + "/required", "required must be true or false");
      else field.required = required->value.GetBool();
    }
    if (auto invalid = stringMember(value, "invalid", pointer, false)) {
      if (*invalid == "warning") field.invalid_is_warning = true;
      else if (*invalid != "error") error(pointer + "/invalid", "invalid must be \"error\" or \"warning\"");
    }
    field.expression = stringMember(value, "expression", pointer, false).value_or("");
    auto layouts = value.FindMember("layouts");
    if (layouts != value.MemberEnd()) {
      if (!layouts->value.IsArray() || layouts->value.Empty()) {
        error(pointer + "/layouts", "layouts must be a non-empty array such as [\"dd-mm-yyyy\", \"dd/mm/yyyy\"]");
      } else {
        for (rapidjson::SizeType i = 0; i < layouts->value.Size(); ++i) {
          const auto& l = layouts->value[i];
          if (!l.IsString() || !isValidLayout(l.GetString())) {
            error(pointer + "/layouts/" + std::to_string(i),
                  "a layout uses dd, mm, yyyy (and HH, MM, SS) or is \"iso\"");
          } else {
            field.layouts.emplace_back(l.GetString());
          }
        }
      }
    }
    if (field.layouts.empty()) {
      if (field.type == FieldType::kDate) field.layouts = {"dd-mm-yyyy", "dd/mm/yyyy", "iso"};
      if (field.type == FieldType::kDateTime) {
        field.layouts = {"dd-mm-yyyy HH:MM", "dd/mm/yyyy HH:MM", "dd-mm-yyyy HH:MM:SS", "dd/mm/yyyy HH:MM:SS", "iso"};
      }
    }
    if (field.type == FieldType::kCode) {
      field.concept_map = stringMember(value, "concept_map", pointer, true).value_or("");
      if (auto unknown = stringMember(value, "unknown", pointer, false)) {
        if (*unknown == "warning") field.unknown = Unknown::kWarning;
        else if (*unknown == "text") field.unknown = Unknown::kText;
        else if (*unknown == "ignore") field.unknown = Unknown::kIgnore;
        else if (*unknown != "error") {
          error(pointer + "/unknown", "unknown must be \"error\", \"warning\", \"text\" or \"ignore\"");
        }
      }
      auto dose = value.FindMember("dose_suffix");
      if (dose != value.MemberEnd()) {
        if (!dose->value.IsBool()) error(pointer + "/dose_suffix", "dose_suffix must be true or false");
        else field.dose_suffix = dose->value.GetBool();
      }
      auto ucum = value.FindMember("ucum");
      if (ucum != value.MemberEnd()) {
        if (!ucum->value.IsBool()) error(pointer + "/ucum", "ucum must be true or false");
        else field.ucum = ucum->value.GetBool();
      }
      if (field.ucum && !mapping_.ucum) {
        std::string why;
        if (auto table = UcumUnits::load(ucum_table_, why)) {
          mapping_.ucum = std::make_shared<const UcumUnits>(std::move(*table));
        } else {
          error(pointer + "/ucum", "the UCUM table is needed and unreadable: " + why);
        }
      }
    }
    if (field.type == FieldType::kEnum) {
      auto values = value.FindMember("values");
      if (values == value.MemberEnd() || !values->value.IsObject() || values->value.ObjectEmpty()) {
        error(pointer + "/values", "an enum needs \"values\": an object of input -> output strings");
      } else {
        for (const auto& v : values->value.GetObject()) {
          if (!v.value.IsString()) {
            error(pointer + "/values/" + pointerToken(v.name.GetString()), "enum outputs must be strings");
          } else {
            field.values[toUpper(trim(v.name.GetString()))] = v.value.GetString();
          }
        }
      }
    }
    if (auto c = stringMember(value, "case", pointer, false)) {
      if (*c != "upper" && *c != "lower" && *c != "name") {
        error(pointer + "/case", "case must be \"upper\", \"lower\" or \"name\"");
      }
      field.case_mode = *c;
    }
    for (auto [key, target] : {std::pair{"length", &field.length}, std::pair{"min_length", &field.min_length},
                               std::pair{"max_length", &field.max_length}}) {
      auto it = value.FindMember(key);
      if (it == value.MemberEnd()) continue;
      if (!it->value.IsInt() || it->value.GetInt() < 1) error(pointer + "/" + key, std::string(key) + " must be a positive integer");
      else *target = it->value.GetInt();
    }
    for (auto [key, target] : {std::pair{"min", &field.min}, std::pair{"max", &field.max}}) {
      auto it = value.FindMember(key);
      if (it == value.MemberEnd()) continue;
      if (!it->value.IsNumber()) error(pointer + "/" + key, std::string(key) + " must be a number");
      else *target = it->value.GetDouble();
    }
    auto from = value.FindMember("from");
    if (type->derived) {
      if (from == value.MemberEnd()) {
        error(pointer, std::string("a ") + std::string(type->name) + " field needs \"from\"");
      } else if (from->value.IsString()) {
        field.from.emplace_back(from->value.GetString());
      } else if (from->value.IsArray()) {
        for (const auto& f : from->value.GetArray()) {
          if (f.IsString()) field.from.emplace_back(f.GetString());
        }
      }
      std::size_t want = field.type == FieldType::kBmi ? 2 : 1;
      if (field.from.size() != want) {
        error(pointer + "/from", field.type == FieldType::kBmi
                                     ? "a bmi field takes \"from\": [weight field (kg), height field (cm)]"
                                     : "a count field takes \"from\": the name of a repeat group");
      }
    }
    field.nik_birth_date = stringMember(value, "nik_birth_date", pointer, false).value_or("");
    field.nik_sex = stringMember(value, "nik_sex", pointer, false).value_or("");
    field.not_after = stringMember(value, "not_after", pointer, false).value_or("");
    field_pointers_[&out == &mapping_.fields ? name : current_repeat_ + "." + name] = pointer;
    out.push_back(std::move(field));
  }

  // References between fields (bmi from, count from, nik checks) are checked
  // once every field is known.
  void checkDerivedFields(const std::vector<FieldSpec>& fields, const std::string& base, const RepeatSpec* repeat) {
    auto known = [&](const std::string& name, FieldType want, bool any_type) {
      for (const std::vector<FieldSpec>* list : std::initializer_list<const std::vector<FieldSpec>*>{&fields, &mapping_.fields}) {
        for (const auto& f : *list) {
          if (f.name == name) return any_type || f.type == want;
        }
      }
      return false;
    };
    for (const auto& f : fields) {
      std::string pointer = base + "/" + pointerToken(f.name);
      if (f.type == FieldType::kBmi) {
        for (const auto& from : f.from) {
          if (!known(from, FieldType::kDecimal, false)) {
            error(pointer + "/from", "bmi input \"" + from + "\" is not a decimal field");
          }
        }
      }
      if (f.type == FieldType::kCount && !f.from.empty()) {
        bool found = false;
        for (const auto& r : mapping_.repeats) found = found || r.name == f.from[0];
        if (!found) error(pointer + "/from", "\"" + f.from[0] + "\" is not a repeat group");
      }
      if (!f.nik_birth_date.empty() && !known(f.nik_birth_date, FieldType::kDate, false)) {
        error(pointer + "/nik_birth_date", "\"" + f.nik_birth_date + "\" is not a date field");
      }
      if (!f.nik_sex.empty() && !known(f.nik_sex, FieldType::kSex, false)) {
        error(pointer + "/nik_sex", "\"" + f.nik_sex + "\" is not a sex field");
      }
      if (!f.not_after.empty() && !known(f.not_after, FieldType::kDateTime, true)) {
        error(pointer + "/not_after", "\"" + f.not_after + "\" is not a field");
      }
    }
    (void)repeat;
  }

  void compileRepeat(const rapidjson::Value& value, const std::string& name) {
    std::string pointer = "/repeats/" + pointerToken(name);
    if (!isName(name)) error(pointer, "group name \"" + name + "\" must be letters, digits and _");
    for (const auto& f : mapping_.fields) {
      if (f.name == name) error(pointer, "\"" + name + "\" is both a field and a repeat group");
    }
    if (!value.IsObject()) {
      error(pointer, "a repeat is an object with \"numbered\" or \"array\", and \"fields\"");
      return;
    }
    checkKeys(value, pointer, "a repeat", {"numbered", "array", "fields"});
    RepeatSpec repeat;
    repeat.name = name;
    auto numbered = value.FindMember("numbered");
    auto array = value.FindMember("array");
    if ((numbered == value.MemberEnd()) == (array == value.MemberEnd())) {
      error(pointer, "a repeat takes exactly one of \"numbered\" (csv: [1, 2, 3] for icd10_{n}) and \"array\" (json)");
    }
    if (numbered != value.MemberEnd()) {
      if (!numbered->value.IsArray() || numbered->value.Empty()) {
        error(pointer + "/numbered", "numbered must be a non-empty array of integers");
      } else {
        for (const auto& n : numbered->value.GetArray()) {
          if (n.IsInt()) repeat.numbers.push_back(n.GetInt());
          else error(pointer + "/numbered", "numbered must be a non-empty array of integers");
        }
      }
    }
    if (array != value.MemberEnd()) {
      if (mapping_.csv) error(pointer + "/array", "csv input repeats numbered columns: use \"numbered\"");
      if (!array->value.IsString() || array->value.GetStringLength() == 0) {
        error(pointer + "/array", "array must be the path of a JSON array");
      } else {
        std::string p = array->value.GetString();
        repeat.array_path = p;
        if (p.rfind("$.", 0) == 0) {
          repeat.array_from_root = true;
          p = p.substr(2);
        }
        repeat.array_parts = splitPath(p);
      }
    }
    auto fields = value.FindMember("fields");
    if (fields == value.MemberEnd() || !fields->value.IsObject() || fields->value.ObjectEmpty()) {
      error(pointer + "/fields", "a repeat needs \"fields\"");
    } else {
      current_repeat_ = name;
      for (const auto& m : fields->value.GetObject()) {
        std::string field_name = m.name.GetString();
        compileField(m.value, pointer + "/fields/" + pointerToken(field_name), field_name, true, repeat.fields);
      }
      current_repeat_.clear();
    }
    if (!repeat.numbers.empty()) {
      for (const auto& f : repeat.fields) {
        if (!f.path.empty() && f.path.find("{n}") == std::string::npos) {
          error(pointer + "/fields/" + pointerToken(f.name) + "/path",
                "a numbered repeat's column names hold {n}, as in icd10_{n}");
        }
      }
    }
    mapping_.repeats.push_back(std::move(repeat));
  }

  static bool isName(std::string_view name) {
    if (name.empty()) return false;
    for (char c : name) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
    }
    return true;
  }

  // ---- templates and placeholders ---------------------------------------------

  Template parseTemplate(const std::string& text, const std::string& pointer) {
    Template out;
    std::size_t pos = 0;
    while (pos < text.size()) {
      std::size_t open = text.find("{{", pos);
      if (open == std::string::npos) {
        out.push_back({text.substr(pos), std::nullopt});
        break;
      }
      if (open > pos) out.push_back({text.substr(pos, open - pos), std::nullopt});
      std::size_t close = text.find("}}", open + 2);
      if (close == std::string::npos) {
        error(pointer, "\"{{\" without a closing \"}}\" in \"" + text + "\"");
        break;
      }
      std::string inner(trim(std::string_view(text).substr(open + 2, close - open - 2)));
      out.push_back({"", parsePlaceholder(inner)});
      pos = close + 2;
    }
    return out;
  }

  Placeholder parsePlaceholder(const std::string& inner) {
    Placeholder p;
    std::size_t colon = inner.find(':');
    if (colon != std::string::npos) {
      std::string kind = inner.substr(0, colon);
      p.name = inner.substr(colon + 1);
      p.kind = kind == "id" ? Placeholder::Kind::kId : kind == "ref" ? Placeholder::Kind::kRef
               : kind == "key" ? Placeholder::Kind::kKey : Placeholder::Kind::kBuiltin;
      if (p.kind == Placeholder::Kind::kBuiltin) p.name = "?" + inner;  // rejected by checkPlaceholder
      return p;
    }
    if (!inner.empty() && inner[0] == '$') {
      p.kind = Placeholder::Kind::kBuiltin;
      p.name = inner;
      return p;
    }
    auto parts = splitPath(inner);
    bool group = false;
    for (const auto& r : mapping_.repeats) group = group || r.name == parts[0];
    if (group && parts.size() >= 2) {
      p.kind = Placeholder::Kind::kGroupField;
      p.name = parts[0];
      p.field = parts[1];
      if (parts.size() >= 3) p.part = parts[2];
    } else {
      p.kind = Placeholder::Kind::kField;
      p.name = parts[0];
      if (parts.size() >= 2) p.part = parts[1];
      if (group) p.field = "\x01";  // a bare group name: only valid inside conditions
    }
    return p;
  }

  const FieldSpec* findField(const std::string& name) const {
    for (const auto& f : mapping_.fields) {
      if (f.name == name) return &f;
    }
    return nullptr;
  }
  const RepeatSpec* findRepeat(const std::string& name) const {
    for (const auto& r : mapping_.repeats) {
      if (r.name == name) return &r;
    }
    return nullptr;
  }

  // `group` is the repeat group in scope ("" outside any foreach).
  void checkPlaceholder(const Placeholder& p, const std::string& pointer, const std::string& group,
                        const std::string& fhir_path) {
    auto checkPart = [&](const FieldSpec& f) {
      if (p.part.empty()) return;
      const auto& parts = typeInfo(f.type).parts;
      if (std::find(parts.begin(), parts.end(), p.part) == parts.end()) {
        std::string list;
        for (auto a : parts) list += (list.empty() ? "" : ", ") + std::string(a);
        error(pointer, "field \"" + f.name + "\" (" + std::string(typeInfo(f.type).name) + ") has no part \"" + p.part +
                           "\"" + (list.empty() ? "" : " (parts: " + list + ")"));
      }
    };
    switch (p.kind) {
      case Placeholder::Kind::kBuiltin: {
        static const std::set<std::string> kBuiltins = {"$org", "$tz", "$record", "$row", "$n", "$item"};
        if (kBuiltins.count(p.name) == 0) {
          error(pointer, "unknown placeholder {{" + p.name + "}} (built-ins: $org, $tz, $record, $row, $n, $item; "
                         "resources: id:NAME, ref:NAME, key:NAME)");
        } else if ((p.name == "$n" || p.name == "$item") && group.empty()) {
          error(pointer, "{{" + p.name + "}} is only defined inside a foreach");
        } else if (p.name == "$row" && !mapping_.csv) {
          error(pointer, "{{$row}} is only defined for csv input");
        }
        break;
      }
      case Placeholder::Kind::kId:
      case Placeholder::Kind::kRef:
      case Placeholder::Kind::kKey: {
        auto it = resource_foreach_.find(p.name);
        if (it == resource_foreach_.end()) {
          error(pointer, "no resource named \"" + p.name + "\"");
        } else if (!it->second.empty() && it->second != group) {
          error(pointer, "resource \"" + p.name + "\" repeats over \"" + it->second +
                             "\": refer to it only inside a foreach over the same group");
        }
        break;
      }
      case Placeholder::Kind::kGroupField: {
        const RepeatSpec* r = findRepeat(p.name);
        const FieldSpec* f = nullptr;
        for (const auto& candidate : r->fields) {
          if (candidate.name == p.field) f = &candidate;
        }
        if (f == nullptr) {
          error(pointer, "repeat group \"" + p.name + "\" has no field \"" + p.field + "\"");
        } else {
          if (group != p.name) {
            error(pointer, "{{" + p.name + "." + p.field + "}} is only defined inside a foreach over \"" + p.name + "\"");
          }
          checkPart(*f);
          if (!fhir_path.empty()) mapping_.expressions.emplace(p.name + "." + p.field, fhir_path);
        }
        break;
      }
      case Placeholder::Kind::kField: {
        if (p.field == "\x01") {
          error(pointer, "\"" + p.name + "\" is a repeat group: name one of its fields, as in " + p.name + ".FIELD");
          break;
        }
        const FieldSpec* f = findField(p.name);
        if (f == nullptr) {
          error(pointer, "no field named \"" + p.name + "\"");
        } else {
          checkPart(*f);
          if (!fhir_path.empty()) mapping_.expressions.emplace(p.name, fhir_path);
        }
        break;
      }
    }
  }

  void checkTemplate(const Template& t, const std::string& pointer, const std::string& group,
                     const std::string& fhir_path = {}) {
    for (const auto& s : t) {
      if (s.placeholder) checkPlaceholder(*s.placeholder, pointer, group, fhir_path);
    }
  }

  // ---- conditions ----------------------------------------------------------------

  std::optional<Condition> compileCondition(const rapidjson::Value& value, const std::string& pointer,
                                            const std::string& group) {
    if (!value.IsObject() || value.MemberCount() != 1) {
      error(pointer, "a condition is an object with one of: present, absent, equals, in, all, any, not");
      return std::nullopt;
    }
    const auto& m = *value.MemberBegin();
    std::string op = m.name.GetString();
    std::string at = pointer + "/" + pointerToken(op);
    Condition c;
    auto ref = [&](const rapidjson::Value& v) -> bool {
      if (!v.IsString()) {
        error(at, "expected a field name");
        return false;
      }
      Placeholder p = parsePlaceholder(v.GetString());
      if (p.kind == Placeholder::Kind::kField && p.field == "\x01") {
        // A bare group name: present when the group has at least one item.
        if (group == p.name) error(at, "inside a foreach over \"" + p.name + "\" name one of its fields");
        p.kind = Placeholder::Kind::kGroupField;
        p.field.clear();
      } else {
        checkPlaceholder(p, at, group, "");
      }
      c.refs.push_back(std::move(p));
      return true;
    };
    if (op == "present" || op == "absent") {
      c.op = op == "present" ? Condition::Op::kPresent : Condition::Op::kAbsent;
      if (m.value.IsArray()) {
        for (const auto& v : m.value.GetArray()) ref(v);
      } else {
        ref(m.value);
      }
      if (c.refs.empty()) error(at, op + " needs a field name or a list of them");
    } else if (op == "equals" || op == "in") {
      c.op = op == "equals" ? Condition::Op::kEquals : Condition::Op::kIn;
      if (!m.value.IsObject()) {
        error(at, op == "equals" ? "equals takes {\"field\": NAME, \"value\": TEXT}"
                                 : "in takes {\"field\": NAME, \"values\": [TEXT, ...]}");
        return std::nullopt;
      }
      checkKeys(m.value, at, op, {"field", op == "equals" ? "value" : "values"});
      auto field = m.value.FindMember("field");
      if (field == m.value.MemberEnd()) error(at, "missing \"field\"");
      else ref(field->value);
      if (op == "equals") {
        auto v = m.value.FindMember("value");
        if (v == m.value.MemberEnd() || !v->value.IsString()) error(at, "equals needs a string \"value\"");
        else c.values.push_back(toLower(v->value.GetString()));
      } else {
        auto v = m.value.FindMember("values");
        if (v == m.value.MemberEnd() || !v->value.IsArray()) {
          error(at, "in needs \"values\": an array of strings");
        } else {
          for (const auto& s : v->value.GetArray()) {
            if (s.IsString()) c.values.push_back(toLower(s.GetString()));
          }
        }
      }
    } else if (op == "all" || op == "any") {
      c.op = op == "all" ? Condition::Op::kAll : Condition::Op::kAny;
      if (!m.value.IsArray() || m.value.Empty()) {
        error(at, op + " takes a non-empty array of conditions");
        return std::nullopt;
      }
      for (rapidjson::SizeType i = 0; i < m.value.Size(); ++i) {
        if (auto child = compileCondition(m.value[i], at + "/" + std::to_string(i), group)) {
          c.children.push_back(std::move(*child));
        }
      }
    } else if (op == "not") {
      c.op = Condition::Op::kNot;
      if (auto child = compileCondition(m.value, at, group)) c.children.push_back(std::move(*child));
    } else {
      error(at, "unknown condition \"" + op + "\" (known: present, absent, equals, in, all, any, not)");
      return std::nullopt;
    }
    return c;
  }

  // ---- resources and bodies ----------------------------------------------------------

  void compileResource(const rapidjson::Value& value, const std::string& pointer) {
    if (!value.IsObject()) {
      error(pointer, "a resource is an object with name, resourceType, id and body");
      return;
    }
    checkKeys(value, pointer, "a resource", {"name", "resourceType", "id", "when", "foreach", "body"});
    ResourceSpec r;
    r.name = stringMember(value, "name", pointer, true).value_or("");
    r.type = stringMember(value, "resourceType", pointer, true).value_or("");
    if (!r.type.empty() && !std::isupper(static_cast<unsigned char>(r.type[0]))) {
      error(pointer + "/resourceType", "resourceType is a FHIR type name such as Patient");
    }
    r.foreach = stringMember(value, "foreach", pointer, false).value_or("");
    if (!r.foreach.empty() && findRepeat(r.foreach) == nullptr) {
      error(pointer + "/foreach", "\"" + r.foreach + "\" is not a repeat group");
    }
    auto id = value.FindMember("id");
    if (id == value.MemberEnd()) {
      error(pointer, "missing required key \"id\" (the business key(s) the resource id is derived from)");
    } else if (id->value.IsString()) {
      r.id_keys.push_back(parseTemplate(id->value.GetString(), pointer + "/id"));
    } else if (id->value.IsArray() && !id->value.Empty()) {
      for (rapidjson::SizeType i = 0; i < id->value.Size(); ++i) {
        if (id->value[i].IsString()) {
          r.id_keys.push_back(parseTemplate(id->value[i].GetString(), pointer + "/id/" + std::to_string(i)));
        } else {
          error(pointer + "/id/" + std::to_string(i), "an id key is a string template");
        }
      }
    } else {
      error(pointer + "/id", "id is a key template or a list of them (the first one fully present is used)");
    }
    for (std::size_t i = 0; i < r.id_keys.size(); ++i) {
      checkTemplate(r.id_keys[i], pointer + "/id", r.foreach);
      for (const auto& s : r.id_keys[i]) {
        if (s.placeholder && s.placeholder->kind != Placeholder::Kind::kField &&
            s.placeholder->kind != Placeholder::Kind::kGroupField && s.placeholder->kind != Placeholder::Kind::kBuiltin &&
            s.placeholder->kind != Placeholder::Kind::kKey) {
          error(pointer + "/id", "an id key may use fields, built-ins and key:NAME, not id: or ref:");
        }
        if (s.placeholder && s.placeholder->kind == Placeholder::Kind::kKey && !seen_resources_.count(s.placeholder->name)) {
          error(pointer + "/id", "key:" + s.placeholder->name + " must name a resource listed earlier");
        }
      }
    }
    auto when = value.FindMember("when");
    if (when != value.MemberEnd()) r.when = compileCondition(when->value, pointer + "/when", r.foreach);
    auto body = value.FindMember("body");
    if (body == value.MemberEnd() || !body->value.IsObject()) {
      error(pointer, "missing required object \"body\" (the resource's elements, without resourceType and id)");
    } else {
      for (const char* reserved : {"resourceType", "id"}) {
        if (body->value.HasMember(reserved)) {
          error(pointer + "/body/" + reserved, std::string("\"") + reserved +
                                                   "\" is set by the gateway, not the body");
        }
      }
      r.body = compileNode(body->value, pointer + "/body", r.foreach, r.type);
    }
    seen_resources_.insert(r.name);
    mapping_.resources.push_back(std::move(r));
  }

  Node compileNode(const rapidjson::Value& value, const std::string& pointer, const std::string& group,
                   const std::string& fhir_path) {
    Node node;
    if (value.IsString()) {
      node.kind = Node::Kind::kTemplate;
      node.text = parseTemplate(value.GetString(), pointer);
      checkTemplate(node.text, pointer, group, fhir_path);
    } else if (value.IsObject()) {
      if (value.HasMember("$foreach")) {
        error(pointer, "\"$foreach\" belongs in an array item: [{\"$foreach\": GROUP, \"$item\": {...}}]");
      }
      node.kind = Node::Kind::kObject;
      for (const auto& m : value.GetObject()) {
        std::string key = m.name.GetString();
        std::string at = pointer + "/" + pointerToken(key);
        if (key == "$when") {
          node.when = compileCondition(m.value, at, group);
        } else if (key == "comment") {
          continue;
        } else if (!key.empty() && key[0] == '$') {
          error(at, "unknown directive \"" + key + "\" (known: $when, and $foreach/$item in arrays)");
        } else {
          node.members.push_back({key, compileNode(m.value, at, group, fhir_path + "." + key)});
        }
      }
    } else if (value.IsArray()) {
      node.kind = Node::Kind::kArray;
      for (rapidjson::SizeType i = 0; i < value.Size(); ++i) {
        const auto& item = value[i];
        std::string at = pointer + "/" + std::to_string(i);
        if (item.IsObject() && item.HasMember("$foreach")) {
          node.items.push_back(compileForeach(item, at, group, fhir_path));
        } else {
          node.items.push_back(compileNode(item, at, group, fhir_path + "[" + std::to_string(i) + "]"));
        }
      }
    } else {
      node.kind = Node::Kind::kLiteral;
      if (value.IsBool()) node.literal = value.GetBool() ? "true" : "false";
      else if (value.IsNull()) node.literal = "null";
      else if (value.IsInt64()) node.literal = std::to_string(value.GetInt64());
      else if (value.IsUint64()) node.literal = std::to_string(value.GetUint64());
      else node.literal = formatDecimal(value.GetDouble(), 6);
      if (value.IsNull()) error(pointer, "null has no meaning in FHIR JSON: leave the element out");
    }
    return node;
  }

  Node compileForeach(const rapidjson::Value& item, const std::string& pointer, const std::string& group,
                      const std::string& fhir_path) {
    checkKeys(item, pointer, "a foreach item", {"$foreach", "$item", "$when"});
    Node node;
    node.kind = Node::Kind::kForeach;
    const auto& fe = item["$foreach"];
    if (!fe.IsString() || findRepeat(fe.GetString()) == nullptr) {
      error(pointer + "/$foreach", "$foreach names a repeat group");
      return node;
    }
    node.foreach = fe.GetString();
    if (!group.empty() && group != node.foreach) {
      error(pointer + "/$foreach", "a foreach inside a foreach over another group is not supported");
    }
    auto when = item.FindMember("$when");
    if (when != item.MemberEnd()) node.when = compileCondition(when->value, pointer + "/$when", node.foreach);
    auto body = item.FindMember("$item");
    if (body == item.MemberEnd()) {
      error(pointer, "a foreach item needs \"$item\": the template repeated for each element");
      return node;
    }
    node.items.push_back(compileNode(body->value, pointer + "/$item", node.foreach, fhir_path));
    return node;
  }

  std::string_view text_;
  JsonPointerLines lines_;
  std::string ucum_table_;
  Mapping mapping_;
  std::vector<std::string> errors_;
  std::set<std::string> resource_names_;
  std::set<std::string> seen_resources_;
  std::map<std::string, std::string> resource_foreach_;
  std::map<std::string, std::string> field_pointers_;
  std::string current_repeat_;
};

// ===========================================================================
// Runtime
// ===========================================================================

struct Value {
  enum class Kind { kText, kNumber, kBool } kind = Kind::kText;
  std::string text;
  std::map<std::string, std::string, std::less<>> parts;
};

struct Item {
  int n = 0;  // 1-based: the column number (icd10_2 -> 2) or array index + 1
  std::map<std::string, Value, std::less<>> values;
};

// Where one native record lives, and how to read a path from it.
struct RecordSource {
  // CSV
  const CsvRow* row = nullptr;
  const std::map<std::string, std::size_t, std::less<>>* columns = nullptr;
  // JSON
  const rapidjson::Value* record = nullptr;
  const rapidjson::Value* root = nullptr;
  std::string locator;
};

struct Raw {
  enum class State { kAbsent, kText, kBool, kWrongType } state = State::kAbsent;
  std::string text;
  bool boolean = false;
  std::string location;  // "row 3, column tgl_lahir" / "peserta[1].ukur.td"
  std::string column;
};

class RecordRun {
 public:
  RecordRun(const Mapping& mapping, const sdk::Context& context, const RecordSource& source, std::size_t index)
      : m_(mapping), context_(context), source_(source), index_(index) {
    record_.locator = source.locator;
  }

  sdk::Record run() {
    for (const auto& field : m_.fields) {
      if (typeInfo(field.type).derived) continue;
      evalField(field, values_, nullptr, -1, "");
    }
    for (const auto& repeat : m_.repeats) evalRepeat(repeat);
    for (const auto& field : m_.fields) {
      if (typeInfo(field.type).derived) evalDerived(field, values_, nullptr);
    }
    for (const auto& field : m_.fields) checkFieldRelations(field, values_, "");
    if (!m_.source_key.empty()) record_.source_key = render(m_.source_key).value_or("");
    computeIds();
    if (!has_error_) renderResources();
    return std::move(record_);
  }

 private:
  // ---- issues -----------------------------------------------------------------------

  void issue(sdk::Severity severity, std::string code, std::string location, std::string expression,
             std::string diagnostics) {
    sdk::Issue out;
    out.severity = severity;
    out.code = std::move(code);
    out.location = location.empty() ? record_.locator : std::move(location);
    out.expression = std::move(expression);
    out.diagnostics = std::move(diagnostics);
    if (severity == sdk::Severity::kError || severity == sdk::Severity::kFatal) has_error_ = true;
    record_.issues.push_back(std::move(out));
  }

  std::string expressionOf(const FieldSpec& field, const std::string& group) const {
    if (!field.expression.empty()) return field.expression;
    auto it = m_.expressions.find(group.empty() ? field.name : group + "." + field.name);
    return it == m_.expressions.end() ? std::string() : it->second;
  }

  // Diagnostics may quote short codes the clinic typed, never long free text.
  static std::string quoted(std::string_view value) { return sdk::values::quotedForDiagnostic(value); }

  // ---- reading raw values -----------------------------------------------------------

  Raw readCsv(const std::string& column) const {
    Raw raw;
    raw.column = column;
    raw.location = record_.locator + ", column " + column;
    auto it = source_.columns->find(column);
    if (it == source_.columns->end() || it->second >= source_.row->fields.size()) return raw;
    std::string_view text = trim(source_.row->fields[it->second]);
    if (text.empty()) return raw;
    raw.state = Raw::State::kText;
    raw.text = std::string(text);
    return raw;
  }

  Raw readJson(const rapidjson::Value* base, const std::vector<std::string>& parts, const std::string& base_location)
      const {
    Raw raw;
    raw.location = base_location;
    const rapidjson::Value* v = base;
    for (const auto& part : parts) {
      raw.location += (raw.location.empty() ? "" : ".") + part;
      if (v == nullptr || !v->IsObject()) return raw;
      auto it = v->FindMember(rapidjson::StringRef(part.c_str(), part.size()));
      v = it == v->MemberEnd() ? nullptr : &it->value;
    }
    return rawOf(v, raw.location);
  }

  static Raw rawOf(const rapidjson::Value* v, std::string location) {
    Raw raw;
    raw.location = std::move(location);
    if (v == nullptr || v->IsNull()) return raw;
    if (v->IsString()) {
      std::string_view text = trim(std::string_view(v->GetString(), v->GetStringLength()));
      if (text.empty()) return raw;
      raw.state = Raw::State::kText;
      raw.text = std::string(text);
    } else if (v->IsBool()) {
      raw.state = Raw::State::kBool;
      raw.boolean = v->GetBool();
      raw.text = raw.boolean ? "true" : "false";
    } else {
      raw.state = Raw::State::kWrongType;
    }
    return raw;
  }

  // `element` is set for fields of a JSON array repeat; `n` for numbered columns.
  Raw readField(const FieldSpec& field, const rapidjson::Value* element, int n, const std::string& element_location)
      const {
    if (field.constant) {
      Raw raw;
      raw.state = Raw::State::kText;
      raw.text = *field.constant;
      raw.location = record_.locator;
      return raw;
    }
    if (m_.csv) {
      std::string column = field.path;
      if (n >= 0) {
        std::size_t at = column.find("{n}");
        if (at != std::string::npos) column.replace(at, 3, std::to_string(n));
      }
      return readCsv(column);
    }
    if (element != nullptr) {
      if (field.path == ".") return rawOf(element, element_location);
      if (field.from_root) return readJson(source_.root, field.path_parts, "");
      return readJson(element, field.path_parts, element_location);
    }
    if (field.from_root) return readJson(source_.root, field.path_parts, "");
    return readJson(source_.record, field.path_parts, record_.locator);
  }

  // ---- typed evaluation ---------------------------------------------------------------

  void invalid(const FieldSpec& field, const Raw& raw, const std::string& group, const std::string& message,
               std::string code = "value") {
    invalid_locations_.insert(raw.location);
    issue(field.invalid_is_warning ? sdk::Severity::kWarning : sdk::Severity::kError, std::move(code), raw.location,
          expressionOf(field, group), message + (field.invalid_is_warning ? "; left out" : ""));
  }

  void evalField(const FieldSpec& field, std::map<std::string, Value, std::less<>>& out, const rapidjson::Value* element,
                 int n, const std::string& group, const std::string& element_location = {}) {
    Raw raw = readField(field, element, n, element_location);
    std::string label = !raw.column.empty() ? raw.column : field.path == "." ? group : field.path;
    if (raw.state == Raw::State::kWrongType) {
      invalid(field, raw, group, label + " must be a string, number or boolean");
      return;
    }
    if (raw.state == Raw::State::kAbsent) {
      if (field.required) {
        issue(sdk::Severity::kError, "required", raw.location, expressionOf(field, group), label + " is required");
      }
      return;
    }
    if (raw.state == Raw::State::kBool && field.type != FieldType::kBoolean) {
      invalid(field, raw, group, label + " must not be a boolean");
      return;
    }
    Value value;
    const std::string& text = raw.text;
    switch (field.type) {
      case FieldType::kString: {
        value.text = field.case_mode == "upper" ? toUpper(text)
                     : field.case_mode == "lower" ? toLower(text)
                     : field.case_mode == "name" ? normalizeName(text) : text;
        break;
      }
      case FieldType::kDecimal:
      case FieldType::kInteger: {
        auto d = normalizeDecimal(text, m_.decimal_comma);
        if (!d || (field.type == FieldType::kInteger && d->find('.') != std::string::npos)) {
          invalid(field, raw, group, label + " is not " + (field.type == FieldType::kInteger ? "an integer" : "a number") +
                                         ": " + quoted(text));
          return;
        }
        double number = decimalValue(*d);
        if ((field.min && number < *field.min) || (field.max && number > *field.max)) {
          issue(sdk::Severity::kWarning, "value", raw.location, expressionOf(field, group),
                label + " " + *d + " is outside the plausible range; please check the value and its unit");
        }
        value.kind = Value::Kind::kNumber;
        value.text = *d;
        break;
      }
      case FieldType::kBoolean: {
        std::string lower = toLower(text);
        if (raw.state == Raw::State::kBool || lower == "true" || lower == "ya" || lower == "y" || lower == "1" ||
            lower == "false" || lower == "tidak" || lower == "t" || lower == "0" || lower == "n") {
          bool b = raw.state == Raw::State::kBool ? raw.boolean
                                                  : (lower == "true" || lower == "ya" || lower == "y" || lower == "1");
          value.kind = Value::Kind::kBool;
          value.text = b ? "true" : "false";
        } else {
          invalid(field, raw, group, label + " must be true/false (ya/tidak)");
          return;
        }
        break;
      }
      case FieldType::kDate:
      case FieldType::kDateTime: {
        std::optional<DateTime> parsed;
        for (const auto& layout : field.layouts) {
          parsed = parseDateTime(text, layout);
          if (parsed) break;
        }
        if (!parsed || (field.type == FieldType::kDateTime && !parsed->has_time)) {
          std::string layouts;
          for (const auto& l : field.layouts) layouts += (layouts.empty() ? "" : ", ") + l;
          invalid(field, raw, group, label + " " + quoted(text) + " is not a " +
                                         (field.type == FieldType::kDate ? "date" : "date-time") + " (" + layouts + ")");
          return;
        }
        char compact[16];
        if (field.type == FieldType::kDate) {
          value.text = formatDate(*parsed);
          std::snprintf(compact, sizeof compact, "%04d%02d%02d", parsed->year, parsed->month, parsed->day);
        } else {
          if (parsed->offset.empty()) {
            // Local clinic time: the facility's zone comes from the gateway's config.
            if (!isUtcOffset(context_.timezone_offset)) {
              issue(sdk::Severity::kError, "business-rule", raw.location, expressionOf(field, group),
                    label + " has no UTC offset and the facility has no valid timezone_offset configured");
              return;
            }
            parsed->offset = context_.timezone_offset;
          }
          value.text = formatDateTime(*parsed);
          value.parts["date"] = formatDate(*parsed);
          std::snprintf(compact, sizeof compact, "%04d%02d%02d%02d%02d", parsed->year, parsed->month, parsed->day,
                        parsed->hour, parsed->minute);
        }
        value.parts["compact"] = compact;
        break;
      }
      case FieldType::kSex: {
        auto sex = parseSex(text);
        if (!sex) {
          invalid(field, raw, group, label + " must be L (laki-laki) or P (perempuan)");
          return;
        }
        value.text = fhirGender(*sex);
        value.parts["code"] = toUpper(text);
        break;
      }
      case FieldType::kNik: {
        if (!isNik(text)) {
          invalid(field, raw, group, label + " must be 16 digits");
          return;
        }
        value.text = text;
        break;
      }
      case FieldType::kDigits: {
        std::string digits;
        for (char c : text) {
          if (c != '.' && c != ' ' && c != '-') digits.push_back(c);
        }
        bool ok = isDigits(digits) && (field.length == 0 || static_cast<int>(digits.size()) == field.length) &&
                  (field.min_length == 0 || static_cast<int>(digits.size()) >= field.min_length) &&
                  (field.max_length == 0 || static_cast<int>(digits.size()) <= field.max_length);
        if (!ok) {
          invalid(field, raw, group,
                  label + " must be " + (field.length ? std::to_string(field.length) + " " : std::string()) + "digits");
          return;
        }
        value.text = digits;
        break;
      }
      case FieldType::kEnum: {
        auto it = field.values.find(toUpper(text));
        if (it == field.values.end()) {
          std::string list;
          for (const auto& [k, v] : field.values) list += (list.empty() ? "" : ", ") + k;
          invalid(field, raw, group, label + " must be one of " + list);
          return;
        }
        value.text = it->second;
        break;
      }
      case FieldType::kCode: {
        std::string lookup = text;
        if (field.dose_suffix) {
          // "Polio 2", "DPT-HB-Hib 1": the trailing number is the dose.
          std::size_t end = lookup.size();
          while (end > 0 && std::isdigit(static_cast<unsigned char>(lookup[end - 1]))) --end;
          if (end < lookup.size() && end > 0 && (lookup[end - 1] == ' ' || lookup[end - 1] == '-')) {
            // Dose "0" is the birth dose (HB 0): a name, not a FHIR positiveInt.
            int dose = std::atoi(lookup.c_str() + end);
            if (dose > 0) value.parts["dose"] = std::to_string(dose);
            lookup = std::string(trim(std::string_view(lookup).substr(0, end - 1)));
          }
        }
        value.parts["text"] = text;
        sdk::Coding coding;
        bool found = context_.host->translate(field.concept_map, lookup, coding);
        if (!found && field.ucum && m_.ucum && m_.ucum->isValid(lookup)) {
          // Already UCUM as written: it keeps its code without a map entry.
          coding = {std::string(sdk::kUcumSystem), lookup, lookup};
          found = true;
        }
        if (found) {
          value.text = coding.code;
          value.parts["code"] = coding.code;
          value.parts["system"] = coding.system;
          if (!coding.display.empty()) value.parts["display"] = coding.display;
        } else {
          std::string message = label + " " + quoted(lookup) + " is not in the " + field.concept_map + " ConceptMap";
          if (field.unknown == Unknown::kText) {
            issue(sdk::Severity::kWarning, "code-invalid", raw.location, expressionOf(field, group),
                  message + "; kept as text only");
            value.text = text;
          } else if (field.unknown == Unknown::kIgnore) {
            return;
          } else {
            issue(field.unknown == Unknown::kError ? sdk::Severity::kError : sdk::Severity::kWarning, "code-invalid",
                  raw.location, expressionOf(field, group), message + (field.unknown == Unknown::kError ? "" : "; left out"));
            return;
          }
        }
        break;
      }
      case FieldType::kIcd10: {
        auto code = normalizeIcd10(text);
        if (!code) {
          invalid(field, raw, group, label + " " + quoted(text) + " is not an ICD-10 code such as I10 or E11.9",
                  "code-invalid");
          return;
        }
        value.text = *code;
        value.parts["category"] = code->substr(0, 3);
        break;
      }
      case FieldType::kBloodPressure: {
        auto bp = parseBloodPressure(text, m_.decimal_comma);
        if (!bp) {
          invalid(field, raw, group, label + " must be systolic/diastolic in mmHg, such as 120/80");
          return;
        }
        value.text = text;
        value.parts["systolic"] = bp->systolic;
        value.parts["diastolic"] = bp->diastolic;
        break;
      }
      case FieldType::kVillageCode: {
        // Kemendagri writes village codes plain or dotted: 6203011001, 62.03.01.1001.
        std::string digits;
        for (char c : text) {
          if (c != '.') digits.push_back(c);
        }
        if (digits.size() != 10 || !isDigits(digits)) {
          invalid(field, raw, group, label + " must be a 10-digit Kemendagri village code");
          return;
        }
        value.text = digits;
        value.parts["province"] = digits.substr(0, 2);
        value.parts["city"] = digits.substr(0, 4);
        value.parts["district"] = digits.substr(0, 6);
        break;
      }
      case FieldType::kBmi:
      case FieldType::kCount:
        return;
    }
    out[field.name] = std::move(value);
  }

  void evalDerived(const FieldSpec& field, std::map<std::string, Value, std::less<>>& out, const Item* item) {
    auto find = [&](const std::string& name) -> const Value* {
      if (item != nullptr) {
        auto it = item->values.find(name);
        if (it != item->values.end()) return &it->second;
      }
      auto it = values_.find(name);
      return it == values_.end() ? nullptr : &it->second;
    };
    if (field.type == FieldType::kBmi) {
      const Value* weight = find(field.from[0]);
      const Value* height = find(field.from[1]);
      if (weight == nullptr || height == nullptr) return;
      double metres = decimalValue(height->text) / 100.0;
      if (metres <= 0) return;
      Value v;
      v.kind = Value::Kind::kNumber;
      v.text = formatDecimal(decimalValue(weight->text) / (metres * metres), 1);
      out[field.name] = std::move(v);
    } else if (field.type == FieldType::kCount) {
      auto present = group_present_.find(field.from[0]);
      if (present == group_present_.end() || !present->second) return;
      Value v;
      v.kind = Value::Kind::kNumber;
      v.text = std::to_string(groups_[field.from[0]].size());
      out[field.name] = std::move(v);
    }
  }

  // Facts a NIK encodes, and dates that may not lie after another date.
  void checkFieldRelations(const FieldSpec& field, const std::map<std::string, Value, std::less<>>& values,
                           const std::string& group) {
    auto it = values.find(field.name);
    if (it == values.end()) return;
    auto location = [&] {
      return m_.csv ? record_.locator + ", column " + field.path
                    : (field.from_root ? field.path.substr(2) : record_.locator + "." + field.path);
    };
    if (field.type == FieldType::kNik) {
      auto facts = decodeNik(it->second.text);
      if (!facts) return;
      if (!field.nik_sex.empty()) {
        auto sex = values.find(field.nik_sex);
        if (sex != values.end() && facts->female != (sex->second.text == fhirGender(Sex::kFemale))) {
          issue(sdk::Severity::kWarning, "business-rule", location(), expressionOf(field, group),
                "the sex encoded in the NIK does not match " + field.nik_sex);
        }
      }
      if (!field.nik_birth_date.empty()) {
        auto birth = values.find(field.nik_birth_date);
        if (birth != values.end()) {
          if (!facts->agreesWithBirthDate(birth->second.text)) {
            issue(sdk::Severity::kWarning, "business-rule", location(), expressionOf(field, group),
                  "the birth date encoded in the NIK does not match " + field.nik_birth_date);
          }
        }
      }
    }
    if (!field.not_after.empty()) {
      auto other = values.find(field.not_after);
      if (other != values.end()) {
        std::string limit = other->second.parts.count("date") ? other->second.parts.at("date") : other->second.text;
        if (it->second.text.substr(0, 10) > limit.substr(0, 10)) {
          issue(sdk::Severity::kError, "value", location(), expressionOf(field, group),
                field.path + " is after " + field.not_after);
        }
      }
    }
  }

  void evalRepeat(const RepeatSpec& repeat) {
    auto& items = groups_[repeat.name];
    if (!repeat.numbers.empty()) {
      bool any_column = false;
      for (int n : repeat.numbers) {
        Item item;
        item.n = n;
        for (const auto& field : repeat.fields) {
          if (typeInfo(field.type).derived) continue;
          std::string column = field.path;
          std::size_t at = column.find("{n}");
          if (at != std::string::npos) column.replace(at, 3, std::to_string(n));
          if (source_.columns->count(column)) any_column = true;
          // Required-ness inside numbered columns means "required when the item exists".
          FieldSpec optional = field;
          optional.required = false;
          evalField(optional, item.values, nullptr, n, repeat.name);
        }
        if (item.values.empty()) continue;
        for (const auto& field : repeat.fields) {
          if (field.required && !item.values.count(field.name)) {
            std::string column = field.path;
            std::size_t at = column.find("{n}");
            if (at != std::string::npos) column.replace(at, 3, std::to_string(n));
            // An unreadable value was already reported; "required" would only repeat it.
            if (invalid_locations_.count(record_.locator + ", column " + column)) continue;
            issue(sdk::Severity::kError, "required", record_.locator + ", column " + column,
                  expressionOf(field, repeat.name), column + " is required when the other columns of item " +
                                                        std::to_string(n) + " are filled");
          }
        }
        finishItem(repeat, item);
        items.push_back(std::move(item));
      }
      group_present_[repeat.name] = any_column;
      return;
    }
    const rapidjson::Value* base = repeat.array_from_root ? source_.root : source_.record;
    std::string location = repeat.array_from_root ? "" : record_.locator;
    const rapidjson::Value* v = base;
    for (const auto& part : repeat.array_parts) {
      location += (location.empty() ? "" : ".") + part;
      if (v == nullptr || !v->IsObject()) {
        v = nullptr;
        break;
      }
      auto it = v->FindMember(rapidjson::StringRef(part.c_str(), part.size()));
      v = it == v->MemberEnd() ? nullptr : &it->value;
    }
    if (v == nullptr || v->IsNull()) {
      group_present_[repeat.name] = false;
      return;
    }
    if (!v->IsArray()) {
      issue(sdk::Severity::kError, "structure", location, "", repeat.array_path + " must be a JSON array");
      return;
    }
    group_present_[repeat.name] = true;
    for (rapidjson::SizeType i = 0; i < v->Size(); ++i) {
      Item item;
      item.n = static_cast<int>(i) + 1;
      std::string element_location = location + "[" + std::to_string(i) + "]";
      for (const auto& field : repeat.fields) {
        if (typeInfo(field.type).derived) continue;
        evalField(field, item.values, &(*v)[i], -1, repeat.name, element_location);
      }
      if (item.values.empty()) continue;
      finishItem(repeat, item);
      items.push_back(std::move(item));
    }
  }

  void finishItem(const RepeatSpec& repeat, Item& item) {
    for (const auto& field : repeat.fields) {
      if (typeInfo(field.type).derived) evalDerived(field, item.values, &item);
    }
  }

  // ---- placeholders and templates --------------------------------------------------------

  struct Scope {
    std::string group;
    int index = -1;  // item index within group
  };

  struct ResourceId {
    std::string id;
    std::string key;
  };

  const Value* fieldValue(const Placeholder& p, const Scope& scope) const {
    if (p.kind == Placeholder::Kind::kGroupField) {
      if (scope.group != p.name || scope.index < 0) return nullptr;
      auto git = groups_.find(p.name);
      if (git == groups_.end() || scope.index >= static_cast<int>(git->second.size())) return nullptr;
      auto it = git->second[scope.index].values.find(p.field);
      return it == git->second[scope.index].values.end() ? nullptr : &it->second;
    }
    auto it = values_.find(p.name);
    return it == values_.end() ? nullptr : &it->second;
  }

  const ResourceId* resourceId(const std::string& name, const Scope& scope) const {
    auto it = ids_.find(name);
    if (it == ids_.end()) return nullptr;
    const auto& [foreach, list] = it->second;
    std::size_t index = 0;
    if (!foreach.empty()) {
      if (scope.group != foreach || scope.index < 0) return nullptr;
      index = static_cast<std::size_t>(scope.index);
    }
    if (index >= list.size() || !list[index]) return nullptr;
    return &*list[index];
  }

  // The value of a placeholder; `typed` tells whether it is a JSON number/bool.
  std::optional<std::string> resolve(const Placeholder& p, const Scope& scope, Value::Kind* kind = nullptr) const {
    if (kind) *kind = Value::Kind::kText;
    switch (p.kind) {
      case Placeholder::Kind::kBuiltin: {
        if (p.name == "$org") return context_.organization_id;
        if (p.name == "$tz") return context_.timezone_offset;
        if (kind) *kind = Value::Kind::kNumber;
        if (p.name == "$record") return std::to_string(index_);
        if (p.name == "$row") return source_.row ? std::to_string(source_.row->line) : std::string();
        if (scope.index < 0) return std::nullopt;
        const auto& items = groups_.at(scope.group);
        if (p.name == "$n") return std::to_string(items[scope.index].n);
        if (p.name == "$item") return std::to_string(scope.index);
        return std::nullopt;
      }
      case Placeholder::Kind::kId:
      case Placeholder::Kind::kRef:
      case Placeholder::Kind::kKey: {
        const ResourceId* r = resourceId(p.name, scope);
        if (r == nullptr) return std::nullopt;
        if (p.kind == Placeholder::Kind::kId) return r->id;
        if (p.kind == Placeholder::Kind::kKey) return r->key;
        return resource_types_.at(p.name) + "/" + r->id;
      }
      case Placeholder::Kind::kField:
      case Placeholder::Kind::kGroupField: {
        const Value* v = fieldValue(p, scope);
        if (v == nullptr) return std::nullopt;
        if (p.part.empty()) {
          if (kind) *kind = v->kind;
          return v->text;
        }
        auto it = v->parts.find(p.part);
        if (it == v->parts.end()) return std::nullopt;
        if (kind && (p.part == "systolic" || p.part == "diastolic" || p.part == "dose")) *kind = Value::Kind::kNumber;
        return it->second;
      }
    }
    return std::nullopt;
  }

  std::optional<std::string> render(const Template& t) const { return render(t, Scope{}); }

  std::optional<std::string> render(const Template& t, const Scope& scope) const {
    std::string out;
    for (const auto& s : t) {
      if (!s.placeholder) {
        out += s.literal;
        continue;
      }
      auto v = resolve(*s.placeholder, scope);
      if (!v) return std::nullopt;
      out += *v;
    }
    return out;
  }

  bool evalCondition(const Condition& c, const Scope& scope) const {
    auto present = [&](const Placeholder& p) {
      if (p.kind == Placeholder::Kind::kGroupField && p.field.empty()) {
        auto it = groups_.find(p.name);
        return it != groups_.end() && !it->second.empty();
      }
      return resolve(p, scope).has_value();
    };
    switch (c.op) {
      case Condition::Op::kPresent:
        return std::all_of(c.refs.begin(), c.refs.end(), present);
      case Condition::Op::kAbsent:
        return std::none_of(c.refs.begin(), c.refs.end(), present);
      case Condition::Op::kEquals:
      case Condition::Op::kIn: {
        if (c.refs.empty()) return false;
        auto v = resolve(c.refs[0], scope);
        if (!v) return false;
        std::string lower = toLower(*v);
        return std::find(c.values.begin(), c.values.end(), lower) != c.values.end();
      }
      case Condition::Op::kAll:
        return std::all_of(c.children.begin(), c.children.end(),
                           [&](const Condition& child) { return evalCondition(child, scope); });
      case Condition::Op::kAny:
        return std::any_of(c.children.begin(), c.children.end(),
                           [&](const Condition& child) { return evalCondition(child, scope); });
      case Condition::Op::kNot:
        return !c.children.empty() && !evalCondition(c.children[0], scope);
    }
    return false;
  }

  // Renders a node to JSON text; nullopt when it has no content. An element
  // whose template uses an absent value is dropped; an object whose templated
  // members are all dropped goes too (an identifier without its value), as
  // does an empty object or array. `dynamic` tells the caller whether the
  // node used any placeholder at all: purely literal objects always stay.
  std::optional<std::string> renderNode(const Node& node, const Scope& scope, bool& dynamic) const {
    dynamic = false;
    switch (node.kind) {
      case Node::Kind::kLiteral:
        return node.literal;
      case Node::Kind::kTemplate: {
        for (const auto& segment : node.text) dynamic = dynamic || segment.placeholder.has_value();
        if (node.text.size() == 1 && node.text[0].placeholder) {
          Value::Kind kind;
          auto v = resolve(*node.text[0].placeholder, scope, &kind);
          if (!v) return std::nullopt;
          if (kind != Value::Kind::kText) return *v;
          return jsonEscape(*v);
        }
        auto v = render(node.text, scope);
        if (!v) return std::nullopt;
        return jsonEscape(*v);
      }
      case Node::Kind::kObject: {
        dynamic = node.when.has_value();
        if (node.when && !evalCondition(*node.when, scope)) return std::nullopt;
        std::string out = "{";
        bool any = false;
        int dynamic_members = 0, dynamic_present = 0;
        for (const auto& [key, child] : node.members) {
          bool child_dynamic = false;
          auto v = renderNode(child, scope, child_dynamic);
          if (child_dynamic) {
            ++dynamic_members;
            dynamic = true;
          }
          if (!v) continue;
          if (child_dynamic) ++dynamic_present;
          if (any) out += ",";
          out += jsonEscape(key) + ":" + *v;
          any = true;
        }
        if (!any || (dynamic_members > 0 && dynamic_present == 0)) return std::nullopt;
        return out + "}";
      }
      case Node::Kind::kArray: {
        std::string out = "[";
        bool any = false;
        for (const auto& item : node.items) {
          if (item.kind == Node::Kind::kForeach) {
            dynamic = true;
            auto git = groups_.find(item.foreach);
            if (git == groups_.end() || item.items.empty()) continue;
            for (std::size_t i = 0; i < git->second.size(); ++i) {
              Scope inner{item.foreach, static_cast<int>(i)};
              if (item.when && !evalCondition(*item.when, inner)) continue;
              bool ignored = false;
              auto v = renderNode(item.items[0], inner, ignored);
              if (!v) continue;
              if (any) out += ",";
              out += *v;
              any = true;
            }
            continue;
          }
          bool item_dynamic = false;
          auto v = renderNode(item, scope, item_dynamic);
          dynamic = dynamic || item_dynamic;
          if (!v) continue;
          if (any) out += ",";
          out += *v;
          any = true;
        }
        if (!any) return std::nullopt;
        return out + "]";
      }
      case Node::Kind::kForeach:
        return std::nullopt;
    }
    return std::nullopt;
  }

  // ---- resources -------------------------------------------------------------------------

  void computeIds() {
    std::set<std::pair<std::string, std::string>> seen;
    for (const auto& spec : m_.resources) {
      resource_types_[spec.name] = spec.type;
      auto& [foreach, list] = ids_[spec.name];
      foreach = spec.foreach;
      std::size_t count = 1;
      if (!spec.foreach.empty()) count = groups_[spec.foreach].size();
      for (std::size_t i = 0; i < count; ++i) {
        Scope scope{spec.foreach, spec.foreach.empty() ? -1 : static_cast<int>(i)};
        std::optional<ResourceId> id;
        if (!spec.when || evalCondition(*spec.when, scope)) {
          for (const auto& key_template : spec.id_keys) {
            auto key = render(key_template, scope);
            if (!key) continue;
            id = ResourceId{context_.host->resourceId(spec.type, *key), *key};
            break;
          }
          if (!id) {
            // Reported once, and only when nothing else explains it: the
            // resources that depend on it fail for the same reason.
            if (!has_error_) {
              issue(sdk::Severity::kError, "required", "", spec.type,
                    "cannot identify the " + spec.type + " (" + spec.name + "): it needs " + keyFields(spec));
            }
          } else if (!seen.insert({spec.type, id->id}).second) {
            // Two items that denote the same resource (the same diagnosis
            // twice): keep the first, say so.
            std::string where = record_.locator;
            if (!spec.foreach.empty()) where += " (" + spec.foreach + " item " + std::to_string(groups_[spec.foreach][i].n) + ")";
            issue(sdk::Severity::kWarning, "duplicate", where, spec.type,
                  spec.type + " " + spec.name + " repeated in this record; kept once");
            id.reset();
          }
        }
        list.push_back(std::move(id));
      }
    }
  }

  // What the record calls a field: its column or path, which users know.
  std::string sourceName(const std::string& field) const {
    for (const auto& f : m_.fields) {
      if (f.name == field && !f.path.empty() && !f.constant) return f.from_root ? f.path.substr(2) : f.path;
    }
    return field;
  }

  // "nik, or nik_ibu + nama_key + tgl_lahir": the fields of each id key.
  std::string keyFields(const ResourceSpec& spec) const {
    std::string out;
    for (const auto& key : spec.id_keys) {
      std::string fields;
      for (const auto& segment : key) {
        if (!segment.placeholder) continue;
        const auto& p = *segment.placeholder;
        std::string name = p.kind == Placeholder::Kind::kGroupField ? p.name + "." + p.field
                           : p.kind == Placeholder::Kind::kKey ? "the " + p.name + "'s key"
                           : p.kind == Placeholder::Kind::kBuiltin ? std::string() : sourceName(p.name);
        if (!name.empty()) fields += (fields.empty() ? "" : " + ") + name;
      }
      out += (out.empty() ? "" : ", or ") + fields;
    }
    return out;
  }

  void renderResources() {
    for (const auto& spec : m_.resources) {
      const auto& list = ids_[spec.name].second;
      for (std::size_t i = 0; i < list.size(); ++i) {
        if (!list[i]) continue;
        Scope scope{spec.foreach, spec.foreach.empty() ? -1 : static_cast<int>(i)};
        bool dynamic = false;
        auto body = renderNode(spec.body, scope, dynamic);
        std::string out = "{\"resourceType\":" + jsonEscape(spec.type) + ",\"id\":" + jsonEscape(list[i]->id);
        if (body && body->size() > 2) out += "," + body->substr(1);
        else out += "}";
        record_.resources.push_back(std::move(out));
      }
    }
  }

  const Mapping& m_;
  const sdk::Context& context_;
  const RecordSource& source_;
  std::size_t index_;
  sdk::Record record_;
  bool has_error_ = false;
  std::map<std::string, Value, std::less<>> values_;
  std::map<std::string, std::vector<Item>, std::less<>> groups_;
  std::map<std::string, bool> group_present_;
  std::set<std::string> invalid_locations_;
  std::map<std::string, std::pair<std::string, std::vector<std::optional<ResourceId>>>, std::less<>> ids_;
  std::map<std::string, std::string, std::less<>> resource_types_;
};

sdk::Issue payloadIssue(std::string code, std::string diagnostics) {
  sdk::Issue issue;
  issue.severity = sdk::Severity::kFatal;
  issue.code = std::move(code);
  issue.location = "payload";
  issue.diagnostics = std::move(diagnostics);
  return issue;
}

sdk::Record runOne(const Mapping& mapping, const sdk::Context& context, const RecordSource& source, std::size_t index) {
  try {
    return RecordRun(mapping, context, source, index).run();
  } catch (...) {
    sdk::Record record;
    record.locator = source.locator;
    sdk::Issue issue;
    issue.code = "exception";
    issue.location = source.locator;
    issue.diagnostics = "internal error while mapping this record";
    record.issues.push_back(std::move(issue));
    return record;
  }
}

void runCsv(const Mapping& mapping, std::string_view payload, const sdk::Context& context, sdk::MapResult& result) {
  CsvTable table;
  if (auto error = parseCsv(payload, mapping.separator, table)) {
    result.issues.push_back(payloadIssue("structure", "payload is not CSV: " + *error));
    return;
  }
  std::map<std::string, std::size_t, std::less<>> columns;
  for (std::size_t i = 0; i < table.header.size(); ++i) {
    if (table.header[i].empty()) continue;
    if (!columns.emplace(table.header[i], i).second) {
      result.issues.push_back(payloadIssue("structure", "column " + table.header[i] +
                                                            " appears twice in the header: which one is meant?"));
    }
  }
  // A required column missing from the header would fail every row: say it once.
  for (const auto& field : mapping.fields) {
    if (field.required && !field.constant && !typeInfo(field.type).derived && !columns.count(field.path)) {
      result.issues.push_back(payloadIssue("required", "column " + field.path + " is missing from the header (line " +
                                                           std::to_string(table.header_line) + ")"));
    }
  }
  if (!result.issues.empty()) return;
  result.records.reserve(table.rows.size());
  for (std::size_t i = 0; i < table.rows.size(); ++i) {
    RecordSource source;
    source.row = &table.rows[i];
    source.columns = &columns;
    source.locator = "row " + std::to_string(table.rows[i].line);
    sdk::Record record = runOne(mapping, context, source, i);
    if (table.rows[i].fields.size() > table.header.size()) {
      sdk::Issue issue;
      issue.severity = sdk::Severity::kWarning;
      issue.code = "structure";
      issue.location = source.locator;
      issue.diagnostics = "the row has " + std::to_string(table.rows[i].fields.size()) + " fields, the header " +
                          std::to_string(table.header.size()) + ": the extra fields are ignored (a separator inside an "
                          "unquoted value?)";
      record.issues.push_back(std::move(issue));
    }
    result.records.push_back(std::move(record));
  }
}

void runJson(const Mapping& mapping, std::string_view payload, const sdk::Context& context, sdk::MapResult& result) {
  if (payload.substr(0, 3) == "\xEF\xBB\xBF") payload.remove_prefix(3);
  rapidjson::Document doc;
  doc.Parse<kPayloadParseFlags>(payload.data(), payload.size());
  if (doc.HasParseError()) {
    result.issues.push_back(payloadIssue("structure", std::string("payload is not valid JSON: ") +
                                                          rapidjson::GetParseError_En(doc.GetParseError()) + " (line " +
                                                          std::to_string(JsonPointerLines::lineOfOffset(payload, doc.GetErrorOffset())) + ")"));
    return;
  }
  const rapidjson::Value* records = &doc;
  for (const auto& part : mapping.records_parts) {
    if (!records->IsObject()) {
      records = nullptr;
      break;
    }
    auto it = records->FindMember(rapidjson::StringRef(part.c_str(), part.size()));
    records = it == records->MemberEnd() ? nullptr : &it->value;
  }
  if (records == nullptr || (!records->IsArray() && !(mapping.records_parts.empty() && records->IsObject()))) {
    result.issues.push_back(payloadIssue(
        "structure", mapping.records_parts.empty() ? "payload must be a JSON object or an array of them"
                                                   : "payload needs an array \"" + mapping.records_path + "\""));
    return;
  }
  auto one = [&](const rapidjson::Value& record, std::size_t index) {
    RecordSource source;
    source.record = &record;
    source.root = &doc;
    source.locator = mapping.locator + "[" + std::to_string(index) + "]";
    if (!record.IsObject()) {
      sdk::Record r;
      r.locator = source.locator;
      sdk::Issue issue;
      issue.code = "structure";
      issue.location = source.locator;
      issue.diagnostics = "record is not a JSON object";
      r.issues.push_back(std::move(issue));
      result.records.push_back(std::move(r));
      return;
    }
    result.records.push_back(runOne(mapping, context, source, index));
  };
  if (records->IsArray()) {
    for (rapidjson::SizeType i = 0; i < records->Size(); ++i) one((*records)[i], i);
  } else {
    one(*records, 0);
  }
}

}  // namespace

CompiledMapping compileMapping(std::string_view text, const std::string& file_name, const std::string& ucum_table) {
  try {
    return Compiler(text, file_name, ucum_table).run();
  } catch (const std::exception& e) {
    CompiledMapping out;
    out.errors.push_back(file_name + ":1: internal error while reading the mapping: " + e.what());
    return out;
  }
}

CompiledMapping compileMappingFile(const std::string& path, const std::string& ucum_table) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    CompiledMapping out;
    out.errors.push_back(path + ": cannot read the mapping file");
    return out;
  }
  std::stringstream text;
  text << in.rdbuf();
  return compileMapping(text.str(), path, ucum_table);
}

sdk::MapResult runMapping(const Mapping& mapping, std::string_view payload, const sdk::Context& context) {
  sdk::MapResult result;
  try {
    if (context.host == nullptr || context.organization_id.empty()) {
      result.issues.push_back(payloadIssue("exception", "adapter called without host or organization"));
      return result;
    }
    if (mapping.csv) runCsv(mapping, payload, context, result);
    else runJson(mapping, payload, context, result);
  } catch (...) {
    result.records.clear();
    result.issues.push_back(payloadIssue("exception", "internal error while mapping the payload"));
  }
  return result;
}

}  // namespace ilpgw::plugins::mapping
