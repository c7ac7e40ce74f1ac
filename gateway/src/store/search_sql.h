// SearchQuery as SQL, for every backend: tenant isolation and the clauses of
// SearchQuery::all_of over `c` (resource_current) and `v` (its version), the
// search-index tables matched by subquery. Only fixed SQL text and
// placeholders come out; every value from the request goes through `bind`.
// The backends differ only in what SqlDialect names.
#pragma once

#include <functional>
#include <string>

#include "store/types.h"

namespace ilpgw {

// SqlDialect::rows_of and qualified_by where the index tables keep the type,
// the parameter and the qualifier as columns of their own.
std::string indexRowsOf(const std::string& type, const std::string& param);
std::string qualifiedBy(const std::string& type, const std::string& param, const char* column,
                        const std::string& value);
// SqlDialect::stored_id where the index tables keep ids as they are.
std::string idAsIs(const std::string& placeholder);

struct SqlDialect {
  // Records `value` as the next bound parameter and returns its placeholder
  // ("?3" for SQLite, "$3" for PostgreSQL).
  std::function<std::string(std::string value)> bind;
  const char* true_literal;   // "1" / "true"
  const char* false_literal;  // "0" / "false"
  // `normalized` contains the bound value `p`.
  std::string (*contains)(const std::string& p);
  // `normalized` starts with `value` (binds what it needs).
  std::function<std::string(const std::string& value)> starts_with;
  // The index rows of one type and parameter, given as placeholders:
  // "type = $1 AND param = $2" where the rows keep both (indexRowsOf).
  std::string (*rows_of)(const std::string& type, const std::string& param) = indexRowsOf;
  // Of those, the rows whose system (token) or target type (reference) is
  // the bound `value`; the rows keep it in `column` (qualifiedBy).
  std::string (*qualified_by)(const std::string& type, const std::string& param, const char* column,
                              const std::string& value) = qualifiedBy;
  // An index row's resource, as its id ("id" where the rows keep ids as they are).
  const char* index_id = "id";
  // A bound id (a reference's target) as the index rows keep it (idAsIs).
  std::string (*stored_id)(const std::string& placeholder) = idAsIs;
};

// " AND ..." conditions to append after "WHERE c.type = <type>". Each index
// clause is an uncorrelated `c.id IN (SELECT id FROM search_x WHERE type =
// <type> AND ...)`: the database evaluates the subquery once per query, not
// once per resource it looks at.
std::string compileSearchConditions(const SearchQuery& query, const SqlDialect& dialect);

// "SELECT 1 FROM search_x WHERE ... LIMIT <limit>": the index rows of the
// query's first clause that has an index table, to count how many resources
// it can match at most; "" when no clause has one.
std::string firstClauseRows(const SearchQuery& query, const SqlDialect& dialect, int limit);

}  // namespace ilpgw
