// A thin layer over rapidjson::Writer for writing FHIR resources: keyed
// members, references, codings and quantities in one call each, so the mapping
// functions read like the resources they produce.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "ilpgw/sdk/identifiers.h"

namespace ilpgw::plugins::epuskesmas_json {

inline constexpr std::string_view kUcum = sdk::kUcumSystem;

class FhirWriter {
 public:
  FhirWriter() : writer_(buffer_) {}

  void key(std::string_view name) { writer_.Key(name.data(), size(name)); }
  void beginObject() { writer_.StartObject(); }
  void beginObject(std::string_view name) {
    key(name);
    writer_.StartObject();
  }
  void endObject() { writer_.EndObject(); }
  void beginArray(std::string_view name) {
    key(name);
    writer_.StartArray();
  }
  void endArray() { writer_.EndArray(); }

  void string(std::string_view value) { writer_.String(value.data(), size(value)); }
  void string(std::string_view name, std::string_view value) {
    key(name);
    string(value);
  }
  // `text` must be a validated decimal (normalizeDecimal): written verbatim so
  // "36.60" keeps its precision.
  void decimal(std::string_view name, std::string_view text) {
    key(name);
    writer_.RawValue(text.data(), text.size(), rapidjson::kNumberType);
  }
  void integer(std::string_view name, std::int64_t value) {
    key(name);
    writer_.Int64(value);
  }

  void boolean(std::string_view name, bool value) {
    key(name);
    writer_.Bool(value);
  }

  void reference(std::string_view name, std::string_view target) {
    beginObject(name);
    string("reference", target);
    endObject();
  }

  void coding(std::string_view system, std::string_view code, std::string_view display) {
    beginObject();
    string("system", system);
    string("code", code);
    if (!display.empty()) string("display", display);
    endObject();
  }

  // A CodeableConcept with one coding.
  void codeableConcept(std::string_view name, std::string_view system, std::string_view code,
               std::string_view display, std::string_view text = {}) {
    beginObject(name);
    beginArray("coding");
    coding(system, code, display);
    endArray();
    if (!text.empty()) string("text", text);
    endObject();
  }

  // An array holding one CodeableConcept (category, type, interpretation).
  void conceptList(std::string_view name, std::string_view system, std::string_view code,
                   std::string_view display) {
    beginArray(name);
    beginObject();
    beginArray("coding");
    coding(system, code, display);
    endArray();
    endObject();
    endArray();
  }

  // A UCUM quantity; `unit_display` is the human unit, `ucum` the code.
  void quantity(std::string_view name, std::string_view value, std::string_view unit_display,
                std::string_view ucum) {
    beginObject(name);
    decimal("value", value);
    if (!ucum.empty()) {
      string("unit", unit_display);
      string("system", kUcum);
      string("code", ucum);
    }
    endObject();
  }

  std::string take() { return std::string(buffer_.GetString(), buffer_.GetSize()); }

 private:
  static rapidjson::SizeType size(std::string_view text) {
    return static_cast<rapidjson::SizeType>(text.size());
  }

  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_;
};

}  // namespace ilpgw::plugins::epuskesmas_json
