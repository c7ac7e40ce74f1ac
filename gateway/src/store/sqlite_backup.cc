#include "store/sqlite_backup.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "base/crypto.h"
#include "base/json.h"
#include "base/time_util.h"

namespace ilpgw {
namespace {

constexpr const char* kMagic = "ILPGW-BACKUP";
constexpr size_t kMaxManifestBytes = 64 * 1024;
constexpr int kBusyTimeoutMs = 5000;

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;

StatusOr<Db> openDb(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) {
    return Status(StatusCode::kUnavailable,
                  "cannot open " + path + ": " + (raw != nullptr ? sqlite3_errmsg(raw) : "out of memory"));
  }
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  return db;
}

Status execSql(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = std::string(sql) + ": " + (error != nullptr ? error : sqlite3_errmsg(db));
    sqlite3_free(error);
    return Status(StatusCode::kUnavailable, message);
  }
  return Status::ok();
}

StatusOr<std::int64_t> queryInt(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) {
    return Status(StatusCode::kUnavailable, std::string(sql) + ": " + sqlite3_errmsg(db));
  }
  int rc = sqlite3_step(stmt);
  std::int64_t value = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
  sqlite3_finalize(stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    return Status(StatusCode::kUnavailable, std::string(sql) + ": " + sqlite3_errstr(rc));
  }
  return value;
}

// The counts of the snapshot `db` is reading, for the manifest.
Status countRows(sqlite3* db, BackupManifest& m) {
  struct Count {
    const char* sql;
    std::int64_t* out;
  };
  const Count counts[] = {
      {"PRAGMA user_version", nullptr},
      {"SELECT count(*) FROM resource_current", &m.resources},
      {"SELECT count(*) FROM resource_version", &m.versions},
      {"SELECT count(*) FROM payload", &m.payloads},
      {"SELECT count(*) FROM quarantine WHERE status = 'open'", &m.quarantine_open},
      {"SELECT count(*) FROM audit_event", &m.audit_events},
      {"SELECT coalesce(max(seq), 0) FROM audit_head", &m.audit_head_seq},
      {"SELECT coalesce(max(seq), 0) FROM resource_version", &m.last_seq},
  };
  for (const auto& c : counts) {
    auto value = queryInt(db, c.sql);
    if (!value.isOk()) return value.status();
    if (c.out != nullptr) *c.out = value.value();
    else m.schema_version = static_cast<int>(value.value());
  }
  return Status::ok();
}

std::string manifestJson(const BackupManifest& m) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("format_version", m.format_version, a);
  doc.AddMember("schema_version", m.schema_version, a);
  doc.AddMember("created", json::str(m.created, a), a);
  doc.AddMember("content_bytes", static_cast<int64_t>(m.content_bytes), a);
  doc.AddMember("content_sha256", json::str(m.content_sha256, a), a);
  doc.AddMember("resources", static_cast<int64_t>(m.resources), a);
  doc.AddMember("versions", static_cast<int64_t>(m.versions), a);
  doc.AddMember("payloads", static_cast<int64_t>(m.payloads), a);
  doc.AddMember("quarantine_open", static_cast<int64_t>(m.quarantine_open), a);
  doc.AddMember("audit_events", static_cast<int64_t>(m.audit_events), a);
  doc.AddMember("audit_head_seq", static_cast<int64_t>(m.audit_head_seq), a);
  doc.AddMember("last_seq", static_cast<int64_t>(m.last_seq), a);
  return json::write(doc);
}

bool readInt(const rapidjson::Value& doc, const char* name, std::int64_t& out) {
  const auto* v = json::member(doc, name);
  if (v == nullptr || !v->IsInt64() || v->GetInt64() < 0) return false;
  out = v->GetInt64();
  return true;
}

// Streaming SHA-256 over OpenSSL's EVP interface.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const char* data, size_t size) { EVP_DigestUpdate(ctx_, data, size); }
  std::string hexDigest() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_DigestFinal_ex(ctx_, digest, &size);
    return hex(std::string_view(reinterpret_cast<const char*>(digest), size));
  }

 private:
  EVP_MD_CTX* ctx_;
};

Status syncFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0 || ::fsync(fd) != 0) {
    if (fd >= 0) ::close(fd);
    return Status(StatusCode::kUnavailable, "cannot sync " + path + " to disk");
  }
  ::close(fd);
  return Status::ok();
}

// Syncs the directory holding `path`, so a rename into it survives power loss.
void syncParent(const std::string& path) {
  auto parent = std::filesystem::path(path).parent_path();
  int fd = ::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

void removeQuietly(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove(path, ec);
}

// Copies `in` to its end into `out` (when given) while hashing; returns the bytes read.
std::int64_t copyHashing(std::istream& in, std::ostream* out, Sha256& hash) {
  std::int64_t total = 0;
  std::string buffer(1 << 16, '\0');
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    auto got = in.gcount();
    if (got <= 0) break;
    hash.update(buffer.data(), static_cast<size_t>(got));
    if (out != nullptr) out->write(buffer.data(), got);
    total += got;
  }
  return total;
}

