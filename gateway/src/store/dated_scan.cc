// The backend-neutral ResourceStore::scanDated(), through scan().
#include "store/resource_store.h"

namespace ilpgw {

StatusOr<Watermark> ResourceStore::scanDated(const std::vector<DatedScan>& scans,
                                             const std::function<bool(size_t, const StoredResource&)>& visit) {
  std::vector<SearchQuery> queries;
  for (const DatedScan& s : scans) {
    SearchQuery q;
    q.type = s.type;
    q.organization = s.organization;
    q.want_total = false;
    SearchClause ends_after{SearchKind::kDate, s.date_param, StringMatch::kStartsWith, {}};
    SearchValue from;
    from.prefix = SearchPrefix::kGe;
    from.low = s.from;
    from.high = s.from;
    ends_after.any_of.push_back(from);
    SearchClause starts_before{SearchKind::kDate, s.date_param, StringMatch::kStartsWith, {}};
    SearchValue to;
    to.prefix = SearchPrefix::kLe;
    to.low = s.to;
    to.high = s.to;
    starts_before.any_of.push_back(to);
    q.all_of = {ends_after, starts_before};
    queries.push_back(std::move(q));
  }
  return scan(queries, visit);
}

}  // namespace ilpgw
