// Units of measure: whether a unit text is already a valid UCUM code, and
// the one lookup rule adapters use to turn a unit as written into a UCUM
// Coding. Part of the values library (ilpgw/sdk/values.h).
//
// Validity follows the UCUM grammar (case-sensitive form): terms joined by
// '.' and '/', a leading '/', parentheses, integer exponents (m2, s-1),
// integer factors, annotations in braces ({cells}/uL), prefixes on metric
// atoms only (mmol, kg, uL), "10*3" (the atom 10* with an exponent). The
// atoms and prefixes are data: mappings/ucum-units.json, loaded once.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "ilpgw/sdk/adapter.h"

namespace ilpgw::sdk::values {

class UcumUnits {
 public:
  // Reads the atom and prefix table (mappings/ucum-units.json). nullopt with
  // `error` set when the file is missing or malformed.
  static std::optional<UcumUnits> load(const std::string& path, std::string& error);
  // Builds a table from JSON text in the same shape (for tests and tools).
  static std::optional<UcumUnits> parse(std::string_view json_text, std::string& error);

  // Whether `code` is a valid UCUM expression (case-sensitive). Empty is not.
  bool isValid(std::string_view code) const;

  std::size_t atomCount() const { return metric_.size() + other_.size(); }

 private:
  bool validSimpleUnit(std::string_view text) const;

  std::set<std::string, std::less<>> metric_;  // atoms that take a prefix
  std::set<std::string, std::less<>> other_;   // atoms that do not
  std::set<std::string, std::less<>> prefixes_;
};

// The unit lookup every adapter uses: the ConceptMap `concept_map` first
// (local habits: "mmHg", "kali/menit", and texts like "ML" that a UCUM parser
// would read as megalitre), then the unit as written when it is already valid
// UCUM. nullopt: neither, so the unit needs a ConceptMap entry. `ucum` may be
// null (no table loaded): then only the ConceptMap counts.
std::optional<Coding> unitCoding(const Host& host, std::string_view concept_map, std::string_view unit,
                                 const UcumUnits* ucum);

}  // namespace ilpgw::sdk::values
