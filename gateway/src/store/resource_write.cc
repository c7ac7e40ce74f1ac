#include "store/types.h"

namespace ilpgw {

std::string storeOwnedMeta(std::int64_t version, std::string_view last_updated) {
  std::string out = "\"versionId\":\"";
  out += std::to_string(version);
  out += "\",\"lastUpdated\":\"";
  out += last_updated;
  out += "\"";
  return out;
}

std::string assembleResource(const ResourceWrite& write, std::int64_t version, std::string_view last_updated) {
  std::string out;
  out.reserve(write.head.size() + write.tail.size() + 64);
  out += write.head;
  out += storeOwnedMeta(version, last_updated);
  out += write.tail;
  return out;
}

std::string unversionedResource(const ResourceWrite& write) {
  static constexpr std::string_view kMetaOpen = ",\"meta\":{";
  if (write.tail.starts_with("}")) {
    // Empty meta: leave it out entirely (FHIR forbids empty objects).
    return write.head.substr(0, write.head.size() - kMetaOpen.size()) + write.tail.substr(1);
  }
  return write.head + write.tail.substr(1);
}

}  // namespace ilpgw
