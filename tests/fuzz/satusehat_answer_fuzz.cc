// libFuzzer target: what the SATUSEHAT forwarder reads from the national
// platform's answers (token answer, search Bundles, refusals) and the
// reshaping of a stored resource for the platform.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "forward/satusehat_answers.h"
#include "forward/satusehat_shape.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)ilpgw::parsePlatformToken(text);
  (void)ilpgw::singleSearchResult(text, "2024-01-05");
  (void)ilpgw::firstSearchResult(text);
  (void)ilpgw::platformRefusalReason("Encounter", text, 400);
  static const ilpgw::SatusehatOrganization org = [] {
    ilpgw::SatusehatOrganization o;
    o.organization = "pkm";
    o.platform_organization_id = "100011";
    o.locations = {{"*", "loc-1"}};
    return o;
  }();
  ilpgw::ShapeContext context;
  context.organization = &org;
  context.links = {{"Patient/p", "P1"}, {"Condition/c", "C1"}};
  for (const char* type : {"Encounter", "Condition", "Observation", "MedicationRequest"}) {
    (void)ilpgw::shapeForPlatform(type, "x", text, context);
  }
  (void)ilpgw::withOffset(text.substr(0, 40), "+07:00");
  return 0;
}
