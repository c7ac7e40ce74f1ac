// Gateway: the running application's parts (config, terminology, adapters,
// store) and the operations HTTP handlers and the CLI call. Handlers stay thin;
// everything here has its own tests.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config.h"
#include "host.h"
#include "ilp_semantics.h"
#include "plugin_loader.h"
#include "request_context.h"
#include "status.h"
#include "store.h"
#include "terminology.h"

namespace ilpgw {

// An adapter ready to serve: the loaded library plus its effective options.
struct ActiveAdapter {
  std::shared_ptr<const LoadedAdapter> loaded;
  std::vector<std::pair<std::string, std::string>> options;
};

// The adapters and terminology in force; replaced as a whole, never mutated.
struct AdapterSet {
  std::shared_ptr<const Terminology> terminology;
  std::shared_ptr<const GatewayHost> host;
  std::shared_ptr<const IlpSemantics> semantics;  // null: mappings/ has no ilp-semantics.json
  std::map<std::string, ActiveAdapter, std::less<>> adapters;
};

// Loads terminology and every configured plugin; any failure is one line.
StatusOr<std::shared_ptr<const AdapterSet>> loadAdapterSet(const Config& config);

// What an ingest or mapping run produced, ready for the HTTP answer or the CLI.
struct IngestResponse {
  int http_status = 200;
  std::string body;  // Bundle (batch-response) or OperationOutcome JSON
  bool all_records_ok = true;
  bool audited = false;  // the AuditEvent was committed with the data
};

class Gateway {
 public:
  static StatusOr<std::unique_ptr<Gateway>> start(Config config);

  const Config& config() const { return config_; }
  Store& store() { return *store_; }
  std::shared_ptr<const AdapterSet> adapters() const;

  // Maps, validates and durably stores one posted payload for the caller's
  // organization (from its credentials, never from the payload), with its
  // AuditEvent in the same transaction.
  IngestResponse ingest(const RequestContext& caller, std::string_view adapter_name, std::string_view payload,
                        std::string_view content_type);

 private:
  Gateway(Config config, std::unique_ptr<Store> store, std::shared_ptr<const AdapterSet> adapters)
      : config_(std::move(config)), store_(std::move(store)), adapters_(std::move(adapters)) {}

  Config config_;
  std::unique_ptr<Store> store_;
  mutable std::mutex adapters_mutex_;
  std::shared_ptr<const AdapterSet> adapters_;
};

// The pure part of ingest, shared by the server and `ilp-gateway map`: runs
// the adapter, validates every resource, and sorts records into accepted
// writes and quarantined failures. No I/O.
struct MappedPayload {
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

// `organization`: the posting facility; empty = config.organization_id (CLI).
MappedPayload mapPayload(const ActiveAdapter& adapter, const AdapterSet& set, const Config& config,
                         std::string_view payload, std::string_view content_type,
                         std::string_view organization = {});

// Bundle of type batch-response for records (after commit) or, for the CLI,
// of type collection holding the mapped resources.
std::string batchResponseBundle(const MappedPayload& mapped, const CommitResult& commit);
std::string collectionBundle(const MappedPayload& mapped);

}  // namespace ilpgw
