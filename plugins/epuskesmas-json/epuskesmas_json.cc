// epuskesmas-json adapter: ePuskesmas visit documents (one JSON object per
// visit, or an array of them) to FHIR R4 resources shaped for SATUSEHAT:
// Patient, Practitioner, Encounter, vital-sign and screening Observations,
// Conditions and MedicationRequests. See README.md for the input format, the
// decisions behind each mapping and the options.
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <cmath>
#include <cstdio>
#include <exception>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fhir_writer.h"
#include "ilpgw/sdk/adapter.h"
#include "ilpgw/sdk/identifiers.h"
#include "ilpgw/sdk/values.h"
#include "signa.h"

namespace ilpgw::plugins::epuskesmas_json {
namespace {

using sdk::Severity;
using namespace sdk::values;

constexpr unsigned kParseFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseNumbersAsStringsFlag |
                                 rapidjson::kParseValidateEncodingFlag;

// Identifier and code systems shared with the core: ilpgw/sdk/identifiers.h.
using sdk::kAdministrativeCodeUrl;
using sdk::kBpjsSystem;
using sdk::kEncounterSystemPrefix;
using sdk::kMrnSystemPrefix;
using sdk::kNikSystem;
constexpr std::string_view kLoinc = sdk::kLoincSystem;
constexpr std::string_view kIcd10 = sdk::kIcd10System;
constexpr std::string_view kKfa = sdk::kKfaSystem;

constexpr std::string_view kKasusUrl = "https://ilp-gateway.id/fhir/StructureDefinition/kasus";

// Code systems of our own.
constexpr std::string_view kKlasterSystem = "https://ilp-gateway.id/fhir/CodeSystem/klaster";
constexpr std::string_view kPoliSystem = "https://ilp-gateway.id/fhir/CodeSystem/poli";
constexpr std::string_view kActCode = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
constexpr std::string_view kParticipationType = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";
constexpr std::string_view kObservationCategory = "http://terminology.hl7.org/CodeSystem/observation-category";
constexpr std::string_view kInterpretation = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
constexpr std::string_view kConditionCategory = "http://terminology.hl7.org/CodeSystem/condition-category";
constexpr std::string_view kConditionClinical = "http://terminology.hl7.org/CodeSystem/condition-clinical";
constexpr std::string_view kDiagnosisRole = "http://terminology.hl7.org/CodeSystem/diagnosis-role";

// ConceptMap ids in mappings/.
constexpr std::string_view kSkriningMap = "skrining";
constexpr std::string_view kProfesiMap = "profesi";

constexpr std::string_view kDurationOption = "encounter_duration_minutes";

// The `klaster` field may only name clusters 1..4; 5 (lintas klaster) comes
// from the poli map alone, which the core's ILP semantics apply
// (gateway/src/ingest/ilp_semantics.cc), as for every adapter.
constexpr std::string_view kKlasterCodes[] = {"1", "2", "3", "4"};

// One measured value in `pemeriksaan`. The plausible range only produces a
// warning: a value outside it is usually a typing slip (366 for 36.6) that a
// person should look at, but it is not provably wrong.
struct VitalSpec {
  const char* field;
  std::string_view loinc;
  std::string_view display;
  std::string_view unit;
  std::string_view ucum;
  std::string_view category;
  double plausible_min;
  double plausible_max;
};

constexpr VitalSpec kVitals[] = {
    {"nadi", "8867-4", "Heart rate", "beats/minute", "/min", "vital-signs", 20, 300},
    {"rr", "9279-1", "Respiratory rate", "breaths/minute", "/min", "vital-signs", 4, 80},
    {"suhu", "8310-5", "Body temperature", "C", "Cel", "vital-signs", 30, 45},
    {"bb", "29463-7", "Body weight", "kg", "kg", "vital-signs", 0.3, 400},
    {"tb", "8302-2", "Body height", "cm", "cm", "vital-signs", 20, 250},
    {"lingkar_perut", "8280-0", "Waist Circumference at umbilicus by Tape measure", "cm", "cm", "vital-signs",
     30, 250},
    {"lila", "56072-2", "Circumference Mid upper arm", "cm", "cm", "vital-signs", 5, 60},
    {"gds", "2339-0", "Glucose [Mass/volume] in Blood", "mg/dL", "mg/dL", "laboratory", 10, 1500},
};

constexpr std::string_view kBpPanel = "85354-9";
constexpr std::string_view kBmi = "39156-5";

std::string_view categoryDisplay(std::string_view code) {
  if (code == "vital-signs") return "Vital Signs";
  if (code == "laboratory") return "Laboratory";
  if (code == "survey") return "Survey";
  return "Exam";
}

struct Interpretation {
  std::string_view hasil;
  std::string_view code;
  std::string_view display;
};

constexpr Interpretation kInterpretations[] = {
    {"normal", "N", "Normal"},
    {"berisiko", "A", "Abnormal"},
    {"positif", "POS", "Positive"},
    {"negatif", "NEG", "Negative"},
};

// Diagnostics may quote short codes the clinic typed (icd10, poli, jenis).
std::string quoted(std::string_view value) { return sdk::values::quotedForDiagnostic(value); }

// Everything one visit maps to. Lives for one record; collects issues.
class RecordMapper {
 public:
  RecordMapper(const sdk::Context& context, const rapidjson::Value& visit, std::size_t index,
               std::int64_t duration_minutes)
      : context_(context), visit_(visit), duration_minutes_(duration_minutes) {
    record_.locator = "record[" + std::to_string(index) + "]";
  }

  sdk::Record map() {
    if (!visit_.IsObject()) {
      error("structure", "", "", "record is not a JSON object");
      return std::move(record_);
    }
    readVisitHeader();
    mapPatient();
    mapPractitioner();
    mapVitals();
    mapConditions();
    mapScreenings();
    mapPrescriptions();
    mapEncounter();
    assemble();
    return std::move(record_);
  }

