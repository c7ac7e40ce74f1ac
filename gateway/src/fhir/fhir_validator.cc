// FHIR R4 structural validator: element tables first, then the walker that
// applies them, then the ILP/SATUSEHAT business rules.
//
// The tables are plain data written in the order of the FHIR R4 specification
// pages so that a reviewer can compare them line by line with the spec. They
// are compiled once (function-local statics) into lookup maps; validation
// itself never allocates per element beyond the path string and never uses
// std::regex (formats are checked by hand-written scanners of the R4 regexes).
#include "fhir/fhir_validator.h"

#include <array>
#include <climits>
#include <cstdint>
#include <functional>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "ilpgw/sdk/identifiers.h"
#include "ilpgw/sdk/values.h"

namespace ilpgw::fhir {
namespace {

using rapidjson::Value;
using sdk::Issue;
using sdk::Severity;

// ---------------------------------------------------------------------------
// Data tables
// ---------------------------------------------------------------------------

constexpr int kMany = INT_MAX;  // max cardinality "*"

// Deeper than any real resource (a SATUSEHAT Patient address extension is ~8
// levels) but far below what would exhaust the stack.
constexpr int kMaxDepth = 64;
// A hostile payload with a million bad array items must not produce a million
// issues; the first hundred are enough to fix the sender.
constexpr std::size_t kMaxIssues = 100;

using sdk::kNikIbuSystem;
using sdk::kNikSystem;

// One element as written in a table. `types` is one type name, or several
// separated by '|' for a choice element whose name ends in "[x]". Backbone
// elements name their own table ("Encounter.participant").
struct ElementSpec {
  constexpr ElementSpec(const char* n, const char* t, int lo, int hi, const char* b = nullptr)
      : name(n), types(t), min(lo), max(hi), binding(b) {}
  const char* name;
  const char* types;
  int min;
  int max;
  const char* binding;  // required value set, or nullptr
};

// What every table implicitly starts with (the FHIR base types).
enum class Base { kElement, kBackbone, kResource };

// Post-structure checks that need more than one element at a time.
enum class Hook { kNone, kIdentifier, kExtension, kReference };

struct TypeSpec {
  const char* name;
  Base base;
  Hook hook;
  std::vector<ElementSpec> elements;
};

// Required bindings. `system` is set for value sets used on CodeableConcept or
// Coding: only codings of that system are checked (other systems may carry
// translations).
struct ValueSetSpec {
  const char* name;
  const char* system;
  std::vector<std::string_view> codes;
};

const std::vector<ValueSetSpec>& valueSetSpecs() {
  static const std::vector<ValueSetSpec> specs = {
      {"administrative-gender", nullptr, {"male", "female", "other", "unknown"}},
      {"identifier-use", nullptr, {"usual", "official", "temp", "secondary", "old"}},
      {"name-use", nullptr, {"usual", "official", "temp", "nickname", "anonymous", "old", "maiden"}},
      {"address-use", nullptr, {"home", "work", "temp", "old", "billing"}},
      {"address-type", nullptr, {"postal", "physical", "both"}},
      {"contact-point-system", nullptr, {"phone", "fax", "email", "pager", "url", "sms", "other"}},
      {"contact-point-use", nullptr, {"home", "work", "temp", "old", "mobile"}},
      {"quantity-comparator", nullptr, {"<", "<=", ">=", ">"}},
      {"narrative-status", nullptr, {"generated", "extensions", "additional", "empty"}},
      {"link-type", nullptr, {"replaced-by", "replaces", "refer", "seealso"}},
      {"days-of-week", nullptr, {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}},
      {"units-of-time", nullptr, {"s", "min", "h", "d", "wk", "mo", "a"}},
      {"event-timing", nullptr, {"MORN", "MORN.early", "MORN.late", "NOON", "AFT", "AFT.early",
                                 "AFT.late", "EVE", "EVE.early", "EVE.late", "NIGHT", "PHS", "HS",
                                 "WAKE", "C", "CM", "CD", "CV", "AC", "ACM", "ACD", "ACV", "PC",
                                 "PCM", "PCD", "PCV"}},
      {"location-status", nullptr, {"active", "suspended", "inactive"}},
      {"location-mode", nullptr, {"instance", "kind"}},
      {"encounter-status", nullptr, {"planned", "arrived", "triaged", "in-progress", "onleave",
                                     "finished", "cancelled", "entered-in-error", "unknown"}},
      {"encounter-location-status", nullptr, {"planned", "active", "reserved", "completed"}},
      {"observation-status", nullptr, {"registered", "preliminary", "final", "amended",
                                       "corrected", "cancelled", "entered-in-error", "unknown"}},
      {"condition-clinical", "http://terminology.hl7.org/CodeSystem/condition-clinical",
       {"active", "recurrence", "relapse", "inactive", "remission", "resolved"}},
      {"condition-ver-status", "http://terminology.hl7.org/CodeSystem/condition-ver-status",
       {"unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error"}},
      {"medicationrequest-status", nullptr, {"active", "on-hold", "cancelled", "completed",
                                             "entered-in-error", "stopped", "draft", "unknown"}},
      {"medicationrequest-intent", nullptr, {"proposal", "plan", "order", "original-order",
                                             "reflex-order", "filler-order", "instance-order",
                                             "option"}},
      {"request-priority", nullptr, {"routine", "urgent", "asap", "stat"}},
      {"medication-status", nullptr, {"active", "inactive", "entered-in-error"}},
      {"immunization-status", nullptr, {"completed", "entered-in-error", "not-done"}},
      {"diagnostic-report-status", nullptr, {"registered", "partial", "preliminary", "final",
                                             "amended", "corrected", "appended", "cancelled",
                                             "entered-in-error", "unknown"}},
      {"provenance-entity-role", nullptr, {"derivation", "revision", "quotation", "source",
                                           "removal"}},
  };
  return specs;
}

// Extension.value[x]: the R4 open type minus the rarely used metadata types
// (ContactDetail, Contributor, DataRequirement, Expression, ...), which are
// reported as unknown elements rather than silently accepted.
constexpr const char* kExtensionValueTypes =
    "base64Binary|boolean|canonical|code|date|dateTime|decimal|id|instant|integer|markdown|oid|"
    "positiveInt|string|time|unsignedInt|uri|url|uuid|Address|Age|Annotation|Attachment|"
    "CodeableConcept|Coding|ContactPoint|Count|Distance|Duration|HumanName|Identifier|Money|"
    "Period|Quantity|Range|Ratio|Reference|SampledData|Signature|Timing";

constexpr const char* kObservationValueTypes =
    "Quantity|CodeableConcept|string|boolean|integer|Range|Ratio|SampledData|time|dateTime|Period";

const std::vector<TypeSpec>& typeSpecs() {
  using E = ElementSpec;
  static const std::vector<TypeSpec> specs = {
      // ---- Data types ------------------------------------------------------
      {"Element", Base::kElement, Hook::kNone, {}},  // `_name` primitive extensions
      {"Extension", Base::kElement, Hook::kExtension, {
          E("url", "uri", 1, 1),
          E("value[x]", kExtensionValueTypes, 0, 1),
      }},
      {"Meta", Base::kElement, Hook::kNone, {
          E("versionId", "id", 0, 1),
          E("lastUpdated", "instant", 0, 1),
          E("source", "uri", 0, 1),
          E("profile", "canonical", 0, kMany),
          E("security", "Coding", 0, kMany),
          E("tag", "Coding", 0, kMany),
      }},
      {"Narrative", Base::kElement, Hook::kNone, {
          E("status", "code", 1, 1, "narrative-status"),
          E("div", "xhtml", 1, 1),
      }},
      {"Identifier", Base::kElement, Hook::kIdentifier, {
          E("use", "code", 0, 1, "identifier-use"),
          E("type", "CodeableConcept", 0, 1),
          E("system", "uri", 0, 1),
          E("value", "string", 0, 1),
          E("period", "Period", 0, 1),
          E("assigner", "Reference", 0, 1),
      }},
      {"HumanName", Base::kElement, Hook::kNone, {
          E("use", "code", 0, 1, "name-use"),
          E("text", "string", 0, 1),
          E("family", "string", 0, 1),
          E("given", "string", 0, kMany),
          E("prefix", "string", 0, kMany),
          E("suffix", "string", 0, kMany),
          E("period", "Period", 0, 1),
      }},
      {"Address", Base::kElement, Hook::kNone, {
          E("use", "code", 0, 1, "address-use"),
          E("type", "code", 0, 1, "address-type"),
          E("text", "string", 0, 1),
          E("line", "string", 0, kMany),
          E("city", "string", 0, 1),
          E("district", "string", 0, 1),
          E("state", "string", 0, 1),
          E("postalCode", "string", 0, 1),
          E("country", "string", 0, 1),
          E("period", "Period", 0, 1),
      }},
      {"ContactPoint", Base::kElement, Hook::kNone, {
          E("system", "code", 0, 1, "contact-point-system"),
          E("value", "string", 0, 1),
          E("use", "code", 0, 1, "contact-point-use"),
          E("rank", "positiveInt", 0, 1),
          E("period", "Period", 0, 1),
      }},
      {"CodeableConcept", Base::kElement, Hook::kNone, {
          E("coding", "Coding", 0, kMany),
          E("text", "string", 0, 1),
      }},
      {"Coding", Base::kElement, Hook::kNone, {
          E("system", "uri", 0, 1),
          E("version", "string", 0, 1),
          E("code", "code", 0, 1),
          E("display", "string", 0, 1),
          E("userSelected", "boolean", 0, 1),
      }},
      {"Reference", Base::kElement, Hook::kReference, {
          E("reference", "string", 0, 1),
          E("type", "uri", 0, 1),
          E("identifier", "Identifier", 0, 1),
          E("display", "string", 0, 1),
      }},
      {"Period", Base::kElement, Hook::kNone, {
          E("start", "dateTime", 0, 1),
          E("end", "dateTime", 0, 1),
      }},
      {"Quantity", Base::kElement, Hook::kNone, {
          E("value", "decimal", 0, 1),
          E("comparator", "code", 0, 1, "quantity-comparator"),
          E("unit", "string", 0, 1),
          E("system", "uri", 0, 1),
          E("code", "code", 0, 1),
      }},
      // SimpleQuantity is Quantity without comparator (sqty-1); Age, Count,
      // Distance and Duration share Quantity's elements.
      {"SimpleQuantity", Base::kElement, Hook::kNone, {
          E("value", "decimal", 0, 1),
          E("unit", "string", 0, 1),
          E("system", "uri", 0, 1),
          E("code", "code", 0, 1),
      }},
      {"Age", Base::kElement, Hook::kNone, {}},       // elements copied from Quantity below
      {"Count", Base::kElement, Hook::kNone, {}},
      {"Distance", Base::kElement, Hook::kNone, {}},
      {"Duration", Base::kElement, Hook::kNone, {}},
      {"Money", Base::kElement, Hook::kNone, {
          E("value", "decimal", 0, 1),
          E("currency", "code", 0, 1),
      }},
      {"Range", Base::kElement, Hook::kNone, {
          E("low", "SimpleQuantity", 0, 1),
          E("high", "SimpleQuantity", 0, 1),
      }},
      {"Ratio", Base::kElement, Hook::kNone, {
          E("numerator", "Quantity", 0, 1),
          E("denominator", "Quantity", 0, 1),
      }},
      {"SampledData", Base::kElement, Hook::kNone, {
          E("origin", "SimpleQuantity", 1, 1),
          E("period", "decimal", 1, 1),
          E("factor", "decimal", 0, 1),
          E("lowerLimit", "decimal", 0, 1),
          E("upperLimit", "decimal", 0, 1),
          E("dimensions", "positiveInt", 1, 1),
          E("data", "string", 0, 1),
      }},
      {"Annotation", Base::kElement, Hook::kNone, {
          E("author[x]", "Reference|string", 0, 1),
          E("time", "dateTime", 0, 1),
          E("text", "markdown", 1, 1),
      }},
      {"Attachment", Base::kElement, Hook::kNone, {
          E("contentType", "code", 0, 1),
          E("language", "code", 0, 1),
          E("data", "base64Binary", 0, 1),
          E("url", "url", 0, 1),
          E("size", "unsignedInt", 0, 1),
          E("hash", "base64Binary", 0, 1),
          E("title", "string", 0, 1),
          E("creation", "dateTime", 0, 1),
      }},
      {"Signature", Base::kElement, Hook::kNone, {
          E("type", "Coding", 1, kMany),
          E("when", "instant", 1, 1),
          E("who", "Reference", 1, 1),
          E("onBehalfOf", "Reference", 0, 1),
          E("targetFormat", "code", 0, 1),
          E("sigFormat", "code", 0, 1),
          E("data", "base64Binary", 0, 1),
      }},
      {"Timing", Base::kBackbone, Hook::kNone, {
          E("event", "dateTime", 0, kMany),
          E("repeat", "Timing.repeat", 0, 1),
          E("code", "CodeableConcept", 0, 1),
      }},
      {"Timing.repeat", Base::kElement, Hook::kNone, {
          E("bounds[x]", "Duration|Range|Period", 0, 1),
          E("count", "positiveInt", 0, 1),
          E("countMax", "positiveInt", 0, 1),
          E("duration", "decimal", 0, 1),
          E("durationMax", "decimal", 0, 1),
          E("durationUnit", "code", 0, 1, "units-of-time"),
          E("frequency", "positiveInt", 0, 1),
          E("frequencyMax", "positiveInt", 0, 1),
          E("period", "decimal", 0, 1),
          E("periodMax", "decimal", 0, 1),
          E("periodUnit", "code", 0, 1, "units-of-time"),
          E("dayOfWeek", "code", 0, kMany, "days-of-week"),
          E("timeOfDay", "time", 0, kMany),
          E("when", "code", 0, kMany, "event-timing"),
          E("offset", "unsignedInt", 0, 1),
      }},
      {"Dosage", Base::kBackbone, Hook::kNone, {
          E("sequence", "integer", 0, 1),
          E("text", "string", 0, 1),
          E("additionalInstruction", "CodeableConcept", 0, kMany),
          E("patientInstruction", "string", 0, 1),
          E("timing", "Timing", 0, 1),
          E("asNeeded[x]", "boolean|CodeableConcept", 0, 1),
          E("site", "CodeableConcept", 0, 1),
          E("route", "CodeableConcept", 0, 1),
          E("method", "CodeableConcept", 0, 1),
          E("doseAndRate", "Dosage.doseAndRate", 0, kMany),
          E("maxDosePerPeriod", "Ratio", 0, 1),
          E("maxDosePerAdministration", "SimpleQuantity", 0, 1),
          E("maxDosePerLifetime", "SimpleQuantity", 0, 1),
      }},
      {"Dosage.doseAndRate", Base::kElement, Hook::kNone, {
          E("type", "CodeableConcept", 0, 1),
          E("dose[x]", "Range|SimpleQuantity", 0, 1),
          E("rate[x]", "Ratio|Range|SimpleQuantity", 0, 1),
      }},

      // ---- Patient ---------------------------------------------------------
      {"Patient", Base::kResource, Hook::kNone, {
          E("identifier", "Identifier", 0, kMany),
          E("active", "boolean", 0, 1),
          E("name", "HumanName", 0, kMany),
          E("telecom", "ContactPoint", 0, kMany),
          E("gender", "code", 0, 1, "administrative-gender"),
          E("birthDate", "date", 0, 1),
          E("deceased[x]", "boolean|dateTime", 0, 1),
          E("address", "Address", 0, kMany),
          E("maritalStatus", "CodeableConcept", 0, 1),
          E("multipleBirth[x]", "boolean|integer", 0, 1),
          E("photo", "Attachment", 0, kMany),
          E("contact", "Patient.contact", 0, kMany),
          E("communication", "Patient.communication", 0, kMany),
          E("generalPractitioner", "Reference", 0, kMany),
          E("managingOrganization", "Reference", 0, 1),
          E("link", "Patient.link", 0, kMany),
      }},
      {"Patient.contact", Base::kBackbone, Hook::kNone, {
          E("relationship", "CodeableConcept", 0, kMany),
          E("name", "HumanName", 0, 1),
          E("telecom", "ContactPoint", 0, kMany),
          E("address", "Address", 0, 1),
          E("gender", "code", 0, 1, "administrative-gender"),
          E("organization", "Reference", 0, 1),
          E("period", "Period", 0, 1),
      }},
      {"Patient.communication", Base::kBackbone, Hook::kNone, {
          E("language", "CodeableConcept", 1, 1),
          E("preferred", "boolean", 0, 1),
      }},
      {"Patient.link", Base::kBackbone, Hook::kNone, {
          E("other", "Reference", 1, 1),
          E("type", "code", 1, 1, "link-type"),
      }},

      // ---- Practitioner ----------------------------------------------------
      {"Practitioner", Base::kResource, Hook::kNone, {
          E("identifier", "Identifier", 0, kMany),
          E("active", "boolean", 0, 1),
          E("name", "HumanName", 0, kMany),
          E("telecom", "ContactPoint", 0, kMany),
          E("address", "Address", 0, kMany),
          E("gender", "code", 0, 1, "administrative-gender"),
          E("birthDate", "date", 0, 1),
          E("photo", "Attachment", 0, kMany),
          E("qualification", "Practitioner.qualification", 0, kMany),
          E("communication", "CodeableConcept", 0, kMany),
      }},
      {"Practitioner.qualification", Base::kBackbone, Hook::kNone, {
          E("identifier", "Identifier", 0, kMany),
          E("code", "CodeableConcept", 1, 1),
          E("period", "Period", 0, 1),
          E("issuer", "Reference", 0, 1),
      }},

      // ---- Organization ----------------------------------------------------
      {"Organization", Base::kResource, Hook::kNone, {
          E("identifier", "Identifier", 0, kMany),
          E("active", "boolean", 0, 1),
          E("type", "CodeableConcept", 0, kMany),
          E("name", "string", 0, 1),
          E("alias", "string", 0, kMany),
          E("telecom", "ContactPoint", 0, kMany),
          E("address", "Address", 0, kMany),
          E("partOf", "Reference", 0, 1),
          E("contact", "Organization.contact", 0, kMany),
          E("endpoint", "Reference", 0, kMany),
      }},
      {"Organization.contact", Base::kBackbone, Hook::kNone, {
          E("purpose", "CodeableConcept", 0, 1),
          E("name", "HumanName", 0, 1),
          E("telecom", "ContactPoint", 0, kMany),
          E("address", "Address", 0, 1),
      }},

      // ---- Location --------------------------------------------------------
      {"Location", Base::kResource, Hook::kNone, {
          E("identifier", "Identifier", 0, kMany),
          E("status", "code", 0, 1, "location-status"),
          E("operationalStatus", "Coding", 0, 1),
          E("name", "string", 0, 1),
          E("alias", "string", 0, kMany),
          E("description", "string", 0, 1),
          E("mode", "code", 0, 1, "location-mode"),
          E("type", "CodeableConcept", 0, kMany),
          E("telecom", "ContactPoint", 0, kMany),
          E("address", "Address", 0, 1),
          E("physicalType", "CodeableConcept", 0, 1),
          E("position", "Location.position", 0, 1),
          E("managingOrganization", "Reference", 0, 1),
          E("partOf", "Reference", 0, 1),
          E("hoursOfOperation", "Location.hoursOfOperation", 0, kMany),
          E("availabilityExceptions", "string", 0, 1),
          E("endpoint", "Reference", 0, kMany),
      }},
      {"Location.position", Base::kBackbone, Hook::kNone, {
          E("longitude", "decimal", 1, 1),
          E("latitude", "decimal", 1, 1),
          E("altitude", "decimal", 0, 1),
      }},
      {"Location.hoursOfOperation", Base::kBackbone, Hook::kNone, {
          E("daysOfWeek", "code", 0, kMany, "days-of-week"),
          E("allDay", "boolean", 0, 1),
          E("openingTime", "time", 0, 1),
          E("closingTime", "time", 0, 1),
      }},

      // ---- Encounter -------------------------------------------------------
      {"Encounter", Base::kResource, Hook::kNone, {
          E("identifier", "Identifier", 0, kMany),
          E("status", "code", 1, 1, "encounter-status"),
          E("statusHistory", "Encounter.statusHistory", 0, kMany),
          E("class", "Coding", 1, 1),
          E("classHistory", "Encounter.classHistory", 0, kMany),
          E("type", "CodeableConcept", 0, kMany),
          E("serviceType", "CodeableConcept", 0, 1),
          E("priority", "CodeableConcept", 0, 1),
          E("subject", "Reference", 0, 1),
          E("episodeOfCare", "Reference", 0, kMany),
          E("basedOn", "Reference", 0, kMany),
          E("participant", "Encounter.participant", 0, kMany),
          E("appointment", "Reference", 0, kMany),
          E("period", "Period", 0, 1),
          E("length", "Duration", 0, 1),
          E("reasonCode", "CodeableConcept", 0, kMany),
          E("reasonReference", "Reference", 0, kMany),
          E("diagnosis", "Encounter.diagnosis", 0, kMany),
          E("account", "Reference", 0, kMany),
          E("hospitalization", "Encounter.hospitalization", 0, 1),
          E("location", "Encounter.location", 0, kMany),
          E("serviceProvider", "Reference", 0, 1),
          E("partOf", "Reference", 0, 1),
      }},
      {"Encounter.statusHistory", Base::kBackbone, Hook::kNone, {
          E("status", "code", 1, 1, "encounter-status"),
          E("period", "Period", 1, 1),
      }},
      {"Encounter.classHistory", Base::kBackbone, Hook::kNone, {
          E("class", "Coding", 1, 1),
          E("period", "Period", 1, 1),
      }},
      {"Encounter.participant", Base::kBackbone, Hook::kNone, {
          E("type", "CodeableConcept", 0, kMany),
          E("period", "Period", 0, 1),
          E("individual", "Reference", 0, 1),
      }},
      {"Encounter.diagnosis", Base::kBackbone, Hook::kNone, {
          E("condition", "Reference", 1, 1),
          E("use", "CodeableConcept", 0, 1),
          E("rank", "positiveInt", 0, 1),
      }},
      {"Encounter.hospitalization", Base::kBackbone, Hook::kNone, {
          E("preAdmissionIdentifier", "Identifier", 0, 1),
          E("origin", "Reference", 0, 1),
          E("admitSource", "CodeableConcept", 0, 1),
          E("reAdmission", "CodeableConcept", 0, 1),
          E("dietPreference", "CodeableConcept", 0, kMany),
          E("specialCourtesy", "CodeableConcept", 0, kMany),
          E("specialArrangement", "CodeableConcept", 0, kMany),
          E("destination", "Reference", 0, 1),
          E("dischargeDisposition", "CodeableConcept", 0, 1),
      }},
      {"Encounter.location", Base::kBackbone, Hook::kNone, {
          E("location", "Reference", 1, 1),
          E("status", "code", 0, 1, "encounter-location-status"),
          E("physicalType", "CodeableConcept", 0, 1),
          E("period", "Period", 0, 1),
      }},

      // ---- Observation -----------------------------------------------------
      {"Observation", Base::kResource, Hook::kNone, {
          E("identifier", "Identifier", 0, kMany),
          E("basedOn", "Reference", 0, kMany),
          E("partOf", "Reference", 0, kMany),
          E("status", "code", 1, 1, "observation-status"),
          E("category", "CodeableConcept", 0, kMany),
          E("code", "CodeableConcept", 1, 1),
          E("subject", "Reference", 0, 1),
          E("focus", "Reference", 0, kMany),
          E("encounter", "Reference", 0, 1),
          E("effective[x]", "dateTime|Period|Timing|instant", 0, 1),
          E("issued", "instant", 0, 1),
          E("performer", "Reference", 0, kMany),
          E("value[x]", kObservationValueTypes, 0, 1),
          E("dataAbsentReason", "CodeableConcept", 0, 1),
          E("interpretation", "CodeableConcept", 0, kMany),
          E("note", "Annotation", 0, kMany),
          E("bodySite", "CodeableConcept", 0, 1),
          E("method", "CodeableConcept", 0, 1),
          E("specimen", "Reference", 0, 1),
          E("device", "Reference", 0, 1),
          E("referenceRange", "Observation.referenceRange", 0, kMany),
          E("hasMember", "Reference", 0, kMany),
          E("derivedFrom", "Reference", 0, kMany),
          E("component", "Observation.component", 0, kMany),
      }},
      {"Observation.referenceRange", Base::kBackbone, Hook::kNone, {
          E("low", "SimpleQuantity", 0, 1),
          E("high", "SimpleQuantity", 0, 1),
          E("type", "CodeableConcept", 0, 1),
          E("appliesTo", "CodeableConcept", 0, kMany),
          E("age", "Range", 0, 1),
          E("text", "string", 0, 1),
      }},
      {"Observation.component", Base::kBackbone, Hook::kNone, {
          E("code", "CodeableConcept", 1, 1),
          E("value[x]", kObservationValueTypes, 0, 1),
          E("dataAbsentReason", "CodeableConcept", 0, 1),
          E("interpretation", "CodeableConcept", 0, kMany),
          E("referenceRange", "Observation.referenceRange", 0, kMany),
      }},

      // ---- Condition -------------------------------------------------------
      {"Condition", Base::kResource, Hook::kNone, {
          E("identifier", "Identifier", 0, kMany),
          E("clinicalStatus", "CodeableConcept", 0, 1, "condition-clinical"),
          E("verificationStatus", "CodeableConcept", 0, 1, "condition-ver-status"),
          E("category", "CodeableConcept", 0, kMany),
          E("severity", "CodeableConcept", 0, 1),
          E("code", "CodeableConcept", 0, 1),
          E("bodySite", "CodeableConcept", 0, kMany),
          E("subject", "Reference", 1, 1),
          E("encounter", "Reference", 0, 1),
          E("onset[x]", "dateTime|Age|Period|Range|string", 0, 1),
          E("abatement[x]", "dateTime|Age|Period|Range|string", 0, 1),
          E("recordedDate", "dateTime", 0, 1),
          E("recorder", "Reference", 0, 1),
          E("asserter", "Reference", 0, 1),
          E("stage", "Condition.stage", 0, kMany),
          E("evidence", "Condition.evidence", 0, kMany),
          E("note", "Annotation", 0, kMany),
      }},
      {"Condition.stage", Base::kBackbone, Hook::kNone, {
          E("summary", "CodeableConcept", 0, 1),
          E("assessment", "Reference", 0, kMany),
          E("type", "CodeableConcept", 0, 1),
      }},
      {"Condition.evidence", Base::kBackbone, Hook::kNone, {
          E("code", "CodeableConcept", 0, kMany),
          E("detail", "Reference", 0, kMany),
      }},

      // ---- MedicationRequest -----------------------------------------------
      {"MedicationRequest", Base::kResource, Hook::kNone, {
          E("identifier", "Identifier", 0, kMany),
          E("status", "code", 1, 1, "medicationrequest-status"),
          E("statusReason", "CodeableConcept", 0, 1),
          E("intent", "code", 1, 1, "medicationrequest-intent"),
          E("category", "CodeableConcept", 0, kMany),
          E("priority", "code", 0, 1, "request-priority"),
          E("doNotPerform", "boolean", 0, 1),
          E("reported[x]", "boolean|Reference", 0, 1),
          E("medication[x]", "CodeableConcept|Reference", 1, 1),
          E("subject", "Reference", 1, 1),
          E("encounter", "Reference", 0, 1),
          E("supportingInformation", "Reference", 0, kMany),
          E("authoredOn", "dateTime", 0, 1),
          E("requester", "Reference", 0, 1),
          E("performer", "Reference", 0, 1),
          E("performerType", "CodeableConcept", 0, 1),
          E("recorder", "Reference", 0, 1),
          E("reasonCode", "CodeableConcept", 0, kMany),
          E("reasonReference", "Reference", 0, kMany),
          E("instantiatesCanonical", "canonical", 0, kMany),
          E("instantiatesUri", "uri", 0, kMany),
          E("basedOn", "Reference", 0, kMany),
          E("groupIdentifier", "Identifier", 0, 1),
          E("courseOfTherapyType", "CodeableConcept", 0, 1),
          E("insurance", "Reference", 0, kMany),
          E("note", "Annotation", 0, kMany),
          E("dosageInstruction", "Dosage", 0, kMany),
          E("dispenseRequest", "MedicationRequest.dispenseRequest", 0, 1),
          E("substitution", "MedicationRequest.substitution", 0, 1),
          E("priorPrescription", "Reference", 0, 1),
          E("detectedIssue", "Reference", 0, kMany),
          E("eventHistory", "Reference", 0, kMany),
      }},
      {"MedicationRequest.dispenseRequest", Base::kBackbone, Hook::kNone, {
          E("initialFill", "MedicationRequest.dispenseRequest.initialFill", 0, 1),
          E("dispenseInterval", "Duration", 0, 1),
          E("validityPeriod", "Period", 0, 1),
          E("numberOfRepeatsAllowed", "unsignedInt", 0, 1),
          E("quantity", "SimpleQuantity", 0, 1),
          E("expectedSupplyDuration", "Duration", 0, 1),
          E("performer", "Reference", 0, 1),
      }},
      {"MedicationRequest.dispenseRequest.initialFill", Base::kBackbone, Hook::kNone, {
          E("quantity", "SimpleQuantity", 0, 1),
          E("duration", "Duration", 0, 1),
      }},
      {"MedicationRequest.substitution", Base::kBackbone, Hook::kNone, {
          E("allowed[x]", "boolean|CodeableConcept", 1, 1),
          E("reason", "CodeableConcept", 0, 1),
      }},

      // ---- Medication ------------------------------------------------------
      {"Medication", Base::kResource, Hook::kNone, {
          E("identifier", "Identifier", 0, kMany),
          E("code", "CodeableConcept", 0, 1),
          E("status", "code", 0, 1, "medication-status"),
          E("manufacturer", "Reference", 0, 1),
          E("form", "CodeableConcept", 0, 1),
          E("amount", "Ratio", 0, 1),
          E("ingredient", "Medication.ingredient", 0, kMany),
          E("batch", "Medication.batch", 0, 1),
      }},
      {"Medication.ingredient", Base::kBackbone, Hook::kNone, {
          E("item[x]", "CodeableConcept|Reference", 1, 1),
          E("isActive", "boolean", 0, 1),
          E("strength", "Ratio", 0, 1),
      }},
      {"Medication.batch", Base::kBackbone, Hook::kNone, {
          E("lotNumber", "string", 0, 1),
          E("expirationDate", "dateTime", 0, 1),
      }},

      // ---- Immunization ----------------------------------------------------
      {"Immunization", Base::kResource, Hook::kNone, {
          E("identifier", "Identifier", 0, kMany),
          E("status", "code", 1, 1, "immunization-status"),
          E("statusReason", "CodeableConcept", 0, 1),
          E("vaccineCode", "CodeableConcept", 1, 1),
          E("patient", "Reference", 1, 1),
          E("encounter", "Reference", 0, 1),
          E("occurrence[x]", "dateTime|string", 1, 1),
          E("recorded", "dateTime", 0, 1),
          E("primarySource", "boolean", 0, 1),
          E("reportOrigin", "CodeableConcept", 0, 1),
          E("location", "Reference", 0, 1),
          E("manufacturer", "Reference", 0, 1),
          E("lotNumber", "string", 0, 1),
          E("expirationDate", "date", 0, 1),
          E("site", "CodeableConcept", 0, 1),
          E("route", "CodeableConcept", 0, 1),
          E("doseQuantity", "SimpleQuantity", 0, 1),
          E("performer", "Immunization.performer", 0, kMany),
          E("note", "Annotation", 0, kMany),
          E("reasonCode", "CodeableConcept", 0, kMany),
          E("reasonReference", "Reference", 0, kMany),
          E("isSubpotent", "boolean", 0, 1),
          E("subpotentReason", "CodeableConcept", 0, kMany),
          E("education", "Immunization.education", 0, kMany),
          E("programEligibility", "CodeableConcept", 0, kMany),
          E("fundingSource", "CodeableConcept", 0, 1),
          E("reaction", "Immunization.reaction", 0, kMany),
          E("protocolApplied", "Immunization.protocolApplied", 0, kMany),
      }},
      {"Immunization.performer", Base::kBackbone, Hook::kNone, {
          E("function", "CodeableConcept", 0, 1),
          E("actor", "Reference", 1, 1),
      }},
      {"Immunization.education", Base::kBackbone, Hook::kNone, {
          E("documentType", "string", 0, 1),
          E("reference", "uri", 0, 1),
          E("publicationDate", "dateTime", 0, 1),
          E("presentationDate", "dateTime", 0, 1),
      }},
      {"Immunization.reaction", Base::kBackbone, Hook::kNone, {
          E("date", "dateTime", 0, 1),
          E("detail", "Reference", 0, 1),
          E("reported", "boolean", 0, 1),
      }},
      {"Immunization.protocolApplied", Base::kBackbone, Hook::kNone, {
          E("series", "string", 0, 1),
          E("authority", "Reference", 0, 1),
          E("targetDisease", "CodeableConcept", 0, kMany),
          E("doseNumber[x]", "positiveInt|string", 1, 1),
          E("seriesDoses[x]", "positiveInt|string", 0, 1),
      }},

      // ---- DiagnosticReport ------------------------------------------------
      {"DiagnosticReport", Base::kResource, Hook::kNone, {
          E("identifier", "Identifier", 0, kMany),
          E("basedOn", "Reference", 0, kMany),
          E("status", "code", 1, 1, "diagnostic-report-status"),
          E("category", "CodeableConcept", 0, kMany),
          E("code", "CodeableConcept", 1, 1),
          E("subject", "Reference", 0, 1),
          E("encounter", "Reference", 0, 1),
          E("effective[x]", "dateTime|Period", 0, 1),
          E("issued", "instant", 0, 1),
          E("performer", "Reference", 0, kMany),
          E("resultsInterpreter", "Reference", 0, kMany),
          E("specimen", "Reference", 0, kMany),
          E("result", "Reference", 0, kMany),
          E("imagingStudy", "Reference", 0, kMany),
          E("media", "DiagnosticReport.media", 0, kMany),
          E("conclusion", "string", 0, 1),
          E("conclusionCode", "CodeableConcept", 0, kMany),
          E("presentedForm", "Attachment", 0, kMany),
      }},
      {"DiagnosticReport.media", Base::kBackbone, Hook::kNone, {
          E("comment", "string", 0, 1),
          E("link", "Reference", 1, 1),
      }},

      // ---- Provenance ------------------------------------------------------
      {"Provenance", Base::kResource, Hook::kNone, {
          E("target", "Reference", 1, kMany),
          E("occurred[x]", "Period|dateTime", 0, 1),
          E("recorded", "instant", 1, 1),
          E("policy", "uri", 0, kMany),
          E("location", "Reference", 0, 1),
          E("reason", "CodeableConcept", 0, kMany),
          E("activity", "CodeableConcept", 0, 1),
          E("agent", "Provenance.agent", 1, kMany),
          E("entity", "Provenance.entity", 0, kMany),
          E("signature", "Signature", 0, kMany),
      }},
      {"Provenance.agent", Base::kBackbone, Hook::kNone, {
          E("type", "CodeableConcept", 0, 1),
          E("role", "CodeableConcept", 0, kMany),
          E("who", "Reference", 1, 1),
          E("onBehalfOf", "Reference", 0, 1),
      }},
      {"Provenance.entity", Base::kBackbone, Hook::kNone, {
          E("role", "code", 1, 1, "provenance-entity-role"),
          E("what", "Reference", 1, 1),
          E("agent", "Provenance.agent", 0, kMany),
      }},
  };
  return specs;
}

// ---------------------------------------------------------------------------
// Compiled tables
// ---------------------------------------------------------------------------

enum class Primitive {
  kNone,  // complex type
  kBoolean,
  kInteger,
  kPositiveInt,
  kUnsignedInt,
  kDecimal,
  kString,
  kMarkdown,
  kCode,
  kId,
  kUri,
  kUrl,
  kCanonical,
  kOid,
  kUuid,
  kDate,
  kDateTime,
  kInstant,
  kTime,
  kBase64Binary,
  kXhtml,
};

constexpr std::pair<std::string_view, Primitive> kPrimitiveNames[] = {
    {"boolean", Primitive::kBoolean},   {"integer", Primitive::kInteger},
    {"positiveInt", Primitive::kPositiveInt}, {"unsignedInt", Primitive::kUnsignedInt},
    {"decimal", Primitive::kDecimal},   {"string", Primitive::kString},
    {"markdown", Primitive::kMarkdown}, {"code", Primitive::kCode},
    {"id", Primitive::kId},             {"uri", Primitive::kUri},
    {"url", Primitive::kUrl},           {"canonical", Primitive::kCanonical},
    {"oid", Primitive::kOid},           {"uuid", Primitive::kUuid},
    {"date", Primitive::kDate},         {"dateTime", Primitive::kDateTime},
    {"instant", Primitive::kInstant},   {"time", Primitive::kTime},
    {"base64Binary", Primitive::kBase64Binary}, {"xhtml", Primitive::kXhtml},
};

struct ValueSet {
  std::string name;
  std::string_view system;  // empty for code-typed bindings
  std::vector<std::string_view> codes;
  std::string listing;      // "a|b|c" for diagnostics

