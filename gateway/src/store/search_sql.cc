#include "store/search_sql.h"

namespace ilpgw {

namespace {

// A stored date is a range [low, high]; the prefixes as FHIR R4 search defines them.
std::string rangeCondition(SearchPrefix prefix, const std::string& low_column, const std::string& high_column,
                           const SearchValue& v, const SqlDialect& d) {
  switch (prefix) {
    case SearchPrefix::kEq: return low_column + " >= " + d.bind(v.low) + " AND " + high_column + " <= " + d.bind(v.high);
    case SearchPrefix::kNe:
      return "NOT (" + low_column + " >= " + d.bind(v.low) + " AND " + high_column + " <= " + d.bind(v.high) + ")";
    case SearchPrefix::kGt: return high_column + " > " + d.bind(v.high);
    case SearchPrefix::kGe: return high_column + " >= " + d.bind(v.low);
    case SearchPrefix::kLt: return low_column + " < " + d.bind(v.low);
    case SearchPrefix::kLe: return low_column + " <= " + d.bind(v.high);
  }
  return d.false_literal;
}

std::string valueCondition(const SearchClause& clause, const SearchValue& v, const SqlDialect& d) {
  std::string cond;
  switch (clause.kind) {
    case SearchKind::kId: return "c.id = " + d.bind(v.value);
    case SearchKind::kLastUpdated: return rangeCondition(v.prefix, "v.last_updated", "v.last_updated", v, d);
    case SearchKind::kDate: return rangeCondition(v.prefix, "low", "high", v, d);
    case SearchKind::kToken:
      if (!v.value.empty()) cond = "value = " + d.bind(v.value);
      if (v.system) cond += (cond.empty() ? "" : " AND ") + std::string("system = ") + d.bind(*v.system);
      break;
    case SearchKind::kString:
      switch (clause.string_match) {
        case StringMatch::kExact: return "exact = " + d.bind(v.value);
        case StringMatch::kContains: return d.contains(d.bind(v.value));
        case StringMatch::kStartsWith: return d.starts_with(v.value);
      }
      break;
    case SearchKind::kReference:
      if (!v.value.empty()) cond = "target_id = " + d.bind(v.value);
      if (!v.target_type.empty()) cond += (cond.empty() ? "" : " AND ") + std::string("target_type = ") + d.bind(v.target_type);
      break;
  }
  return cond.empty() ? d.true_literal : cond;
}

const char* indexTable(SearchKind kind) {
  switch (kind) {
    case SearchKind::kToken: return "search_token";
    case SearchKind::kString: return "search_string";
    case SearchKind::kDate: return "search_date";
    case SearchKind::kReference: return "search_reference";
    case SearchKind::kId:
    case SearchKind::kLastUpdated: break;
  }
  return nullptr;
}

std::string alternativesOf(const SearchClause& clause, const SqlDialect& dialect) {
  std::string alternatives;
  for (const auto& v : clause.any_of) {
    alternatives += (alternatives.empty() ? "(" : " OR (") + valueCondition(clause, v, dialect) + ")";
  }
  return alternatives.empty() ? dialect.false_literal : alternatives;
}

}  // namespace

std::string firstClauseRows(const SearchQuery& query, const SqlDialect& dialect, int limit) {
  for (const auto& clause : query.all_of) {
    const char* table = indexTable(clause.kind);
    if (table == nullptr) continue;
    return std::string("SELECT 1 FROM ") + table + " WHERE type = " + dialect.bind(query.type) +
           " AND param = " + dialect.bind(clause.param) + " AND (" + alternativesOf(clause, dialect) + ") LIMIT " +
           std::to_string(limit);
  }
  return "";
}

std::string compileSearchConditions(const SearchQuery& query, const SqlDialect& dialect) {
  std::string sql;
  // Tenant isolation (security): in SQL, so count and paging see only these.
  if (query.organization) sql += " AND c.organization = " + dialect.bind(*query.organization);
  for (const auto& clause : query.all_of) {
    std::string alternatives = alternativesOf(clause, dialect);
    if (const char* table = indexTable(clause.kind)) {
      sql += std::string(" AND c.id IN (SELECT id FROM ") + table + " WHERE type = " + dialect.bind(query.type) +
             " AND param = " + dialect.bind(clause.param) + " AND (" + alternatives + "))";
    } else {
      sql += " AND (" + alternatives + ")";
    }
  }
  return sql;
}

}  // namespace ilpgw
