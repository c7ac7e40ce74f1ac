#include "ingest/host.h"

#include "base/crypto.h"
#include "base/log.h"

namespace ilpgw {

std::string deterministicId(std::string_view type, std::string_view business_key) {
  std::string input;
  input.reserve(type.size() + business_key.size() + 1);
  input.append(type).push_back('\n');
  input.append(business_key);
  std::string hash = sha256(input);
  auto* digest = reinterpret_cast<unsigned char*>(hash.data());
  // RFC 4122 layout with version 8 (custom) and the variant bits set.
  digest[6] = static_cast<unsigned char>((digest[6] & 0x0F) | 0x80);
  digest[8] = static_cast<unsigned char>((digest[8] & 0x3F) | 0x80);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  id.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) id.push_back('-');
    id.push_back(kHex[digest[i] >> 4]);
    id.push_back(kHex[digest[i] & 0x0F]);
  }
  return id;
}

std::string GatewayHost::resourceId(std::string_view type, std::string_view business_key) const noexcept {
  try {
    return deterministicId(type, business_key);
  } catch (...) {
    return {};
  }
}

bool GatewayHost::translate(std::string_view concept_map, std::string_view code,
                            sdk::Coding& out) const noexcept {
  try {
    auto found = terminology_->translate(concept_map, code);
    if (!found) return false;
    out = *found;
    return true;
  } catch (...) {
    return false;
  }
}

void GatewayHost::log(sdk::Severity severity, std::string_view message) const noexcept {
  try {
    logLine(severity == sdk::Severity::kWarning ? LogLevel::kWarning
            : severity == sdk::Severity::kInformation ? LogLevel::kInfo
                                                      : LogLevel::kError,
            std::string("adapter: ").append(message));
  } catch (...) {
  }
}

}  // namespace ilpgw
