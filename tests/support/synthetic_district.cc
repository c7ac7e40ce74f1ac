#include "synthetic_district.h"

#include <algorithm>
#include <cstdio>
#include <functional>

namespace ilpgw::testing {
namespace {

// ---- Calendar (proleptic Gregorian, day numbers) ---------------------------------

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
int monthDays(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kDays[m - 1];
}
std::string ymd(int y, int m, int d) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02d", y, m, d);
  return buffer;
}
int yearOf(const std::string& date) { return std::stoi(date.substr(0, 4)); }
int monthOf(const std::string& date) { return std::stoi(date.substr(5, 2)); }
int dayOf(const std::string& date) { return std::stoi(date.substr(8, 2)); }

// The first day of the month `delta` months after (y, m).
std::string firstOfMonth(int y, int m, int delta) {
  int index = y * 12 + (m - 1) + delta;
  return ymd(index / 12, index % 12 + 1, 1);
}
std::string lastOfMonth(int y, int m) { return ymd(y, m, monthDays(y, m)); }

std::string addDays(const std::string& date, int days) {
  int y = yearOf(date), m = monthOf(date), d = dayOf(date) + days;
  while (d > monthDays(y, m)) {
    d -= monthDays(y, m);
    if (++m > 12) m = 1, ++y;
  }
  while (d < 1) {
    if (--m < 1) m = 12, --y;
    d += monthDays(y, m);
  }
  return ymd(y, m, d);
}

// Completed months from `birth` to `at`.
int monthsBetween(const std::string& birth, const std::string& at) {
  int months = (yearOf(at) - yearOf(birth)) * 12 + monthOf(at) - monthOf(birth);
  if (dayOf(at) < dayOf(birth)) --months;
  return months;
}

std::string compact(const std::string& date) { return date.substr(0, 4) + date.substr(5, 2) + date.substr(8, 2); }
std::string dmy(const std::string& date) { return date.substr(8, 2) + "-" + date.substr(5, 2) + "-" + date.substr(0, 4); }
std::string number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", value);
  return buffer;
}
double tenths(double value) { return static_cast<double>(static_cast<long>(value * 10.0 + 0.5)) / 10.0; }

constexpr const char* kVillageNames[] = {"Pulau Telo", "Selat Hilir", "Selat Tengah", "Murung Keramat", "Sei Pasah",
                                         "Anjir Serapat", "Basarang", "Lunuk Ramba", "Kapuas Barat", "Mambulau",
                                         "Tamban Baru", "Palingkau"};
constexpr const char* kPuskesmasNames[] = {"Selat", "Kapuas Hilir", "Basarang", "Pulau Petak", "Mantangai"};

// (months of age it is due, vaccine name as the kader writes it, CVX, dose)
struct Dose {
  int due_months;
  const char* name;
  const char* cvx;
  int dose;
};
constexpr Dose kSchedule[] = {{0, "HB 0", "08", 0},      {1, "BCG", "19", 1},          {1, "Polio 1", "178", 1},
                              {2, "DPT-HB-Hib 1", "198", 1}, {2, "Polio 2", "178", 2}, {3, "DPT-HB-Hib 2", "198", 2},
                              {3, "Polio 3", "178", 3},  {4, "DPT-HB-Hib 3", "198", 3}, {4, "Polio 4", "178", 4},
                              {4, "IPV", "10", 1},       {9, "Campak Rubella", "04", 1}};

std::string vaccineName(const std::string& cvx, int dose) {
  for (const Dose& d : kSchedule) {
    if (cvx == d.cvx && dose == d.dose) return d.name;
  }
  return cvx;
}

std::string jsonString(const std::string& text) { return "\"" + text + "\""; }

}  // namespace

SyntheticDistrict::SyntheticDistrict(DistrictOptions options)
    : options_(options), state_(options.seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull) {
  generate();
}

// splitmix64: the same numbers from the same seed on every platform.
std::uint64_t SyntheticDistrict::next() {
  std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
int SyntheticDistrict::uniform(int lo, int hi) {
  return lo + static_cast<int>(next() % static_cast<std::uint64_t>(hi - lo + 1));
}
bool SyntheticDistrict::chance(double p) { return static_cast<double>(next() % 1'000'000) < p * 1'000'000.0; }

std::string SyntheticDistrict::nikFor(int village, char jk, const std::string& birth) {
  // Kecamatan code (6 digits), birth date DDMMYY (day + 40 for women), serial.
  char buffer[32];
  int day = dayOf(birth) + (jk == 'P' ? 40 : 0);
  std::snprintf(buffer, sizeof buffer, "%s%02d%02d%02d%04d", villages_[village].code.substr(0, 6).c_str(), day,
                monthOf(birth), yearOf(birth) % 100, ++nik_serial_ % 10000);
  return buffer;
}

DistrictPerson& SyntheticDistrict::addPerson(int village, char jk, const std::string& birth, bool posyandu) {
  DistrictPerson p;
  p.village = village;
  p.puskesmas = villages_[village].puskesmas;
  p.jk = jk;
  p.birth = birth;
  p.posyandu = posyandu;
  p.nik = nikFor(village, jk, birth);
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "WARGA %04zu", people_.size() + 1);
  p.name = buffer;
  std::snprintf(buffer, sizeof buffer, "RM%06zu", people_.size() + 1);
  p.no_rm = buffer;
  people_.push_back(std::move(p));
  return people_.back();
}

