// hl7v2-oru: laboratory results as HL7 v2.x ORU^R01 messages (ER7 encoding)
// posted over HTTP, mapped to Patient, DiagnosticReport and laboratory
// Observations. Local test codes become LOINC through a ConceptMap
// (mappings/lab-loinc.json); a unit keeps its code when it already is valid
// UCUM, else becomes UCUM through another ConceptMap (mappings/units-ucum.json).
// One record per message (a batch posts many).
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <map>
#include <cctype>
#include <charconv>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "er7.h"
#include "ilpgw/sdk/adapter.h"
#include "ilpgw/sdk/identifiers.h"
#include "ilpgw/sdk/ucum.h"

namespace ilpgw::plugins::hl7v2_oru {
namespace {

namespace sdk = ilpgw::sdk;

constexpr const char* kVersion = "1.0.0";
using sdk::kBpjsSystem;
using sdk::kMrnSystemPrefix;
using sdk::kNikSystem;
using sdk::kObservationSystemPrefix;
constexpr std::string_view kIhsSystem = sdk::kIhsNumberSystem;
constexpr std::string_view kLabReportSystemPrefix = sdk::kDiagnosticSystemPrefix;
constexpr std::string_view kLocalCodePrefix = "https://ilp-gateway.id/fhir/CodeSystem/hl7v2-local/";
constexpr std::string_view kLoinc = sdk::kLoincSystem;
constexpr std::string_view kUcum = sdk::kUcumSystem;
constexpr std::string_view kObservationCategory = "http://terminology.hl7.org/CodeSystem/observation-category";
constexpr std::string_view kV20074 = "http://terminology.hl7.org/CodeSystem/v2-0074";
constexpr std::string_view kV20203 = "http://terminology.hl7.org/CodeSystem/v2-0203";
constexpr std::string_view kInterpretation = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

bool allDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// An HL7 TS/DTM value split into FHIR-ready parts.
struct Timestamp {
  std::string date;    // YYYY, YYYY-MM or YYYY-MM-DD
  std::string time;    // hh:mm:ss, empty when the value has no time
  std::string offset;  // +hh:mm from the value, empty when absent
};

std::optional<Timestamp> parseTimestamp(std::string_view raw) {
  std::string text = trim(raw);
  Timestamp ts;
  size_t sign = text.find_first_of("+-");
  std::string offset;
  if (sign != std::string::npos) {
    offset = text.substr(sign);
    text = text.substr(0, sign);
    if (offset.size() != 5 || !allDigits(offset.substr(1))) return std::nullopt;
    int hh = std::stoi(offset.substr(1, 2));
    int mm = std::stoi(offset.substr(3, 2));
    if (hh > 14 || mm > 59) return std::nullopt;
    ts.offset = offset.substr(0, 3) + ":" + offset.substr(3, 2);
  }
  size_t dot = text.find('.');
  if (dot != std::string::npos) text = text.substr(0, dot);  // fractions of a second: beyond lab precision
  if (!allDigits(text) || (text.size() != 4 && text.size() != 6 && text.size() != 8 && text.size() != 10 &&
                           text.size() != 12 && text.size() != 14)) {
    return std::nullopt;
  }
  auto number = [&](size_t at) { return std::stoi(text.substr(at, 2)); };
  ts.date = text.substr(0, 4);
  if (text.size() >= 6) {
    int month = number(4);
    if (month < 1 || month > 12) return std::nullopt;
    ts.date += "-" + text.substr(4, 2);
  }
  if (text.size() >= 8) {
    int day = number(6);
    int year = std::stoi(text.substr(0, 4));
    int month = number(4);
    static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    int max_day = month == 2 && !leap ? 28 : kDays[month - 1];
    if (day < 1 || day > max_day) return std::nullopt;
    ts.date += "-" + text.substr(6, 2);
  }
  if (text.size() >= 10) {
    if (number(8) > 23) return std::nullopt;
    std::string minutes = text.size() >= 12 ? text.substr(10, 2) : "00";
    std::string seconds = text.size() >= 14 ? text.substr(12, 2) : "00";
    if (std::stoi(minutes) > 59 || std::stoi(seconds) > 59) return std::nullopt;
    ts.time = text.substr(8, 2) + ":" + minutes + ":" + seconds;
  }
  return ts;
}

// A JSON text builder on RapidJSON's writer: resources are written in one pass.
class Json {
 public:
  Json() : writer_(buffer_) {}
  Json& begin() { writer_.StartObject(); return *this; }
  Json& end() { writer_.EndObject(); return *this; }
  Json& key(std::string_view k) { writer_.Key(k.data(), static_cast<rapidjson::SizeType>(k.size())); return *this; }
  Json& beginArray(std::string_view k) { key(k); writer_.StartArray(); return *this; }
  Json& endArray() { writer_.EndArray(); return *this; }
  Json& beginObject(std::string_view k) { key(k); writer_.StartObject(); return *this; }
  Json& str(std::string_view v) { writer_.String(v.data(), static_cast<rapidjson::SizeType>(v.size())); return *this; }
  Json& str(std::string_view k, std::string_view v) { key(k); return str(v); }
  Json& raw(std::string_view k, std::string_view number) {
    key(k);
    writer_.RawValue(number.data(), number.size(), rapidjson::kNumberType);
    return *this;
  }
  Json& boolean(std::string_view k, bool v) { key(k); writer_.Bool(v); return *this; }
  Json& reference(std::string_view k, std::string_view ref) { beginObject(k).str("reference", ref); return end(); }
  Json& coding(std::string_view system, std::string_view code, std::string_view display) {
    writer_.StartObject();
    if (!system.empty()) str("system", system);
    str("code", code);
    if (!display.empty()) str("display", display);
    writer_.EndObject();
    return *this;
  }
  Json& codeableConcept(std::string_view k, std::string_view system, std::string_view code, std::string_view display) {
    beginObject(k).beginArray("coding").coding(system, code, display).endArray();
    return end();
  }
  std::string take() { return std::string(buffer_.GetString(), buffer_.GetSize()); }