Status damaged(const std::string& file, const std::string& why) {
  return Status(StatusCode::kUnprocessable, "backup " + file + " cannot be used: " + why);
}

// Opens `backup_file` and reads its header; `in` is left at the content.
StatusOr<BackupManifest> readHeader(const std::string& backup_file, std::ifstream& in) {
  in.open(backup_file, std::ios::binary);
  if (!in) return Status(StatusCode::kNotFound, "backup " + backup_file + " cannot be read");
  std::string magic;
  std::getline(in, magic);
  if (magic != std::string(kMagic) + " " + std::to_string(kBackupFormatVersion)) {
    if (magic.rfind(kMagic, 0) == 0) {
      return damaged(backup_file, "it was made by a newer ilp-gateway (" + magic + "); upgrade ilp-gateway");
    }
    return damaged(backup_file, "it is not an ilp-gateway backup");
  }
  std::string line;
  line.reserve(1024);
  char c = 0;
  while (in.get(c) && c != '\n' && line.size() < kMaxManifestBytes) line += c;
  if (c != '\n') return damaged(backup_file, "its header is cut short (file truncated?)");
  rapidjson::Document doc;
  if (json::parse(line, doc) || !doc.IsObject()) return damaged(backup_file, "its header is damaged");
  BackupManifest m;
  std::int64_t format = 0;
  std::int64_t schema = 0;
  bool ok = readInt(doc, "format_version", format) && readInt(doc, "schema_version", schema) &&
            readInt(doc, "content_bytes", m.content_bytes) && readInt(doc, "resources", m.resources) &&
            readInt(doc, "versions", m.versions) && readInt(doc, "payloads", m.payloads) &&
            readInt(doc, "quarantine_open", m.quarantine_open) && readInt(doc, "audit_events", m.audit_events) &&
            readInt(doc, "audit_head_seq", m.audit_head_seq) && readInt(doc, "last_seq", m.last_seq);
  m.content_sha256 = std::string(json::string(doc, "content_sha256"));
  m.created = std::string(json::string(doc, "created"));
  if (!ok || m.content_sha256.size() != 64 || format != kBackupFormatVersion) {
    return damaged(backup_file, "its header is damaged");
  }
  m.format_version = static_cast<int>(format);
  m.schema_version = static_cast<int>(schema);
  return m;
}

}  // namespace

