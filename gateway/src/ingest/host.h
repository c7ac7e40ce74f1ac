// GatewayHost: the services the gateway offers to adapters (sdk::Host).
#pragma once

#include <memory>
#include <string>

#include "ilpgw/sdk/adapter.h"
#include "fhir/terminology.h"

namespace ilpgw {

// Deterministic FHIR id: a UUID-shaped rendering of SHA-256(type, key), so
// re-posting the same business record yields the same resource id.
std::string deterministicId(std::string_view type, std::string_view business_key);

class GatewayHost final : public sdk::Host {
 public:
  explicit GatewayHost(std::shared_ptr<const Terminology> terminology)
      : terminology_(std::move(terminology)) {}

  std::string resourceId(std::string_view type, std::string_view business_key) const noexcept override;
  bool translate(std::string_view concept_map, std::string_view code,
                 sdk::Coding& out) const noexcept override;
  void log(sdk::Severity severity, std::string_view message) const noexcept override;

 private:
  std::shared_ptr<const Terminology> terminology_;
};

}  // namespace ilpgw