DistrictEvent SyntheticDistrict::clinicVisit(const DistrictPerson& person, int month) {
  DistrictEvent e;
  e.source = puskesmas_[person.puskesmas].simpus ? DistrictEvent::Source::kSimpus : DistrictEvent::Source::kEpuskesmas;
  // A day of the month no other visit of this person has.
  for (int attempt = 0; attempt < 50; ++attempt) {
    e.date = ymd(options_.year, month, uniform(1, monthDays(options_.year, month)));
    bool taken = std::any_of(person.events.begin(), person.events.end(),
                             [&](const DistrictEvent& other) { return other.date == e.date; });
    if (!taken && e.date >= person.birth) break;
  }
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%02d:%02d", uniform(7, 11), uniform(0, 59));
  e.time = buffer;
  e.serial = ++serial_;
  return e;
}

void SyntheticDistrict::addPosyandu(DistrictPerson& person, int month, DistrictEvent e) {
  e.source = DistrictEvent::Source::kPosyandu;
  e.village = person.village;
  e.date = ymd(options_.year, month, 4 + person.village % 10);
  e.time = "09:00";
  e.serial = ++serial_;
  if (e.date < person.birth) return;
  person.events.push_back(std::move(e));
}

void SyntheticDistrict::generate() {
  const int year = options_.year;
  for (int k = 0; k < options_.puskesmas; ++k) {
    DistrictPuskesmas pkm;
    pkm.name = std::string("Puskesmas ") + kPuskesmasNames[k % 5];
    pkm.organization = "pkm-sintetis-" + std::to_string(k + 1);
    pkm.simpus = options_.puskesmas > 1 && k == options_.puskesmas - 1;  // the last one exports from SIMPUS
    puskesmas_.push_back(pkm);
    for (int v = 0; v < options_.villages_per_puskesmas; ++v) {
      DistrictVillage village;
      // Kabupaten 62.03 (Kapuas), kecamatan 62.03.0k, desa 62.03.0k.200v.
      village.code = std::string("6203") + (k + 1 < 10 ? "0" : "") + std::to_string(k + 1) + std::to_string(2001 + v);
      village.name = kVillageNames[(k * options_.villages_per_puskesmas + v) % 12];
      village.posyandu = "POSYANDU " + village.name;
      std::transform(village.posyandu.begin(), village.posyandu.end(), village.posyandu.begin(),
                     [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      village.puskesmas = k;
      villages_.push_back(village);
    }
  }
  auto vary = [&](int n) { return std::max(0, n + uniform(-1, 1)); };
  auto birthBetween = [&](int from_year, int to_year) {
    int y = uniform(from_year, to_year);
    int m = uniform(1, 12);
    return ymd(y, m, uniform(1, monthDays(y, m)));
  };

  for (int v = 0; v < static_cast<int>(villages_.size()); ++v) {
    const bool simpus = puskesmas_[villages_[v].puskesmas].simpus;
    // Babies at the posyandu: weighed and immunized.
    for (int i = vary(options_.babies); i > 0; --i) {
      int index = uniform(-6, 9);  // July of the year before .. October
      int by = index < 0 ? year - 1 : year, bm = index < 0 ? 13 + index : index + 1;
      std::string birth = ymd(by, bm, uniform(1, 28));
      DistrictPerson& p = addPerson(v, chance(0.5) ? 'L' : 'P', birth, true);
      if (chance(0.5)) {
        p.nik_ibu = nikFor(v, 'P', ymd(year - 28, uniform(1, 12), uniform(1, 28)));
        p.nik.clear();
      }
      std::set<int> given;  // schedule indexes
      for (size_t d = 0; d < std::size(kSchedule); ++d) {
        // Doses due before the year were given last year (not in the data).
        if (birth < ymd(year, 1, 1) && firstOfMonth(by, bm, kSchedule[d].due_months) < ymd(year, 1, 1)) given.insert(d);
      }
      for (int m = 1; m <= 12; ++m) {
        if (!chance(0.85)) continue;
        DistrictEvent e;
        std::string session = ymd(year, m, 4 + v % 10);
        if (session < birth) continue;
        int age = monthsBetween(birth, session);
        e.weight = tenths(3.2 + 0.55 * age + (static_cast<int>(next() % 7) - 3) * 0.1);
        std::set<std::string> today;
        for (size_t d = 0; d < std::size(kSchedule); ++d) {
          if (given.contains(d) || kSchedule[d].due_months > age || today.contains(kSchedule[d].cvx)) continue;
          if (!chance(0.9)) continue;
          given.insert(d);
          today.insert(kSchedule[d].cvx);
          e.vaccines.emplace_back(kSchedule[d].cvx, kSchedule[d].dose);
        }
        addPosyandu(p, m, e);
      }
    }
    // Toddlers: monthly weighing, the weight rises most months.
    for (int i = vary(options_.toddlers); i > 0; --i) {
      std::string birth = birthBetween(year - 4, year - 2);
      DistrictPerson& p = addPerson(v, chance(0.5) ? 'L' : 'P', birth, true);
      double weight = 8.5 + 0.2 * monthsBetween(birth, ymd(year, 1, 1)) / 2.0;
      for (int m = 1; m <= 12; ++m) {
        weight = tenths(weight + (static_cast<int>(next() % 9) - 2) * 0.1);
        if (!chance(0.75)) continue;
        DistrictEvent e;
        e.weight = weight;
        if (chance(0.3)) e.height = 80.0 + m;
        addPosyandu(p, m, e);
      }
    }
    // Pregnant women: antenatal contacts at the clinic or the posyandu.
    for (int i = vary(options_.pregnant); i > 0; --i) {
      bool at_posyandu = chance(0.35);
      DistrictPerson& p = addPerson(v, 'P', birthBetween(year - 38, year - 19), at_posyandu);
      int start = uniform(-3, 10);
      for (int m = std::max(1, start); m <= std::min(12, start + 8); ++m) {
        if (!chance(0.8)) continue;
        int visits = chance(0.15) && !at_posyandu ? 2 : 1;
        for (int n = 0; n < visits; ++n) {
          if (at_posyandu) {
            DistrictEvent e;
            e.anc = true;
            e.blood_pressure = chance(0.9);
            e.weight = tenths(52.0 + m * 0.8);
            if (chance(0.8)) e.ttd_posyandu = chance(0.75);
            addPosyandu(p, m, e);
          } else {
            DistrictEvent e = clinicVisit(p, m);
            e.anc = true;
            e.icd10 = {chance(0.85) ? "Z34.9" : "Z35.9"};
            e.blood_pressure = chance(0.9);
            e.weight = tenths(52.0 + m * 0.8);
            if (chance(0.5)) e.height = 155;
            e.ttd_prescribed = !simpus && chance(0.6);
            if (!simpus && chance(0.2)) e.glucose = true;
            p.events.push_back(e);
          }
        }
      }
    }
    // Adults and the elderly: NCD visits, TB screening, laboratory.
    auto ncdPerson = [&](int from_age, int to_age, bool elderly) {
      std::string birth = ymd(year - uniform(from_age, to_age), uniform(1, 12), uniform(1, 28));
      bool posyandu = elderly && chance(0.5);
      DistrictPerson& p = addPerson(v, chance(0.5) ? 'L' : 'P', birth, posyandu);
      if (!posyandu && !simpus && chance(0.1)) p.address_code = false;  // tanpa desa
      bool hypertension = chance(elderly ? 0.4 : 0.25);
      bool diabetes = chance(elderly ? 0.2 : 0.12);
      int tb = chance(0.2) ? 2 : chance(0.2) ? 1 : 0;
      if (posyandu) {
        int tb_month = uniform(1, 12);
        for (int m = 1; m <= 12; ++m) {
          if (!chance(0.6) && m != tb_month) continue;
          DistrictEvent e;
          e.blood_pressure = chance(0.8);
          e.glucose = chance(0.4);
          if (chance(0.3)) {
            e.weight = tenths(55.0 + uniform(0, 20));
            e.height = 150 + uniform(0, 20);
          }
          if (m == tb_month && tb != 0) e.tb_screening = tb;
          addPosyandu(p, m, e);
        }
      } else {
        std::set<int> months;
        for (int n = uniform(1, 5); n > 0; --n) months.insert(uniform(1, 12));
        bool screened = false;
        for (int m : months) {
          DistrictEvent e = clinicVisit(p, m);
          e.blood_pressure = chance(hypertension ? 0.85 : 0.5);
          e.glucose = !simpus && chance(diabetes ? 0.8 : 0.2);
          if (chance(0.45)) {
            e.weight = tenths(50.0 + uniform(0, 30));
            e.height = 150 + uniform(0, 25);
          } else if (chance(0.15)) {
            e.weight = tenths(50.0 + uniform(0, 30));
          }
          if (hypertension) e.icd10.push_back("I10");
          if (diabetes) e.icd10.push_back("E11.9");
          if (e.icd10.empty()) e.icd10.push_back(chance(0.5) ? "J06.9" : "M79.1");
          if (!simpus) {
            if (chance(0.15)) e.screenings.push_back("hipertensi");
            if (chance(0.1)) e.screenings.push_back("diabetes");
            if (chance(0.1)) e.screenings.push_back("obesitas");
            if (tb != 0 && !screened) {
              e.tb_screening = tb;
              screened = true;
            }
          }
          p.events.push_back(e);
        }
        // A TB diagnosis one or two months after a positive screening.
        if (tb == 2 && screened && chance(0.5)) {
          int m = std::min(12, *months.begin() + uniform(1, 2));
          if (!months.contains(m)) {
            DistrictEvent e = clinicVisit(p, m);
            e.icd10 = {"A15.0"};
            p.events.push_back(e);
          }
        }
      }
      // Sputum for a positive screening, that day or some days later (maybe next month).
      for (const auto& e : std::vector<DistrictEvent>(p.events)) {
        if (e.tb_screening != 2 || !chance(0.7)) continue;
        DistrictEvent lab;
        lab.source = DistrictEvent::Source::kLab;
        lab.date = addDays(e.date, uniform(0, 9));
        lab.time = "10:30";
        lab.sputum_test = true;
        lab.serial = ++serial_;
        if (yearOf(lab.date) == year) p.events.push_back(lab);
      }
    };
    for (int i = vary(options_.adults); i > 0; --i) ncdPerson(14, 59, false);
    for (int i = vary(options_.elderly); i > 0; --i) ncdPerson(60, 85, true);
    // Children: an occasional sick visit.
    for (int i = vary(options_.children); i > 0; --i) {
      DistrictPerson& p = addPerson(v, chance(0.5) ? 'L' : 'P', birthBetween(year - 14, year - 5), false);
      DistrictEvent e = clinicVisit(p, uniform(1, 12));
      e.icd10 = {"J06.9"};
      e.weight = tenths(20.0 + uniform(0, 15));
      p.events.push_back(e);
    }
  }
  // The backlog: the clinic visits and the posyandu session of the first
  // puskesmas' last village in the month (its pustu was offline).
  const int backlog_village = options_.villages_per_puskesmas - 1;
  for (auto& p : people_) {
    std::sort(p.events.begin(), p.events.end(),
              [](const DistrictEvent& a, const DistrictEvent& b) { return a.date + a.time < b.date + b.time; });
    if (options_.backlog_month == 0 || p.puskesmas != 0 || p.village != backlog_village) continue;
    for (auto& e : p.events) {
      if (e.encounter() && monthOf(e.date) == options_.backlog_month) e.backlog = true;
    }
  }
}

std::size_t SyntheticDistrict::recordCount(bool with_backlog) const {
  std::size_t n = 0;
  for (const auto& p : people_) {
    for (const auto& e : p.events) n += with_backlog || !e.backlog ? 1 : 0;
  }
  return n;
}

// ---- Native payloads -----------------------------------------------------------------

namespace {

std::string epuskesmasVisit(const DistrictVillage& village, const DistrictPerson& p, const DistrictEvent& e) {
  std::string poli = e.anc ? "KIA" : monthsBetween(p.birth, e.date) >= 720 ? "LANSIA" : "UMUM";
  std::string alamat = p.address_code ? R"({"jalan":"Jl. Sungai Kapuas","desa":")" + village.name +
                                            R"(","kode_desa":")" + village.code + R"("})"
                                      : R"({"jalan":"Jl. Trans Kalimantan Km 12"})";
  std::string pemeriksaan;
  auto add = [&](const std::string& member) { pemeriksaan += (pemeriksaan.empty() ? "" : ",") + member; };
  if (e.blood_pressure) add(R"("td":"128/82")");
  if (e.glucose) add(R"("gds":142)");
  if (e.weight) add("\"bb\":" + number(*e.weight));
  if (e.height) add("\"tb\":" + number(*e.height));
  std::string diagnosa;
  for (size_t i = 0; i < e.icd10.size(); ++i) {
    diagnosa += std::string(i ? "," : "") + R"({"icd10":")" + e.icd10[i] + R"(","jenis":")" +
                (i ? "sekunder" : "primer") + R"("})";
  }
  std::string skrining;
  for (const auto& s : e.screenings) {
    skrining += (skrining.empty() ? "" : ",") + std::string(R"({"jenis":")") + s + R"(","hasil":"normal"})";
  }
  if (e.tb_screening != 0) {
    skrining += (skrining.empty() ? "" : ",") + std::string(R"({"jenis":"tbc","hasil":")") +
                (e.tb_screening == 2 ? "positif" : "negatif") + R"("})";
  }
  std::string resep = e.ttd_prescribed
                          ? R"({"kode_obat":"93001019","nama_obat":"Tablet tambah darah 60 mg","jumlah":30,"signa":"1x1"})"
                          : "";
  return R"({"id_kunjungan":"KJ-)" + std::to_string(e.serial) + R"(","waktu":")" + e.date + "T" + e.time +
         R"(:00+07:00","poli":")" + poli + R"(","pasien":{"nik":")" + p.nik + R"(","no_rm":")" + p.no_rm +
         R"(","nama":")" + p.name + R"(","jk":")" + std::string(1, p.jk) + R"(","tgl_lahir":")" + p.birth +
         R"(","alamat":)" + alamat + R"(},"pemeriksaan":{)" + pemeriksaan + R"(},"diagnosa":[)" + diagnosa +
         R"(],"skrining":[)" + skrining + R"(],"resep":[)" + resep +
         R"(],"tenaga_medis":{"nik":"6203014107880003","nama":"Bd. Sri","profesi":"bidan"}})";
}