 private:
  // ---- issues -------------------------------------------------------------

  void issue(Severity severity, std::string code, std::string_view field, std::string expression,
             std::string diagnostics) {
    sdk::Issue out;
    out.severity = severity;
    out.code = std::move(code);
    out.location = field.empty() ? record_.locator : record_.locator + "." + std::string(field);
    out.expression = std::move(expression);
    out.diagnostics = std::move(diagnostics);
    if (severity == Severity::kError || severity == Severity::kFatal) has_error_ = true;
    record_.issues.push_back(std::move(out));
  }
  void error(std::string code, std::string_view field, std::string expression, std::string diagnostics) {
    issue(Severity::kError, std::move(code), field, std::move(expression), std::move(diagnostics));
  }
  void warning(std::string code, std::string_view field, std::string expression, std::string diagnostics) {
    issue(Severity::kWarning, std::move(code), field, std::move(expression), std::move(diagnostics));
  }

  // ---- readers --------------------------------------------------------------
  // `path` is the field's place in the visit ("pasien.jk"); absent and null are
  // the same (the format says so); a value of the wrong JSON type is an error.

  static const rapidjson::Value* member(const rapidjson::Value& object, const char* name) {
    if (!object.IsObject()) return nullptr;
    auto it = object.FindMember(name);
    if (it == object.MemberEnd() || it->value.IsNull()) return nullptr;
    return &it->value;
  }

  // A string (numbers arrive as strings too), trimmed; empty counts as absent.
  std::optional<std::string> text(const rapidjson::Value& object, const char* name, const std::string& path,
                                  const std::string& expression = {}) {
    const rapidjson::Value* value = member(object, name);
    if (value == nullptr) return std::nullopt;
    if (!value->IsString()) {
      error("value", path, expression, "expected a string or number");
      return std::nullopt;
    }
    std::string_view trimmed = trim(std::string_view(value->GetString(), value->GetStringLength()));
    if (trimmed.empty()) return std::nullopt;
    return std::string(trimmed);
  }

  std::optional<std::string> requiredText(const rapidjson::Value& object, const char* name,
                                          const std::string& path, const std::string& expression) {
    std::size_t issues_before = record_.issues.size();
    auto value = text(object, name, path, expression);
    if (!value && issues_before == record_.issues.size()) error("required", path, expression, path + " is required");
    return value;
  }

  const rapidjson::Value* object(const rapidjson::Value& parent, const char* name, const std::string& path) {
    const rapidjson::Value* value = member(parent, name);
    if (value == nullptr) return nullptr;
    if (!value->IsObject()) {
      error("structure", path, "", "expected a JSON object");
      return nullptr;
    }
    return value;
  }

  const rapidjson::Value* array(const rapidjson::Value& parent, const char* name, const std::string& path) {
    const rapidjson::Value* value = member(parent, name);
    if (value == nullptr) return nullptr;
    if (!value->IsArray()) {
      error("structure", path, "", "expected a JSON array");
      return nullptr;
    }
    return value;
  }

  // A positive decimal, from a JSON number or a numeric string ("36,6").
  std::optional<std::string> positiveDecimal(const rapidjson::Value& parent, const char* name,
                                             const std::string& path, const std::string& expression) {
    auto raw = text(parent, name, path, expression);
    if (!raw) return std::nullopt;
    auto normalized = normalizeDecimal(*raw);
    if (!normalized) {
      error("value", path, expression, "not a number: " + quoted(*raw));
      return std::nullopt;
    }
    if (decimalValue(*normalized) <= 0) {
      error("value", path, expression, "must be greater than zero");
      return std::nullopt;
    }
    return normalized;
  }

  // ---- shared pieces of resources -----------------------------------------

  std::string patientRef() const { return "Patient/" + patient_id_; }
  std::string encounterRef() const { return "Encounter/" + encounter_id_; }
  std::string practitionerRef() const { return "Practitioner/" + practitioner_id_; }
  std::string resourceId(std::string_view type, const std::string& key) const {
    return context_.host->resourceId(type, key);
  }

  // subject, encounter, effective time and performer: common to every Observation.
  void writeObservationContext(FhirWriter& w) const {
    w.reference("subject", patientRef());
    w.reference("encounter", encounterRef());
    if (!effective_.empty()) w.string("effectiveDateTime", effective_);
    if (!practitioner_id_.empty()) {
      w.beginArray("performer");
      w.beginObject();
      w.string("reference", practitionerRef());
      w.endObject();
      w.endArray();
    }
  }

  void beginObservation(FhirWriter& w, const std::string& id, std::string_view category,
                        std::string_view system, std::string_view code, std::string_view display) const {
    w.beginObject();
    w.string("resourceType", "Observation");
    w.string("id", id);
    w.string("status", "final");
    w.conceptList("category", kObservationCategory, category, categoryDisplay(category));
    w.codeableConcept("code", system, code, display);
    writeObservationContext(w);
  }

  std::string observationId(std::string_view loinc) const {
    return resourceId("Observation", encounter_key_ + "|" + std::string(loinc));
  }

  // ---- visit header -----------------------------------------------------------

  void readVisitHeader() {
    auto id = requiredText(visit_, "id_kunjungan", "id_kunjungan", "Encounter.identifier[0].value");
    if (id) {
      id_kunjungan_ = *id;
      record_.source_key = *id;
    }
    encounter_key_ = context_.organization_id + "|" + id_kunjungan_;
    encounter_id_ = resourceId("Encounter", encounter_key_);

    auto waktu = requiredText(visit_, "waktu", "waktu", "Encounter.period.start");
    if (!waktu) return;
    auto parsed = parseDateTime(*waktu, "iso");
    if (!parsed || !parsed->has_time) {
      error("value", "waktu", "Encounter.period.start",
            "waktu must be an ISO 8601 date-time such as 2024-11-26T10:05:00+07:00");
      return;
    }
    // Local clinic time: the facility's zone comes from the gateway config.
    if (!applyFacilityOffset(*parsed, context_.timezone_offset)) {
      error("business-rule", "waktu", "Encounter.period.start",
            "waktu has no UTC offset and the facility has no valid timezone_offset configured");
      return;
    }
    visit_time_ = *parsed;
    effective_ = formatDateTime(*parsed);
  }

