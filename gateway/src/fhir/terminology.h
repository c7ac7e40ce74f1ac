// Terminology: the local-to-standard code tables (FHIR ConceptMaps) loaded
// from mappings/. Immutable once loaded, so lookups need no lock.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ilpgw/sdk/adapter.h"
#include "base/status.h"

namespace ilpgw {

class Terminology {
 public:
  // Loads every *.json ConceptMap in `dir`. A file that is not valid JSON, or a
  // ConceptMap without id, stops loading with a message naming the file.
  static StatusOr<Terminology> loadDirectory(const std::string& dir);

  // Case-insensitive lookup of `code` in the ConceptMap `map_id`.
  std::optional<sdk::Coding> translate(std::string_view map_id, std::string_view code) const;

  // The ConceptMaps as loaded (JSON text), by id, for GET /fhir/ConceptMap.
  const std::map<std::string, std::string>& conceptMaps() const { return raw_; }

 private:
  struct Table {
    std::map<std::string, sdk::Coding> by_code;  // key: lower-cased source code
  };
  std::map<std::string, Table, std::less<>> tables_;
  std::map<std::string, std::string> raw_;
};

}  // namespace ilpgw