constexpr const char* kSimpusHeader =
    "no_rm;nik;no_bpjs;nama;jk;tgl_lahir;alamat;kode_desa;desa;tgl_kunjungan;poli;kunjungan;sistole;diastole;nadi;"
    "suhu;rr;bb;tb;lingkar_perut;icd10_1;kasus_1;icd10_2;kasus_2;icd10_3;kasus_3;nik_dokter;nama_dokter\n";

std::string simpusRow(const DistrictVillage& village, const DistrictPerson& p, const DistrictEvent& e) {
  std::string poli = e.anc ? "KIA" : monthsBetween(p.birth, e.date) >= 720 ? "LANSIA" : "UMUM";
  std::string row = p.no_rm + ";" + p.nik + ";;" + p.name + ";" + std::string(1, p.jk) + ";" + dmy(p.birth) +
                    ";Jl. Basarang;" + (p.address_code ? village.code : "") + ";" + village.name + ";" + dmy(e.date) +
                    " " + e.time + ";" + poli + ";LAMA;";
  row += e.blood_pressure ? "130;85;" : ";;";
  row += "80;36,7;20;";
  row += (e.weight ? number(*e.weight) : "") + ";" + (e.height ? number(*e.height) : "") + ";;";
  for (int i = 0; i < 3; ++i) {
    row += (i < static_cast<int>(e.icd10.size()) ? e.icd10[i] + ";BARU;" : ";;");
  }
  row += "6203015203800001;dr. Rina Sari\n";
  return row;
}

