// Backup and restore of the embedded SQLite store as one file that can be
// carried on a USB stick: a two-line header (a magic line, then a JSON
// manifest with format and schema version, row counts and the SHA-256 of the
// content) followed by the bytes of a self-contained SQLite database.
//
// The copy is taken with SQLite's online backup API on its own connection
// inside one read transaction, so it is one consistent snapshot while the
// gateway keeps committing (a WAL reader never blocks the writer), and it is
// copied a few pages per step with a pause between steps so the disk stays
// available to the running gateway. `ilp-gateway backup|restore` use it
// (cli/ops_commands.cc); docs/operations.md explains it to operators.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "base/status.h"

namespace ilpgw {

inline constexpr int kBackupFormatVersion = 1;

// What a backup file says about itself (its manifest line).
struct BackupManifest {
  int format_version = kBackupFormatVersion;
  int schema_version = 0;      // PRAGMA user_version of the copied store
  std::string created;         // FHIR instant when the snapshot was taken
  std::int64_t content_bytes = 0;
  std::string content_sha256;  // hex, of the database bytes after the header
  std::int64_t resources = 0;
  std::int64_t versions = 0;
  std::int64_t payloads = 0;
  std::int64_t quarantine_open = 0;
  std::int64_t audit_events = 0;
  std::int64_t audit_head_seq = 0;  // 0 when the trail is empty
  std::int64_t last_seq = 0;        // newest commit sequence in the snapshot
};

struct BackupOptions {
  int pages_per_step = 256;                 // 1 MiB of 4 KiB pages (older stores: 4 MiB of 16 KiB)
  std::chrono::milliseconds pause{2};       // between steps
};

struct BackupResult {
  BackupManifest manifest;
  int steps = 0;
  std::chrono::milliseconds duration{0};
};

// Copies the store at `db_path` into `backup_file` (written beside it under a
// temporary name, synced, then renamed into place). Refuses to overwrite an
// existing file.
StatusOr<BackupResult> backupSqliteStore(const std::string& db_path, const std::string& backup_file,
                                         const BackupOptions& options = {});

// Reads the manifest and checks the content against its length and SHA-256.
// A truncated, damaged or foreign file is refused with one line saying so.
StatusOr<BackupManifest> verifyBackupFile(const std::string& backup_file);

// Verifies `backup_file` and writes its database to `db_path` (through a
// temporary file, synced and renamed); a write-ahead log or shared-memory
// file left beside `db_path` is removed first. The caller checks the restored
// store (integrity, audit chain) by opening it.
StatusOr<BackupManifest> restoreSqliteBackup(const std::string& backup_file, const std::string& db_path);

}  // namespace ilpgw
