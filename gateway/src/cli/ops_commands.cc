// ilp-gateway backup | restore: the operator's copy of the store.
// Messages speak Bahasa Indonesia first, then English, on one line.
#include <cstdio>
#include <filesystem>
#include <string>

#include "base/config.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "security/audit.h"
#include "store/sqlite_backup.h"
#include "store/store.h"

namespace ilpgw::cli {
namespace {

int refuse(const std::string& indonesian, const std::string& english) {
  std::fprintf(stderr, "ilp-gateway: %s / %s\n", indonesian.c_str(), english.c_str());
  return 2;
}

AuditWrite operationEvent(const std::string& subtype, const std::string& description) {
  AuditInfo info;
  info.kind = AuditKind::kAdmin;
  info.subtype = subtype;
  info.action = 'E';
  info.agent = cliActor();
  info.description = description;
  return makeAuditEvent(info);
}

bool hasEntries(const std::string& dir) {
  std::error_code ec;
  return std::filesystem::is_directory(dir, ec) && !std::filesystem::is_empty(dir, ec);
}

// A restored store that failed its checks is set aside, so a gateway started
// on the directory later does not serve it.
int rejectRestored(const std::string& db_path, const std::string& why) {
  std::error_code ec;
  std::filesystem::rename(db_path, db_path + ".rejected", ec);
  return refuse("hasil pemulihan gagal diperiksa, jangan dipakai",
                "the restored store failed its check (" + why + "); it was moved to " + db_path + ".rejected");
}

}  // namespace

int backupCommand(const Args& args) {
  if (args.files.size() != 1) return fail("usage: backup FILE [--data DIR | --config FILE]");
  auto config = buildConfig(args);
  if (!config.isOk()) return fail(config.status().message());
  if (config.value().store_backend == "postgresql") {
    return refuse("data ada di PostgreSQL: cadangkan dengan pg_dump",
                  "this gateway keeps its data in PostgreSQL: back it up with pg_dump (docs/operations.md)");
  }
  const std::string& file = args.files[0];
  std::string db_path = config.value().storePath();
  {
    // Audited before the snapshot, so the backup holds the event that made it.
    auto store = openStore(config.value(), commandStore());
    if (!store.isOk()) return refuse("tidak ada data untuk dicadangkan", store.status().message());
    WriteBatch batch;
    batch.audit.push_back(operationEvent("backup", "backup of the store to a file"));
    auto committed = store.value()->commit(std::move(batch));
    if (!committed.isOk()) return fail(committed.status().message());
  }
  auto result = backupSqliteStore(db_path, file);
  if (!result.isOk()) return refuse("cadangan gagal dibuat", result.status().message());
  const BackupManifest& m = result.value().manifest;
  std::printf(
      "backup %s: ok, schema version %d, %lld resources, %lld versions, %lld payloads, %lld audit events, "
      "%lld bytes, sha256 %s, %lld ms\n",
      file.c_str(), m.schema_version, static_cast<long long>(m.resources), static_cast<long long>(m.versions),
      static_cast<long long>(m.payloads), static_cast<long long>(m.audit_events),
      static_cast<long long>(m.content_bytes), m.content_sha256.c_str(),
      static_cast<long long>(result.value().duration.count()));
  return 0;
}

int restoreCommand(const Args& args) {
  if (args.files.size() != 1) return fail("usage: restore FILE --data DIR [--force]");
  auto config = buildConfig(args);
  if (!config.isOk()) return fail(config.status().message());
  if (config.value().store_backend == "postgresql") {
    return refuse("data ada di PostgreSQL: pulihkan dengan pg_restore",
                  "this gateway keeps its data in PostgreSQL: restore it with pg_restore (docs/operations.md)");
  }
  const std::string& file = args.files[0];
  const std::string& dir = config.value().data_dir;
  // The file is checked before anything in the directory is touched.
  auto checked = verifyBackupFile(file);
  if (!checked.isOk()) return refuse("berkas cadangan rusak atau tidak lengkap, pakai cadangan lain", checked.status().message());
  if (hasEntries(dir) && !args.force) {
    return refuse("folder data " + dir + " tidak kosong",
                  "the data directory " + dir +
                      " is not empty: restore into a new directory, or stop the gateway and add --force to replace "
                      "its store");
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return refuse("folder data tidak bisa dibuat", "cannot create " + dir + ": " + ec.message());
  std::string db_path = config.value().storePath();
  auto restored = restoreSqliteBackup(file, db_path);
  if (!restored.isOk()) return refuse("pemulihan gagal", restored.status().message());
  const BackupManifest& m = restored.value();

  auto store = openStore(config.value(), commandStore());
  if (!store.isOk()) return rejectRestored(db_path, store.status().message());
  Status integrity = store.value()->checkIntegrity();
  if (!integrity.isOk()) return rejectRestored(db_path, integrity.message());
  auto chain = verifyAuditChain(*store.value());
  if (!chain.isOk()) return rejectRestored(db_path, chain.status().message());
  if (!chain.value().ok) return rejectRestored(db_path, "audit chain broken: " + chain.value().problem);
  auto stats = store.value()->stats();
  if (!stats.isOk()) return rejectRestored(db_path, stats.status().message());
  if (stats->resources != m.resources || stats->versions != m.versions || stats->payloads != m.payloads ||
      chain.value().checked != m.audit_events) {
    return rejectRestored(db_path, "row counts differ from the backup's manifest");
  }
  WriteBatch batch;
  batch.audit.push_back(operationEvent("restore", "store restored from a backup taken " + m.created));
  auto committed = store.value()->commit(std::move(batch));
  if (!committed.isOk()) return fail(committed.status().message());
  std::printf(
      "restored %s into %s: ok, taken %s, schema version %d, %lld resources, %lld versions, %lld payloads, "
      "integrity ok, audit chain ok (%lld events)\n",
      file.c_str(), db_path.c_str(), m.created.c_str(), store.value()->schemaVersion(),
      static_cast<long long>(m.resources), static_cast<long long>(m.versions), static_cast<long long>(m.payloads),
      static_cast<long long>(chain.value().checked));
  return 0;
}

}  // namespace ilpgw::cli