std::string posyanduPeserta(const DistrictPerson& p, const DistrictEvent& e) {
  int months = monthsBetween(p.birth, e.date);
  std::string sasaran = e.anc ? "ibu_hamil" : months < 72 ? "balita" : months >= 720 ? "lansia" : "usia_produktif";
  std::string out = "{";
  out += p.nik.empty() ? R"("nik":null,"nik_ibu":")" + p.nik_ibu + "\"" : R"("nik":")" + p.nik + "\"";
  out += R"(,"nama":")" + p.name + R"(","jk":")" + std::string(1, p.jk) + R"(","tgl_lahir":")" + p.birth +
         R"(","sasaran":")" + sasaran + "\"";
  std::string ukur;
  auto add = [&](const std::string& member) { ukur += (ukur.empty() ? "" : ",") + member; };
  if (e.weight) add("\"bb\":" + number(*e.weight));
  if (e.height) add("\"tb\":" + number(*e.height));
  if (e.blood_pressure) add(R"("td":"124/80")");
  if (e.glucose) add(R"("gula_darah":118)");
  out += R"(,"ukur":{)" + ukur + "}";
  if (!e.vaccines.empty()) {
    out += R"(,"imunisasi":[)";
    for (size_t i = 0; i < e.vaccines.size(); ++i) {
      out += (i ? "," : "") + jsonString(vaccineName(e.vaccines[i].first, e.vaccines[i].second));
    }
    out += "]";
  }
  if (e.ttd_posyandu) out += std::string(R"(,"tablet_tambah_darah":)") + (*e.ttd_posyandu ? "true" : "false");
  if (e.tb_screening == 2) out += R"(,"keluhan_tbc":["batuk_2_minggu","keringat_malam"])";
  if (e.tb_screening == 1) out += R"(,"keluhan_tbc":["batuk"])";
  return out + "}";
}

