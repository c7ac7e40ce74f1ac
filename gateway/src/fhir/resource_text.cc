#include "fhir/resource_text.h"

#include "base/crypto.h"
#include "fhir/search_params.h"

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

  // meta.source names the adapter version that produced the content; it is
  // left out of the hash so that re-posting the same data through another
  // adapter (or a new adapter version) is "unchanged", not a new version.
  std::string source_member;
  const rapidjson::Value* meta = json::member(resource, "meta");
  if (meta != nullptr && meta->IsObject()) {
    for (const auto& m : meta->GetObject()) {
      std::string_view name(m.name.GetString(), m.name.GetStringLength());
      if (name == "versionId" || name == "lastUpdated") continue;
      std::string member = "," + quoted(name) + ":" + json::write(m.value);
      if (name == "source") source_member = member;
      write.tail += member;
    }
  }
  write.tail += "}";
  for (const auto& m : resource.GetObject()) {
    std::string_view name(m.name.GetString(), m.name.GetStringLength());
    if (name == "resourceType" || name == "id" || name == "meta") continue;
    write.tail += "," + quoted(name) + ":" + json::write(m.value);
  }
  write.tail += "}";

  std::string hashed = write.head + write.tail;
  if (!source_member.empty()) hashed.erase(hashed.find(source_member, write.head.size()), source_member.size());
  write.hash = sha256(hashed);
  // Extracted here, on the request thread, so the single writer only inserts.
  write.index = extractSearchIndex(resource);
  return write;
}

}  // namespace ilpgw