  // ---- Patient -------------------------------------------------------------------

  void mapPatient() {
    const rapidjson::Value* pasien = object(visit_, "pasien", "pasien");
    if (pasien == nullptr) {
      if (member(visit_, "pasien") == nullptr) error("required", "pasien", "Patient", "pasien is required");
      return;
    }
    std::optional<std::string> nik = text(*pasien, "nik", "pasien.nik", "Patient.identifier");
    if (nik && !isNik(*nik)) {
      error("value", "pasien.nik", "Patient.identifier", "NIK must be 16 digits");
      nik.reset();
      nik_invalid_ = true;
    }
    auto no_rm = text(*pasien, "no_rm", "pasien.no_rm", "Patient.identifier");
    auto no_bpjs = text(*pasien, "no_bpjs", "pasien.no_bpjs", "Patient.identifier");
    if (no_bpjs && !(no_bpjs->size() == 13 && isDigits(*no_bpjs))) {
      warning("value", "pasien.no_bpjs", "Patient.identifier", "BPJS card numbers have 13 digits");
    }
    auto nama = requiredText(*pasien, "nama", "pasien.nama", "Patient.name[0].text");
    std::string gender = readGender(*pasien);
    std::optional<DateTime> birth_date = readBirthDate(*pasien);
    if (nik && birth_date && sex_) checkNikFacts(*nik, *birth_date, *sex_);

    if (nik) {
      patient_id_ = resourceId("Patient", "nik|" + *nik);
    } else if (no_rm) {
      patient_id_ = resourceId("Patient", "mrn|" + context_.organization_id + "|" + *no_rm);
    } else if (!nik_invalid_) {
      error("required", "pasien", "Patient.identifier", "pasien needs a nik or a no_rm to be identified");
    }

    FhirWriter w;
    w.beginObject();
    w.string("resourceType", "Patient");
    w.string("id", patient_id_);
    w.beginArray("identifier");
    if (nik) writeIdentifier(w, "official", kNikSystem, *nik);
    if (no_rm) writeIdentifier(w, "usual", std::string(kMrnSystemPrefix) + context_.organization_id, *no_rm);
    if (no_bpjs) writeIdentifier(w, "secondary", kBpjsSystem, *no_bpjs);
    w.endArray();
    w.beginArray("name");
    w.beginObject();
    w.string("use", "official");
    if (nama) w.string("text", *nama);
    w.endObject();
    w.endArray();
    if (auto telepon = text(*pasien, "telepon", "pasien.telepon", "Patient.telecom[0].value")) {
      w.beginArray("telecom");
      w.beginObject();
      w.string("system", "phone");
      w.string("value", *telepon);
      if (telepon->rfind("08", 0) == 0 || telepon->rfind("+628", 0) == 0 || telepon->rfind("628", 0) == 0) {
        w.string("use", "mobile");
      }
      w.endObject();
      w.endArray();
    }
    if (!gender.empty()) w.string("gender", gender);
    if (birth_date) w.string("birthDate", formatDate(*birth_date));
    if (const rapidjson::Value* alamat = object(*pasien, "alamat", "pasien.alamat")) writeAddress(w, *alamat);
    w.endObject();
    patient_ = w.take();
  }

  static void writeIdentifier(FhirWriter& w, std::string_view use, std::string_view system,
                              std::string_view value) {
    w.beginObject();
    w.string("use", use);
    w.string("system", system);
    w.string("value", value);
    w.endObject();
  }

  std::string readGender(const rapidjson::Value& pasien) {
    auto jk = requiredText(pasien, "jk", "pasien.jk", "Patient.gender");
    if (!jk) return {};
    sex_ = parseSex(*jk);
    if (sex_) return std::string(fhirGender(*sex_));
    error("value", "pasien.jk", "Patient.gender", "jk must be L (laki-laki) or P (perempuan)");
    return {};
  }

  std::optional<DateTime> readBirthDate(const rapidjson::Value& pasien) {
    auto raw = requiredText(pasien, "tgl_lahir", "pasien.tgl_lahir", "Patient.birthDate");
    if (!raw) return std::nullopt;
    auto date = parseDateTime(*raw, "iso");
    if (!date || date->has_time) {
      error("value", "pasien.tgl_lahir", "Patient.birthDate", "tgl_lahir must be a date yyyy-mm-dd");
      return std::nullopt;
    }
    if (visit_time_ && formatDate(*date) > formatDate(*visit_time_)) {
      error("value", "pasien.tgl_lahir", "Patient.birthDate", "tgl_lahir is after the visit");
      return std::nullopt;
    }
    return date;
  }

  // A NIK embeds the birth date as DDMMYY with DD + 40 for women; a mismatch
  // is a likely data-entry error but the NIK itself may be the right one.
  void checkNikFacts(const std::string& nik, const DateTime& birth_date, Sex sex) {
    auto facts = decodeNik(nik);
    if (!facts) return;
    if (!facts->agreesWithSex(sex)) {
      warning("business-rule", "pasien.nik", "Patient.identifier", "the sex encoded in the NIK does not match jk");
    }
    if (!facts->agreesWithBirthDate(formatDate(birth_date))) {
      warning("business-rule", "pasien.nik", "Patient.identifier",
              "the birth date encoded in the NIK does not match tgl_lahir");
    }
  }