StatusOr<BackupResult> backupSqliteStore(const std::string& db_path, const std::string& backup_file,
                                         const BackupOptions& options) {
  auto started = std::chrono::steady_clock::now();
  if (!std::filesystem::exists(db_path)) return Status(StatusCode::kNotFound, "no store at " + db_path);
  if (std::filesystem::exists(backup_file)) {
    return Status(StatusCode::kConflict, backup_file + " already exists; choose a new file name");
  }
  std::string copy_path = backup_file + ".db-partial";
  std::string partial_path = backup_file + ".partial";
  removeQuietly(copy_path);
  removeQuietly(copy_path + "-journal");
  BackupResult result;
  {
    auto source = openDb(db_path, SQLITE_OPEN_READWRITE);  // never creates: the file must be a store
    if (!source.isOk()) return source.status();
    auto copy = openDb(copy_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    if (!copy.isOk()) return copy.status();
    sqlite3* src = source.value().get();
    sqlite3* dst = copy.value().get();
    // One read transaction for counts and every step: the snapshot stays
    // fixed while the gateway commits, so the copy never restarts and the
    // manifest counts what the copy holds.
    Status begun = execSql(src, "BEGIN");
    if (!begun.isOk()) return begun;
    Status counted = countRows(src, result.manifest);
    if (!counted.isOk()) {
      execSql(src, "ROLLBACK");
      removeQuietly(copy_path);
      return Status(StatusCode::kInvalidArgument, db_path + " is not an ilp-gateway store: " + counted.message());
    }
    result.manifest.created = nowInstant();
    sqlite3_backup* backup = sqlite3_backup_init(dst, "main", src, "main");
    if (backup == nullptr) {
      std::string message = sqlite3_errmsg(dst);
      execSql(src, "ROLLBACK");
      removeQuietly(copy_path);
      return Status(StatusCode::kUnavailable, "backup of " + db_path + " cannot start: " + message);
    }
    int rc = SQLITE_OK;
    for (;;) {
      rc = sqlite3_backup_step(backup, options.pages_per_step);
      ++result.steps;
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED) break;
      std::this_thread::sleep_for(options.pause);
    }
    int finished = sqlite3_backup_finish(backup);
    execSql(src, "COMMIT");
    if (rc != SQLITE_DONE || finished != SQLITE_OK) {
      removeQuietly(copy_path);
      return Status(StatusCode::kUnavailable, "backup of " + db_path + " failed: " + sqlite3_errstr(rc));
    }
    // The copy carries the source's WAL flag; a plain rollback-journal file
    // is one self-contained file (the gateway turns WAL on when it opens it).
    Status plain = execSql(dst, "PRAGMA journal_mode = DELETE");
    if (!plain.isOk()) {
      removeQuietly(copy_path);
      return plain;
    }
  }
  removeQuietly(copy_path + "-wal");
  removeQuietly(copy_path + "-shm");

  // Hash the copy, then write header + content; the rename publishes it.
  Sha256 hash;
  {
    std::ifstream in(copy_path, std::ios::binary);
    result.manifest.content_bytes = copyHashing(in, nullptr, hash);
  }
  result.manifest.content_sha256 = hash.hexDigest();
  {
    std::ofstream out(partial_path, std::ios::binary | std::ios::trunc);
    std::ifstream in(copy_path, std::ios::binary);
    out << kMagic << ' ' << kBackupFormatVersion << '\n' << manifestJson(result.manifest) << '\n';
    out << in.rdbuf();
    out.flush();
    if (!out || !in) {
      removeQuietly(partial_path);
      removeQuietly(copy_path);
      return Status(StatusCode::kUnavailable, "cannot write " + backup_file + " (disk full?)");
    }
  }
  removeQuietly(copy_path);
  Status synced = syncFile(partial_path);
  if (!synced.isOk()) {
    removeQuietly(partial_path);
    return synced;
  }
  std::error_code ec;
  std::filesystem::rename(partial_path, backup_file, ec);
  if (ec) {
    removeQuietly(partial_path);
    return Status(StatusCode::kUnavailable, "cannot write " + backup_file + ": " + ec.message());
  }
  syncParent(backup_file);
  result.duration =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  return result;
}

StatusOr<BackupManifest> verifyBackupFile(const std::string& backup_file) {
  std::ifstream in;
  auto manifest = readHeader(backup_file, in);
  if (!manifest.isOk()) return manifest.status();
  Sha256 hash;
  std::int64_t size = copyHashing(in, nullptr, hash);
  if (size < manifest->content_bytes) {
    return damaged(backup_file, "the file is cut short (" + std::to_string(size) + " of " +
                                    std::to_string(manifest->content_bytes) + " bytes); copy it again");
  }
  if (size != manifest->content_bytes || hash.hexDigest() != manifest->content_sha256) {
    return damaged(backup_file, "its content does not match its checksum (the file was changed or damaged)");
  }
  return manifest;
}

StatusOr<BackupManifest> restoreSqliteBackup(const std::string& backup_file, const std::string& db_path) {
  std::ifstream in;
  auto manifest = readHeader(backup_file, in);
  if (!manifest.isOk()) return manifest.status();
  std::string restoring = db_path + ".restoring";
  Sha256 hash;
  std::int64_t size = 0;
  {
    std::ofstream out(restoring, std::ios::binary | std::ios::trunc);
    if (!out) return Status(StatusCode::kUnavailable, "cannot write " + restoring);
    size = copyHashing(in, &out, hash);
    out.flush();
    if (!out) {
      removeQuietly(restoring);
      return Status(StatusCode::kUnavailable, "cannot write " + restoring + " (disk full?)");
    }
  }
  if (size < manifest->content_bytes) {
    removeQuietly(restoring);
    return damaged(backup_file, "the file is cut short (" + std::to_string(size) + " of " +
                                    std::to_string(manifest->content_bytes) + " bytes); copy it again");
  }
  if (size != manifest->content_bytes || hash.hexDigest() != manifest->content_sha256) {
    removeQuietly(restoring);
    return damaged(backup_file, "its content does not match its checksum (the file was changed or damaged)");
  }
  Status synced = syncFile(restoring);
  if (!synced.isOk()) {
    removeQuietly(restoring);
    return synced;
  }
  // A log beside the old database would be replayed into the restored one.
  removeQuietly(db_path + "-wal");
  removeQuietly(db_path + "-shm");
  removeQuietly(db_path + "-journal");
  std::error_code ec;
  std::filesystem::rename(restoring, db_path, ec);
  if (ec) {
    removeQuietly(restoring);
    return Status(StatusCode::kUnavailable, "cannot write " + db_path + ": " + ec.message());
  }
  syncParent(db_path);
  return manifest;
}

}  // namespace ilpgw