  bool contains(std::string_view code) const {
    for (std::string_view c : codes) {
      if (c == code) return true;
    }
    return false;
  }
};

struct CompiledType;

struct TypeRef {
  Primitive primitive = Primitive::kNone;
  const CompiledType* complex = nullptr;  // null for primitives and for Resource
  bool resource = false;                  // `contained`: any supported resource
};

struct CompiledElement {
  std::string name;  // "status", "value[x]"
  int min = 0;
  int max = 1;
  bool choice = false;
  std::vector<TypeRef> types;
  const ValueSet* binding = nullptr;
};

// Transparent hashing lets the walker look JSON keys up without allocating.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

struct KeyRef {
  std::uint16_t element;
  std::uint16_t type;  // index into CompiledElement::types
};

// Guards the per-object "seen" array in the walker.
constexpr std::size_t kMaxElementsPerType = 64;

struct CompiledType {
  std::string name;
  Base base = Base::kElement;
  Hook hook = Hook::kNone;
  std::vector<CompiledElement> elements;
  std::unordered_map<std::string, KeyRef, StringHash, std::equal_to<>> keys;

  const KeyRef* find(std::string_view key) const {
    auto it = keys.find(key);
    return it == keys.end() ? nullptr : &it->second;
  }
};

struct Registry {
  std::vector<ValueSet> value_sets;
  std::vector<CompiledType> types;  // never resized after construction
  std::unordered_map<std::string, const CompiledType*, StringHash, std::equal_to<>> by_name;
  std::vector<std::string> resource_names;