std::string oruMessage(const DistrictPuskesmas& pkm, const DistrictPerson& p, const DistrictEvent& e) {
  std::string when = compact(e.date) + e.time.substr(0, 2) + e.time.substr(3, 2) + "00+0700";
  std::string id = std::to_string(e.serial);
  std::string facility = pkm.organization;
  std::transform(facility.begin(), facility.end(), facility.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return "MSH|^~\\&|SIMPUS-LAB|" + facility + "|ILP-GATEWAY|DINKES|" + when + "||ORU^R01^ORU_R01|LAB-" + id +
         "|P|2.5.1|||AL|NE|IDN\r"
         "PID|1||" + p.nik + "^^^NIK&2.16.840.1.113883.2.360.1&ISO^NNIDN~" + p.no_rm + "^^^" + facility + "^MR||" +
         p.name + "||" + compact(p.birth) + "|" + (p.jk == 'P' ? "F" : "M") + "\r"
         "OBR|1|ORD-" + id + "|LAB-" + id + "|BTA^BTA sputum^L|||" + when + "|||||||||||||||" + when + "|||F\r"
         "OBX|1|ST|BTA^BTA sputum (TB)^L||Negatif||||||F|||" + when + "\r";
}

}  // namespace

std::vector<DistrictPayload> SyntheticDistrict::payloads() const { return render(false); }
std::vector<DistrictPayload> SyntheticDistrict::backlogPayloads() const { return render(true); }

