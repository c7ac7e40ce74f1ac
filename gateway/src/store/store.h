// Storage, as one small interface per concept (the roles below) and Store,
// the aggregate of all of them that openStore() returns and a backend
// implements. The SQLite backend (sqlite_store.cc) is the embedded default;
// the PostgreSQL backend (pg_store.cc) implements the same interfaces so
// several gateway instances can share one database (docs/scale-out.md).
// Code takes the role it uses, not Store.
// Nothing above these headers may assume SQLite: ordering uses the store's
// commit sequence, never rowids or file positions; every write of data goes
// through commit(), and the bookkeeping of the outbox and export-job roles
// through the same single writer.
//
// Commit order and visibility (what incremental pulls rely on):
//  - Every stored version gets `seq`, its position in commit order. A reader
//    that has seen seq S has seen every version with a smaller seq: a backend
//    must never make seq S visible while a smaller seq can still appear. The
//    SQLite backend has one writer, so this holds by construction; the
//    PostgreSQL backend serialises seq assignment with commit: every commit
//    takes seq from the commit_clock row, locked until COMMIT.
//  - lastUpdated is strictly increasing across commits (each group commit
//    gets its own instant, at least 1 ms after the previous one, also across
//    restarts). So lastUpdated order is commit order, and once a reader sees
//    a Watermark (resource_store.h), every later commit carries lastUpdated
//    > Watermark::last_updated.
#pragma once

#include <chrono>
#include <memory>

#include "base/config.h"
#include "base/status.h"
#include "store/audit_log.h"          // AuditLog: the hash-chained audit trail
#include "store/client_directory.h"   // ClientDirectory: registered clients
#include "store/export_jobs.h"        // ExportJobs: Bulk Data $export jobs
#include "store/outbox_queue.h"       // OutboxQueue: versions waiting to go upstream
#include "store/platform_links.h"     // PlatformLinks: our ids and the national platform's, waiting resources
#include "store/quarantine_store.h"   // QuarantineStore: failed records and their payloads
#include "store/resource_store.h"     // ResourceStore: versions, search, history (+ commit)
#include "store/signing_keys.h"      // SigningKeys: token signing keys shared by instances
#include "store/user_directory.h"     // UserDirectory: people who log in to the pages, their sessions
#include "store/types.h"              // WriteBatch and BatchWriter::commit(), the one atomic write

namespace ilpgw {

class Store : public ResourceStore,
              public QuarantineStore,
              public OutboxQueue,
              public PlatformLinks,
              public ClientDirectory,
              public UserDirectory,
              public SigningKeys,
              public AuditLog,
              public ExportJobs {
 public:
  ~Store() override = default;

  // The version of the backend's schema this store is at (after opening
  // migrated it forward); `ilp-gateway store check` prints it.
  virtual int schemaVersion() const = 0;
};

// How a caller uses the store it opens.
struct StoreOpenOptions {
  // Fill the outbox with every new version (the gateway when forwarding).
  bool outbox = false;
  // Most WriteBatches per group commit; 0 = store.batch_max from the config.
  // Offline commands use 1: they commit one thing at a time.
  int batch_max = 0;
  // Refuse to create a new, empty store (offline commands on a wrong --data).
  bool must_exist = false;
  // How long a commit waits while another process holds the store's write
  // lock (SQLite). A serving gateway holds it for most of a busy second, so
  // commands run beside one wait longer than the gateway itself does.
  std::chrono::milliseconds lock_wait{5000};
};

// The one way to open a store: picks the backend from config.store_backend,
// creates the data directory, and migrates an older schema forward (a store
// from a newer ilp-gateway is refused).
StatusOr<std::unique_ptr<Store>> openStore(const Config& config, const StoreOpenOptions& options = {});

// Where the configured store is, for messages: the SQLite file, or
// "postgresql <connection string without password>".
std::string storeLocation(const Config& config);

}  // namespace ilpgw