  void writeAddress(FhirWriter& w, const rapidjson::Value& alamat) {
    auto jalan = text(alamat, "jalan", "pasien.alamat.jalan", "Patient.address[0].line[0]");
    auto rt = text(alamat, "rt", "pasien.alamat.rt", "Patient.address[0].extension");
    auto rw = text(alamat, "rw", "pasien.alamat.rw", "Patient.address[0].extension");
    auto desa = text(alamat, "desa", "pasien.alamat.desa", "Patient.address[0].text");
    auto kode_desa = text(alamat, "kode_desa", "pasien.alamat.kode_desa", "Patient.address[0].extension");
    auto kecamatan = text(alamat, "kecamatan", "pasien.alamat.kecamatan", "Patient.address[0].district");
    auto kabupaten = text(alamat, "kabupaten", "pasien.alamat.kabupaten", "Patient.address[0].city");
    if (rt && !isDigits(*rt)) {
      warning("value", "pasien.alamat.rt", "Patient.address[0].extension", "rt is not a number; left out");
      rt.reset();
    }
    if (rw && !isDigits(*rw)) {
      warning("value", "pasien.alamat.rw", "Patient.address[0].extension", "rw is not a number; left out");
      rw.reset();
    }
    if (kode_desa) {
      // Kemendagri also writes village codes dotted: 62.03.01.1001.
      std::string digits;
      for (char c : *kode_desa) {
        if (c != '.') digits.push_back(c);
      }
      if (digits.size() == 10 && isDigits(digits)) {
        kode_desa = digits;
      } else {
        warning("value", "pasien.alamat.kode_desa", "Patient.address[0].extension",
                "kode_desa must be a 10-digit Kemendagri village code; administrativeCode left out");
        kode_desa.reset();
      }
    }
    if (!jalan && !rt && !rw && !desa && !kode_desa && !kecamatan && !kabupaten) return;

    w.beginArray("address");
    w.beginObject();
    if (kode_desa) writeAdministrativeCode(w, *kode_desa, rt, rw);
    w.string("use", "home");
    std::string full;
    auto append = [&full](std::string_view separator, std::string_view part) {
      if (!full.empty()) full.append(separator);
      full.append(part);
    };
    if (jalan) append("", *jalan);
    if (rt || rw) append(" ", "RT " + rt.value_or("-") + "/RW " + rw.value_or("-"));
    if (desa) append(", ", *desa);
    if (kecamatan) append(", ", *kecamatan);
    if (kabupaten) append(", ", *kabupaten);
    w.string("text", full);
    if (jalan) {
      w.beginArray("line");
      w.string(*jalan);
      w.endArray();
    }
    if (kabupaten) w.string("city", *kabupaten);
    if (kecamatan) w.string("district", *kecamatan);
    w.string("country", "ID");
    w.endObject();
    w.endArray();
  }

  // SATUSEHAT's administrativeCode: the village code's prefixes are the
  // province (2), regency/city (4) and district (6) codes.
  static void writeAdministrativeCode(FhirWriter& w, const std::string& kode_desa,
                                      const std::optional<std::string>& rt, const std::optional<std::string>& rw) {
    auto part = [&w](std::string_view url, std::string_view code) {
      w.beginObject();
      w.string("url", url);
      w.string("valueCode", code);
      w.endObject();
    };
    w.beginArray("extension");
    w.beginObject();
    w.string("url", kAdministrativeCodeUrl);
    w.beginArray("extension");
    part("province", kode_desa.substr(0, 2));
    part("city", kode_desa.substr(0, 4));
    part("district", kode_desa.substr(0, 6));
    part("village", kode_desa);
    if (rt) part("rt", *rt);
    if (rw) part("rw", *rw);
    w.endArray();
    w.endObject();
    w.endArray();
  }

  // ---- Practitioner ---------------------------------------------------------

  void mapPractitioner() {
    const rapidjson::Value* tenaga = object(visit_, "tenaga_medis", "tenaga_medis");
    auto missing = [this]() {
      warning("incomplete", "tenaga_medis", "Encounter.participant",
              "no identifiable tenaga_medis: Encounter.participant, performer and requester are left out");
    };
    if (tenaga == nullptr) {
      if (member(visit_, "tenaga_medis") == nullptr) missing();
      return;
    }
    auto nik = text(*tenaga, "nik", "tenaga_medis.nik", "Practitioner.identifier[0].value");
    if (!nik) {
      missing();
      return;
    }
    if (!isNik(*nik)) {
      error("value", "tenaga_medis.nik", "Practitioner.identifier[0].value", "NIK must be 16 digits");
      return;
    }
    practitioner_id_ = resourceId("Practitioner", "nik|" + *nik);
    auto nama = text(*tenaga, "nama", "tenaga_medis.nama", "Practitioner.name[0].text");
    auto profesi = text(*tenaga, "profesi", "tenaga_medis.profesi", "Practitioner.qualification[0].code");

    FhirWriter w;
    w.beginObject();
    w.string("resourceType", "Practitioner");
    w.string("id", practitioner_id_);
    w.beginArray("identifier");
    writeIdentifier(w, "official", kNikSystem, *nik);
    w.endArray();
    if (nama) {
      w.beginArray("name");
      w.beginObject();
      w.string("use", "official");
      w.string("text", *nama);
      w.endObject();
      w.endArray();
    }
    if (profesi) writeQualification(w, *profesi);
    w.endObject();
    practitioner_ = w.take();
  }

  void writeQualification(FhirWriter& w, const std::string& profesi) {
    sdk::Coding coding;
    bool known = context_.host->translate(kProfesiMap, profesi, coding);
    if (!known) {
      warning("code-invalid", "tenaga_medis.profesi", "Practitioner.qualification[0].code",
              "profesi " + quoted(profesi) + " is not in the profesi map; kept as text only");
    }
    w.beginArray("qualification");
    w.beginObject();
    w.beginObject("code");
    if (known) {
      w.beginArray("coding");
      w.coding(coding.system, coding.code, coding.display);
      w.endArray();
    }
    w.string("text", profesi);
    w.endObject();
    w.endObject();
    w.endArray();
  }

