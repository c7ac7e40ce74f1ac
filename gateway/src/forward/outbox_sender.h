// Store-and-forward: the background sender that drains the outbox to the
// upstream FHIR server (a provincial hub, a second gateway) or to the
// national platform SATUSEHAT in its own terms (upstream.profile
// "satusehat": satusehat_forwarder.h, docs/satusehat.md).
//
// Rows are claimed from the store (a lease, so instances sharing a database
// never send the same row at once), sent in dependency order (a resource
// after the resources it references) as idempotent `PUT {base}/{type}/{id}`
// or through the SATUSEHAT forwarder, and
// completed through the store's writer: sent rows are deleted, failures are
// retried with exponential backoff and jitter (network errors, 408, 5xx) or
// after the upstream's Retry-After (429), and other 4xx refusals become dead
// letters with the upstream's OperationOutcome. See docs/durability.md.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/config.h"
#include "base/status.h"
#include "forward/satusehat_forwarder.h"
#include "http/client.h"
#include "store/outbox_queue.h"
#include "store/store.h"

namespace ilpgw {

// What GET /ready shows about the sender.
struct SenderStatus {
  std::int64_t sent = 0;            // rows sent since start
  std::int64_t dead_lettered = 0;   // rows refused since start
  std::string last_error;           // most recent failure, empty after a success
  std::string last_error_at;
  std::string last_sent_at;
  std::int64_t paused_until_ms = 0;  // backing off or honouring Retry-After
};

// A split URL: "https://host:port" and the path prefix ("/fhir", or "").
struct UrlParts {
  std::string origin;
  std::string path;
};
StatusOr<UrlParts> splitUrl(std::string_view url);

// Relative literal references (`Type/id`) anywhere in a resource.
std::vector<std::pair<std::string, std::string>> resourceReferences(std::string_view resource_json);

// Send rank when references say nothing: Patient, Practitioner, Organization
// and Location first, then Encounter, then everything else.
int dependencyRank(std::string_view type);

// Retry-After as seconds or an HTTP-date; nullopt when absent or unreadable.
std::optional<std::int64_t> parseRetryAfterMs(std::string_view value, std::int64_t now_ms);

std::int64_t nowMs();

class OutboxSender {
 public:
  // Reads the client secret file, checks the URLs. Does not start the thread.
  static StatusOr<std::unique_ptr<OutboxSender>> create(const UpstreamConfig& config, OutboxQueue& outbox);
  // The sender of upstream.profile: the generic FHIR PUT above, or the
  // national platform SATUSEHAT (satusehat_forwarder.h, which also reads
  // upstream.organizations_file and keeps the platform's ids in `store`).
  static StatusOr<std::unique_ptr<OutboxSender>> create(const Config& config, Store& store);
  ~OutboxSender();
  OutboxSender(const OutboxSender&) = delete;
  OutboxSender& operator=(const OutboxSender&) = delete;

  void start();
  // Finishes the request in flight, releases claimed rows, joins the thread.
  void stop();
  // New rows were committed: look now instead of at the next poll.
  void notify();
  SenderStatus status() const;

 private:
  OutboxSender(UpstreamConfig config, OutboxQueue& outbox, UrlParts base, std::optional<UrlParts> token);

  struct Item {
    OutboxItem row;
    std::vector<std::string> refs;  // "Type/id" keys
    bool blocked = false;           // references a row that cannot be sent now
  };
  void run();
  // Claims, orders and sends one batch; false when there was nothing to do.
  bool sendBatch();
  SendOutcome sendOne(const OutboxItem& row, OutboxCompletion& completion);
  Status ensureToken(bool force_refresh);
  std::unique_ptr<http::Client> makeClient(const std::string& origin) const;
  std::int64_t nextBackoffMs();
  void noteError(const std::string& error);
  // Sleeps until `until_ms` or stop()/notify(); returns false when stopping.
  bool waitUntil(std::int64_t until_ms, bool wake_on_notify);

  UpstreamConfig config_;
  OutboxQueue& outbox_;
  UrlParts base_;
  std::optional<UrlParts> token_url_;
  std::string claimer_;
  std::unique_ptr<SatusehatForwarder> satusehat_;  // profile satusehat
  std::unique_ptr<http::Client> client_;
  std::unique_ptr<http::Client> token_client_;
  std::string token_;
  std::int64_t token_refresh_at_ms_ = 0;
  int consecutive_failures_ = 0;
  std::mt19937_64 random_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool notified_ = false;
  SenderStatus status_;
  std::thread thread_;
};

}  // namespace ilpgw
