// Resources: the versions commit() stores, read back by id and version,
// searched, listed as history and streamed for exports, all in commit order
// (store.h states the order and visibility contract every backend keeps).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/types.h"

namespace ilpgw {

// What a reader saw: every version with seq <= `seq` is visible, and every
// commit not yet visible will carry lastUpdated > `last_updated` (empty when
// nothing was ever committed).
struct Watermark {
  std::int64_t seq = 0;
  std::string last_updated;
};

struct StoredResource {
  std::string type;
  std::string id;
  std::int64_t version = 0;
  std::string last_updated;
  std::string organization;
  std::int64_t seq = 0;  // commit sequence, the order of durable commits
  std::string json;
};

struct SearchPage {
  std::vector<StoredResource> resources;
  std::optional<std::int64_t> total;  // all matches, ignoring the cursor
  bool more = false;                  // another page follows the last resource
  Watermark watermark;
};

struct HistoryQuery {
  std::string type;  // empty: whole system
  std::string id;    // empty: whole type
  std::optional<std::string> since;  // UTC instant: versions with lastUpdated >= since
  SearchOrder order = SearchOrder::kNewestFirst;
  std::optional<std::int64_t> after_seq;
  int limit = 50;
  // Tenant isolation: only versions stored for this organization (nullopt = all).
  std::optional<std::string> organization;
};

struct HistoryPage {
  std::vector<StoredResource> versions;
  bool more = false;
  Watermark watermark;
};

struct ResourceKey {
  std::string type;
  std::string id;
};

// One organization's resources of one type whose date (one kDate search
// parameter) starts inside a window: what a report over a period reads.
struct DatedScan {
  std::string type;
  std::string date_param;  // a date search parameter of `type` (search_params.cc)
  std::string from;        // UTC instants with milliseconds, inclusive
  std::string to;
  std::optional<std::string> organization;  // nullopt: every organization
};

struct StoreStats {
  std::int64_t resources = 0;
  std::int64_t versions = 0;
  std::int64_t payloads = 0;
  std::int64_t quarantined_open = 0;
};

class ResourceStore : public BatchWriter {
 public:
  virtual StatusOr<std::optional<StoredResource>> read(std::string_view type, std::string_view id) = 0;
  virtual StatusOr<std::optional<StoredResource>> readVersion(std::string_view type, std::string_view id,
                                                              std::int64_t version) = 0;

  // Current versions matching `query`, in seq order, at most query.limit,
  // read from one consistent snapshot together with its watermark.
  virtual StatusOr<SearchPage> search(const SearchQuery& query) = 0;

  // Versions (not only current ones) in seq order.
  virtual StatusOr<HistoryPage> history(const HistoryQuery& query) = 0;

  // Current versions of the given resources (missing ones are skipped).
  virtual StatusOr<std::vector<StoredResource>> readCurrent(const std::vector<ResourceKey>& keys) = 0;

  // Streams every current version matching each query (cursor and limit
  // ignored) to `visit(query_index, resource)` from one consistent snapshot
  // without buffering; `visit` returns false to stop early. Returns the
  // snapshot's watermark.
  virtual StatusOr<Watermark> scan(const std::vector<SearchQuery>& queries,
                                   const std::function<bool(size_t, const StoredResource&)>& visit) = 0;

  // Streams, like scan(), the current versions matching each DatedScan:
  // those with a `date_param` index row whose start lies in [from, to]. The
  // default runs scan() with "ends at or after from and starts at or before
  // to", a superset (open-ended periods always overlap), so callers check the
  // date themselves; a backend overrides it with an indexed range read (and
  // may then visit a resource once per matching index row).
  virtual StatusOr<Watermark> scanDated(const std::vector<DatedScan>& scans,
                                        const std::function<bool(size_t, const StoredResource&)>& visit);

  virtual StatusOr<StoreStats> stats() = 0;

  // Checks the store can take writes now (for GET /ready).
  virtual Status checkWritable() = 0;

  // Runs the backend's own integrity check.
  virtual Status checkIntegrity() = 0;
};

}  // namespace ilpgw