std::vector<DistrictPayload> SyntheticDistrict::render(bool backlog) const {
  std::vector<DistrictPayload> out;
  for (int k = 0; k < static_cast<int>(puskesmas_.size()); ++k) {
    const auto& pkm = puskesmas_[k];
    // Laboratory results first: an ORU carries no address, and the Patient
    // keeps the address of the newest post (the clinic visit's).
    DistrictPayload lab{k, "hl7v2-oru", "x-application/hl7-v2+er7", "", 0};
    for (const auto& p : people_) {
      if (p.puskesmas != k) continue;
      for (const auto& e : p.events) {
        if (e.source == DistrictEvent::Source::kLab && e.backlog == backlog && !p.nik.empty()) {
          lab.body += oruMessage(pkm, p, e);
          ++lab.records;
        }
      }
    }
    if (lab.records > 0) out.push_back(lab);
    for (int m = 1; m <= 12; ++m) {
      DistrictPayload clinic{k, pkm.simpus ? "simpus-csv" : "epuskesmas-json", pkm.simpus ? "text/csv" : "application/json",
                             pkm.simpus ? kSimpusHeader : "[", 0};
      std::map<std::string, std::string> sessions;  // "village|date" -> peserta
      std::map<std::string, int> session_village;
      std::map<std::string, int> session_size;
      for (const auto& p : people_) {
        if (p.puskesmas != k) continue;
        for (const auto& e : p.events) {
          if (monthOf(e.date) != m || e.backlog != backlog) continue;
          if (e.source == DistrictEvent::Source::kPosyandu) {
            std::string key = std::to_string(e.village) + "|" + e.date;
            auto& list = sessions[key];
            list += (list.empty() ? "" : ",") + posyanduPeserta(p, e);
            session_village[key] = e.village;
            ++session_size[key];
          } else if (e.source == DistrictEvent::Source::kSimpus) {
            clinic.body += simpusRow(villages_[p.village], p, e);
            ++clinic.records;
          } else if (e.source == DistrictEvent::Source::kEpuskesmas) {
            clinic.body += (clinic.records ? "," : "") + epuskesmasVisit(villages_[p.village], p, e);
            ++clinic.records;
          }
        }
      }
      if (!pkm.simpus) clinic.body += "]";
      if (clinic.records > 0) out.push_back(clinic);
      for (const auto& [key, peserta] : sessions) {
        const auto& village = villages_[session_village[key]];
        std::string date = key.substr(key.find('|') + 1);
        DistrictPayload session{k, "posyandu-kader", "application/json", "", 0};
        session.body = R"({"posyandu":{"nama":")" + village.posyandu + R"(","kode_desa":")" + village.code +
                       R"(","desa":")" + village.name + R"("},"tanggal":")" + date +
                       R"(","kader":{"nama":"Ibu Kader","nik":"6203014403780001"},"peserta":[)" + peserta + "]}";
        session.records = session_size[key];
        out.push_back(std::move(session));
      }
    }
  }
  return out;
}

// ---- The independent counter -----------------------------------------------------------
//
// Each indicator as its Measure's description words it, over one person's
// events: `in` is [start, end], `before` is [lookback start, start),
// `through` is [lookback start, end]; ages in completed years (months) at the
// period end; counts are distinct days.

namespace {

struct Window {
  std::string lookback, start, end;
};
struct Answer {
  bool ip = false, den = false, num = false;
};
using Pick = std::function<bool(const DistrictEvent&)>;

struct PersonView {
  const DistrictPerson* person;
  std::vector<const DistrictEvent*> events;  // what was posted