  // ---- vital signs and glucose -----------------------------------------------

  void mapVitals() {
    const rapidjson::Value* pemeriksaan = object(visit_, "pemeriksaan", "pemeriksaan");
    if (pemeriksaan == nullptr) return;
    mapBloodPressure(*pemeriksaan);
    std::map<std::string_view, std::string> values;  // field -> decimal text
    for (const VitalSpec& spec : kVitals) {
      std::string path = std::string("pemeriksaan.") + spec.field;
      auto value = positiveDecimal(*pemeriksaan, spec.field, path, "Observation.valueQuantity.value");
      if (!value) continue;
      double number = decimalValue(*value);
      if (number < spec.plausible_min || number > spec.plausible_max) {
        warning("value", path, "Observation.valueQuantity.value",
                "value " + *value + " is outside the plausible range; please check the unit");
      }
      values.emplace(spec.field, *value);
      FhirWriter w;
      beginObservation(w, observationId(spec.loinc), spec.category, kLoinc, spec.loinc, spec.display);
      w.quantity("valueQuantity", *value, spec.unit, spec.ucum);
      w.endObject();
      observations_.push_back(w.take());
    }
    auto bb = values.find("bb");
    auto tb = values.find("tb");
    if (bb != values.end() && tb != values.end()) mapBmi(bb->second, tb->second);
  }

  void mapBloodPressure(const rapidjson::Value& pemeriksaan) {
    auto td = text(pemeriksaan, "td", "pemeriksaan.td", "Observation.component");
    if (!td) return;
    auto bp = parseBloodPressure(*td);
    if (!bp) {
      error("value", "pemeriksaan.td", "Observation.component",
            "td must be systolic/diastolic in mmHg, such as 120/80");
      return;
    }
    FhirWriter w;
    beginObservation(w, observationId(kBpPanel), "vital-signs", kLoinc, kBpPanel,
                     "Blood pressure panel with all children optional");
    w.beginArray("component");
    auto component = [&w](std::string_view code, std::string_view display, const std::string& value) {
      w.beginObject();
      w.codeableConcept("code", kLoinc, code, display);
      w.quantity("valueQuantity", value, "mmHg", "mm[Hg]");
      w.endObject();
    };
    component("8480-6", "Systolic blood pressure", bp->systolic);
    component("8462-4", "Diastolic blood pressure", bp->diastolic);
    w.endArray();
    w.endObject();
    observations_.push_back(w.take());
  }

  // BMI is derived, so it names the two Observations it was computed from.
  void mapBmi(const std::string& weight, const std::string& height) {
    double metres = decimalValue(height) / 100.0;
    double bmi = decimalValue(weight) / (metres * metres);
    char text_value[32];
    std::snprintf(text_value, sizeof text_value, "%.1f", bmi);
    FhirWriter w;
    beginObservation(w, observationId(kBmi), "vital-signs", kLoinc, kBmi, "Body mass index (BMI) [Ratio]");
    w.quantity("valueQuantity", text_value, "kg/m2", "kg/m2");
    w.beginArray("derivedFrom");
    for (std::string_view loinc : {std::string_view("29463-7"), std::string_view("8302-2")}) {
      w.beginObject();
      w.string("reference", "Observation/" + observationId(loinc));
      w.endObject();
    }
    w.endArray();
    w.endObject();
    observations_.push_back(w.take());
  }

  // ---- Conditions --------------------------------------------------------------

  void mapConditions() {
    const rapidjson::Value* diagnosa = array(visit_, "diagnosa", "diagnosa");
    if (diagnosa == nullptr) return;
    std::set<std::string> seen;
    bool has_primer = false;
    int next_rank = 2;
    for (rapidjson::SizeType j = 0; j < diagnosa->Size(); ++j) {
      std::string path = "diagnosa[" + std::to_string(j) + "]";
      const rapidjson::Value& item = (*diagnosa)[j];
      if (!item.IsObject()) {
        error("structure", path, "Condition", "expected a JSON object");
        continue;
      }
      auto icd10 = requiredText(item, "icd10", path + ".icd10", "Condition.code.coding[0].code");
      bool primer = readJenis(item, path);
      auto kasus = readKasus(item, path);
      if (!icd10) continue;
      auto normalized = normalizeIcd10(*icd10);
      if (!normalized) {
        error("code-invalid", path + ".icd10", "Condition.code.coding[0].code",
              "icd10 " + quoted(*icd10) + " is not an ICD-10 code such as I10 or E11.9");
        continue;
      }
      const std::string& code = *normalized;
      if (!seen.insert(code).second) {
        warning("duplicate", path + ".icd10", "Condition", "diagnosis " + code + " repeated; kept once");
        continue;
      }
      int rank = 0;
      if (primer && !has_primer) {
        rank = 1;
        has_primer = true;
      } else {
        if (primer) warning("business-rule", path + ".jenis", "Encounter.diagnosis.rank", "more than one primer");
        rank = next_rank++;
      }
      std::string id = resourceId("Condition", encounter_key_ + "|" + code);
      diagnoses_.push_back({id, rank});
      auto nama = text(item, "nama", path + ".nama", "Condition.code.text");
      conditions_.push_back(writeCondition(id, code, nama, kasus));
    }
  }

  bool readJenis(const rapidjson::Value& item, const std::string& path) {
    auto jenis = text(item, "jenis", path + ".jenis", "Encounter.diagnosis.rank");
    if (!jenis) return false;
    std::string lower = toLower(*jenis);
    if (lower == "primer") return true;
    if (lower != "sekunder") {
      error("value", path + ".jenis", "Encounter.diagnosis.rank", "jenis must be primer or sekunder");
    }
    return false;
  }

