// libFuzzer target: the HL7 v2 ER7 wire syntax (plugins/hl7v2-oru/er7.h):
// MSH encoding characters, segment separators, batches, repetitions,
// components, subcomponents and escape sequences. Every part of every
// parsed field is read back, so an index the parser got wrong shows up.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "er7.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace er7 = ilpgw::plugins::hl7v2_oru;
  std::string_view payload(reinterpret_cast<const char*>(data), size);
  er7::ParsedPayload parsed = er7::parseEr7(payload);
  std::size_t total = 0;
  for (const auto& message : parsed.messages) {
    for (const auto& segment : message.segments) {
      for (std::size_t n = 0; n <= segment.fields.size() + 1; ++n) {
        const er7::Field& field = segment.field(n);
        total += field.empty() ? 0 : 1;
        for (std::size_t r = 0; r <= field.repetitions(); ++r) {
          for (std::size_t c = 1; c <= field.components(r) + 1; ++c) total += field.at(c, 1, r).size() + field.at(c, 2, r).size();
        }
      }
    }
    (void)er7::unescape(payload.substr(0, 256), message.delimiters);
  }
  (void)er7::unescape(payload, er7::Delimiters{});
  return total == static_cast<std::size_t>(-1);
}
