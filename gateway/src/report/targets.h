// Sasaran: the yearly target populations per puskesmas, desa and indicator
// from the health office's projections. Read from a CSV file (one row per
// year, puskesmas, desa and indicator; every problem named by line and
// column) and kept in the store as one resource per puskesmas and year, so
// importing a year again gives that year's table a new version and leaves
// other years alone.
//
//   tahun;kode_puskesmas;kode_desa;indikator;sasaran;target_persen
//   2025;pkm-selat;6203011001;pws-k1;120;100
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "report/evaluator.h"
#include "report/measure.h"
#include "store/resource_store.h"

namespace ilpgw::report {

struct SasaranRow {
  int line = 0;  // 1-based line of the CSV file
  int year = 0;
  std::string organization;
  std::string desa;
  std::string measure;
  VillageTarget target;
};

struct SasaranProblem {
  int line = 0;
  std::string column;  // "" when the problem is the whole line or file
  std::string message;
};

struct SasaranFile {
  std::vector<SasaranRow> rows;
  std::vector<SasaranProblem> problems;  // any problem: nothing is imported
};

// Parses the CSV text (';' or ',' separated, a header line naming the
// columns in any order, a UTF-8 BOM allowed); indicators must be in `library`.
SasaranFile parseSasaranCsv(std::string_view text, const MeasureLibrary& library);
std::string describe(const SasaranProblem& problem);  // "baris 3, kolom sasaran: ..."

// The store resources holding the rows, one per (puskesmas, year); their
// organization is the puskesmas, so a clinic caller reads only its own.
std::vector<std::string> sasaranResources(const std::vector<SasaranRow>& rows);
std::string sasaranResourceId(std::string_view organization, int year);

// Stores parsed rows (a file without problems): one version per puskesmas
// and year, and an AuditEvent by `actor` in the same commit. `source` names
// where the rows came from (the file, or the admin API). The result lists
// the written tables in (puskesmas, year) order.
StatusOr<CommitResult> importSasaran(BatchWriter& writer, const std::vector<SasaranRow>& rows,
                                     const std::string& actor, const std::string& source);

// The CSV of one puskesmas and year in the import format (a file that
// imports back to the same targets); only the header when none were imported.
StatusOr<std::string> sasaranCsv(ResourceStore& store, std::string_view organization, int year);

// The targets of one puskesmas and year, by measure id and desa (empty when
// none were imported).
StatusOr<std::map<std::string, TargetTable, std::less<>>> loadTargets(ResourceStore& store,
                                                                       std::string_view organization, int year);

}  // namespace ilpgw::report