  const CompiledType* type(std::string_view name) const {
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : it->second;
  }
  const CompiledType* resource(std::string_view name) const {
    const CompiledType* t = type(name);
    return t != nullptr && t->base == Base::kResource ? t : nullptr;
  }
};

Primitive primitiveByName(std::string_view name) {
  for (const auto& [n, p] : kPrimitiveNames) {
    if (n == name) return p;
  }
  return Primitive::kNone;
}

// The JSON suffix of a choice type: valueQuantity, valueDateTime. Profiled
// SimpleQuantity keeps its base type's name.
std::string choiceSuffix(std::string_view type) {
  if (type == "SimpleQuantity") return "Quantity";
  std::string suffix(type);
  if (!suffix.empty() && suffix[0] >= 'a' && suffix[0] <= 'z') suffix[0] = static_cast<char>(suffix[0] - 'a' + 'A');
  return suffix;
}

std::vector<std::string_view> splitTypes(std::string_view types) {
  std::vector<std::string_view> out;
  while (!types.empty()) {
    std::size_t bar = types.find('|');
    out.push_back(types.substr(0, bar));
    if (bar == std::string_view::npos) break;
    types.remove_prefix(bar + 1);
  }
  return out;
}

std::vector<ElementSpec> baseElements(Base base) {
  std::vector<ElementSpec> out;
  if (base == Base::kResource) {
    out.emplace_back("id", "id", 0, 1);
    out.emplace_back("meta", "Meta", 0, 1);
    out.emplace_back("implicitRules", "uri", 0, 1);
    out.emplace_back("language", "code", 0, 1);
    out.emplace_back("text", "Narrative", 0, 1);
    out.emplace_back("contained", "Resource", 0, kMany);
  } else {
    out.emplace_back("id", "string", 0, 1);
  }
  out.emplace_back("extension", "Extension", 0, kMany);
  if (base != Base::kElement) out.emplace_back("modifierExtension", "Extension", 0, kMany);
  return out;
}

// Builds the registry from the tables. A table mistake (unknown type name) is a
// programming error caught by the golden tests: the element is then dropped
// rather than crashing a production gateway.
Registry buildRegistry() {
  Registry reg;
  for (const ValueSetSpec& spec : valueSetSpecs()) {
    ValueSet vs;
    vs.name = spec.name;
    vs.system = spec.system == nullptr ? std::string_view() : std::string_view(spec.system);
    vs.codes = spec.codes;
    for (std::string_view c : spec.codes) {
      if (!vs.listing.empty()) vs.listing += '|';
      vs.listing += c;
    }
    reg.value_sets.push_back(std::move(vs));
  }
  const std::vector<TypeSpec>& specs = typeSpecs();
  reg.types.resize(specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    reg.types[i].name = specs[i].name;
    reg.types[i].base = specs[i].base;
    reg.types[i].hook = specs[i].hook;
    reg.by_name.emplace(reg.types[i].name, &reg.types[i]);
    if (specs[i].base == Base::kResource) reg.resource_names.push_back(specs[i].name);
  }
  const std::vector<ElementSpec>* quantity_elements = nullptr;
  for (const TypeSpec& spec : specs) {
    if (std::string_view(spec.name) == "Quantity") quantity_elements = &spec.elements;
  }
  for (std::size_t i = 0; i < specs.size(); ++i) {
    CompiledType& type = reg.types[i];
    std::vector<ElementSpec> all = baseElements(specs[i].base);
    const std::vector<ElementSpec>* own = &specs[i].elements;
    std::string_view name = specs[i].name;
    if ((name == "Age" || name == "Count" || name == "Distance" || name == "Duration") &&
        quantity_elements != nullptr) {
      own = quantity_elements;
    }
    all.insert(all.end(), own->begin(), own->end());
    for (const ElementSpec& spec : all) {
      if (type.elements.size() >= kMaxElementsPerType) break;
      CompiledElement element;
      std::string_view element_name = spec.name;
      element.name = spec.name;
      element.min = spec.min;
      element.max = spec.max;
      element.choice = element_name.ends_with("[x]");
      if (spec.binding != nullptr) {
        for (const ValueSet& vs : reg.value_sets) {
          if (vs.name == spec.binding) element.binding = &vs;
        }
      }
      std::string_view stem = element.choice ? element_name.substr(0, element_name.size() - 3)
                                             : element_name;
      auto index = static_cast<std::uint16_t>(type.elements.size());
      for (std::string_view type_name : splitTypes(spec.types)) {
        TypeRef ref;
        ref.primitive = primitiveByName(type_name);
        if (type_name == "Resource") {
          ref.resource = true;
        } else if (ref.primitive == Primitive::kNone) {
          ref.complex = reg.type(type_name);
          if (ref.complex == nullptr) continue;
        }
        std::string key(stem);
        if (element.choice) key += choiceSuffix(type_name);
        type.keys.emplace(std::move(key),
                          KeyRef{index, static_cast<std::uint16_t>(element.types.size())});
        element.types.push_back(ref);
      }
      type.elements.push_back(std::move(element));
    }
  }
  return reg;
}

const Registry& registry() {
  static const Registry reg = buildRegistry();
  return reg;
}

// ---------------------------------------------------------------------------
// Primitive formats (hand-written versions of the FHIR R4 regexes)
// ---------------------------------------------------------------------------

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

bool digitsAt(std::string_view s, std::size_t pos, std::size_t count) {
  if (pos + count > s.size()) return false;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (!isDigit(s[i])) return false;
  }
  return true;
}

int numberAt(std::string_view s, std::size_t pos, std::size_t count) {
  int n = 0;
  for (std::size_t i = pos; i < pos + count; ++i) n = n * 10 + (s[i] - '0');
  return n;
}

int daysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

// YYYY, YYYY-MM or YYYY-MM-DD at the start of `s`; returns the length consumed
// (0 on error). Year 0000 is not allowed by the R4 regex.
std::size_t scanDate(std::string_view s) {
  if (!digitsAt(s, 0, 4)) return 0;
  int year = numberAt(s, 0, 4);
  if (year == 0) return 0;
  if (s.size() == 4 || s[4] != '-') return 4;
  if (!digitsAt(s, 5, 2)) return 0;
  int month = numberAt(s, 5, 2);
  if (month < 1 || month > 12) return 0;
  if (s.size() == 7 || s[7] != '-') return 7;
  if (!digitsAt(s, 8, 2)) return 0;
  int day = numberAt(s, 8, 2);
  if (day < 1 || day > daysInMonth(year, month)) return 0;
  return 10;
}

// hh:mm:ss(.fff)? ; returns the length consumed (0 on error).
std::size_t scanTime(std::string_view s) {
  if (!digitsAt(s, 0, 2) || s.size() < 8 || s[2] != ':' || !digitsAt(s, 3, 2) || s[5] != ':' ||
      !digitsAt(s, 6, 2)) {
    return 0;
  }
  if (numberAt(s, 0, 2) > 23 || numberAt(s, 3, 2) > 59 || numberAt(s, 6, 2) > 60) return 0;
  std::size_t pos = 8;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::size_t start = pos;
    while (pos < s.size() && isDigit(s[pos])) ++pos;
    if (pos == start) return 0;
  }
  return pos;
}