  bool any(const Pick& pick, const std::string& from, const std::string& to) const {
    return std::any_of(events.begin(), events.end(),
                       [&](const DistrictEvent* e) { return e->date >= from && e->date <= to && pick(*e); });
  }
  int days(const Pick& pick, const std::string& from, const std::string& to) const {
    std::set<std::string> seen;
    for (const auto* e : events) {
      if (e->date >= from && e->date <= to && pick(*e)) seen.insert(e->date);
    }
    return static_cast<int>(seen.size());
  }
  int ageMonths(const std::string& at) const { return monthsBetween(person->birth, at); }
  int age(const std::string& at) const { return ageMonths(at) / 12; }
};

bool hasIcd(const DistrictEvent& e, std::initializer_list<const char*> categories) {
  return std::any_of(e.icd10.begin(), e.icd10.end(), [&](const std::string& code) {
    return std::any_of(categories.begin(), categories.end(),
                       [&](const char* c) { return code.compare(0, 3, c) == 0; });
  });
}
bool anc(const DistrictEvent& e) { return e.anc; }
bool screened(const DistrictEvent& e, const char* kind) {
  return std::find(e.screenings.begin(), e.screenings.end(), kind) != e.screenings.end();
}
bool encounter(const DistrictEvent& e) { return e.encounter(); }

struct Indicator {
  std::string id;
  int lookback_months;
  std::function<Answer(const PersonView&, const Window&)> count;
};

Answer proportion(bool ip, bool den, bool num) { return {ip, ip && den, ip && den && num}; }

bool complete(const PersonView& p, const std::string& from, const std::string& to) {
  auto doses = [&](const char* cvx) {
    return p.days(
        [&](const DistrictEvent& e) {
          return std::any_of(e.vaccines.begin(), e.vaccines.end(), [&](const auto& v) { return v.first == cvx; });
        },
        from, to);
  };
  return doses("08") >= 1 && doses("19") >= 1 && doses("178") >= 4 && doses("198") >= 3 && doses("10") >= 1 &&
         doses("04") >= 1;
}

Answer ancContacts(const PersonView& p, const Window& w, int contacts) {
  bool in = p.any(anc, w.start, w.end);
  std::string day_before = addDays(w.start, -1);
  bool reached = p.days(anc, w.lookback, w.end) >= contacts && p.days(anc, w.lookback, day_before) < contacts;
  return proportion(p.person->jk == 'P' && in, in, reached);
}

const std::vector<Indicator>& indicatorTable() {
  static const std::vector<Indicator> table = {
      {"pws-k1", 9,
       [](const PersonView& p, const Window& w) {
         bool in = p.any(anc, w.start, w.end);
         return proportion(p.person->jk == 'P' && in, in, !p.any(anc, w.lookback, addDays(w.start, -1)));
       }},
      {"pws-k4", 9, [](const PersonView& p, const Window& w) { return ancContacts(p, w, 4); }},
      {"pws-k6", 9, [](const PersonView& p, const Window& w) { return ancContacts(p, w, 6); }},
      {"pws-ttd-bumil", 9,
       [](const PersonView& p, const Window& w) {
         bool in = p.any(anc, w.start, w.end);
         bool ttd = p.any([](const DistrictEvent& e) { return e.ttd_prescribed || e.ttd_posyandu.value_or(false); },
                          w.start, w.end);
         return proportion(p.person->jk == 'P' && in, in, ttd);
       }},
      {"pws-idl", 12,
       [](const PersonView& p, const Window& w) {
         bool ip = p.ageMonths(w.end) < 12 &&
                   p.any([](const DistrictEvent& e) { return !e.vaccines.empty(); }, w.lookback, w.end);
         return proportion(ip, ip, complete(p, w.lookback, w.end) && !complete(p, w.lookback, addDays(w.start, -1)));
       }},
      {"pws-ds", 12,
       [](const PersonView& p, const Window& w) {
         bool ip = p.ageMonths(w.end) < 60 && p.any(encounter, w.lookback, w.end);
         return proportion(ip, ip, p.any([](const DistrictEvent& e) { return e.weight.has_value(); }, w.start, w.end));
       }},
      {"pws-nd", 3,
       [](const PersonView& p, const Window& w) {
         const DistrictEvent* last = nullptr;
         for (const auto* e : p.events) {
           if (e->weight && e->date >= w.start && e->date <= w.end && (!last || e->date >= last->date)) last = e;
         }
         bool ip = p.ageMonths(w.end) < 60 && last != nullptr;
         const DistrictEvent* previous = nullptr;
         for (const auto* e : p.events) {
           if (last && e->weight && e->date < last->date && e->date >= w.lookback &&
               (!previous || e->date >= previous->date)) {
             previous = e;
           }
         }
         return proportion(ip, ip, previous != nullptr && *last->weight > *previous->weight);
       }},
      {"pws-hipertensi-terlayani", 0,
       [](const PersonView& p, const Window& w) {
         bool ip = p.age(w.end) >= 15 &&
                   p.any([](const DistrictEvent& e) { return hasIcd(e, {"I10", "I11", "I12", "I13", "I15"}); }, w.start,
                         w.end);
         return proportion(ip, ip, p.any([](const DistrictEvent& e) { return e.blood_pressure; }, w.start, w.end));
       }},
      {"pws-diabetes-terlayani", 0,
       [](const PersonView& p, const Window& w) {
         bool ip = p.age(w.end) >= 15 &&
                   p.any([](const DistrictEvent& e) { return hasIcd(e, {"E10", "E11", "E12", "E13", "E14"}); }, w.start,
                         w.end);
         return proportion(ip, ip, p.any([](const DistrictEvent& e) { return e.glucose; }, w.start, w.end));
       }},
      {"pws-skrining-tekanan-darah", 0,
       [](const PersonView& p, const Window& w) {
         bool ip = p.age(w.end) >= 15 && p.age(w.end) < 60 && p.any(encounter, w.start, w.end);
         return proportion(ip, ip, p.any([](const DistrictEvent& e) { return e.blood_pressure || screened(e, "hipertensi"); },
                                         w.start, w.end));
       }},
      {"pws-skrining-gula-darah", 0,
       [](const PersonView& p, const Window& w) {
         bool ip = p.age(w.end) >= 15 && p.age(w.end) < 60 && p.any(encounter, w.start, w.end);
         return proportion(ip, ip,
                           p.any([](const DistrictEvent& e) { return e.glucose || screened(e, "diabetes"); }, w.start, w.end));
       }},
      {"pws-skrining-imt", 0,
       [](const PersonView& p, const Window& w) {
         bool ip = p.age(w.end) >= 15 && p.age(w.end) < 60 && p.any(encounter, w.start, w.end);
         return proportion(ip, ip,
                           p.any([](const DistrictEvent& e) { return e.bmi() || screened(e, "obesitas"); }, w.start, w.end));
       }},
      {"pws-lansia-skrining", 0,
       [](const PersonView& p, const Window& w) {
         bool ip = p.age(w.end) >= 60 && p.any(encounter, w.start, w.end);
         return proportion(ip, ip, p.any(
                                       [](const DistrictEvent& e) {
                                         return e.blood_pressure || e.glucose || e.bmi() || screened(e, "hipertensi") ||
                                                screened(e, "diabetes") || screened(e, "obesitas");
                                       },
                                       w.start, w.end));
       }},
      {"pws-terduga-tbc", 0,
       [](const PersonView& p, const Window& w) {
         bool ip = p.any([](const DistrictEvent& e) { return e.tb_screening != 0; }, w.start, w.end);
         return proportion(ip, ip, p.any([](const DistrictEvent& e) { return e.tb_screening == 2; }, w.start, w.end));
       }},
      {"pws-terduga-tbc-lab", 1,
       [](const PersonView& p, const Window& w) {
         bool ip = p.any([](const DistrictEvent& e) { return e.tb_screening == 2; }, w.start, w.end);
         return proportion(ip, ip, p.any([](const DistrictEvent& e) { return e.sputum_test; }, w.lookback, w.end));
       }},
      {"pws-tbc-terdiagnosis", 12,
       [](const PersonView& p, const Window& w) {
         auto tb = [](const DistrictEvent& e) { return hasIcd(e, {"A15", "A16", "A17", "A18", "A19"}); };
         bool ip = p.any(tb, w.start, w.end);
         return proportion(ip, ip, !p.any(tb, w.lookback, addDays(w.start, -1)));
       }},
  };
  return table;
}

}  // namespace

