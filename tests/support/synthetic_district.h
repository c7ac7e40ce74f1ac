// A synthetic district for end-to-end PWS tests and benchmarks: puskesmas,
// villages with 10-digit Kemendagri codes, people of every age and a year of
// clinic visits, posyandu sessions, immunizations, screenings and laboratory
// results, deterministic by seed. The district renders itself in the native
// formats of the bundled adapters (ePuskesmas JSON, SIMPUS CSV, the posyandu
// kader report, HL7 v2 ORU^R01), and counts the PWS indicators itself: a
// plain counter over the generated events, written from the definitions in
// the Measures' descriptions (docs/pws.md) and sharing no code with the
// gateway's evaluator, so a test can hold the evaluator's answers against it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ilpgw::testing {

struct DistrictOptions {
  std::uint64_t seed = 1;
  int year = 2025;
  int puskesmas = 3;
  int villages_per_puskesmas = 3;
  // People per village by group (each group gets +-1 at random).
  int babies = 3;      // born from July of the year before to October
  int toddlers = 3;    // 1 to 4 years old
  int pregnant = 3;    // a pregnancy starting some time in the year
  int adults = 6;      // 15 to 59
  int elderly = 3;     // 60 and older
  int children = 1;    // 5 to 14, an occasional sick visit
  // The month whose clinic visits and posyandu session of one village (the
  // first puskesmas' last village) are held back as a pustu's backlog:
  // posted only by backlogPayloads(). 0: none.
  int backlog_month = 3;
};

// One posted record (a visit, a posyandu attendance, a laboratory result) and
// the facts the gateway derives from it.
struct DistrictEvent {
  enum class Source { kEpuskesmas, kSimpus, kPosyandu, kLab };
  Source source = Source::kEpuskesmas;
  std::string date;  // YYYY-MM-DD (local, +07:00)
  std::string time;  // HH:MM
  int village = -1;  // posyandu: the district-wide village index of the posyandu
  bool anc = false;  // a Z34 diagnosis at a clinic, or an ibu_hamil at posyandu
  bool blood_pressure = false;
  bool glucose = false;  // ePuskesmas gds or posyandu gula_darah (LOINC 2339-0)
  std::optional<double> weight;
  std::optional<double> height;  // BMI when both weight and height
  std::vector<std::string> icd10;
  bool ttd_prescribed = false;        // ePuskesmas resep KFA 93001019
  std::optional<bool> ttd_posyandu;   // posyandu tablet_tambah_darah
  int tb_screening = 0;               // 0 none, 1 negative, 2 positive
  bool sputum_test = false;           // laboratory BTA (LOINC 11545-1)
  std::vector<std::string> screenings;  // ePuskesmas skrining: hipertensi, diabetes, obesitas
  std::vector<std::pair<std::string, int>> vaccines;  // posyandu: (CVX, dose)
  bool backlog = false;
  int serial = 0;  // unique in the district: record ids

  bool encounter() const { return source != Source::kLab; }
  bool bmi() const { return weight.has_value() && height.has_value(); }
};

struct DistrictPerson {
  std::string nik;      // empty: a toddler known by the mother's NIK
  std::string nik_ibu;  // with an empty nik
  std::string name;
  char jk = 'L';          // L / P
  std::string birth;      // YYYY-MM-DD
  int puskesmas = 0;
  int village = 0;        // district-wide index of the home village
  bool posyandu = false;  // seen only at the posyandu of the home village
  bool address_code = true;  // clinic people: kode_desa in the address
  std::string no_rm;
  std::vector<DistrictEvent> events;  // by date
};

struct DistrictVillage {
  std::string code;  // 10 digits
  std::string name;
  std::string posyandu;
  int puskesmas = 0;
};

struct DistrictPuskesmas {
  std::string organization;  // the organization id the clinic token is bound to
  std::string name;
  bool simpus = false;       // clinic visits exported from SIMPUS (CSV), else ePuskesmas (JSON)
};

// One POST to /ingest/{adapter}.
struct DistrictPayload {
  int puskesmas = 0;
  std::string adapter;
  std::string content_type;
  std::string body;
  int records = 0;
};

// Counts of one desa (or the whole puskesmas) for one indicator and month,
// as the MeasureReport carries them.
struct IndicatorCounts {
  std::int64_t initial_population = 0;
  std::int64_t denominator = 0;
  std::int64_t numerator = 0;
  std::int64_t year_to_date_numerator = 0;
  std::int64_t previous_month_numerator = 0;
  bool operator==(const IndicatorCounts&) const = default;
  bool empty() const { return *this == IndicatorCounts{}; }
};

class SyntheticDistrict {
 public:
  explicit SyntheticDistrict(DistrictOptions options);

  const DistrictOptions& options() const { return options_; }
  const std::vector<DistrictPuskesmas>& puskesmas() const { return puskesmas_; }
  const std::vector<DistrictVillage>& villages() const { return villages_; }
  const std::vector<DistrictPerson>& people() const { return people_; }
  std::size_t recordCount(bool with_backlog) const;

  // Everything but the backlog, in posting order: each puskesmas' laboratory
  // batch first, then month by month its clinic visits and posyandu sessions.
  std::vector<DistrictPayload> payloads() const;
  // The held-back records of the backlog month, in the same order.
  std::vector<DistrictPayload> backlogPayloads() const;

  // The Measure ids the counter knows (every bundled PWS Measure).
  static const std::vector<std::string>& indicators();
  // Per desa code ("tanpa-desa" for people without one) of one puskesmas and
  // month; desa with nothing to count are left out.
  std::map<std::string, IndicatorCounts> expected(const std::string& indicator, int puskesmas, int month,
                                                  bool with_backlog) const;

 private:
  void generate();
  std::vector<DistrictPayload> render(bool backlog) const;
  DistrictPerson& addPerson(int village, char jk, const std::string& birth, bool posyandu);
  std::string nikFor(int village, char jk, const std::string& birth);
  DistrictEvent clinicVisit(const DistrictPerson& person, int month);
  void addPosyandu(DistrictPerson& person, int month, DistrictEvent event);
  std::uint64_t next();
  int uniform(int lo, int hi);  // inclusive
  bool chance(double p);

  DistrictOptions options_;
  std::uint64_t state_;
  int serial_ = 0;
  int nik_serial_ = 0;
  std::vector<DistrictPuskesmas> puskesmas_;
  std::vector<DistrictVillage> villages_;
  std::vector<DistrictPerson> people_;
};

}  // namespace ilpgw::testing