  std::optional<std::string> readKasus(const rapidjson::Value& item, const std::string& path) {
    auto kasus = text(item, "kasus", path + ".kasus", "Condition.extension");
    if (!kasus) return std::nullopt;
    std::string lower = toLower(*kasus);
    if (lower == "baru" || lower == "lama") return lower;
    error("value", path + ".kasus", "Condition.extension", "kasus must be baru or lama");
    return std::nullopt;
  }

  std::string writeCondition(const std::string& id, const std::string& code, const std::optional<std::string>& nama,
                             const std::optional<std::string>& kasus) const {
    FhirWriter w;
    w.beginObject();
    w.string("resourceType", "Condition");
    w.string("id", id);
    if (kasus) {
      w.beginArray("extension");
      w.beginObject();
      w.string("url", kKasusUrl);
      w.string("valueCode", *kasus);
      w.endObject();
      w.endArray();
    }
    w.codeableConcept("clinicalStatus", kConditionClinical, "active", "Active");
    w.conceptList("category", kConditionCategory, "encounter-diagnosis", "Encounter Diagnosis");
    w.codeableConcept("code", kIcd10, code, "", nama.value_or(""));
    w.reference("subject", patientRef());
    w.reference("encounter", encounterRef());
    if (!effective_.empty()) w.string("recordedDate", effective_);
    if (!practitioner_id_.empty()) w.reference("recorder", practitionerRef());
    w.endObject();
    return w.take();
  }

  // ---- screening Observations ----------------------------------------------------

  void mapScreenings() {
    const rapidjson::Value* skrining = array(visit_, "skrining", "skrining");
    if (skrining == nullptr) return;
    std::set<std::string> seen;
    for (rapidjson::SizeType j = 0; j < skrining->Size(); ++j) {
      std::string path = "skrining[" + std::to_string(j) + "]";
      const rapidjson::Value& item = (*skrining)[j];
      if (!item.IsObject()) {
        error("structure", path, "Observation", "expected a JSON object");
        continue;
      }
      mapScreening(item, path, seen);
    }
  }

  void mapScreening(const rapidjson::Value& item, const std::string& path, std::set<std::string>& seen) {
    auto jenis = requiredText(item, "jenis", path + ".jenis", "Observation.code");
    const Interpretation* interpretation = readHasil(item, path);
    const rapidjson::Value* nilai = member(item, "nilai");
    if (nilai != nullptr && !nilai->IsString()) {
      error("value", path + ".nilai", "Observation.value[x]", "nilai must be a number or a string");
      nilai = nullptr;
    }
    // Strings from numbers are not NUL-terminated: always use the length.
    std::string nilai_text =
        nilai ? std::string(trim(std::string_view(nilai->GetString(), nilai->GetStringLength()))) : std::string();
    if (interpretation == nullptr && nilai_text.empty() && member(item, "hasil") == nullptr) {
      error("required", path + ".hasil", "Observation.interpretation", "a screening needs hasil or nilai");
    }
    if (!jenis) return;
    sdk::Coding coding;
    if (!context_.host->translate(kSkriningMap, *jenis, coding)) {
      error("code-invalid", path + ".jenis", "Observation.code",
            "screening " + quoted(*jenis) + " is not in the skrining map");
      return;
    }
    std::string key = toLower(*jenis);
    if (!seen.insert(key).second) {
      warning("duplicate", path + ".jenis", "Observation", "screening " + quoted(*jenis) + " repeated; kept once");
      return;
    }
    FhirWriter w;
    std::string id = resourceId("Observation", encounter_key_ + "|skrining|" + key);
    beginObservation(w, id, "survey", coding.system, coding.code, coding.display);
    if (interpretation != nullptr) {
      w.conceptList("interpretation", kInterpretation, interpretation->code, interpretation->display);
    }
    if (!nilai_text.empty()) {
      // A number becomes a unit-less quantity (the format carries no unit);
      // anything else (a questionnaire score band, "+2") stays text.
      if (auto number = normalizeDecimal(nilai_text)) {
        w.beginObject("valueQuantity");
        w.decimal("value", *number);
        w.endObject();
      } else {
        w.string("valueString", nilai_text);
      }
    }
    w.endObject();
    screenings_.push_back(w.take());
  }

  const Interpretation* readHasil(const rapidjson::Value& item, const std::string& path) {
    auto hasil = text(item, "hasil", path + ".hasil", "Observation.interpretation");
    if (!hasil) return nullptr;
    std::string lower = toLower(*hasil);
    for (const Interpretation& candidate : kInterpretations) {
      if (candidate.hasil == lower) return &candidate;
    }
    error("value", path + ".hasil", "Observation.interpretation",
          "hasil must be normal, berisiko, positif or negatif");
    return nullptr;
  }

  // ---- MedicationRequests ------------------------------------------------------------

  void mapPrescriptions() {
    const rapidjson::Value* resep = array(visit_, "resep", "resep");
    if (resep == nullptr) return;
    std::map<std::string, int> occurrences;
    for (rapidjson::SizeType j = 0; j < resep->Size(); ++j) {
      std::string path = "resep[" + std::to_string(j) + "]";
      const rapidjson::Value& item = (*resep)[j];
      if (!item.IsObject()) {
        error("structure", path, "MedicationRequest", "expected a JSON object");
        continue;
      }
      auto kode_obat = requiredText(item, "kode_obat", path + ".kode_obat",
                                    "MedicationRequest.contained[0].code.coding[0].code");
      auto nama_obat = text(item, "nama_obat", path + ".nama_obat", "MedicationRequest.contained[0].code");
      auto jumlah = positiveDecimal(item, "jumlah", path + ".jumlah",
                                    "MedicationRequest.dispenseRequest.quantity.value");
      auto signa = text(item, "signa", path + ".signa", "MedicationRequest.dosageInstruction[0]");
      std::optional<Signa> parsed_signa;
      if (signa) {
        parsed_signa = parseSigna(*signa);
        if (!parsed_signa && !isAsNeeded(*signa)) {
          warning("value", path + ".signa", "MedicationRequest.dosageInstruction[0].timing",
                  "signa is not of the form 3x1; kept as text only");
        }
      }
      if (!kode_obat) continue;
      // The same medicine twice in one visit (morning and evening doses) is
      // legitimate: the n-th occurrence gets its own stable key.
      int occurrence = ++occurrences[*kode_obat];
      std::string key = encounter_key_ + "|resep|" + *kode_obat;
      if (occurrence > 1) key += "|" + std::to_string(occurrence);
      prescriptions_.push_back(writeMedicationRequest(resourceId("MedicationRequest", key), *kode_obat,
                                                      nama_obat, jumlah, signa, parsed_signa));
    }
  }

