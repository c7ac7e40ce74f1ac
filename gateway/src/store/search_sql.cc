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

// The placeholders of the type and parameter an index clause is about.
struct Scope {
  std::string type;
  std::string param;
};

std::string valueCondition(const SearchClause& clause, const Scope& scope, const SearchValue& v,
                           const SqlDialect& d) {
  std::string cond;
  switch (clause.kind) {
    case SearchKind::kId: return "c.id = " + d.bind(v.value);
    case SearchKind::kLastUpdated: return rangeCondition(v.prefix, "v.last_updated", "v.last_updated", v, d);
    case SearchKind::kDate: return rangeCondition(v.prefix, "low", "high", v, d);
    case SearchKind::kToken:
      if (!v.value.empty()) cond = "value = " + d.bind(v.value);
      if (v.system) {
        cond += (cond.empty() ? "" : " AND ") + d.qualified_by(scope.type, scope.param, "system", d.bind(*v.system));
      }
      break;
    case SearchKind::kString:
      switch (clause.string_match) {
        case StringMatch::kExact: return "exact = " + d.bind(v.value);
        case StringMatch::kContains: return d.contains(d.bind(v.value));
        case StringMatch::kStartsWith: return d.starts_with(v.value);
      }
      break;
    case SearchKind::kReference:
      if (!v.value.empty()) cond = "target_id = " + d.stored_id(d.bind(v.value));
      if (!v.target_type.empty()) {
        cond += (cond.empty() ? "" : " AND ") +
                d.qualified_by(scope.type, scope.param, "target_type", d.bind(v.target_type));
      }
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

std::string alternativesOf(const SearchClause& clause, const Scope& scope, const SqlDialect& dialect) {
  std::string alternatives;
  for (const auto& v : clause.any_of) {
    alternatives += (alternatives.empty() ? "(" : " OR (") + valueCondition(clause, scope, v, dialect) + ")";
  }
  return alternatives.empty() ? dialect.false_literal : alternatives;
}

// "FROM search_x WHERE <its rows of the type and parameter> AND (<alternatives>)".
std::string indexRows(const char* table, const SearchQuery& query, const SearchClause& clause,
                      const SqlDialect& dialect) {
  Scope scope{dialect.bind(query.type), dialect.bind(clause.param)};
  return std::string(" FROM ") + table + " WHERE " + dialect.rows_of(scope.type, scope.param) + " AND (" +
         alternativesOf(clause, scope, dialect) + ")";
}

}  // namespace

std::string indexRowsOf(const std::string& type, const std::string& param) {
  return "type = " + type + " AND param = " + param;
}

std::string qualifiedBy(const std::string&, const std::string&, const char* column, const std::string& value) {
  return std::string(column) + " = " + value;
}

std::string idAsIs(const std::string& placeholder) { return placeholder; }

std::string firstClauseRows(const SearchQuery& query, const SqlDialect& dialect, int limit) {
  for (const auto& clause : query.all_of) {
    const char* table = indexTable(clause.kind);
    if (table == nullptr) continue;
    return "SELECT 1" + indexRows(table, query, clause, dialect) + " LIMIT " + std::to_string(limit);
  }
  return "";
}

std::string compileSearchConditions(const SearchQuery& query, const SqlDialect& dialect) {
  std::string sql;
  // Tenant isolation (security): in SQL, so count and paging see only these.
  if (query.organization) sql += " AND c.organization = " + dialect.bind(*query.organization);
  for (const auto& clause : query.all_of) {
    if (const char* table = indexTable(clause.kind)) {
      sql += std::string(" AND c.id IN (SELECT ") + dialect.index_id + indexRows(table, query, clause, dialect) + ")";
    } else {
      sql += " AND (" + alternativesOf(clause, Scope{}, dialect) + ")";
    }
  }
  return sql;
}

}  // namespace ilpgw
