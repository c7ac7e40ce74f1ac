#include "base/crypto.h"
#include "store/audit_log.h"

namespace ilpgw {

std::string auditChainHash(std::string_view prev_hash, std::int64_t seq, const AuditWrite& event) {
  // Length-prefixed fields: no two different events serialise the same way.
  std::string text;
  std::string seq_text = std::to_string(seq);
  for (std::string_view part : {prev_hash, std::string_view(seq_text), std::string_view(event.recorded),
                                std::string_view(event.agent), std::string_view(event.entities),
                                std::string_view(event.json)}) {
    text += std::to_string(part.size());
    text += ':';
    text += part;
  }
  return hex(sha256(text));
}

}  // namespace ilpgw
