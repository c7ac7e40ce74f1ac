// Why a record was refused, in plain words for district and puskesmas staff:
// the one table of messages, in Bahasa Indonesia and English, for every
// reason (a FHIR issue-type code) the bundled adapters and the validator can
// put on a quarantined record, and the plain names of the fields they point
// at. The status page and the admin console both read it; nothing else
// words a reason for people.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ilpgw {

// One reason: `{field}` in the texts is replaced by the field's plain name.
struct ReasonMessage {
  const char* code;  // FHIR R4 IssueType code
  const char* id;    // e.g. "{field} kosong"
  const char* en;    // e.g. "{field} is empty"
  const char* advice_id;  // what to do, for the console
  const char* advice_en;
};

// Every entry, one per FHIR R4 IssueType code.
const std::vector<ReasonMessage>& reasonMessages();
// The entry for `code`; the `invalid` entry for a code not in the table.
const ReasonMessage& reasonMessage(std::string_view code);
bool hasReasonMessage(std::string_view code);

// The plain name of the field an issue points at: from its FHIR expression
// (`Patient.birthDate` -> "tanggal lahir") when known, else the column or
// key named in its location (`row 5, column tgl_lahir` -> "kolom tgl_lahir").
std::string fieldPlainName(std::string_view expression, std::string_view location, bool english);
// The raw column or key an issue's location names (`row 5, column tgl_lahir`
// -> "tgl_lahir", `record[0].pasien.tgl_lahir` -> "tgl_lahir"); empty when
// none (a whole record or payload).
std::string locationField(std::string_view location);

// One issue in plain words: "tanggal lahir kosong".
std::string plainReason(std::string_view code, std::string_view expression, std::string_view location, bool english);

// One issue of a quarantine entry, read from its stored OperationOutcome.
struct EntryIssue {
  std::string severity;
  std::string code;
  std::string expression;
  std::string location;
  std::string diagnostics;
};
// The blocking issues (error, fatal) of an entry's OperationOutcome, in order;
// every issue when none blocks.
std::vector<EntryIssue> entryIssues(const std::string& outcome_json);

// Refused records counted by reason: "tanggal lahir kosong di 12 baris dari
// simpus-csv".
struct ReasonCount {
  std::string adapter;
  std::string text;  // the plain reason, without the count
  std::int64_t records = 0;
  bool rows = false;  // records located as rows (CSV): "baris" rather than "catatan"
};
class ReasonTally {
 public:
  explicit ReasonTally(bool english) : english_(english) {}
  // Counts an entry once per distinct reason it carries.
  void add(const std::string& adapter, const std::string& locator, const std::string& outcome_json);
  // Most records first, at most `limit`.
  std::vector<ReasonCount> top(size_t limit) const;
  // "tanggal lahir kosong di 12 baris dari simpus-csv"
  std::string sentence(const ReasonCount& count) const;

 private:
  bool english_;
  std::vector<ReasonCount> counts_;
};

}  // namespace ilpgw
