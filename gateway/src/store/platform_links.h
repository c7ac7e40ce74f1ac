// Links between our resources and the national platform's (SATUSEHAT): the
// id the platform assigned to a resource we created there, the IHS id found
// by NIK for a Patient or Practitioner, a creation whose outcome is not known
// yet, and resources waiting for data the platform does not have yet. The
// SATUSEHAT forwarder (forward/satusehat_forwarder.h) is the only writer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace ilpgw {

struct PlatformLink {
  std::string type;
  std::string id;            // our id
  std::string organization;  // the puskesmas it was sent for (our organization id)
  // linked:  platform_id is the platform's id of this resource
  // posting: a create was sent and its answer not recorded yet (crash,
  //          timeout): search by business identifier before creating again
  // waiting: cannot be sent until the platform has data it lacks (reason)
  // partial: on the platform (platform_id) but sent without some of its
  //          references, whose resources were not there yet; reason holds
  //          their keys ("Condition/a Condition/b"): an update follows once
  //          they are (an Encounter's diagnosis list)
  std::string state;
  std::string platform_id;
  std::string reason;  // waiting: plain words, Bahasa Indonesia first; partial: the keys left out
  std::string updated_at;
  std::int64_t next_check_ms = 0;  // waiting: the next scheduled attempt (unix ms)
};

class PlatformLinks {
 public:
  virtual ~PlatformLinks() = default;

  // The links of these resources (Type, id); missing ones are skipped.
  virtual StatusOr<std::vector<PlatformLink>> readLinks(
      const std::vector<std::pair<std::string, std::string>>& keys) = 0;
  // Inserts or replaces each link (by type and id), all in one transaction.
  virtual Status writeLinks(const std::vector<PlatformLink>& links) = 0;
  // Forgets links (an IHS id the platform no longer knows).
  virtual Status removeLinks(const std::vector<std::pair<std::string, std::string>>& keys) = 0;
  // Links in `state` (empty: all) ordered by type and id after (after_type, after_id).
  virtual StatusOr<std::vector<PlatformLink>> listLinks(std::string_view state, std::string_view after_type,
                                                        std::string_view after_id, int limit) = 0;
  // Makes the outbox rows of waiting resources due now: one resource
  // (type and id given) or every waiting one (both empty). Returns how many
  // outbox rows were made due.
  virtual StatusOr<std::int64_t> retryWaiting(std::string_view type, std::string_view id) = 0;
};

}  // namespace ilpgw
