// Backups that `ilp-gateway serve` takes by itself: every backup.interval_s
// a file in backup.dir in the format of `ilp-gateway backup`
// (store/sqlite_backup.h), the oldest deleted beyond backup.keep. Read at
// start-up; a failed backup is logged and tried again at the next interval.
#pragma once

#include <memory>

#include "ingest/gateway.h"

namespace ilpgw::cli {

class ScheduledBackups;
// Destroying the handle stops the schedule (a backup under way finishes first).
struct StopScheduledBackups {
  void operator()(ScheduledBackups* backups) const;
};
using ScheduledBackupsHandle = std::unique_ptr<ScheduledBackups, StopScheduledBackups>;

// Empty when backup.dir is empty (no scheduled backups).
ScheduledBackupsHandle startScheduledBackups(Gateway& gateway);

}  // namespace ilpgw::cli