  std::string writeMedicationRequest(const std::string& id, const std::string& kode_obat,
                                     const std::optional<std::string>& nama_obat,
                                     const std::optional<std::string>& jumlah,
                                     const std::optional<std::string>& signa,
                                     const std::optional<Signa>& parsed) const {
    FhirWriter w;
    w.beginObject();
    w.string("resourceType", "MedicationRequest");
    w.string("id", id);
    w.beginArray("contained");
    w.beginObject();
    w.string("resourceType", "Medication");
    w.string("id", "med");
    w.codeableConcept("code", kKfa, kode_obat, nama_obat.value_or(""));
    w.endObject();
    w.endArray();
    w.string("status", "active");
    w.string("intent", "order");
    w.beginObject("medicationReference");
    w.string("reference", "#med");
    if (nama_obat) w.string("display", *nama_obat);
    w.endObject();
    w.reference("subject", patientRef());
    w.reference("encounter", encounterRef());
    if (!effective_.empty()) w.string("authoredOn", effective_);
    if (!practitioner_id_.empty()) w.reference("requester", practitionerRef());
    if (signa) {
      w.beginArray("dosageInstruction");
      w.beginObject();
      w.integer("sequence", 1);
      w.string("text", *signa);
      if (isAsNeeded(*signa)) w.boolean("asNeededBoolean", true);
      if (parsed) {
        w.beginObject("timing");
        w.beginObject("repeat");
        w.integer("frequency", parsed->frequency);
        w.integer("period", 1);
        w.string("periodUnit", "d");
        w.endObject();
        w.endObject();
        w.beginArray("doseAndRate");
        w.beginObject();
        w.beginObject("doseQuantity");
        w.decimal("value", parsed->dose);
        w.endObject();
        w.endObject();
        w.endArray();
      }
      w.endObject();
      w.endArray();
    }
    if (jumlah) {
      w.beginObject("dispenseRequest");
      w.beginObject("quantity");
      w.decimal("value", *jumlah);
      w.endObject();
      w.endObject();
    }
    w.endObject();
    return w.take();
  }

  // ---- Encounter ---------------------------------------------------------------------

  // The `klaster` field, when present: 1..4, as a JSON number or a string. It
  // overrides the poli; without it the core derives the klaster from the
  // poli (or the life-cycle stage) and adds the display.
  std::optional<std::string> readKlasterOverride() {
    auto raw = text(visit_, "klaster", "klaster", "Encounter.serviceType");
    if (!raw) return std::nullopt;
    for (std::string_view code : kKlasterCodes) {
      if (*raw == code) return std::string(code);
    }
    error("value", "klaster", "Encounter.serviceType", "klaster must be 1, 2, 3 or 4");
    return std::nullopt;
  }

  void writeServiceType(FhirWriter& w) {
    auto poli = text(visit_, "poli", "poli", "Encounter.serviceType");
    auto klaster = readKlasterOverride();
    if (!klaster && !poli) return;
    // Encounter.serviceType is 0..1 in R4: one CodeableConcept, two codings.
    w.beginObject("serviceType");
    w.beginArray("coding");
    if (klaster) w.coding(kKlasterSystem, *klaster, "");
    if (poli) w.coding(kPoliSystem, toUpper(*poli), "");
    w.endArray();
    if (poli) w.string("text", *poli);
    w.endObject();
  }

  void mapEncounter() {
    // A visit document is posted after the fact but carries no end time; we
    // never invent one unless the operator configured a nominal duration.
    std::string status = "in-progress";
    std::string end;
    if (duration_minutes_ > 0 && visit_time_) {
      status = "finished";
      end = formatDateTime(addMinutes(*visit_time_, duration_minutes_));
    }
    FhirWriter w;
    w.beginObject();
    w.string("resourceType", "Encounter");
    w.string("id", encounter_id_);
    w.beginArray("identifier");
    w.beginObject();
    w.string("system", std::string(kEncounterSystemPrefix) + context_.organization_id);
    w.string("value", id_kunjungan_);
    w.endObject();
    w.endArray();
    w.string("status", status);
    writeStatusHistory(w, status, end);
    w.beginObject("class");
    w.string("system", kActCode);
    w.string("code", "AMB");
    w.string("display", "ambulatory");
    w.endObject();
    writeServiceType(w);
    w.reference("subject", patientRef());
    if (!practitioner_id_.empty()) {
      w.beginArray("participant");
      w.beginObject();
      w.conceptList("type", kParticipationType, "ATND", "attender");
      w.reference("individual", practitionerRef());
      w.endObject();
      w.endArray();
    }
    writePeriod(w, end);
    writeDiagnoses(w);
    w.reference("serviceProvider", "Organization/" + context_.organization_id);
    w.endObject();
    encounter_ = w.take();
  }

  void writePeriod(FhirWriter& w, const std::string& end) const {
    if (effective_.empty()) return;
    w.beginObject("period");
    w.string("start", effective_);
    if (!end.empty()) w.string("end", end);
    w.endObject();
  }