 private:
  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_;
};

// A decimal as HL7 NM allows it ("+1.5", "-.5", "007"), normalised to a
// JSON number; nullopt when it is not a number.
std::optional<std::string> decimal(std::string_view raw) {
  std::string text = trim(raw);
  if (text.empty()) return std::nullopt;
  std::string sign;
  if (text[0] == '+' || text[0] == '-') {
    if (text[0] == '-') sign = "-";
    text = text.substr(1);
  }
  size_t dot = text.find('.');
  std::string whole = text.substr(0, dot);
  std::string fraction = dot == std::string::npos ? "" : text.substr(dot + 1);
  if ((whole.empty() && fraction.empty()) || (!whole.empty() && !allDigits(whole)) ||
      (!fraction.empty() && !allDigits(fraction)) || (dot != std::string::npos && fraction.empty())) {
    return std::nullopt;
  }
  if (whole.size() + fraction.size() > 18) return std::nullopt;
  size_t first = whole.find_first_not_of('0');
  whole = first == std::string::npos ? "0" : whole.substr(first);
  std::string out = sign + whole;
  if (!fraction.empty()) out += "." + fraction;
  if (out == "-0") out = "0";
  return out;
}

struct Options {
  std::string lab_map;
  std::string unit_map;
  bool require_loinc = true;
  std::vector<std::string> nik_authorities;
  const sdk::values::UcumUnits* ucum = nullptr;  // the UCUM table, when mappings/ has it
};

Options readOptions(const sdk::Context& context) {
  Options o;
  o.lab_map = std::string(context.option("lab_concept_map"));
  o.unit_map = std::string(context.option("unit_concept_map"));
  o.require_loinc = context.option("require_loinc") != "false";
  std::string list = upper(context.option("nik_authorities"));
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    std::string item = trim(list.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (!item.empty()) o.nik_authorities.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return o;
}

// Maps one ORU^R01 message to one Record.
class MessageMapper {
 public:
  MessageMapper(const Message& message, size_t index, const sdk::Context& context, const Options& options)
      : message_(message), index_(index), context_(context), options_(options) {
    record_.locator = "message[" + std::to_string(index) + "]";
  }

  sdk::Record map() {
    const Segment& msh = message_.segments.front();
    record_.source_key = msh.value(10);
    // Local codes mean something only at the system that sent them.
    std::string facility = trim(msh.value(4));
    for (auto& c : facility) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') c = '-';
    }
    local_system_ = std::string(kLocalCodePrefix) + (facility.empty() ? "lab" : facility);
    std::string type = msh.value(9, 1);
    std::string trigger = msh.value(9, 2);
    if (type != "ORU" || (trigger != "R01" && !trigger.empty())) {
      error("not-supported", "MSH", 0, 9, "", "message type " + type + "^" + trigger + " is not ORU^R01");
      return std::move(record_);
    }
    if (!msh.value(12).empty() && msh.value(12).rfind("2.", 0) != 0) {
      error("not-supported", "MSH", 0, 12, "", "HL7 version " + msh.value(12) + " is not 2.x");
      return std::move(record_);
    }
    if (record_.source_key.empty()) warning("required", "MSH", 0, 10, "", "MSH-10 (message control id) is empty");
    offset_ = context_.timezone_offset.empty() ? "+07:00" : context_.timezone_offset;

    const Segment* pid = nullptr;
    for (const auto& segment : message_.segments) {
      if (segment.id == "PID") {
        pid = &segment;
        break;
      }
    }
    if (pid == nullptr) {
      error("required", "PID", 0, 0, "Patient", "the message has no PID segment: results need a patient");
      return std::move(record_);
    }
    mapPatient(*pid);
    if (patient_id_.empty()) return std::move(record_);

    // Group OBX (and NTE) under the OBR they follow.
    struct Order {
      const Segment* obr = nullptr;
      size_t occurrence = 0;
      std::vector<std::pair<const Segment*, size_t>> results;
    };
    std::vector<Order> orders;
    std::map<std::string, size_t> seen;
    for (const auto& segment : message_.segments) {
      size_t occurrence = seen[segment.id]++;
      if (segment.id == "OBR") {
        orders.push_back(Order{&segment, occurrence, {}});
      } else if (segment.id == "OBX") {
        if (orders.empty()) {
          error("structure", "OBX", occurrence, 0, "", "OBX before any OBR: a result needs its order");
          continue;
        }
        orders.back().results.emplace_back(&segment, occurrence);
      } else if (segment.id == "NTE" && !orders.empty() && !orders.back().results.empty()) {
        notes_[orders.back().results.back().first].push_back(segment.value(3));
      }
    }
    if (orders.empty()) {
      error("required", "OBR", 0, 0, "DiagnosticReport", "the message has no OBR segment");
      return std::move(record_);
    }
    for (const auto& order : orders) mapOrder(*order.obr, order.occurrence, order.results);
    return std::move(record_);
  }

 private:
  std::string location(std::string_view segment, size_t occurrence, size_t field) const {
    std::string out = record_.locator + "." + std::string(segment);
    if (segment == "OBR" || segment == "OBX" || segment == "NTE") out += "[" + std::to_string(occurrence) + "]";
    if (field > 0) out += "-" + std::to_string(field);
    return out;
  }
  void issue(sdk::Severity severity, std::string_view code, std::string_view segment, size_t occurrence, size_t field,
             std::string_view expression, std::string diagnostics) {
    record_.issues.push_back(
        {severity, std::string(code), location(segment, occurrence, field), std::string(expression), std::move(diagnostics)});
  }
  void error(std::string_view code, std::string_view segment, size_t occurrence, size_t field,
             std::string_view expression, std::string diagnostics) {
    issue(sdk::Severity::kError, code, segment, occurrence, field, expression, std::move(diagnostics));
  }
  void warning(std::string_view code, std::string_view segment, size_t occurrence, size_t field,
               std::string_view expression, std::string diagnostics) {
    issue(sdk::Severity::kWarning, code, segment, occurrence, field, expression, std::move(diagnostics));
  }

  std::string id(std::string_view type, const std::string& key) const { return context_.host->resourceId(type, key); }

  std::string dateTime(const Timestamp& ts) const {
    if (ts.time.empty()) return ts.date;
    return ts.date + "T" + ts.time + (ts.offset.empty() ? offset_ : ts.offset);
  }

  // ---- PID -> Patient ------------------------------------------------------
  void mapPatient(const Segment& pid) {
    struct Id {
      std::string use, system, value, type_code;
    };
    std::vector<Id> identifiers;
    std::string nik;
    std::string mrn;
    const Field& cx = pid.field(3);
    for (size_t r = 0; r < cx.repetitions(); ++r) {
      std::string value = trim(cx.at(1, 1, r));
      if (value.empty()) continue;
      std::string authority = upper(cx.at(4, 1, r));
      std::string type = upper(cx.at(5, 1, r));
      bool is_nik = type == "NNIDN" || type == "NI" || type == "NIK" ||
                    std::find(options_.nik_authorities.begin(), options_.nik_authorities.end(), authority) !=
                        options_.nik_authorities.end();
      if (is_nik) {
        if (!(value.size() == 16 && allDigits(value))) {
          error("value", "PID", 0, 3, "Patient.identifier", "NIK must be 16 digits");
          continue;
        }
        if (nik.empty()) nik = value;
        identifiers.push_back({"official", std::string(kNikSystem), value, ""});
      } else if (authority == "SATUSEHAT" || authority == "IHS" || type == "IHS") {
        identifiers.push_back({"official", std::string(kIhsSystem), value, ""});
      } else if (authority == "BPJS" || type == "BPJS") {
        identifiers.push_back({"secondary", std::string(kBpjsSystem), value, ""});
      } else if (type == "MR" || type == "PI" || type.empty()) {
        if (mrn.empty()) mrn = value;
        identifiers.push_back({"usual", std::string(kMrnSystemPrefix) + context_.organization_id, value, "MR"});
      } else {
        warning("not-supported", "PID", 0, 3, "Patient.identifier",
                "identifier type " + type + " is not recognised and was left out");
      }
    }
    // The same keys the other adapters use, so one person is one Patient.
    if (!nik.empty()) {
      patient_id_ = id("Patient", "nik|" + nik);
    } else if (!mrn.empty()) {
      patient_id_ = id("Patient", "mrn|" + context_.organization_id + "|" + mrn);
    } else {
      error("required", "PID", 0, 3, "Patient.identifier", "PID-3 holds neither a NIK nor a medical record number");
      return;
    }

    Json w;
    w.begin().str("resourceType", "Patient").str("id", patient_id_);
    w.beginArray("identifier");
    for (const auto& i : identifiers) {
      w.begin().str("use", i.use);
      if (!i.type_code.empty()) w.codeableConcept("type", kV20203, i.type_code, "Medical record number");
      w.str("system", i.system).str("value", i.value).end();
    }
    w.endArray();

    const Field& names = pid.field(5);
    bool any_name = false;
    for (size_t r = 0; r < names.repetitions(); ++r) {
      std::string family = trim(names.at(1, 1, r));
      std::string given = trim(names.at(2, 1, r));
      std::string middle = trim(names.at(3, 1, r));
      std::string text;
      for (const auto& part : {given, middle, family}) {
        if (!part.empty()) text += (text.empty() ? "" : " ") + part;
      }
      if (text.empty()) continue;
      if (!any_name) w.beginArray("name");
      any_name = true;
      std::string type = upper(names.at(7, 1, r));
      w.begin().str("use", type == "A" ? "nickname" : type == "M" ? "maiden" : "official").str("text", text);
      if (!family.empty()) w.str("family", family);
      if (!given.empty() || !middle.empty()) {
        w.beginArray("given");
        if (!given.empty()) w.str(given);
        if (!middle.empty()) w.str(middle);
        w.endArray();
      }
      w.end();
    }
    if (any_name) w.endArray();
    else warning("required", "PID", 0, 5, "Patient.name", "PID-5 (patient name) is empty");

    std::string sex = upper(trim(pid.value(8)));
    if (!sex.empty()) {
      std::string gender = sex == "M" ? "male" : sex == "F" ? "female" : sex == "O" ? "other" : sex == "U" || sex == "A" || sex == "N" ? "unknown" : "";
      if (gender.empty()) error("value", "PID", 0, 8, "Patient.gender", "PID-8 sex " + sex + " is not M, F, O, U, A or N");
      else w.str("gender", gender);
    }
    std::string birth = trim(pid.value(7));
    if (!birth.empty()) {
      auto ts = parseTimestamp(birth);
      if (!ts) error("value", "PID", 0, 7, "Patient.birthDate", "PID-7 is not an HL7 date (YYYYMMDD)");
      else w.str("birthDate", ts->date);
    }
    w.end();
    record_.resources.push_back(w.take());
  }

  // ---- OBR -> DiagnosticReport, OBX -> Observation --------------------------
  // Local code -> LOINC through the ConceptMap; codes already marked LN pass.
  bool labCode(const Field& field, std::string_view segment, size_t occurrence, size_t number, sdk::Coding& loinc,
               sdk::Coding& local) {
    local.code = trim(field.at(1));
    local.display = trim(field.at(2));
    std::string system = trim(field.at(3));
    if (local.code.empty()) return false;
    local.system = local_system_;
    if (upper(system) == "LN" || upper(system) == "LOINC") {
      loinc = {std::string(kLoinc), local.code, local.display};
      return true;
    }
    if (context_.host->translate(options_.lab_map, local.code, loinc)) {
      if (loinc.system.empty()) loinc.system = std::string(kLoinc);
      return true;
    }
    // HL7 allows the LOINC code as the alternate identifier (components 4-6).
    if (upper(trim(field.at(6))) == "LN" && !trim(field.at(4)).empty()) {
      loinc = {std::string(kLoinc), trim(field.at(4)), trim(field.at(5))};
      return true;
    }
    std::string message = "local test code \"" + local.code + "\" has no LOINC code in ConceptMap " + options_.lab_map;
    if (options_.require_loinc) error("code-invalid", segment, occurrence, number, "", message);
    else warning("code-invalid", segment, occurrence, number, "", message);
    return false;
  }

  void writeCode(Json& w, const sdk::Coding& loinc, bool have_loinc, const sdk::Coding& local) {
    w.beginObject("code").beginArray("coding");
    if (have_loinc) w.coding(loinc.system, loinc.code, loinc.display.empty() ? local.display : loinc.display);
    // The sender's own code too, unless it already was the LOINC code.
    if (!have_loinc || loinc.code != local.code) w.coding(local.system, local.code, local.display);
    w.endArray();
    if (!local.display.empty()) w.str("text", local.display);
    w.end();
  }

  static std::string reportStatus(std::string_view code) {
    std::string c = upper(code);
    if (c == "F") return "final";
    if (c == "C") return "corrected";
    if (c == "P" || c == "R") return "preliminary";
    if (c == "A") return "partial";
    if (c == "X") return "cancelled";
    if (c == "I" || c == "O" || c == "S") return "registered";
    return {};
  }

  static std::string resultStatus(std::string_view code) {
    std::string c = upper(code);
    if (c == "F") return "final";
    if (c == "C") return "corrected";
    if (c == "P" || c == "S") return "preliminary";
    if (c == "R" || c == "I") return "registered";
    if (c == "X") return "cancelled";
    if (c == "D" || c == "W") return "entered-in-error";
    return {};
  }

  void mapOrder(const Segment& obr, size_t occurrence, const std::vector<std::pair<const Segment*, size_t>>& results) {
    // The report's business key: filler order number, else placer, else the
    // message control id with the OBR's set id.
    std::string filler = trim(obr.value(3));
    std::string placer = trim(obr.value(2));
    std::string order_key = !filler.empty() ? filler : !placer.empty() ? placer : "";
    if (order_key.empty()) {
      if (record_.source_key.empty()) {
        error("required", "OBR", occurrence, 3, "DiagnosticReport.identifier",
              "neither OBR-3, OBR-2 nor MSH-10 identifies the order");
        return;
      }
      order_key = record_.source_key + "#" + (obr.value(1).empty() ? std::to_string(occurrence + 1) : obr.value(1));
    }
    std::string report_key = "lab|" + context_.organization_id + "|" + order_key;
    std::string report_id = id("DiagnosticReport", report_key);

    std::optional<Timestamp> effective;
    if (!trim(obr.value(7)).empty()) {
      effective = parseTimestamp(obr.value(7));
      if (!effective) error("value", "OBR", occurrence, 7, "DiagnosticReport.effectiveDateTime", "OBR-7 is not an HL7 date/time");
    }
    std::string status_code = trim(obr.value(25));
    std::string status = reportStatus(status_code);
    if (status.empty()) {
      if (status_code.empty()) warning("required", "OBR", occurrence, 25, "DiagnosticReport.status", "OBR-25 (result status) is empty: reported as unknown");
      else warning("code-invalid", "OBR", occurrence, 25, "DiagnosticReport.status", "OBR-25 result status " + status_code + " is unknown: reported as unknown");
      status = "unknown";
    }

    std::vector<std::string> observation_ids;
    for (const auto& [obx, obx_occurrence] : results) {
      std::string observation_id = mapResult(*obx, obx_occurrence, report_key, effective);
      if (!observation_id.empty()) observation_ids.push_back(observation_id);
    }

    Json w;
    w.begin().str("resourceType", "DiagnosticReport").str("id", report_id);
    w.beginArray("identifier").begin().str("system", std::string(kLabReportSystemPrefix) + context_.organization_id + "/lab")
        .str("value", order_key).end().endArray();
    w.str("status", status);
    w.beginArray("category").begin().beginArray("coding").coding(kV20074, "LAB", "Laboratory").endArray().end().endArray();
    sdk::Coding loinc;
    sdk::Coding local;
    const Field& service = obr.field(4);
    if (!trim(service.at(1)).empty()) {
      // A panel code without LOINC is common and harmless on the report.
      local.code = trim(service.at(1));
      local.display = trim(service.at(2));
      local.system = local_system_;
      bool have_loinc = upper(trim(service.at(3))) == "LN" || context_.host->translate(options_.lab_map, local.code, loinc);
      if (upper(trim(service.at(3))) == "LN") loinc = {std::string(kLoinc), local.code, local.display};
      if (have_loinc && loinc.system.empty()) loinc.system = std::string(kLoinc);
      writeCode(w, loinc, have_loinc, local);
    } else {
      w.beginObject("code").beginArray("coding").coding(kLoinc, "11502-2", "Laboratory report").endArray().end();
    }
    w.reference("subject", "Patient/" + patient_id_);
    if (effective) w.str("effectiveDateTime", dateTime(*effective));
    std::string issued_raw = trim(obr.value(22));
    if (!issued_raw.empty()) {
      auto issued = parseTimestamp(issued_raw);
      if (!issued || issued->time.empty()) {
        warning("value", "OBR", occurrence, 22, "DiagnosticReport.issued", "OBR-22 needs a date and time to be an instant; left out");
      } else {
        w.str("issued", dateTime(*issued));
      }
    }
    if (!observation_ids.empty()) {
      w.beginArray("result");
      for (const auto& oid : observation_ids) w.begin().str("reference", "Observation/" + oid).end();
      w.endArray();
    }
    w.end();
    record_.resources.push_back(w.take());
  }

  // Returns the Observation id, or empty when the OBX was refused.
  std::string mapResult(const Segment& obx, size_t occurrence, const std::string& report_key,
                        const std::optional<Timestamp>& report_time) {
    sdk::Coding loinc;
    sdk::Coding local;
    bool have_loinc = labCode(obx.field(3), "OBX", occurrence, 3, loinc, local);
    if (local.code.empty()) {
      error("required", "OBX", occurrence, 3, "Observation.code", "OBX-3 (observation identifier) is empty");
      return {};
    }
    if (!have_loinc && options_.require_loinc) return {};
    std::string status_code = trim(obx.value(11));
    std::string status = resultStatus(status_code);
    if (status.empty()) {
      error(status_code.empty() ? "required" : "code-invalid", "OBX", occurrence, 11, "Observation.status",
            status_code.empty() ? "OBX-11 (result status) is empty" : "OBX-11 result status " + status_code + " is unknown");
      return {};
    }
    std::string sub_id = trim(obx.value(4));
    std::string key = report_key + "|" + local.code + (sub_id.empty() ? "" : "|" + sub_id);
    std::string observation_id = id("Observation", key);

    Json w;
    w.begin().str("resourceType", "Observation").str("id", observation_id);
    w.beginArray("identifier").begin().str("system", std::string(kObservationSystemPrefix) + context_.organization_id)
        .str("value", key.substr(key.find('|', 4) + 1)).end().endArray();
    w.str("status", status);
    w.beginArray("category").begin().beginArray("coding").coding(kObservationCategory, "laboratory", "Laboratory")
        .endArray().end().endArray();
    writeCode(w, loinc, have_loinc, local);
    w.reference("subject", "Patient/" + patient_id_);
    std::optional<Timestamp> when;
    if (!trim(obx.value(14)).empty()) {
      when = parseTimestamp(obx.value(14));
      if (!when) warning("value", "OBX", occurrence, 14, "Observation.effectiveDateTime", "OBX-14 is not an HL7 date/time; OBR-7 used");
    }
    if (!when) when = report_time;
    if (when) w.str("effectiveDateTime", dateTime(*when));
    if (!writeValue(w, obx, occurrence)) return {};
    writeInterpretation(w, obx, occurrence);
    auto note = notes_.find(&obx);
    if (note != notes_.end()) {
      w.beginArray("note");
      for (const auto& text : note->second) {
        if (!text.empty()) w.begin().str("text", text).end();
      }
      w.endArray();
    }
    writeReferenceRange(w, obx);
    w.end();
    record_.resources.push_back(w.take());
    return observation_id;
  }

  // OBX-6 -> UCUM: the unit ConceptMap first, then a unit that already is
  // valid UCUM (whether or not OBX-6.3 says so), then one marked UCUM when no
  // UCUM table could be read.
  struct Unit {
    std::string text, code;
  };
  Unit unit(const Segment& obx, size_t occurrence) {
    Unit u;
    u.text = trim(obx.value(6, 2)).empty() ? trim(obx.value(6, 1)) : trim(obx.value(6, 2));
    std::string id_text = trim(obx.value(6, 1));
    if (id_text.empty()) return u;
    if (auto ucum = sdk::values::unitCoding(*context_.host, options_.unit_map, id_text, options_.ucum)) {
      u.code = ucum->code;
      if (u.text.empty()) u.text = id_text;
    } else if (options_.ucum == nullptr && upper(trim(obx.value(6, 3))) == "UCUM") {
      u.code = id_text;
    } else {
      warning("code-invalid", "OBX", occurrence, 6, "Observation.valueQuantity.code",
              "unit \"" + id_text + "\" has no UCUM code in ConceptMap " + options_.unit_map);
    }
    return u;
  }

  void quantity(Json& w, std::string_view key, const std::string& number, const Unit& u, std::string_view comparator = {}) {
    w.beginObject(key).raw("value", number);
    if (!comparator.empty()) w.str("comparator", comparator);
    if (!u.text.empty()) w.str("unit", u.text);
    if (!u.code.empty()) w.str("system", kUcum).str("code", u.code);
    w.end();
  }

  bool writeValue(Json& w, const Segment& obx, size_t occurrence) {
    std::string type = upper(trim(obx.value(2)));
    const Field& value = obx.field(5);
    if (value.empty()) {
      w.beginObject("dataAbsentReason").beginArray("coding")
          .coding("http://terminology.hl7.org/CodeSystem/data-absent-reason", "unknown", "Unknown").endArray().end();
      return true;
    }
    if (type == "NM") {
      auto number = decimal(value.at(1));
      if (!number) {
        error("value", "OBX", occurrence, 5, "Observation.valueQuantity.value", "OBX-5 is not a number (value type NM)");
        return false;
      }
      quantity(w, "valueQuantity", *number, unit(obx, occurrence));
      return true;
    }
    if (type == "SN") {
      // Structured numeric: comparator ^ num1 [^ separator ^ num2].
      std::string comparator = trim(value.at(1));
      auto first = decimal(value.at(2));
      std::string separator = trim(value.at(3));
      if (first && separator.empty() && (comparator.empty() || comparator == "<" || comparator == ">" ||
                                         comparator == "<=" || comparator == ">=")) {
        quantity(w, "valueQuantity", *first, unit(obx, occurrence), comparator == "=" ? "" : comparator);
        return true;
      }
      auto second = decimal(value.at(4));
      if (first && second && (separator == "-" || separator == ":" || separator == "/")) {
        Unit u = unit(obx, occurrence);
        if (separator == "-") {
          w.beginObject("valueRange");
          quantity(w, "low", *first, u);
          quantity(w, "high", *second, u);
          w.end();
        } else {
          w.beginObject("valueRatio");
          w.beginObject("numerator").raw("value", *first).end();
          w.beginObject("denominator").raw("value", *second).end();
          w.end();
        }
        return true;
      }
      error("value", "OBX", occurrence, 5, "Observation.valueQuantity", "OBX-5 is not a structured numeric value (SN)");
      return false;
    }
    if (type == "ST" || type == "TX" || type == "FT") {
      std::string text;
      for (size_t r = 0; r < value.repetitions(); ++r) {
        if (r > 0) text += "\n";
        text += value.at(1, 1, r);
      }
      w.str("valueString", text);
      return true;
    }
    if (type == "CE" || type == "CWE" || type == "CNE") {
      std::string code = trim(value.at(1));
      std::string display = trim(value.at(2));
      std::string system = trim(value.at(3));
      w.beginObject("valueCodeableConcept");
      if (!code.empty()) {
        std::string fhir_system = upper(system) == "SCT" ? "http://snomed.info/sct"
                                  : upper(system) == "LN" ? std::string(kLoinc)
                                  : local_system_;
        w.beginArray("coding").coding(fhir_system, code, display).endArray();
      }
      if (!display.empty() || code.empty()) w.str("text", display.empty() ? value.at(1) : display);
      w.end();
      return true;
    }
    if (type == "DT" || type == "TS" || type == "DTM") {
      auto ts = parseTimestamp(value.at(1));
      if (!ts) {
        error("value", "OBX", occurrence, 5, "Observation.valueDateTime", "OBX-5 is not an HL7 date/time");
        return false;
      }
      w.str("valueDateTime", dateTime(*ts));
      return true;
    }
    error("not-supported", "OBX", occurrence, 2, "Observation.value[x]",
          "OBX-2 value type \"" + type + "\" is not supported (NM, SN, ST, TX, FT, CE, CWE, CNE, DT, TS)");
    return false;
  }

  void writeInterpretation(Json& w, const Segment& obx, size_t occurrence) {
    // HL7 v2 table 0078 codes are the v3 ObservationInterpretation codes.
    static const std::map<std::string, std::string> kFlags = {
        {"L", "Low"}, {"H", "High"}, {"LL", "Critical low"}, {"HH", "Critical high"}, {"N", "Normal"},
        {"A", "Abnormal"}, {"AA", "Critical abnormal"}, {"<", "Off scale low"}, {">", "Off scale high"},
        {"POS", "Positive"}, {"NEG", "Negative"}, {"IND", "Indeterminate"}, {"DET", "Detected"},
        {"ND", "Not detected"}, {"S", "Susceptible"}, {"R", "Resistant"}, {"I", "Intermediate"},
        {"U", "Significant change up"}, {"D", "Significant change down"}, {"B", "Better"}, {"W", "Worse"}};
    const Field& flags = obx.field(8);
    bool open = false;
    for (size_t r = 0; r < flags.repetitions(); ++r) {
      std::string flag = upper(trim(flags.at(1, 1, r)));
      if (flag.empty()) continue;
      auto it = kFlags.find(flag);
      if (it == kFlags.end()) {
        warning("code-invalid", "OBX", occurrence, 8, "Observation.interpretation",
                "abnormal flag \"" + flag + "\" is not in HL7 table 0078; left out");
        continue;
      }
      if (!open) w.beginArray("interpretation");
      open = true;
      w.begin().beginArray("coding").coding(kInterpretation, it->first, it->second).endArray().end();
    }
    if (open) w.endArray();
  }

  void writeReferenceRange(Json& w, const Segment& obx) {
    std::string range = trim(obx.value(7));
    if (range.empty()) return;
    Unit u;
    if (upper(trim(obx.value(2))) == "NM" || upper(trim(obx.value(2))) == "SN") {
      u.text = trim(obx.value(6, 2)).empty() ? trim(obx.value(6, 1)) : trim(obx.value(6, 2));
      if (auto ucum = sdk::values::unitCoding(*context_.host, options_.unit_map, trim(obx.value(6, 1)), options_.ucum)) {
        u.code = ucum->code;
      }
    }
    std::optional<std::string> low;
    std::optional<std::string> high;
    size_t dash = range.find('-', 1);
    if (range[0] == '<') {
      high = decimal(range.substr(range.size() > 1 && range[1] == '=' ? 2 : 1));
    } else if (range[0] == '>') {
      low = decimal(range.substr(range.size() > 1 && range[1] == '=' ? 2 : 1));
    } else if (dash != std::string::npos) {
      low = decimal(range.substr(0, dash));
      high = decimal(range.substr(dash + 1));
      if (!low || !high) low = high = std::nullopt;
    }
    w.beginArray("referenceRange").begin();
    if (low) quantity(w, "low", *low, u);
    if (high) quantity(w, "high", *high, u);
    w.str("text", range);
    w.end().endArray();
  }

  const Message& message_;
  [[maybe_unused]] size_t index_;
  const sdk::Context& context_;
  const Options& options_;
  sdk::Record record_;
  std::string offset_;
  std::string local_system_;
  std::string patient_id_;
  std::map<const Segment*, std::vector<std::string>> notes_;
};

}  // namespace

class Hl7v2OruAdapter final : public sdk::Adapter {
 public:
  // The UCUM table is read once here, never on the request path. Without it
  // units go through the ConceptMap only.
  bool setup(const sdk::AdapterSetup& setup, std::vector<sdk::Issue>& issues) noexcept override {
    static_cast<void>(issues);
    try {
      std::string error;
      ucum_ = sdk::values::UcumUnits::load(setup.mappings_dir + "/ucum-units.json", error);
      if (!ucum_ && setup.host != nullptr) {
        setup.host->log(sdk::Severity::kWarning, "no UCUM table (" + error + "); units need the ConceptMap");
      }
    } catch (...) {
      ucum_.reset();
    }
    return true;
  }

