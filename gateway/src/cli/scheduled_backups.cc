#include "cli/scheduled_backups.h"

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "base/log.h"
#include "base/time_util.h"
#include "security/audit.h"
#include "store/sqlite_backup.h"

namespace ilpgw::cli {

class ScheduledBackups {
 public:
  explicit ScheduledBackups(Gateway& gateway) : gateway_(gateway), thread_([this] { run(); }) {}
  ~ScheduledBackups() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  ScheduledBackups(const ScheduledBackups&) = delete;
  ScheduledBackups& operator=(const ScheduledBackups&) = delete;

 private:
  void run() {
    const Config& c = gateway_.config();
    std::unique_lock lock(mutex_);
    for (;;) {
      if (wake_.wait_for(lock, std::chrono::seconds(c.backup_interval_s), [this] { return stopping_; })) return;
      lock.unlock();
      takeOne(c);
      lock.lock();
    }
  }

  void takeOne(const Config& c) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(c.backup_dir, ec);
    // 2026-12-01T15:04:00.123Z -> ilp-gateway-2026-12-01-15-04-00-123.ilpbak: names sort by time,
    // and no long digit run for the log's redaction of identifiers to hide.
    std::string stamp;
    for (char ch : nowInstant()) {
      if (ch == 'Z') break;
      stamp += ch >= '0' && ch <= '9' ? ch : '-';
    }
    std::string file = (fs::path(c.backup_dir) / ("ilp-gateway-" + stamp + ".ilpbak")).string();
    AuditInfo info;
    info.kind = AuditKind::kAdmin;
    info.subtype = "backup";
    info.action = 'E';
    info.agent = "ilp-gateway";
    info.description = "scheduled backup of the store (backup.interval_s)";
    WriteBatch batch;
    batch.audit.push_back(makeAuditEvent(info));
    auto committed = gateway_.store().commit(std::move(batch));
    if (!committed.isOk()) {
      logLine(LogLevel::kError, "scheduled backup skipped: " + committed.status().message());
      return;
    }
    auto result = backupSqliteStore(c.storePath(), file);
    if (!result.isOk()) {
      logLine(LogLevel::kError, "scheduled backup failed: " + result.status().message());
      return;
    }
    logLine(LogLevel::kInfo, "scheduled backup " + file + ": " + std::to_string(result->manifest.content_bytes) +
                                 " bytes in " + std::to_string(result->duration.count()) + " ms");
    std::vector<std::string> kept;
    for (const auto& entry : fs::directory_iterator(c.backup_dir, ec)) {
      std::string name = entry.path().filename().string();
      if (name.rfind("ilp-gateway-", 0) == 0 && name.size() > 7 && name.substr(name.size() - 7) == ".ilpbak") {
        kept.push_back(entry.path().string());
      }
    }
    std::sort(kept.begin(), kept.end());
    for (size_t i = 0; i + static_cast<size_t>(c.backup_keep) < kept.size(); ++i) {
      fs::remove(kept[i], ec);
      logLine(LogLevel::kInfo, "scheduled backup " + kept[i] + " deleted (backup.keep)");
    }
  }

  Gateway& gateway_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts after the members it uses
};

ScheduledBackupsHandle startScheduledBackups(Gateway& gateway) {
  if (gateway.config().backup_dir.empty()) return nullptr;
  logLine(LogLevel::kInfo, "scheduled backups every " + std::to_string(gateway.config().backup_interval_s) +
                               " s into " + gateway.config().backup_dir + ", keeping " +
                               std::to_string(gateway.config().backup_keep));
  return ScheduledBackupsHandle(new ScheduledBackups(gateway));
}

void StopScheduledBackups::operator()(ScheduledBackups* backups) const { delete backups; }

}  // namespace ilpgw::cli