  void writeStatusHistory(FhirWriter& w, const std::string& status, const std::string& end) const {
    if (effective_.empty()) return;
    auto entry = [&w](std::string_view state, const std::string& start, const std::string& stop) {
      w.beginObject();
      w.string("status", state);
      w.beginObject("period");
      w.string("start", start);
      if (!stop.empty()) w.string("end", stop);
      w.endObject();
      w.endObject();
    };
    w.beginArray("statusHistory");
    entry("in-progress", effective_, end);
    if (status == "finished") entry("finished", end, end);
    w.endArray();
  }

  void writeDiagnoses(FhirWriter& w) const {
    if (diagnoses_.empty()) return;
    w.beginArray("diagnosis");
    for (const auto& diagnosis : diagnoses_) {
      w.beginObject();
      w.reference("condition", "Condition/" + diagnosis.condition_id);
      w.codeableConcept("use", kDiagnosisRole, "DD", "Discharge diagnosis");
      w.integer("rank", diagnosis.rank);
      w.endObject();
    }
    w.endArray();
  }

  // ---- output ----------------------------------------------------------------------

  void assemble() {
    // A refused record carries no resources: nothing of it may be stored, and
    // half-built resources only confuse whoever reads the answer.
    if (has_error_) return;
    record_.resources.push_back(std::move(patient_));
    if (!practitioner_.empty()) record_.resources.push_back(std::move(practitioner_));
    record_.resources.push_back(std::move(encounter_));
    for (auto* group : {&observations_, &conditions_, &screenings_, &prescriptions_}) {
      for (auto& resource : *group) record_.resources.push_back(std::move(resource));
    }
  }

  struct DiagnosisRef {
    std::string condition_id;
    int rank = 0;
  };

  const sdk::Context& context_;
  const rapidjson::Value& visit_;
  std::int64_t duration_minutes_;
  sdk::Record record_;
  bool has_error_ = false;
  bool nik_invalid_ = false;

  std::string id_kunjungan_;
  std::string encounter_key_;  // organization|id_kunjungan: the root of every id
  std::string encounter_id_;
  std::string patient_id_;
  std::string practitioner_id_;  // empty when the visit names no practitioner
  std::optional<DateTime> visit_time_;
  std::optional<Sex> sex_;
  std::string effective_;  // visit time as a FHIR dateTime with offset
  std::vector<DiagnosisRef> diagnoses_;

  std::string patient_;
  std::string practitioner_;
  std::string encounter_;
  std::vector<std::string> observations_;
  std::vector<std::string> conditions_;
  std::vector<std::string> screenings_;
  std::vector<std::string> prescriptions_;
};

sdk::Issue payloadIssue(std::string code, std::string diagnostics) {
  sdk::Issue issue;
  issue.severity = Severity::kFatal;
  issue.code = std::move(code);
  issue.location = "payload";
  issue.diagnostics = std::move(diagnostics);
  return issue;
}

std::int64_t durationOption(const sdk::Context& context) {
  std::string_view raw = trim(context.option(kDurationOption));
  if (raw.empty() || !isDigits(raw) || raw.size() > 5) return 0;
  return std::stoll(std::string(raw));
}

sdk::Record mapOne(const sdk::Context& context, const rapidjson::Value& visit, std::size_t index,
                   std::int64_t duration_minutes) {
  try {
    return RecordMapper(context, visit, index, duration_minutes).map();
  } catch (...) {
    sdk::Record record;
    record.locator = "record[" + std::to_string(index) + "]";
    sdk::Issue issue;
    issue.code = "exception";
    issue.location = record.locator;
    issue.diagnostics = "internal error while mapping this record";
    record.issues.push_back(std::move(issue));
    return record;
  }
}

}  // namespace

class EpuskesmasJsonAdapter final : public sdk::Adapter {
 public:
  sdk::AdapterInfo info() const noexcept override {
    sdk::AdapterInfo info;
    try {
      info.name = "epuskesmas-json";
      info.version = "1.0.0";
      info.description =
          "ePuskesmas visit documents (one JSON object per visit or an array of them) to Patient, "
          "Practitioner, Encounter, Observation, Condition and MedicationRequest";
      info.formats = {"application/json"};
      info.options = {{std::string(kDurationOption), "integer", "0",
                       "0: Encounters stay in-progress (the document has no end time). N > 0: Encounters are "
                       "finished with period.end = waktu + N minutes, for sites that agree to a nominal visit "
                       "length."}};
    } catch (...) {
    }
    return info;
  }

  sdk::MapResult map(std::string_view payload, const sdk::Context& context) const noexcept override {
    sdk::MapResult result;
    try {
      if (context.host == nullptr || context.organization_id.empty()) {
        result.issues.push_back(payloadIssue("exception", "adapter called without host or organization"));
        return result;
      }
      if (payload.substr(0, 3) == "\xEF\xBB\xBF") payload.remove_prefix(3);
      rapidjson::Document doc;
      doc.Parse<kParseFlags>(payload.data(), payload.size());
      if (doc.HasParseError()) {
        result.issues.push_back(payloadIssue(
            "structure", std::string("payload is not valid JSON: ") + rapidjson::GetParseError_En(doc.GetParseError()) +
                             " (at byte " + std::to_string(doc.GetErrorOffset()) + ")"));
        return result;
      }
      std::int64_t duration = durationOption(context);
      if (doc.IsObject()) {
        result.records.push_back(mapOne(context, doc, 0, duration));
      } else if (doc.IsArray()) {
        for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
          result.records.push_back(mapOne(context, doc[i], i, duration));
        }
      } else {
        result.issues.push_back(payloadIssue("structure", "payload must be a visit object or an array of visits"));
      }
    } catch (...) {
      result.records.clear();
      result.issues.push_back(payloadIssue("exception", "internal error while mapping the payload"));
    }
    return result;
  }
};

}  // namespace ilpgw::plugins::epuskesmas_json

ILPGW_ADAPTER(ilpgw::plugins::epuskesmas_json::EpuskesmasJsonAdapter)
