// Line numbers for a JSON document's members. RapidJSON reports positions as
// byte offsets and its DOM keeps none, so a second SAX pass records, for every
// JSON Pointer (`/resources/2/body/code`), the line it appears on. Mapping-file
// errors then name the file, the line and the key.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace ilpgw::plugins::mapping {

// One reference token of a JSON Pointer (RFC 6901): "~" as "~0", "/" as "~1".
std::string pointerToken(std::string_view token);

class JsonPointerLines {
 public:
  // Builds the index; text that does not parse yields an empty index.
  explicit JsonPointerLines(std::string_view text);

  // Line of `pointer`, or of its nearest recorded ancestor; 1 when unknown.
  int line(const std::string& pointer) const;

  static int lineOfOffset(std::string_view text, std::size_t offset);

 private:
  std::map<std::string, int> lines_;
};

}  // namespace ilpgw::plugins::mapping
