// @ADAPTER_NAME@: <say here which system posts what>.
//
// Started from the ILP Gateway adapter template. It reads a small JSON
// patient list and maps each entry to a FHIR Patient; replace the format and
// the mapping with your system's, keep the structure:
//   - info() declares name, version, media types and options (one table);
//   - map() never throws, reports data problems as Issues with a location in
//     the input and an expression in the FHIR output, and gets every id from
//     Host::resourceId so re-posting the same data updates, not duplicates.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>

#include "ilpgw/sdk/adapter.h"
#include "ilpgw/sdk/identifiers.h"  // identifier systems shared with the gateway
#include "ilpgw/sdk/values.h"       // dates, decimals, L/P, NIK facts: parsed as the gateway does

namespace ilpgw::plugins::@ADAPTER_NAMESPACE@ {
namespace {

namespace sdk = ilpgw::sdk;

using sdk::kNikSystem;
namespace values = sdk::values;

std::string_view text(const rapidjson::Value& object, const char* name) {
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

}  // namespace

class @ADAPTER_CLASS@ final : public sdk::Adapter {
 public:
  sdk::AdapterInfo info() const noexcept override {
    sdk::AdapterInfo info;
    try {
      info.name = "@ADAPTER_NAME@";  // also the route: POST /ingest/@ADAPTER_NAME@
      info.version = "0.1.0";        // bump on every change: stored resources record it
      info.description = "Patient list (JSON) from <your system>";
      info.formats = {"application/json"};
      // The one declaration of the options: the gateway validates the
      // plugin's "config" block against it and shows it at GET /admin/plugins.
      info.options = {
          {"require_nik", "boolean", "false", "refuse patients without a 16-digit NIK"},
          {"mrn_system", "string", "",
           "identifier system of medical record numbers; empty: http://sys-ids.kemkes.go.id/mrn/<organization>"},
      };
    } catch (...) {
    }
    return info;
  }

  sdk::MapResult map(std::string_view payload, const sdk::Context& context) const noexcept override {
    sdk::MapResult result;
    try {
      rapidjson::Document doc;
      doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(payload.data(),
                                                                                        payload.size());
      const rapidjson::Value* list = nullptr;
      if (!doc.HasParseError() && doc.IsObject()) {
        auto it = doc.FindMember("pasien");
        if (it != doc.MemberEnd() && it->value.IsArray()) list = &it->value;
      }
      if (list == nullptr) {
        result.issues.push_back({sdk::Severity::kFatal, "structure", "payload", "",
                                 "expected a JSON object with an array \"pasien\""});
        return result;
      }
      const bool require_nik = context.option("require_nik") == "true";
      std::string mrn_system(context.option("mrn_system"));
      if (mrn_system.empty()) mrn_system = std::string(sdk::kMrnSystemPrefix) + context.organization_id;

      for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
        const rapidjson::Value& p = (*list)[i];
        sdk::Record record;
        record.locator = "pasien[" + std::to_string(i) + "]";
        auto error = [&](const std::string& field, const std::string& expression, const std::string& message) {
          record.issues.push_back(
              {sdk::Severity::kError, "value", record.locator + "." + field, expression, message});
        };
        if (!p.IsObject()) {
          error("", "Patient", "each entry of \"pasien\" must be an object");
          result.records.push_back(std::move(record));
          continue;
        }
        std::string nik(text(p, "nik"));
        std::string no_rm(text(p, "no_rm"));
        std::string nama(text(p, "nama"));
        std::string jk(text(p, "jk"));
        std::string tgl_lahir(text(p, "tgl_lahir"));
        record.source_key = no_rm;

        if (!nik.empty() && !values::isNik(nik)) error("nik", "Patient.identifier", "NIK must be 16 digits");
        if (nik.empty() && require_nik) error("nik", "Patient.identifier", "nik is required (option require_nik)");
        if (nik.empty() && no_rm.empty()) error("no_rm", "Patient.identifier", "a patient needs a nik or a no_rm");
        if (nama.empty()) error("nama", "Patient.name[0].text", "nama is required");
        auto sex = values::parseSex(jk);
        std::string gender = sex ? std::string(values::fhirGender(*sex)) : "";
        if (!jk.empty() && gender.empty()) error("jk", "Patient.gender", "jk must be L or P");
        // The gateway validates every resource too (dates, codes, NIK facts);
        // checking here gives the clinic a message in its own field names.
        auto birth = values::parseDateTime(tgl_lahir, "iso");
        if (!tgl_lahir.empty() && (!birth || birth->has_time)) error("tgl_lahir", "Patient.birthDate", "tgl_lahir must be YYYY-MM-DD");

        if (record.issues.empty()) {
          // The same business keys as the bundled adapters: one person, one Patient.
          std::string key = !nik.empty() ? "nik|" + nik : "mrn|" + context.organization_id + "|" + no_rm;
          record.resources.push_back(patient(context.host->resourceId("Patient", key), nik, no_rm, mrn_system,
                                             nama, gender, tgl_lahir));
        }
        result.records.push_back(std::move(record));
      }
      // Operational facts only: never NIKs or names in the log.
      context.host->log(sdk::Severity::kInformation,
                        "@ADAPTER_NAME@ mapped " + std::to_string(result.records.size()) + " record(s)");
    } catch (...) {
      // Only allocation failure can get here. Nothing may cross the boundary.
      result.records.clear();
      result.issues.push_back({sdk::Severity::kFatal, "exception", "payload", "", "@ADAPTER_NAME@ failed"});
    }
    return result;
  }

 private:
  static std::string patient(const std::string& id, const std::string& nik, const std::string& no_rm,
                             const std::string& mrn_system, const std::string& nama, const std::string& gender,
                             const std::string& birth_date) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("resourceType");
    w.String("Patient");
    w.Key("id");
    w.String(id.c_str());
    w.Key("identifier");
    w.StartArray();
    if (!nik.empty()) {
      w.StartObject();
      w.Key("use");
      w.String("official");
      w.Key("system");
      w.String(kNikSystem.data(), static_cast<rapidjson::SizeType>(kNikSystem.size()));
      w.Key("value");
      w.String(nik.c_str());
      w.EndObject();
    }
    if (!no_rm.empty()) {
      w.StartObject();
      w.Key("use");
      w.String("usual");
      w.Key("system");
      w.String(mrn_system.c_str());
      w.Key("value");
      w.String(no_rm.c_str());
      w.EndObject();
    }
    w.EndArray();
    w.Key("name");
    w.StartArray();
    w.StartObject();
    w.Key("use");
    w.String("official");
    w.Key("text");
    w.String(nama.c_str());
    w.EndObject();
    w.EndArray();
    if (!gender.empty()) {
      w.Key("gender");
      w.String(gender.c_str());
    }
    if (!birth_date.empty()) {
      w.Key("birthDate");
      w.String(birth_date.c_str());
    }
    w.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
  }
};

}  // namespace ilpgw::plugins::@ADAPTER_NAMESPACE@

// Exports the ABI version and the factory the gateway looks up.
ILPGW_ADAPTER(ilpgw::plugins::@ADAPTER_NAMESPACE@::@ADAPTER_CLASS@)
