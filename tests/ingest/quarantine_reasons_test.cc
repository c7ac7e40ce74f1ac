// The plain-language reasons of quarantined records: every FHIR issue-type
// code has words in both languages; every code the bundled adapters, the
// mapping engine, the core's ILP rules and the validator write into an issue
// (found by reading their sources) has an entry; and reasons read from
// real adapters' outcomes come out as staff read them.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>

#include "ingest/quarantine_reasons.h"
#include "test_support.h"

namespace ilpgw {
namespace {

// FHIR R4 IssueType (http://hl7.org/fhir/R4/valueset-issue-type.html).
const std::set<std::string> kIssueTypes = {
    "invalid",  "structure",     "required",    "value",     "invariant",     "security",      "login",
    "unknown",  "expired",       "forbidden",   "suppressed", "processing",   "not-supported", "duplicate",
    "multiple-matches", "not-found", "deleted", "too-long",  "code-invalid",  "extension",     "too-costly",
    "business-rule", "conflict", "transient",   "lock-error", "no-store",     "exception",     "timeout",
    "incomplete", "throttled",   "informational"};

TEST(QuarantineReasonsTest, EveryIssueTypeHasWordsInBothLanguages) {
  std::set<std::string> seen;
  for (const auto& m : reasonMessages()) {
    EXPECT_TRUE(kIssueTypes.count(m.code)) << m.code << " is not a FHIR issue type";
    EXPECT_TRUE(seen.insert(m.code).second) << m.code << " twice";
    for (const char* text : {m.id, m.en, m.advice_id, m.advice_en}) {
      EXPECT_NE(std::string(text), "") << m.code;
    }
    EXPECT_NE(std::string(m.id).find("{field}"), std::string::npos) << m.code;
    EXPECT_NE(std::string(m.en).find("{field}"), std::string::npos) << m.code;
    EXPECT_NE(std::string(m.id), std::string(m.en)) << m.code << ": not translated";
  }
  for (const auto& code : kIssueTypes) EXPECT_TRUE(hasReasonMessage(code)) << code << " has no words";
}

// Issue codes as the sources write them: error("required", ...),
// issue(Severity::kError, "value", ...), payloadIssue("structure", ...),
// issue.code = "conflict", outcomeJson(sdk::Severity::kError, "timeout", ...).
TEST(QuarantineReasonsTest, EveryCodeTheBundledAdaptersAndTheValidatorWriteHasAnEntry) {
  namespace fs = std::filesystem;
  const std::regex patterns[] = {
      std::regex(R"re(Severity::k[A-Za-z]+,\s*"([a-z-]+)")re"),
      std::regex(R"re(\.code\s*=\s*"([a-z-]+)")re"),
      std::regex(R"re(\b(?:error|warning|warn|payloadIssue|recordIssue|fail)\(\s*"([a-z-]+)")re"),
  };
  std::set<std::string> found;
  fs::path root = testing::sourceDir();
  for (const char* dir : {"plugins", "gateway/src/ingest", "gateway/src/fhir"}) {
    for (const auto& entry : fs::recursive_directory_iterator(root / dir)) {
      if (!entry.is_regular_file()) continue;
      auto ext = entry.path().extension();
      if (ext != ".cc" && ext != ".h") continue;
      std::string text = testing::readFile(entry.path());
      for (const auto& pattern : patterns) {
        for (std::sregex_iterator it(text.begin(), text.end(), pattern), end; it != end; ++it) {
          std::string code = (*it)[1];
          found.insert(code);
          EXPECT_TRUE(hasReasonMessage(code)) << entry.path() << " writes issue code \"" << code
                                              << "\", which has no plain-language message";
        }
      }
    }
  }
  // The scan does see the codes (it would pass vacuously otherwise).
  for (const char* code : {"required", "value", "structure", "code-invalid", "business-rule", "timeout", "conflict"}) {
    EXPECT_TRUE(found.count(code)) << code << " not found by the source scan";
  }
}

TEST(QuarantineReasonsTest, PlainWordsForFieldsAndCounts) {
  EXPECT_EQ(plainReason("required", "Patient.birthDate", "row 3, column tgl_lahir", false), "tanggal lahir kosong");
  EXPECT_EQ(plainReason("required", "Patient.birthDate", "row 3, column tgl_lahir", true), "date of birth is empty");
  EXPECT_EQ(plainReason("code-invalid", "Condition.code.coding[0].code", "row 4, column icd10_1", false),
            "kode diagnosis (ICD-10) tidak dikenal");
  // No expression: the column the clinic's file calls it.
  EXPECT_EQ(plainReason("value", "", "row 7, column kunjungan", false), "isi kolom kunjungan tidak bisa dipakai");
  EXPECT_EQ(plainReason("structure", "", "payload", false), "bentuk data seluruh kiriman tidak bisa dibaca");
  EXPECT_EQ(locationField("record[2].pasien.tgl_lahir"), "tgl_lahir");
  EXPECT_EQ(locationField("row 5, column tgl_lahir"), "tgl_lahir");
  EXPECT_EQ(locationField("payload"), "");

  const std::string missing_birth =
      R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"required",)"
      R"("location":["row 3, column tgl_lahir"],"expression":["Patient.birthDate"],"diagnostics":"tgl_lahir is required"},)"
      R"({"severity":"warning","code":"value","location":["row 3, column suhu"],"diagnostics":"suhu out of range"}]})";
  ReasonTally tally(false);
  for (int i = 0; i < 12; ++i) tally.add("simpus-csv", "row " + std::to_string(i + 2), missing_birth);
  tally.add("epuskesmas-json", "record[0]",
            R"({"issue":[{"severity":"error","code":"code-invalid","location":["record[0].diagnosa[0].icd10"]}]})");
  auto top = tally.top(5);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(tally.sentence(top[0]), "tanggal lahir kosong di 12 baris dari simpus-csv");
  EXPECT_EQ(tally.sentence(top[1]), "kode isian icd10 tidak dikenal di 1 catatan dari epuskesmas-json");
  ReasonTally english(true);
  english.add("simpus-csv", "row 2", missing_birth);
  EXPECT_EQ(english.sentence(english.top(1)[0]), "date of birth is empty in 1 row from simpus-csv");
}

}  // namespace
}  // namespace ilpgw
