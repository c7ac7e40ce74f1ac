// Gateway: the running application's parts (config, terminology, adapters,
// store) and the operations HTTP handlers and the CLI call. Handlers stay thin;
// everything here has its own tests.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "base/config.h"
#include "ingest/host.h"
#include "ingest/ilp_semantics.h"
#include "forward/outbox_sender.h"
#include "ingest/plugin_loader.h"
#include "security/request_context.h"
#include "base/status.h"
#include "store/store.h"
#include "fhir/terminology.h"

namespace ilpgw {

// An adapter ready to serve: the loaded library plus its effective options.
struct ActiveAdapter {
  std::shared_ptr<const LoadedAdapter> loaded;
  std::vector<std::pair<std::string, std::string>> options;
  int timeout_ms = 0;  // per-call deadline of map(); 0 = none
};

// The adapters and terminology in force; replaced as a whole, never mutated.
// A request takes a shared_ptr to the set it started with, so a reload never
// pulls an adapter (or its library) from under a running call.
struct AdapterSet {
  std::shared_ptr<const Terminology> terminology;
  std::shared_ptr<const GatewayHost> host;
  std::shared_ptr<const IlpSemantics> semantics;  // null: mappings/ has no ilp-semantics.json
  std::map<std::string, ActiveAdapter, std::less<>> adapters;
  std::vector<PluginConfig> disabled;  // configured with "enabled": false
};

// Loads terminology, ILP semantics and every enabled plugin; any failure is
// one line. Each call loads fresh adapter objects (see loadAdapterSet in
// gateway.cc for why nothing is carried over from the set in force).
StatusOr<std::shared_ptr<const AdapterSet>> loadAdapterSet(const Config& config, LoadOptions load_options = {});

// Where the server notes which adapter call is running: one small file per
// thread in data_dir/adapter-calls, saying "running name@version" during a
// call and "idle" otherwise. A file still saying "running" at start-up names
// the adapter that was running when the process died.
std::string adapterCallMarkerDir(const Config& config);
// The calls marked running now: (name@version, start time).
std::vector<std::pair<std::string, std::string>> runningAdapterCalls(const std::string& marker_dir);
// At start-up: logs the calls left running, removes every marker, returns
// the labels found.
std::vector<std::string> reportLeftoverAdapterCalls(const std::string& marker_dir);

// Bounds on one call of an adapter's map() (the server's containment).
struct CallLimits {
  int timeout_ms = 0;       // 0: call inline without a deadline
  std::string marker_dir;   // empty: no marker files
  int max_hung_calls = 4;   // more overrunning calls than this: refuse at once
};

// What an ingest or mapping run produced, ready for the HTTP answer or the CLI.
struct IngestResponse {
  int http_status = 200;
  std::string body;  // Bundle (batch-response) or OperationOutcome JSON
  bool all_records_ok = true;
  bool audited = false;  // the AuditEvent was committed with the data
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. Retry-After when the store is unavailable
};

// Produces the configuration afresh (re-reads gateway.json and re-applies
// command-line overrides); what reload() uses.
using ConfigSource = std::function<StatusOr<Config>()>;

class Gateway {
 public:
  // `source` defaults to "the start-up config", so reload() re-reads only the
  // library and mapping files. `forward`: start the outbox sender when
  // upstream.enabled (the CLI's quarantine commands do not forward).
  static StatusOr<std::unique_ptr<Gateway>> start(Config config, ConfigSource source = {}, bool forward = true);
  ~Gateway();

  const Config& config() const { return config_; }
  Store& store() { return *store_; }
  std::shared_ptr<const AdapterSet> adapters() const;
  // The upstream sender, or nullptr when not forwarding.
  OutboxSender* sender() { return sender_.get(); }

  // Re-reads the plugin list, adapter libraries and mapping files, loads and
  // checks the new set completely, then swaps it in atomically. On any
  // failure the current set keeps serving and the error is returned (and
  // logged). Requests in flight finish on the set they started with; an old
  // library is unloaded when its last user lets go. Reloads are serialised.
  Status reload();

  // Maps, validates and durably stores one posted payload for the caller's
  // organization (from its credentials, never from the payload), with its
  // AuditEvent in the same transaction.
  IngestResponse ingest(const RequestContext& caller, std::string_view adapter_name, std::string_view payload,
                        std::string_view content_type);

 private:
  Gateway(Config config, ConfigSource source, std::unique_ptr<Store> store,
          std::shared_ptr<const AdapterSet> adapters)
      : config_(std::move(config)),
        config_source_(std::move(source)),
        store_(std::move(store)),
        adapters_(std::move(adapters)) {}

  Config config_;
  ConfigSource config_source_;
  std::unique_ptr<Store> store_;
  std::mutex reload_mutex_;  // one reload at a time; never held by requests
  mutable std::mutex adapters_mutex_;
  std::shared_ptr<const AdapterSet> adapters_;
  std::unique_ptr<OutboxSender> sender_;  // after store_: stopped before the store closes
};

// The pure part of ingest, shared by the server and `ilp-gateway map`: runs
// the adapter, validates every resource, and sorts records into accepted
// writes and quarantined failures. No I/O.
struct MappedPayload {
  // Not OK when the adapter could not be called or overran its deadline
  // (kUnavailable); then there are no records.
  Status call_status;
  bool call_timed_out = false;  // the deadline passed (504), rather than refused (503)
  std::vector<sdk::Issue> payload_issues;  // fatal: the payload as a whole is unreadable
  struct Record {
    std::string locator;
    std::string source_key;
    std::vector<ResourceWrite> writes;  // empty when refused
    std::vector<sdk::Issue> issues;     // warnings for accepted, reasons for refused
    bool accepted = false;
  };
  std::vector<Record> records;
};

Status checkContentType(const sdk::AdapterInfo& info, std::string_view content_type);

// Every stored resource records the adapter version that produced it in
// meta.source: "ilp-gateway/<name>@<version>" (the core sets it, adapters
// leave meta out).
std::string adapterSourceUri(const LoadedAdapter& loaded);

// `organization`: the posting facility; empty = config.organization_id (CLI).
MappedPayload mapPayload(const ActiveAdapter& adapter, const AdapterSet& set, const Config& config,
                         std::string_view payload, std::string_view content_type,
                         std::string_view organization = {}, const CallLimits& limits = {});

// Bundle of type batch-response for records (after commit) or, for the CLI,
// of type collection holding the mapped resources.
std::string batchResponseBundle(const MappedPayload& mapped, const CommitResult& commit);
std::string collectionBundle(const MappedPayload& mapped);

}  // namespace ilpgw