// Z or (+|-)hh:mm with hh 00..13 or exactly 14:00.
bool isZone(std::string_view s) {
  if (s == "Z") return true;
  if (s.size() != 6 || (s[0] != '+' && s[0] != '-') || !digitsAt(s, 1, 2) || s[3] != ':' ||
      !digitsAt(s, 4, 2)) {
    return false;
  }
  int hours = numberAt(s, 1, 2);
  int minutes = numberAt(s, 4, 2);
  if (minutes > 59) return false;
  return hours < 14 || (hours == 14 && minutes == 0);
}

bool isDate(std::string_view s) { return scanDate(s) == s.size() && !s.empty(); }

bool isDateTime(std::string_view s) {
  std::size_t date = scanDate(s);
  if (date == 0) return false;
  if (date == s.size()) return true;
  if (date != 10 || s[10] != 'T') return false;  // a time needs a full date
  std::string_view rest = s.substr(11);
  std::size_t time = scanTime(rest);
  return time != 0 && isZone(rest.substr(time));
}

bool isInstant(std::string_view s) {
  return s.size() > 10 && scanDate(s) == 10 && s[10] == 'T' && isDateTime(s);
}

bool isTime(std::string_view s) { return !s.empty() && scanTime(s) == s.size(); }

bool isIdChar(char c) {
  return isDigit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-' || c == '.';
}

