// Forwarding one outbox row to the national platform SATUSEHAT in the
// platform's own terms (docs/satusehat.md). The OutboxSender claims, orders,
// backs off and completes rows; this decides what one row means there:
//  - Patient and Practitioner are not created: their IHS id is looked up
//    by NIK (a newborn through the mother's NIK) and kept in the store; no
//    match leaves the row, and every record referencing it, waiting
//    ("menunggu data pasien") and tried again on a schedule. Only a newborn
//    without NIK is registered, and only with upstream.register_newborns.
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
#include "forward/satusehat_answers.h"
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

// Asks the platform's token endpoint (`auth_path` on `client`) for a token
// of this puskesmas' own client: POST {auth}/accesstoken with
// grant_type=client_credentials and the form-encoded client id and secret.
// kUnauthenticated when the platform refuses the client (400, 401, 403),
// kUnavailable when it cannot be asked or fails; the message names the
// puskesmas, never the secret.
StatusOr<PlatformToken> requestPlatformToken(http::Client& client, const std::string& auth_path,
                                             const SatusehatOrganization& org);

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
  // After a batch: completes the Encounters sent without some diagnoses
  // (completeEncounters) and forgets the in-flight records of creates never
  // sent (the batch stopped early), so they are not searched for needlessly.
  void endBatch();
  // Updates the Encounters on the platform whose diagnosis list lacks
  // Conditions sent after them, once those are there too. They are kept as
  // "partial" links in the store, so a restart (or another instance sharing
  // the database) finishes what a killed one began. Also called when the
  // outbox is empty.
  void completeEncounters();
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
  // A child without NIK that the index does not know through its mother's
  // NIK, registered there (upstream.register_newborns); its IHS id, or
  // nullopt with `outcome` and `completion` set.
  std::optional<std::string> registerNewborn(const SatusehatOrganization& org, const std::string& id,
                                             const std::string& child_json, const std::string& mother_nik,
                                             const OutboxItem& row, OutboxCompletion& completion,
                                             SendOutcome& outcome);
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
  // The partial Encounters ("Encounter/id") this instance looks after, with
  // when to look again; read again from the store every few minutes.
  struct PendingCompletion {
    std::int64_t next_ms = 0;
    std::int64_t delay_ms = 0;
  };
  std::map<std::string, PendingCompletion> partial_;
  std::int64_t partial_read_ms_ = 0;
};

}  // namespace ilpgw
