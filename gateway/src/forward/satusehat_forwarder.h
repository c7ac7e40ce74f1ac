// Forwarding one outbox row to the national platform SATUSEHAT in the
// platform's own terms (docs/satusehat.md). The OutboxSender claims, orders,
// backs off and completes rows; this decides what one row means there:
//  - Patient and Practitioner are never created: their IHS id is looked up
//    by NIK (a newborn through the mother's NIK) and kept in the store; no
//    match leaves the row, and every record referencing it, waiting
//    ("menunggu data pasien") and tried again on a schedule.
//  - Organization and Location are registered on the platform during
//    onboarding, not sent; Encounter.location comes from the puskesmas'
//    poli mapping.
//  - Everything else is reshaped (satusehat_shape.h), its references
//    rewritten to platform ids, and created with POST (the platform assigns
//    the id, stored against ours) or updated with PUT of that id. A create
//    is recorded as in flight before it is sent; one whose answer never
//    arrived is searched for by its business identifier and adopted instead
//    of being created twice.
//  - Each puskesmas authenticates with its own client; a 401 refreshes its
//    token once.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/config.h"
#include "base/status.h"
#include "forward/satusehat_profile.h"
#include "http/client.h"
#include "store/outbox_queue.h"
#include "store/platform_links.h"
#include "store/resource_store.h"

namespace ilpgw {

// What became of one row.
enum class SendOutcome {
  kSent,       // delivered (or nothing to deliver)
  kDead,       // refused for good: a dead letter with the reason
  kRetry,      // the platform or the network failed: back off, retry later
  kThrottled,  // 429: retry after completion.next_attempt_ms
  kWait,       // waits for data the platform lacks; the rest goes on
};

class SatusehatForwarder {
 public:
  // Reads upstream.organizations_file (secrets included). `store` reads
  // referenced Patients and Practitioners; `links` keeps the platform's ids.
  static StatusOr<std::unique_ptr<SatusehatForwarder>> create(const Config& config, ResourceStore& store,
                                                              PlatformLinks& links);

  // Before a batch is sent: loads the links of its rows and records every
  // create about to happen as in flight, in one write.
  void beginBatch(const std::vector<const OutboxItem*>& rows);
  // Sends (or resolves) one row; fills `completion` for kDead, kRetry,
  // kThrottled and kWait.
  SendOutcome send(const OutboxItem& row, OutboxCompletion& completion);
  // Writes the links learnt since the last flush (before the completions of
  // the rows they belong to are written).
  Status flush();
  // After a batch: updates Encounters sent without some of their diagnoses
  // once those Conditions are on the platform, and forgets the in-flight
  // records of creates never sent (the batch stopped early), so they are not
  // searched for needlessly.
  void endBatch();
  // After a network failure: fresh connections next time.
  void resetConnections();

  std::string describe() const;

 private:
  SatusehatForwarder(const Config& config, SatusehatProfile profile, ResourceStore& store, PlatformLinks& links);

  struct Token {
    std::string value;
    std::int64_t refresh_at_ms = 0;
  };
  // The answer of one platform call after the token handling.
  struct Answer {
    bool transport_failed = false;
    std::string transport_error;
    http::Reply reply;
  };
  enum class Method { kGet, kPost, kPut };

  Status ensureToken(const SatusehatOrganization& org, bool force);
  Answer call(const SatusehatOrganization& org, Method method, const std::string& path, const std::string& body);
  // Classifies a failed answer into completion; returns the outcome.
  SendOutcome failure(const Answer& answer, const std::string& what, const OutboxItem& row,
                      OutboxCompletion& completion);
  // `retry_ms` 0: upstream.wait_retry_s (data the platform lacks).
  SendOutcome wait(const OutboxItem& row, const std::string& reason, OutboxCompletion& completion,
                   std::int64_t retry_ms = 0);
  // The IHS id of a Patient or Practitioner of ours, found by NIK. On a
  // wait or failure returns nullopt with `outcome` and `completion` set.
  std::optional<std::string> resolvePerson(const SatusehatOrganization& org, const std::string& type,
                                           const std::string& id, const std::string* body, const OutboxItem& row,
                                           OutboxCompletion& completion, SendOutcome& outcome);
  // The link of "Type/id", from memory or the store; `recheck` reads the
  // store again when memory says it is not linked (another instance sharing
  // the database may have sent it since).
  std::optional<PlatformLink> link(const std::string& key, bool recheck = false);
  void remember(PlatformLink link);

  UpstreamConfig config_;
  std::string timezone_offset_;
  SatusehatProfile profile_;
  ResourceStore& store_;
  PlatformLinks& links_;
  std::string origin_;
  std::string fhir_path_;
  std::string auth_origin_;
  std::string auth_path_;
  std::unique_ptr<http::Client> client_;
  std::unique_ptr<http::Client> auth_client_;
  std::map<std::string, Token> tokens_;  // by our organization id
  // Links read or learnt ("Type/id"), and those not yet written.
  std::map<std::string, PlatformLink> cache_;
  std::vector<PlatformLink> unwritten_;
  // Person links used by the send in progress that came from the store
  // (not looked up just now): candidates for being stale.
  std::vector<PlatformLink> cached_people_;
  // Creates recorded as in flight by beginBatch and not sent yet.
  std::set<std::string> fresh_intents_;
  // Encounters on the platform without some diagnoses (their Conditions
  // came later): updated by endBatch once every Condition is linked.
  struct DiagnosisUpdate {
    OutboxItem row;  // the Encounter version that was sent
    std::vector<std::string> conditions;
    int batches_left = 20;
  };
  std::vector<DiagnosisUpdate> diagnosis_updates_;
};

}  // namespace ilpgw
