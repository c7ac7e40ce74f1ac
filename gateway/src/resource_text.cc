#include "resource_text.h"

#include "crypto.h"
#include "search_params.h"

namespace ilpgw {
namespace {

std::string quoted(std::string_view text) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace

ResourceWrite prepareResource(const rapidjson::Value& resource) {
  ResourceWrite write;
  write.type = std::string(json::string(resource, "resourceType"));
  write.id = std::string(json::string(resource, "id"));
  write.head = "{\"resourceType\":" + quoted(write.type) + ",\"id\":" + quoted(write.id) + ",\"meta\":{";

  const rapidjson::Value* meta = json::member(resource, "meta");
  if (meta != nullptr && meta->IsObject()) {
    for (const auto& m : meta->GetObject()) {
      std::string_view name(m.name.GetString(), m.name.GetStringLength());
      if (name == "versionId" || name == "lastUpdated") continue;
      write.tail += "," + quoted(name) + ":" + json::write(m.value);
    }
  }
  write.tail += "}";
  for (const auto& m : resource.GetObject()) {
    std::string_view name(m.name.GetString(), m.name.GetStringLength());
    if (name == "resourceType" || name == "id" || name == "meta") continue;
    write.tail += "," + quoted(name) + ":" + json::write(m.value);
  }
  write.tail += "}";

  write.hash = sha256(write.head + write.tail);
  // Extracted here, on the request thread, so the single writer only inserts.
  write.index = extractSearchIndex(resource);
  return write;
}

std::string assembleResource(const ResourceWrite& write, std::int64_t version, std::string_view last_updated) {
  std::string out;
  out.reserve(write.head.size() + write.tail.size() + 64);
  out += write.head;
  out += "\"versionId\":\"";
  out += std::to_string(version);
  out += "\",\"lastUpdated\":\"";
  out += last_updated;
  out += "\"";
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
