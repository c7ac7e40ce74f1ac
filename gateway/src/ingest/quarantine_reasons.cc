#include "ingest/quarantine_reasons.h"

#include <algorithm>
#include <cctype>

#include "base/json.h"

namespace ilpgw {
namespace {

// FHIR R4 IssueType (http://hl7.org/fhir/issue-type), every code: an issue's
// code is always one of these, so every reason has words.
const std::vector<ReasonMessage> kMessages = {
    {"invalid", "{field} tidak sah", "{field} is not valid",
     "Periksa isian ini di aplikasi klinik lalu kirim ulang.", "Check this entry in the clinic's system and resend."},
    {"structure", "bentuk data {field} tidak bisa dibaca", "the shape of {field} cannot be read",
     "Aplikasi klinik mengirim berkas dengan bentuk yang salah. Minta klinik mengirim ulang dari ekspor yang benar.",
     "The clinic's system sent a file of the wrong shape. Ask the clinic to resend a proper export."},
    {"required", "{field} kosong", "{field} is empty",
     "Minta klinik melengkapi isian ini lalu mengirim ulang.", "Ask the clinic to fill in this entry and resend."},
    {"value", "isi {field} tidak bisa dipakai", "the value of {field} cannot be used",
     "Periksa penulisan isian ini (tanggal, angka, satuan) di aplikasi klinik, atau sesuaikan aturan pemetaan.",
     "Check how this entry is written (date, number, unit) in the clinic's system, or adjust the mapping rules."},
    {"invariant", "{field} bertentangan dengan isian lain", "{field} contradicts another entry",
     "Periksa isian yang saling terkait (misalnya tanggal lahir dan tanggal kunjungan).",
     "Check the related entries (for example date of birth and visit date)."},
    {"security", "kiriman ditolak demi keamanan ({field})", "refused for security ({field})",
     "Hubungi pengelola gateway.", "Contact the gateway's administrator."},
    {"login", "pengirim belum masuk ({field})", "the sender is not logged in ({field})",
     "Periksa kredensial aplikasi klinik.", "Check the clinic system's credentials."},
    {"unknown", "pengirim tidak dikenal ({field})", "unknown sender ({field})",
     "Daftarkan aplikasi klinik sebagai klien.", "Register the clinic's system as a client."},
    {"expired", "masa berlaku habis ({field})", "expired ({field})",
     "Perbarui kredensial atau kirim ulang.", "Renew the credentials or resend."},
    {"forbidden", "pengirim tidak boleh mengirim {field}", "the sender may not send {field}",
     "Periksa puskesmas yang terdaftar untuk klien ini.", "Check which puskesmas this client is registered for."},
    {"suppressed", "{field} disembunyikan", "{field} was suppressed",
     "Tidak perlu tindakan.", "No action needed."},
    {"processing", "{field} gagal diolah", "{field} could not be processed",
     "Coba proses ulang; bila tetap gagal, hubungi pengelola gateway.",
     "Try reprocessing; if it keeps failing, contact the gateway's administrator."},
    {"not-supported", "{field} belum didukung gateway", "{field} is not supported by the gateway",
     "Tanyakan ke pengelola gateway apakah aturan pemetaan perlu ditambah.",
     "Ask the gateway's administrator whether the mapping rules need an addition."},
    {"duplicate", "{field} tercatat dua kali", "{field} appears twice",
     "Hapus isian ganda di aplikasi klinik lalu kirim ulang.", "Remove the duplicate in the clinic's system and resend."},
    {"multiple-matches", "{field} cocok dengan lebih dari satu data", "{field} matches more than one record",
     "Periksa data ganda di aplikasi klinik.", "Check for duplicate records in the clinic's system."},
    {"not-found", "{field} tidak ditemukan", "{field} was not found",
     "Periksa rujukan ini di aplikasi klinik, atau kirim dulu data yang dirujuk.",
     "Check this reference in the clinic's system, or send the referenced data first."},
    {"deleted", "{field} sudah dihapus", "{field} has been deleted",
     "Kirim ulang data yang masih berlaku.", "Resend data that is still current."},
    {"too-long", "{field} terlalu panjang", "{field} is too long",
     "Persingkat isian ini di aplikasi klinik.", "Shorten this entry in the clinic's system."},
    {"code-invalid", "kode {field} tidak dikenal", "the code in {field} is not known",
     "Betulkan kode di aplikasi klinik, atau tambahkan kode itu ke berkas pemetaan lalu proses ulang.",
     "Correct the code in the clinic's system, or add it to the mapping file and reprocess."},
    {"extension", "tambahan {field} tidak dikenal", "the extension {field} is not known",
     "Hubungi pengelola gateway.", "Contact the gateway's administrator."},
    {"too-costly", "{field} terlalu besar untuk diperiksa", "{field} is too large to check",
     "Kirim dalam bagian yang lebih kecil.", "Send it in smaller parts."},
    {"business-rule", "{field} melanggar aturan pelayanan", "{field} breaks a service rule",
     "Periksa isian ini bersama petugas klinik.", "Check this entry with the clinic's staff."},
    {"conflict", "{field} bertentangan dengan data yang sudah tersimpan", "{field} conflicts with data already stored",
     "Periksa data pasien ini di aplikasi klinik (misalnya NIK yang sama untuk dua orang).",
     "Check this patient's data in the clinic's system (for example one NIK for two people)."},
    {"transient", "gangguan sementara ({field})", "a passing fault ({field})",
     "Proses ulang sebentar lagi.", "Reprocess in a moment."},
    {"lock-error", "data sedang dipakai ({field})", "the data was locked ({field})",
     "Proses ulang sebentar lagi.", "Reprocess in a moment."},
    {"no-store", "penyimpanan tidak tersedia ({field})", "the store was not available ({field})",
     "Periksa disk dan penyimpanan gateway, lalu proses ulang.", "Check the gateway's disk and store, then reprocess."},
    {"exception", "gangguan di gateway atau adaptor ({field})", "a fault in the gateway or the adapter ({field})",
     "Hubungi pengelola gateway; data tetap tersimpan untuk diproses ulang.",
     "Contact the gateway's administrator; the data stays kept for reprocessing."},
    {"timeout", "adaptor terlalu lama mengolah {field}", "the adapter took too long on {field}",
     "Proses ulang; bila terus terjadi, hubungi pengelola gateway.",
     "Reprocess; if it keeps happening, contact the gateway's administrator."},
    {"incomplete", "{field} belum lengkap", "{field} is incomplete",
     "Minta klinik melengkapi data lalu mengirim ulang.", "Ask the clinic to complete the data and resend."},
    {"throttled", "terlalu banyak kiriman ({field})", "too many posts ({field})",
     "Tunggu sebentar lalu kirim ulang.", "Wait a moment and resend."},
    {"informational", "catatan tentang {field}", "a note about {field}", "Tidak perlu tindakan.", "No action needed."},
};

struct FieldName {
  const char* expression;  // a FHIR path prefix, without indexes
  const char* id;
  const char* en;
};

// Longest prefix wins.
const std::vector<FieldName> kFields = {
    {"Patient", "data pasien", "patient data"},
    {"Patient.identifier", "nomor identitas pasien (NIK / no. RM / BPJS)", "patient identifier (NIK / record no. / BPJS)"},
    {"Patient.name", "nama pasien", "patient name"},
    {"Patient.gender", "jenis kelamin", "sex"},
    {"Patient.birthDate", "tanggal lahir", "date of birth"},
    {"Patient.address", "alamat", "address"},
    {"Patient.telecom", "nomor telepon", "phone number"},
    {"Encounter", "data kunjungan", "visit data"},
    {"Encounter.period", "tanggal kunjungan", "visit date"},
    {"Encounter.serviceType", "poli", "clinic unit (poli)"},
    {"Encounter.type", "jenis kunjungan", "visit type"},
    {"Encounter.class", "jenis pelayanan", "kind of care"},
    {"Encounter.participant", "tenaga kesehatan", "health worker"},
    {"Encounter.extension", "kunjungan baru/lama", "new or repeat visit"},
    {"Practitioner", "data tenaga kesehatan", "health worker data"},
    {"Practitioner.identifier", "NIK tenaga kesehatan", "health worker's NIK"},
    {"Condition", "diagnosis", "diagnosis"},
    {"Condition.code", "diagnosis (ICD-10)", "diagnosis (ICD-10)"},
    {"Observation", "hasil pemeriksaan", "examination result"},
    {"Observation.code", "jenis pemeriksaan", "kind of examination"},
    {"Observation.value", "nilai pemeriksaan", "examination value"},
    {"Observation.valueQuantity", "nilai pemeriksaan", "examination value"},
    {"Observation.component", "nilai pemeriksaan (misalnya tekanan darah)", "examination value (for example blood pressure)"},
    {"Observation.effective", "tanggal pemeriksaan", "examination date"},
    {"Immunization", "imunisasi", "immunization"},
    {"Immunization.vaccineCode", "jenis vaksin", "vaccine"},
    {"Immunization.occurrence", "tanggal imunisasi", "immunization date"},
    {"MedicationRequest", "resep", "prescription"},
    {"MedicationRequest.dosageInstruction", "aturan pakai obat (signa)", "dosage instructions (signa)"},
    {"MedicationRequest.medication", "nama obat", "medicine"},
    {"Procedure", "tindakan", "procedure"},
    {"DiagnosticReport", "hasil laboratorium", "laboratory report"},
    {"ServiceRequest", "permintaan pemeriksaan", "examination request"},
    {"Organization", "puskesmas", "puskesmas"},
    {"Location", "lokasi (posyandu)", "location (posyandu)"},
};

std::string withoutIndexes(std::string_view expression) {
  std::string out;
  int depth = 0;
  for (char c : expression) {
    if (c == '[') ++depth;
    else if (c == ']') depth = std::max(0, depth - 1);
    else if (depth == 0) out.push_back(c);
  }
  return out;
}

bool isPrefixPath(std::string_view prefix, std::string_view path) {
  if (path.substr(0, prefix.size()) != prefix) return false;
  if (path.size() == prefix.size()) return true;
  char next = path[prefix.size()];
  // Patient.birthDate covers Patient.birthDate.extension; Observation.value covers valueQuantity too.
  return next == '.' || (prefix.find('.') != std::string_view::npos && std::isupper(static_cast<unsigned char>(next)));
}

}  // namespace

const std::vector<ReasonMessage>& reasonMessages() { return kMessages; }

bool hasReasonMessage(std::string_view code) {
  return std::any_of(kMessages.begin(), kMessages.end(), [&](const ReasonMessage& m) { return code == m.code; });
}

const ReasonMessage& reasonMessage(std::string_view code) {
  for (const auto& m : kMessages) {
    if (code == m.code) return m;
  }
  return kMessages.front();
}

std::string locationField(std::string_view location) {
  auto column = location.rfind("column ");
  if (column != std::string_view::npos) return std::string(location.substr(column + 7));
  if (location == "payload" || location.empty()) return "";
  // record[0].pasien.tgl_lahir -> tgl_lahir; OBX[2].5 stays as it is
  std::string path = withoutIndexes(location);
  auto dot = path.rfind('.');
  if (dot == std::string::npos) return "";
  std::string last = path.substr(dot + 1);
  bool digits = !last.empty() && std::all_of(last.begin(), last.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  return digits ? std::string(location) : last;
}

std::string fieldPlainName(std::string_view expression, std::string_view location, bool english) {
  std::string path = withoutIndexes(expression);
  const FieldName* best = nullptr;
  for (const auto& f : kFields) {
    std::string_view prefix = f.expression;
    if (isPrefixPath(prefix, path) && (best == nullptr || prefix.size() > std::string_view(best->expression).size())) {
      best = &f;
    }
  }
  std::string raw = locationField(location);
  // A whole resource says little: the raw column is more precise then.
  if (best != nullptr && (std::string_view(best->expression).find('.') != std::string_view::npos || raw.empty())) {
    return english ? best->en : best->id;
  }
  if (!raw.empty()) {
    bool column = location.find("column ") != std::string_view::npos;
    return std::string(column ? (english ? "column " : "kolom ") : (english ? "field " : "isian ")) + raw;
  }
  if (location == "payload") return english ? "the whole post" : "seluruh kiriman";
  return english ? "the record" : "catatan ini";
}

std::string plainReason(std::string_view code, std::string_view expression, std::string_view location, bool english) {
  const ReasonMessage& m = reasonMessage(code);
  std::string text = english ? m.en : m.id;
  std::string field = fieldPlainName(expression, location, english);
  auto at = text.find("{field}");
  if (at != std::string::npos) text.replace(at, 7, field);
  return text;
}

std::vector<EntryIssue> entryIssues(const std::string& outcome_json) {
  std::vector<EntryIssue> all;
  rapidjson::Document doc;
  if (json::parse(outcome_json, doc) || !doc.IsObject()) return all;
  const auto* issues = json::member(doc, "issue");
  if (issues == nullptr || !issues->IsArray()) return all;
  for (const auto& i : issues->GetArray()) {
    if (!i.IsObject()) continue;
    EntryIssue e;
    e.severity = std::string(json::string(i, "severity"));
    e.code = std::string(json::string(i, "code"));
    e.diagnostics = std::string(json::string(i, "diagnostics"));
    if (const auto* ex = json::member(i, "expression"); ex != nullptr && ex->IsArray()) {
      for (const auto& x : ex->GetArray()) {
        if (!x.IsString()) continue;
        if (e.expression.empty()) e.expression = x.GetString();
      }
    }
    if (const auto* loc = json::member(i, "location"); loc != nullptr && loc->IsArray() && !loc->Empty() &&
                                                        (*loc)[0].IsString()) {
      e.location = (*loc)[0].GetString();
    }
    all.push_back(std::move(e));
  }
  std::vector<EntryIssue> blocking;
  for (const auto& e : all) {
    if (e.severity == "error" || e.severity == "fatal") blocking.push_back(e);
  }
  return blocking.empty() ? all : blocking;
}

void ReasonTally::add(const std::string& adapter, const std::string& locator, const std::string& outcome_json) {
  std::vector<std::string> seen;
  bool rows = locator.rfind("row ", 0) == 0;
  for (const auto& issue : entryIssues(outcome_json)) {
    std::string text = plainReason(issue.code, issue.expression, issue.location, english_);
    if (std::find(seen.begin(), seen.end(), text) != seen.end()) continue;
    seen.push_back(text);
    auto it = std::find_if(counts_.begin(), counts_.end(),
                           [&](const ReasonCount& c) { return c.adapter == adapter && c.text == text; });
    if (it == counts_.end()) {
      counts_.push_back({adapter, text, 1, rows});
    } else {
      ++it->records;
    }
  }
}

std::vector<ReasonCount> ReasonTally::top(size_t limit) const {
  std::vector<ReasonCount> out = counts_;
  std::stable_sort(out.begin(), out.end(), [](const ReasonCount& a, const ReasonCount& b) { return a.records > b.records; });
  if (out.size() > limit) out.resize(limit);
  return out;
}

std::string ReasonTally::sentence(const ReasonCount& c) const {
  std::string n = std::to_string(c.records);
  std::string from = c.adapter.empty() ? "" : (english_ ? " from " : " dari ") + c.adapter;
  if (english_) {
    const char* unit = c.rows ? (c.records == 1 ? " row" : " rows") : (c.records == 1 ? " record" : " records");
    return c.text + " in " + n + unit + from;
  }
  return c.text + " di " + n + (c.rows ? " baris" : " catatan") + from;
}

}  // namespace ilpgw
