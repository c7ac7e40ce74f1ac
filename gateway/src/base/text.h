// Small text helpers shared by the layers.
#pragma once

#include <string_view>
#include <vector>

namespace ilpgw {

// The non-empty pieces of `text` between `separator`s ("a//b/" -> a, b).
inline std::vector<std::string_view> splitNonEmpty(std::string_view text, char separator) {
  std::vector<std::string_view> out;
  size_t at = 0;
  while (at < text.size()) {
    size_t next = text.find(separator, at);
    if (next == std::string_view::npos) next = text.size();
    if (next > at) out.push_back(text.substr(at, next - at));
    at = next + 1;
  }
  return out;
}

}  // namespace ilpgw