bool isId(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!isIdChar(c)) return false;
  }
  return true;
}

// [^\s]+(\s[^\s]+)* : no leading, trailing or doubled whitespace.
bool isCode(std::string_view s) {
  if (s.empty() || isSpace(s.front()) || isSpace(s.back())) return false;
  for (std::size_t i = 1; i < s.size(); ++i) {
    if (isSpace(s[i]) && isSpace(s[i - 1])) return false;
  }
  return true;
}

bool isUri(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (isSpace(c)) return false;
  }
  return true;
}

// urn:oid:[0-2](\.(0|[1-9][0-9]*))+
bool isOid(std::string_view s) {
  constexpr std::string_view kPrefix = "urn:oid:";
  if (!s.starts_with(kPrefix)) return false;
  s.remove_prefix(kPrefix.size());
  if (s.size() < 3 || s[0] < '0' || s[0] > '2') return false;
  std::size_t pos = 1;
  int arcs = 0;
  while (pos < s.size()) {
    if (s[pos] != '.') return false;
    ++pos;
    std::size_t start = pos;
    while (pos < s.size() && isDigit(s[pos])) ++pos;
    if (pos == start || (s[start] == '0' && pos - start > 1)) return false;
    ++arcs;
  }
  return arcs > 0;
}

bool isUuid(std::string_view s) {
  constexpr std::string_view kPrefix = "urn:uuid:";
  if (!s.starts_with(kPrefix)) return false;
  s.remove_prefix(kPrefix.size());
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    char c = s[i];
    if (dash ? c != '-' : !(isDigit(c) || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// (\s*([0-9a-zA-Z\+/=]){4}\s*)+ with '=' only as trailing padding.
bool isBase64(std::string_view s) {
  std::size_t count = 0;
  std::size_t padding = 0;
  for (char c : s) {
    if (isSpace(c)) continue;
    bool alnum = isDigit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    if (c == '=') {
      ++padding;
    } else if (alnum || c == '+' || c == '/') {
      if (padding > 0) return false;
    } else {
      return false;
    }
    ++count;
  }
  return count > 0 && count % 4 == 0 && padding <= 2;
}

// Narrative.div: an XHTML <div> in the XHTML namespace. Active content is
// refused because narratives get shown in browsers (R4 txt-1/txt-2 spirit).
bool isXhtml(std::string_view s) {
  std::size_t begin = 0;
  while (begin < s.size() && isSpace(s[begin])) ++begin;
  std::size_t end = s.size();
  while (end > begin && isSpace(s[end - 1])) --end;
  s = s.substr(begin, end - begin);
  if (!s.starts_with("<div") || !(s.ends_with("</div>") || s.ends_with("/>"))) return false;
  if (s.find("http://www.w3.org/1999/xhtml") == std::string_view::npos) return false;
  for (std::string_view bad : {"<script", "<SCRIPT", "javascript:", "<iframe", "<object"}) {
    if (s.find(bad) != std::string_view::npos) return false;
  }
  return true;
}

const char* formatDescription(Primitive p) {
  switch (p) {
    case Primitive::kDate: return "date must be YYYY, YYYY-MM or YYYY-MM-DD (a real calendar date)";
    case Primitive::kDateTime:
      return "dateTime must be YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss with a "
             "timezone (Z or +hh:mm)";
    case Primitive::kInstant: return "instant must be YYYY-MM-DDThh:mm:ss(.sss) with a timezone";
    case Primitive::kTime: return "time must be hh:mm:ss";
    case Primitive::kId: return "id must be 1-64 characters of A-Z a-z 0-9 - .";
    case Primitive::kCode: return "code must not have leading, trailing or repeated whitespace";
    case Primitive::kUri:
    case Primitive::kUrl:
    case Primitive::kCanonical: return "URI must not contain whitespace";
    case Primitive::kOid: return "oid must be urn:oid: followed by a dotted number";
    case Primitive::kUuid: return "uuid must be urn:uuid: followed by a lower-case UUID";
    case Primitive::kBase64Binary: return "base64Binary is not valid base64";
    case Primitive::kXhtml:
      return "Narrative.div must be an XHTML <div xmlns=\"http://www.w3.org/1999/xhtml\"> "
             "without active content";
    case Primitive::kInteger: return "integer must be a whole number in the 32-bit range";
    case Primitive::kPositiveInt: return "positiveInt must be a whole number from 1 to 2147483647";
    case Primitive::kUnsignedInt: return "unsignedInt must be a whole number from 0 to 2147483647";
    default: return "value has an invalid format";
  }
}

const char* jsonKindFor(Primitive p) {
  switch (p) {
    case Primitive::kBoolean: return "a JSON boolean";
    case Primitive::kInteger:
    case Primitive::kPositiveInt:
    case Primitive::kUnsignedInt:
    case Primitive::kDecimal: return "a JSON number";
    default: return "a JSON string";
  }
}

// ---------------------------------------------------------------------------
// Walker
// ---------------------------------------------------------------------------

// Keys become part of `expression`; a hostile key must not smuggle data into
// logs, so anything that is not a plausible element name is masked.
bool isPlausibleName(std::string_view key) {
  if (key.empty() || key.size() > 64) return false;
  for (char c : key) {
    bool ok = isDigit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string_view keyOf(const Value::ConstMemberIterator& it) {
  return {it->name.GetString(), it->name.GetStringLength()};
}

class Walker {
 public:
  explicit Walker(std::vector<Issue>& issues) : issues_(issues), reg_(registry()) {}

  void validate(const Value& root) {
    if (!root.IsObject()) {
      add(Severity::kError, "structure", "Resource", "A FHIR resource must be a JSON object");
      return;
    }
    const CompiledType* type = resourceType(root, "Resource");
    if (type == nullptr) return;
    path_ = type->name;
    walkResource(root, *type, 0, false);
    checkContainedReferenced();
    if (type->name == "Patient") checkPatientNik(root);
  }

 private:
  // Checks and resolves `resourceType`; reports at `where` (a path prefix).
  const CompiledType* resourceType(const Value& object, std::string_view where) {
    auto it = object.FindMember("resourceType");
    if (it == object.MemberEnd()) {
      add(Severity::kError, "required", std::string(where) + ".resourceType",
          "resourceType is required");
      return nullptr;
    }
    if (!it->value.IsString()) {
      add(Severity::kError, "structure", std::string(where) + ".resourceType",
          "resourceType must be a JSON string");
      return nullptr;
    }
    std::string_view name(it->value.GetString(), it->value.GetStringLength());
    const CompiledType* type = reg_.resource(name);
    if (type == nullptr) {
      std::string message = "Resource type ";
      message += isPlausibleName(name) ? std::string(name) : std::string("(invalid name)");
      message += " is not supported";
      add(Severity::kError, "not-supported", std::string(where) + ".resourceType", message);
    }
    return type;
  }

  void walkResource(const Value& object, const CompiledType& type, int depth, bool contained) {
    walkObject(object, type, depth, /*is_resource=*/true);
    if (!contained) return;
    // dom-2 and dom-4: contained resources are plain snapshots.
    if (object.HasMember("contained")) {
      add(Severity::kError, "invariant", path_ + ".contained",
          "A contained resource must not contain other resources (dom-2)");
    }
    const Value* meta = json::member(object, "meta");
    if (meta != nullptr && (json::member(*meta, "versionId") != nullptr ||
                            json::member(*meta, "lastUpdated") != nullptr)) {
      add(Severity::kError, "invariant", path_ + ".meta",
          "A contained resource must not have meta.versionId or meta.lastUpdated (dom-4)");
    }
    std::string_view id = json::string(object, "id");
    if (id.empty()) {
      add(Severity::kError, "required", path_ + ".id",
          "A contained resource needs an id to be referenced as #id");
    } else {
      contained_ids_.emplace_back(path_, id);
    }
  }

  // Validates the members of `object` against `type`; path_ names `object`.
  void walkObject(const Value& object, const CompiledType& type, int depth, bool is_resource) {
    if (stopped()) return;
    if (depth > kMaxDepth) {
      add(Severity::kError, "structure", path_, "Nesting is deeper than 64 levels");
      return;
    }
    if (object.ObjectEmpty()) {
      add(Severity::kError, "structure", path_, "Empty objects are not allowed in FHIR");
      return;
    }
    std::array<std::uint8_t, kMaxElementsPerType> seen{};       // value keys
    std::array<std::uint8_t, kMaxElementsPerType> seen_ext{};   // `_name` keys
    std::array<std::uint16_t, kMaxElementsPerType> chosen{};    // choice type used
    const std::size_t base_length = path_.size();

    for (auto it = object.MemberBegin(); it != object.MemberEnd() && !stopped(); ++it) {
      std::string_view key = keyOf(it);
      if (is_resource && key == "resourceType") continue;
      path_.resize(base_length);
      path_ += '.';
      path_ += isPlausibleName(key) ? key : std::string_view("(invalid-name)");

      bool primitive_extension = key.size() > 1 && key[0] == '_';
      const KeyRef* ref = type.find(primitive_extension ? key.substr(1) : key);
      if (ref == nullptr ||
          (primitive_extension &&
           type.elements[ref->element].types[ref->type].primitive == Primitive::kNone)) {
        add(Severity::kError, "structure", path_, "Unknown element for " + type.name);
        continue;
      }
      const CompiledElement& element = type.elements[ref->element];
      if (primitive_extension) {
        if (seen_ext[ref->element]++ == 0) walkPrimitiveExtension(it->value, element, depth);
        else add(Severity::kError, "structure", path_, "Duplicate property");
        continue;
      }
      if (seen[ref->element] > 0) {
        if (element.choice && chosen[ref->element] != ref->type) {
          add(Severity::kError, "structure", path_,
              "Only one type of " + element.name + " is allowed");
        } else {
          add(Severity::kError, "structure", path_, "Duplicate property");
        }
        continue;
      }
      seen[ref->element] = 1;
      chosen[ref->element] = ref->type;
      bool has_extension_array = false;
      if (element.max > 1 && element.types[ref->type].primitive != Primitive::kNone) {
        std::string underscore = "_";
        underscore += key;
        const Value* ext = json::member(object, underscore.c_str());
        has_extension_array = ext != nullptr && ext->IsArray();
      }
      walkElement(it->value, element, element.types[ref->type], depth, has_extension_array);
    }
    path_.resize(base_length);
    if (stopped()) return;

    // Minimum cardinality: a primitive that carries only extensions (`_name`)
    // still counts as present.
    for (std::size_t i = 0; i < type.elements.size(); ++i) {
      const CompiledElement& element = type.elements[i];
      if (element.min > 0 && seen[i] == 0 && seen_ext[i] == 0) {
        add(Severity::kError, "required", path_ + "." + element.name,
            type.name + "." + element.name + " is required (min " +
                std::to_string(element.min) + ")");
      }
    }
    runHook(object, type);
  }

  void walkElement(const Value& value, const CompiledElement& element, const TypeRef& type,
                   int depth, bool nulls_allowed) {
    if (value.IsNull()) {
      add(Severity::kError, "structure", path_, "null is not allowed in FHIR JSON");
      return;
    }
    const bool repeating = element.max > 1;
    if (!repeating) {
      if (value.IsArray()) {
        add(Severity::kError, "structure", path_,
            element.name + " is not repeating and must not be an array");
        return;
      }
      walkValue(value, element, type, depth);
      return;
    }
    if (!value.IsArray()) {
      add(Severity::kError, "structure", path_, element.name + " repeats and must be an array");
      return;
    }
    if (value.Empty()) {
      add(Severity::kError, "structure", path_, "Empty arrays are not allowed in FHIR");
      return;
    }
    if (element.max != kMany && value.Size() > static_cast<rapidjson::SizeType>(element.max)) {
      add(Severity::kError, "structure", path_,
          element.name + " allows at most " + std::to_string(element.max) + " items");
    }
    const std::size_t base_length = path_.size();
    rapidjson::SizeType index = 0;
    for (auto it = value.Begin(); it != value.End() && !stopped(); ++it, ++index) {
      path_.resize(base_length);
      path_ += '[';
      path_ += std::to_string(index);
      path_ += ']';
      if (it->IsNull()) {
        // Primitive arrays may hold null where the matching `_name` item has
        // the extension; anywhere else null is an error.
        if (!nulls_allowed) add(Severity::kError, "structure", path_, "null is not allowed in FHIR JSON");
        continue;
      }
      if (it->IsArray()) {
        add(Severity::kError, "structure", path_, "Arrays must not be nested");
        continue;
      }
      walkValue(*it, element, type, depth);
    }
    path_.resize(base_length);
  }

  // One non-array value of `type`; path_ names it.
  void walkValue(const Value& value, const CompiledElement& element, const TypeRef& type, int depth) {
    if (type.resource) {
      if (!value.IsObject()) {
        add(Severity::kError, "structure", path_, "A contained resource must be a JSON object");
        return;
      }
      if (depth + 1 > kMaxDepth) {
        add(Severity::kError, "structure", path_, "Nesting is deeper than 64 levels");
        return;
      }
      const CompiledType* resource = resourceType(value, path_);
      if (resource != nullptr) walkResource(value, *resource, depth + 1, true);
      return;
    }
    if (type.complex != nullptr) {
      if (!value.IsObject()) {
        add(Severity::kError, "structure", path_,
            element.name + " must be a JSON object (" + type.complex->name + ")");
        return;
      }
      walkObject(value, *type.complex, depth + 1, false);
      if (element.binding != nullptr && !element.binding->system.empty()) {
        checkCodingBinding(value, *element.binding, *type.complex);
      }
      return;
    }
    checkPrimitive(value, type.primitive, element.binding);
  }

  void walkPrimitiveExtension(const Value& value, const CompiledElement& element, int depth) {
    const CompiledType* holder = reg_.type("Element");
    if (holder == nullptr) return;
    if (element.max > 1) {
      if (!value.IsArray() || value.Empty()) {
        add(Severity::kError, "structure", path_,
            "_" + element.name + " must be a non-empty array matching " + element.name);
        return;
      }
      const std::size_t base_length = path_.size();
      rapidjson::SizeType index = 0;
      for (auto it = value.Begin(); it != value.End() && !stopped(); ++it, ++index) {
        if (it->IsNull()) continue;
        path_.resize(base_length);
        path_ += '[' + std::to_string(index) + ']';
        if (!it->IsObject()) {
          add(Severity::kError, "structure", path_, "Primitive extensions must be JSON objects");
        } else {
          walkObject(*it, *holder, depth + 1, false);
        }
      }
      path_.resize(base_length);
      return;
    }
    if (!value.IsObject()) {
      add(Severity::kError, "structure", path_, "Primitive extensions must be a JSON object");
      return;
    }
    walkObject(value, *holder, depth + 1, false);
  }

  void checkPrimitive(const Value& value, Primitive p, const ValueSet* binding) {
    switch (p) {
      case Primitive::kBoolean:
        if (!value.IsBool()) wrongKind(p);
        return;
      case Primitive::kDecimal:
        if (!value.IsNumber()) wrongKind(p);
        return;
      case Primitive::kInteger:
      case Primitive::kPositiveInt:
      case Primitive::kUnsignedInt: {
        if (!value.IsNumber()) {
          wrongKind(p);
          return;
        }
        std::int64_t low = p == Primitive::kInteger ? INT32_MIN : p == Primitive::kPositiveInt ? 1 : 0;
        if (!value.IsInt64() || value.GetInt64() < low || value.GetInt64() > INT32_MAX) {
          add(Severity::kError, "value", path_, formatDescription(p));
        }
        return;
      }
      case Primitive::kNone: return;
      default: break;
    }
    if (!value.IsString()) {
      wrongKind(p);
      return;
    }
    std::string_view s(value.GetString(), value.GetStringLength());
    if (s.empty()) {
      add(Severity::kError, "value", path_, "Empty strings are not allowed in FHIR");
      return;
    }
    bool ok = true;
    switch (p) {
      case Primitive::kCode: ok = isCode(s); break;
      case Primitive::kId: ok = isId(s); break;
      case Primitive::kUri:
      case Primitive::kUrl:
      case Primitive::kCanonical: ok = isUri(s); break;
      case Primitive::kOid: ok = isOid(s); break;
      case Primitive::kUuid: ok = isUuid(s); break;
      case Primitive::kDate: ok = isDate(s); break;
      case Primitive::kDateTime: ok = isDateTime(s); break;
      case Primitive::kInstant: ok = isInstant(s); break;
      case Primitive::kTime: ok = isTime(s); break;
      case Primitive::kBase64Binary: ok = isBase64(s); break;
      case Primitive::kXhtml: ok = isXhtml(s); break;
      default: break;  // string, markdown: any non-empty text
    }
    if (!ok) {
      add(Severity::kError, "value", path_, formatDescription(p));
      return;
    }
    if (binding != nullptr && !binding->codes.empty() && !binding->contains(s)) {
      add(Severity::kError, "code-invalid", path_,
          "Code is not in the required value set " + binding->name + " (" + binding->listing + ")");
    }
  }

  void wrongKind(Primitive p) {
    add(Severity::kError, "structure", path_, std::string("Value must be ") + jsonKindFor(p));
  }

  // Required binding on CodeableConcept/Coding: codings in the bound system
  // must use one of its codes (codings in other systems are translations).
  void checkCodingBinding(const Value& value, const ValueSet& vs, const CompiledType& type) {
    auto check = [&](const Value& coding, const std::string& where) {
      if (json::string(coding, "system") != vs.system) return;
      std::string_view code = json::string(coding, "code");
      if (!code.empty() && !vs.contains(code)) {
        add(Severity::kError, "code-invalid", where + ".code",
            "Code is not in the required value set " + vs.name + " (" + vs.listing + ")");
      }
    };
    if (type.name == "Coding") {
      check(value, path_);
      return;
    }
    const Value* codings = json::member(value, "coding");
    if (codings == nullptr || !codings->IsArray()) return;
    for (rapidjson::SizeType i = 0; i < codings->Size(); ++i) {
      if ((*codings)[i].IsObject()) check((*codings)[i], path_ + ".coding[" + std::to_string(i) + "]");
    }
  }

  void runHook(const Value& object, const CompiledType& type) {
    switch (type.hook) {
      case Hook::kIdentifier: checkNikFormat(object); break;
      case Hook::kExtension: checkExtension(object); break;
      case Hook::kReference: checkReference(object); break;
      case Hook::kNone: break;
    }
  }

  // ext-1: an extension has either a value or nested extensions, not both.
  void checkExtension(const Value& object) {
    bool has_value = false;
    for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
      std::string_view key = keyOf(it);
      if (key.size() > 5 && key.starts_with("value") && key[5] >= 'A' && key[5] <= 'Z') {
        has_value = true;
      }
    }
    bool has_extension = object.HasMember("extension");
    if (has_value == has_extension) {
      add(Severity::kError, "invariant", path_,
          has_value ? "An extension must have either a value or nested extensions, not both (ext-1)"
                    : "An extension must have a value or nested extensions (ext-1)");
    }
  }

  // Literal references: `#id` (contained), `Type/id[/_history/vid]`, or an
  // absolute URI (http(s)://..., urn:uuid:, urn:oid:).
  void checkReference(const Value& object) {
    const Value* ref = json::member(object, "reference");
    if (ref == nullptr || !ref->IsString() || ref->GetStringLength() == 0) return;
    std::string_view s(ref->GetString(), ref->GetStringLength());
    bool ok = false;
    if (s.front() == '#') {
      s.remove_prefix(1);
      ok = s.empty() || isId(s);
      local_refs_.emplace_back(s);
    } else if (s.starts_with("http://") || s.starts_with("https://")) {
      ok = isUri(s) && s.find('/', s.find("//") + 2) != std::string_view::npos;
    } else if (s.starts_with("urn:uuid:")) {
      ok = isUuid(s);
    } else if (s.starts_with("urn:oid:")) {
      ok = isOid(s);
    } else {
      ok = isRelativeReference(s);
    }
    if (!ok) {
      add(Severity::kError, "value", path_ + ".reference",
          "Reference must be Type/id, an absolute URL or #contained-id");
    }
  }

  static bool isRelativeReference(std::string_view s) {
    std::size_t slash = s.find('/');
    if (slash == std::string_view::npos || slash == 0) return false;
    std::string_view type = s.substr(0, slash);
    if (type[0] < 'A' || type[0] > 'Z') return false;
    for (char c : type) {
      if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return false;
    }
    std::string_view rest = s.substr(slash + 1);
    std::size_t history = rest.find("/_history/");
    if (history != std::string_view::npos) {
      return isId(rest.substr(0, history)) && isId(rest.substr(history + 10));
    }
    return isId(rest);
  }

  // dom-3: every contained resource is referenced from the container (or
  // refers back to it with "#").
  void checkContainedReferenced() {
    bool container_referenced = false;
    for (const std::string& r : local_refs_) container_referenced |= r.empty();
    for (const auto& [where, id] : contained_ids_) {
      bool found = container_referenced;
      for (const std::string& r : local_refs_) found |= r == id;
      if (!found) {
        add(Severity::kError, "invariant", where,
            "Contained resource is not referenced from the containing resource (dom-3)");
      }
    }
  }

  // ---- Business rules (ILP / SATUSEHAT) -----------------------------------

  static bool isNikSystem(std::string_view system) {
    return system == kNikSystem || system == kNikIbuSystem;
  }

  static bool isSixteenDigits(std::string_view s) {
    if (s.size() != 16) return false;
    for (char c : s) {
      if (!isDigit(c)) return false;
    }
    return true;
  }

  // Applies to every Identifier (Patient, Practitioner, Reference.identifier).
  void checkNikFormat(const Value& identifier) {
    if (!isNikSystem(json::string(identifier, "system"))) return;
    const Value* value = json::member(identifier, "value");
    if (value == nullptr || !value->IsString() || value->GetStringLength() == 0) return;
    if (!isSixteenDigits({value->GetString(), value->GetStringLength()})) {
      add(Severity::kError, "value", path_ + ".value", "NIK must be exactly 16 digits");
    }
  }

  // The NIK embeds DDMMYY (DD + 40 for women) at digits 7-12. A contradiction
  // with birthDate or gender is a likely data-entry error, but the registry
  // itself holds such NIKs, so it is only a warning. The mother's NIK
  // (nik-ibu) describes someone else and is not compared.
  void checkPatientNik(const Value& patient) {
    const Value* identifiers = json::member(patient, "identifier");
    if (identifiers == nullptr || !identifiers->IsArray()) return;
    std::string_view gender = json::string(patient, "gender");
    std::string_view birth_date = json::string(patient, "birthDate");
    if (!isDate(birth_date)) birth_date = {};
    for (rapidjson::SizeType i = 0; i < identifiers->Size(); ++i) {
      const Value& identifier = (*identifiers)[i];
      if (json::string(identifier, "system") != kNikSystem) continue;
      std::string_view nik = json::string(identifier, "value");
      if (!sdk::values::isNik(nik)) continue;
      std::string where = "Patient.identifier[" + std::to_string(i) + "].value";
      auto facts = sdk::values::decodeNik(nik);
      if (!facts->birth_date_valid) {
        add(Severity::kWarning, "business-rule", where,
            "NIK digits 7-12 are not a valid birth date (DDMMYY, DD+40 for women)");
        continue;
      }
      if ((gender == "male" && facts->female) || (gender == "female" && !facts->female)) {
        add(Severity::kWarning, "business-rule", where,
            "Sex encoded in the NIK (DD+40 for women) contradicts Patient.gender");
      }
      if (!birth_date.empty()) {
        if (!facts->agreesWithBirthDate(birth_date)) {
          add(Severity::kWarning, "business-rule", where,
              "Birth date encoded in the NIK (DDMMYY) contradicts Patient.birthDate");
        }
      }
    }
  }

  // ---- Issue collection ----------------------------------------------------

  bool stopped() const { return added_ >= kMaxIssues; }

  void add(Severity severity, const char* code, std::string expression, std::string diagnostics) {
    if (stopped()) return;
    Issue issue;
    issue.severity = severity;
    issue.code = code;
    issue.expression = std::move(expression);
    issue.diagnostics = std::move(diagnostics);
    issues_.push_back(std::move(issue));
    if (++added_ == kMaxIssues) {
      Issue last;
      last.severity = Severity::kError;
      last.code = "too-costly";
      last.expression = issues_.back().expression;
      last.diagnostics = "Too many issues; validation stopped after " + std::to_string(kMaxIssues);
      issues_.push_back(std::move(last));
    }
  }

  std::vector<Issue>& issues_;
  const Registry& reg_;
  std::string path_;
  std::size_t added_ = 0;
  std::vector<std::string> local_refs_;  // "#id" targets seen (without '#')
  std::vector<std::pair<std::string, std::string>> contained_ids_;  // (path, id)
};

}  // namespace

const std::vector<std::string>& supportedResourceTypes() { return registry().resource_names; }

bool isSupportedResourceType(std::string_view type) {
  return registry().resource(type) != nullptr;
}

void validateResource(const rapidjson::Value& resource, std::vector<sdk::Issue>& issues) {
  // The walker allocates (paths, issue texts); running out of memory must
  // still not take the gateway down.
  try {
    Walker walker(issues);
    walker.validate(resource);
  } catch (...) {
    Issue issue;
    issue.severity = Severity::kError;
    issue.code = "exception";
    issue.expression = "Resource";
    issue.diagnostics = "Validation could not be completed";
    issues.push_back(std::move(issue));
  }
}

}  // namespace ilpgw::fhir