const std::vector<std::string>& SyntheticDistrict::indicators() {
  static const std::vector<std::string> ids = [] {
    std::vector<std::string> out;
    for (const auto& i : indicatorTable()) out.push_back(i.id);
    return out;
  }();
  return ids;
}

std::map<std::string, IndicatorCounts> SyntheticDistrict::expected(const std::string& indicator, int puskesmas,
                                                                   int month, bool with_backlog) const {
  const Indicator* ind = nullptr;
  for (const auto& i : indicatorTable()) {
    if (i.id == indicator) ind = &i;
  }
  std::map<std::string, IndicatorCounts> out;
  if (ind == nullptr) return out;
  const int year = options_.year;
  auto window = [&](const std::string& start, const std::string& end) {
    return Window{firstOfMonth(yearOf(start), monthOf(start), -ind->lookback_months), start, end};
  };
  const Window in_month = window(firstOfMonth(year, month, 0), lastOfMonth(year, month));
  const Window to_date = window(ymd(year, 1, 1), lastOfMonth(year, month));
  std::string previous_start = firstOfMonth(year, month, -1);
  const Window previous = window(previous_start, lastOfMonth(yearOf(previous_start), monthOf(previous_start)));
  for (const auto& person : people_) {
    if (person.puskesmas != puskesmas) continue;
    PersonView view{&person, {}};
    for (const auto& e : person.events) {
      if ((with_backlog || !e.backlog) && e.date <= in_month.end && !(e.source == DistrictEvent::Source::kLab && person.nik.empty())) {
        view.events.push_back(&e);
      }
    }
    Answer now = ind->count(view, in_month);
    Answer ytd = ind->count(view, to_date);
    Answer before = ind->count(view, previous);
    if (!now.ip && !ytd.ip && !before.num) continue;
    std::string desa = person.posyandu || person.address_code ? villages_[person.village].code : "tanpa-desa";
    IndicatorCounts& c = out[desa];
    c.initial_population += now.ip;
    c.denominator += now.den;
    c.numerator += now.num;
    c.year_to_date_numerator += ytd.num;
    c.previous_month_numerator += before.num;
  }
  for (auto it = out.begin(); it != out.end();) it = it->second.empty() ? out.erase(it) : std::next(it);
  return out;
}

}  // namespace ilpgw::testing