  sdk::AdapterInfo info() const noexcept override {
    sdk::AdapterInfo info;
    try {
      info.name = "hl7v2-oru";
      info.version = kVersion;
      info.description =
          "Laboratory results as HL7 v2.x ORU^R01 (ER7) messages, one or many per post, to Patient, "
          "DiagnosticReport and laboratory Observations with LOINC codes and UCUM units";
      info.formats = {"x-application/hl7-v2+er7", "text/plain"};
      info.options = {
          {"lab_concept_map", "string", "lab-loinc",
           "ConceptMap id (in mappings/) turning local test codes (OBX-3, OBR-4) into LOINC"},
          {"unit_concept_map", "string", "units-ucum", "ConceptMap id turning OBX-6 units into UCUM codes"},
          {"require_loinc", "boolean", "true",
           "refuse a result whose test code has no LOINC mapping; false keeps it with the local code and a warning"},
          {"nik_authorities", "string", "NIK,KTP,DUKCAPIL,KEMENDAGRI",
           "PID-3 assigning authorities (comma-separated) whose identifiers are NIKs; identifier type NNIDN "
           "always is"},
      };
    } catch (...) {
    }
    return info;
  }

  sdk::MapResult map(std::string_view payload, const sdk::Context& context) const noexcept override {
    sdk::MapResult result;
    try {
      ParsedPayload parsed = parseEr7(payload);
      for (const auto& problem : parsed.problems) {
        std::string where = problem.line == 0 ? "payload" : "segment " + std::to_string(problem.line);
        result.issues.push_back({parsed.messages.empty() ? sdk::Severity::kFatal : sdk::Severity::kWarning,
                                 "structure", where, "", problem.message});
      }
      Options options = readOptions(context);
      options.ucum = ucum_ ? &*ucum_ : nullptr;
      for (size_t i = 0; i < parsed.messages.size(); ++i) {
        result.records.push_back(MessageMapper(parsed.messages[i], i, context, options).map());
      }
    } catch (const std::bad_alloc&) {
      // Only allocation failure can get here; never let it cross the boundary.
      result.records.clear();
      result.issues.push_back({sdk::Severity::kFatal, "exception", "payload", "", "hl7v2-oru failed: out of memory"});
    } catch (...) {
      result.records.clear();
      result.issues.push_back({sdk::Severity::kFatal, "exception", "payload", "", "hl7v2-oru failed"});
    }
    return result;
  }

 private:
  std::optional<sdk::values::UcumUnits> ucum_;  // set once in setup(), read-only after
};

}  // namespace ilpgw::plugins::hl7v2_oru

ILPGW_ADAPTER(ilpgw::plugins::hl7v2_oru::Hl7v2OruAdapter)
