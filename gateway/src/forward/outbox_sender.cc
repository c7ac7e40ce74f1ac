#include "forward/outbox_sender.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "base/host_facts.h"
#include "base/json.h"
#include "base/log.h"
#include "base/metrics.h"
#include "fhir/outcome.h"
#include "base/time_util.h"
#include "base/url.h"

namespace ilpgw {
namespace {

// Dead-letter outcomes are kept, but a hostile or broken upstream must not
// fill the database with megabytes of error pages.
constexpr size_t kMaxOutcomeBytes = 64 * 1024;
// Completions are written in slices so a crash mid-batch resends little.
constexpr size_t kCompletionSlice = 32;

bool isTypeName(std::string_view s) {
  if (s.empty() || s.size() > 64 || !std::isupper(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; });
}

bool isIdText(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.';
  });
}

void collectReferences(const rapidjson::Value& value, std::vector<std::pair<std::string, std::string>>& out) {
  if (value.IsObject()) {
    for (const auto& m : value.GetObject()) {
      if (m.value.IsString() && std::string_view(m.name.GetString()) == "reference") {
        std::string_view ref(m.value.GetString(), m.value.GetStringLength());
        auto slash = ref.find('/');
        if (slash != std::string_view::npos && isTypeName(ref.substr(0, slash)) && isIdText(ref.substr(slash + 1))) {
          out.emplace_back(std::string(ref.substr(0, slash)), std::string(ref.substr(slash + 1)));
        }
      } else {
        collectReferences(m.value, out);
      }
    }
  } else if (value.IsArray()) {
    for (const auto& v : value.GetArray()) collectReferences(v, out);
  }
}

OutboxCompletion completionOf(std::int64_t seq, OutboxResult result, std::int64_t next_attempt_ms) {
  OutboxCompletion c;
  c.seq = seq;
  c.result = result;
  c.next_attempt_ms = next_attempt_ms;
  return c;
}

std::string shortText(std::string_view text) {
  std::string out(text.substr(0, 300));
  for (auto& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return maskIdentifiers(out);
}

}  // namespace

std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

StatusOr<UrlParts> splitUrl(std::string_view url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return Status(StatusCode::kInvalidArgument, "not a URL: " + std::string(url));
  std::string_view scheme = url.substr(0, scheme_end);
  if (scheme != "https" && scheme != "http") {
    return Status(StatusCode::kInvalidArgument, "unsupported URL scheme: " + std::string(url));
  }
  auto path_start = url.find('/', scheme_end + 3);
  UrlParts parts;
  parts.origin = std::string(url.substr(0, path_start));
  if (path_start != std::string_view::npos) parts.path = std::string(url.substr(path_start));
  while (!parts.path.empty() && parts.path.back() == '/') parts.path.pop_back();
  if (parts.origin.size() <= scheme_end + 3) return Status(StatusCode::kInvalidArgument, "URL without host: " + std::string(url));
  return parts;
}

std::vector<std::pair<std::string, std::string>> resourceReferences(std::string_view resource_json) {
  std::vector<std::pair<std::string, std::string>> out;
  rapidjson::Document doc;
  if (json::parse(resource_json, doc)) return out;
  collectReferences(doc, out);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

int dependencyRank(std::string_view type) {
  if (type == "Patient" || type == "Practitioner" || type == "Organization" || type == "Location") return 0;
  if (type == "PractitionerRole" || type == "RelatedPerson") return 1;
  if (type == "Encounter" || type == "EpisodeOfCare") return 2;
  return 3;
}

std::optional<std::int64_t> parseRetryAfterMs(std::string_view value, std::int64_t now_ms) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    if (value.size() > 9) return std::nullopt;
    return std::stoll(std::string(value)) * 1000;
  }
  auto at_ms = millisFromHttpDate(value);
  if (!at_ms) return std::nullopt;
  return std::max<std::int64_t>(0, *at_ms - now_ms);
}

StatusOr<std::unique_ptr<OutboxSender>> OutboxSender::create(const UpstreamConfig& config, OutboxQueue& outbox) {
  auto base = splitUrl(config.base_url);
  if (!base.isOk()) return Status(StatusCode::kInvalidArgument, "upstream.base_url: " + base.status().message());
  std::optional<UrlParts> token;
  if (!config.token_url.empty()) {
    auto parts = splitUrl(config.token_url);
    if (!parts.isOk()) return Status(StatusCode::kInvalidArgument, "upstream.token_url: " + parts.status().message());
    token = parts.value();
  }
  UpstreamConfig effective = config;
  if (!config.client_secret_file.empty()) {
    std::ifstream in(config.client_secret_file, std::ios::binary);
    if (!in) {
      return Status(StatusCode::kInvalidArgument,
                    "upstream.client_secret_file not readable: " + config.client_secret_file);
    }
    std::stringstream text;
    text << in.rdbuf();
    effective.client_secret = text.str();
    while (!effective.client_secret.empty() && std::isspace(static_cast<unsigned char>(effective.client_secret.back()))) {
      effective.client_secret.pop_back();
    }
  }
  if (!config.ca_file.empty()) {
    std::ifstream in(config.ca_file);
    if (!in) return Status(StatusCode::kInvalidArgument, "upstream.ca_file not readable: " + config.ca_file);
  }
  return std::unique_ptr<OutboxSender>(new OutboxSender(std::move(effective), outbox, base.value(), token));
}

StatusOr<std::unique_ptr<OutboxSender>> OutboxSender::create(const Config& config, Store& store) {
  if (config.upstream.profile != "satusehat") return create(config.upstream, store);
  auto forwarder = SatusehatForwarder::create(config, store, store);
  if (!forwarder.isOk()) return forwarder.status();
  auto base = splitUrl(config.upstream.base_url);
  if (!base.isOk()) return Status(StatusCode::kInvalidArgument, "upstream.base_url: " + base.status().message());
  if (!config.upstream.ca_file.empty()) {
    std::ifstream in(config.upstream.ca_file);
    if (!in) return Status(StatusCode::kInvalidArgument, "upstream.ca_file not readable: " + config.upstream.ca_file);
  }
  std::unique_ptr<OutboxSender> sender(new OutboxSender(config.upstream, store, base.value(), std::nullopt));
  sender->satusehat_ = std::move(forwarder.value());
  return sender;
}

OutboxSender::OutboxSender(UpstreamConfig config, OutboxQueue& outbox, UrlParts base, std::optional<UrlParts> token)
    : config_(std::move(config)), outbox_(outbox), base_(std::move(base)), token_url_(std::move(token)) {
  std::random_device seed;
  random_.seed((static_cast<std::uint64_t>(seed()) << 32) ^ seed());
  claimer_ = instanceName();
}

OutboxSender::~OutboxSender() { stop(); }

void OutboxSender::start() {
  thread_ = std::thread([this] { run(); });
}

void OutboxSender::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void OutboxSender::notify() {
  {
    std::lock_guard lock(mutex_);
    notified_ = true;
  }
  wake_.notify_all();
}

SenderStatus OutboxSender::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

bool OutboxSender::waitUntil(std::int64_t until_ms, bool wake_on_notify) {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (stopping_) return false;
    if (wake_on_notify && notified_) {
      notified_ = false;
      return true;
    }
    std::int64_t now = nowMs();
    if (now >= until_ms) return true;
    wake_.wait_for(lock, std::chrono::milliseconds(until_ms - now));
  }
}

std::unique_ptr<http::Client> OutboxSender::makeClient(const std::string& origin) const {
  return std::make_unique<http::Client>(origin, http::ClientOptions{config_.ca_file, config_.timeout_s});
}

std::int64_t OutboxSender::nextBackoffMs() {
  ++consecutive_failures_;
  std::int64_t delay = config_.backoff_initial_ms;
  for (int i = 1; i < consecutive_failures_ && delay < config_.backoff_max_ms; ++i) delay *= 2;
  delay = std::min<std::int64_t>(delay, config_.backoff_max_ms);
  // Equal jitter: half fixed, half random, so many gateways coming back after
  // one outage do not hit the upstream in lockstep.
  std::int64_t half = delay / 2;
  return half + static_cast<std::int64_t>(random_() % static_cast<std::uint64_t>(half + 1));
}

void OutboxSender::noteError(const std::string& error) {
  std::lock_guard lock(mutex_);
  status_.last_error = error;
  status_.last_error_at = nowInstant();
}

Status OutboxSender::ensureToken(bool force_refresh) {
  if (!token_url_) return Status::ok();
  if (!force_refresh && !token_.empty() && nowMs() < token_refresh_at_ms_) return Status::ok();
  if (!token_client_) token_client_ = makeClient(token_url_->origin);
  http::Headers headers = {
      {"Authorization", http::basicAuthorization(percentEncode(config_.client_id), percentEncode(config_.client_secret))}};
  auto reply = token_client_->post(token_url_->path.empty() ? "/" : token_url_->path, headers,
                                   "grant_type=client_credentials", "application/x-www-form-urlencoded");
  if (!reply.isOk()) return Status(StatusCode::kUnavailable, "token endpoint: " + reply.status().message());
  const http::Reply* res = &reply.value();
  if (res->status != 200) {
    return Status(StatusCode::kUnavailable, "token endpoint answered " + std::to_string(res->status));
  }
  rapidjson::Document doc;
  if (json::parse(res->body, doc) || !doc.IsObject()) {
    return Status(StatusCode::kUnavailable, "token endpoint: answer is not a JSON object");
  }
  std::string_view token = json::string(doc, "access_token");
  if (token.empty()) return Status(StatusCode::kUnavailable, "token endpoint: no access_token");
  // Some platforms send expires_in as a string ("14399").
  std::int64_t lifetime_s = 300;
  if (const auto* e = json::member(doc, "expires_in")) {
    if (e->IsInt64()) {
      lifetime_s = e->GetInt64();
    } else if (e->IsString()) {
      try {
        lifetime_s = std::stoll(e->GetString());
      } catch (...) {
      }
    } else if (e->IsDouble()) {
      lifetime_s = static_cast<std::int64_t>(e->GetDouble());
    }
  }
  lifetime_s = std::max<std::int64_t>(lifetime_s, 1);
  // Refresh before expiry: with a fifth of the lifetime left, at most 60 s early.
  std::int64_t margin_ms = std::min<std::int64_t>(60000, lifetime_s * 1000 / 5);
  token_ = std::string(token);
  token_refresh_at_ms_ = nowMs() + lifetime_s * 1000 - margin_ms;
  return Status::ok();
}

SendOutcome OutboxSender::sendOne(const OutboxItem& row, OutboxCompletion& completion) {
  completion.seq = row.seq;
  std::string path = base_.path + "/" + row.type + "/" + row.id;
  for (int attempt = 0; attempt < 2; ++attempt) {
    Status token = ensureToken(attempt > 0);
    if (!token.isOk()) {
      completion.error = token.message();
      return SendOutcome::kRetry;
    }
    if (!client_) client_ = makeClient(base_.origin);
    http::Headers headers;
    if (!token_.empty()) headers.emplace_back("Authorization", "Bearer " + token_);
    headers.emplace_back("Accept", "application/fhir+json");
    auto reply = client_->put(path, headers, row.body, "application/fhir+json");
    if (!reply.isOk()) {
      completion.error = "upstream: " + reply.status().message();
      client_.reset();  // a fresh connection next time
      return SendOutcome::kRetry;
    }
    const http::Reply* res = &reply.value();
    int status = res->status;
    if (status >= 200 && status < 300) return SendOutcome::kSent;
    if (status == 401 && attempt == 0 && token_url_) {
      token_.clear();  // expired or revoked early: one fresh token, one more try
      continue;
    }
    completion.error = "upstream answered " + std::to_string(status) + " to PUT " + row.type + "/" + row.id;
    if (status == 429) {
      auto after = parseRetryAfterMs(res->header("Retry-After"), nowMs());
      completion.next_attempt_ms = nowMs() + (after ? *after : config_.backoff_initial_ms);
      return SendOutcome::kThrottled;
    }
    if (status == 408 || status == 401 || status >= 500) return SendOutcome::kRetry;
    // Any other 4xx: the upstream refuses this resource; retrying cannot help.
    completion.result = OutboxResult::kDead;
    completion.http_status = status;
    rapidjson::Document doc;
    std::string body = res->body.substr(0, kMaxOutcomeBytes);
    if (!json::parse(body, doc) && doc.IsObject() && json::string(doc, "resourceType") == "OperationOutcome") {
      completion.outcome_json = body;
    } else {
      completion.outcome_json =
          outcomeJson(sdk::Severity::kError, "exception",
                      "upstream answered " + std::to_string(status) + ": " + shortText(res->body));
    }
    return SendOutcome::kDead;
  }
  completion.error = "upstream refuses the token";
  return SendOutcome::kRetry;
}

bool OutboxSender::sendBatch() {
  std::int64_t now = nowMs();
  OutboxClaim claim{claimer_, now, std::int64_t{config_.lease_s} * 1000, config_.batch_size, {}};
  auto claimed = outbox_.claimOutbox(claim);
  if (!claimed.isOk()) {
    noteError("outbox claim: " + claimed.status().message());
    return false;
  }
  if (claimed.value().empty()) {
    if (satusehat_) satusehat_->completeEncounters();  // their Conditions may have been the last rows
    return false;
  }

  std::vector<Item> items;
  std::map<std::string, std::vector<size_t>> by_key;
  auto add = [&](OutboxItem row) {
    Item item;
    for (auto& [type, id] : resourceReferences(row.body)) item.refs.push_back(type + "/" + id);
    by_key[row.type + "/" + row.id].push_back(items.size());
    item.row = std::move(row);
    items.push_back(std::move(item));
  };
  for (auto& row : claimed.value()) add(std::move(row));

  // Pull in the pending rows of referenced resources (a few levels:
  // Observation -> Encounter -> Patient); references to rows that exist but
  // cannot be claimed now block their referrers.
  std::set<std::string> asked;
  std::set<std::string> blocked_keys;
  for (int depth = 0; depth < 4; ++depth) {
    std::vector<std::pair<std::string, std::string>> wanted;
    for (const auto& item : items) {
      for (const auto& ref : item.refs) {
        if (by_key.count(ref) == 0 && asked.insert(ref).second) {
          auto slash = ref.find('/');
          wanted.emplace_back(ref.substr(0, slash), ref.substr(slash + 1));
        }
      }
    }
    if (wanted.empty()) break;
    OutboxClaim deps{claimer_, nowMs(), claim.lease_ms, 0, wanted};
    auto more = outbox_.claimOutbox(deps);
    if (!more.isOk()) break;
    for (auto& row : more.value()) {
      if (row.claimed) {
        add(std::move(row));
      } else {
        blocked_keys.insert(row.type + "/" + row.id);
      }
    }
  }
  for (auto& item : items) {
    for (const auto& ref : item.refs) {
      if (blocked_keys.count(ref) != 0) item.blocked = true;
    }
  }

  // Order: a row after every row of the batch it references and after older
  // versions of the same resource; ties by rank, then commit order.
  const size_t n = items.size();
  std::vector<std::vector<size_t>> deps(n);
  for (size_t i = 0; i < n; ++i) {
    for (const auto& ref : items[i].refs) {
      auto it = by_key.find(ref);
      if (it == by_key.end()) continue;
      for (size_t j : it->second) {
        if (j != i) deps[i].push_back(j);
      }
    }
    for (size_t j : by_key[items[i].row.type + "/" + items[i].row.id]) {
      if (items[j].row.seq < items[i].row.seq) deps[i].push_back(j);
    }
  }
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    int ra = dependencyRank(items[a].row.type), rb = dependencyRank(items[b].row.type);
    return ra != rb ? ra < rb : items[a].row.seq < items[b].row.seq;
  });

  if (satusehat_) {
    std::vector<const OutboxItem*> rows;
    for (const auto& item : items) rows.push_back(&item.row);
    satusehat_->beginBatch(rows);
  }

  enum State { kWaiting, kDone, kDeferred };
  std::vector<State> state(n, kWaiting);
  std::vector<OutboxCompletion> completions;
  auto flush = [&] {
    if (satusehat_) {
      // The platform's ids before the completions: a row is never finished
      // while the id it got is still only in memory.
      Status linked = satusehat_->flush();
      if (!linked.isOk()) {
        noteError("platform links: " + linked.message());
        for (auto& c : completions) {
          if (c.result == OutboxResult::kSent) c = completionOf(c.seq, OutboxResult::kRelease, nowMs() + config_.backoff_initial_ms);
        }
      }
    }
    Status s = outbox_.completeOutbox(completions);
    if (!s.isOk()) noteError("outbox completion: " + s.message());
    completions.clear();
  };
  std::int64_t pause_until = 0;
  bool stop_batch = false;
  for (size_t done = 0; done < n && !stop_batch;) {
    // Next row whose in-batch dependencies are all done, in rank order.
    size_t pick = n;
    bool defer = false;
    for (size_t i : order) {
      if (state[i] != kWaiting) continue;
      bool ready = true;
      for (size_t j : deps[i]) {
        if (state[j] == kDeferred) defer = true;
        if (state[j] != kDone) ready = false;
      }
      if (ready || defer) {
        pick = i;
        break;
      }
      defer = false;
    }
    if (pick == n) {  // a reference cycle: send in rank order anyway
      for (size_t i : order) {
        if (state[i] == kWaiting) {
          pick = i;
          break;
        }
      }
    }
    ++done;
    const OutboxItem& row = items[pick].row;
    if (defer || items[pick].blocked) {
      state[pick] = kDeferred;
      completions.push_back(completionOf(row.seq, OutboxResult::kRelease, nowMs() + config_.backoff_initial_ms));
      continue;
    }
    {
      std::lock_guard lock(mutex_);
      if (stopping_) {
        stop_batch = true;
        break;
      }
    }
    if (row.superseded) {
      // A newer version already reached the upstream: sending this one would
      // roll it back there.
      state[pick] = kDone;
      completions.push_back(completionOf(row.seq, OutboxResult::kSent, 0));
      continue;
    }
    OutboxCompletion completion;
    SendOutcome outcome = satusehat_ ? satusehat_->send(row, completion) : sendOne(row, completion);
    metrics::forwardAttempts()
        .counter({outcome == SendOutcome::kSent ? "sent" : outcome == SendOutcome::kDead ? "dead" : "retry"})
        .add();
    switch (outcome) {
      case SendOutcome::kWait: {
        // Waits for platform data (a patient not in the index yet): this
        // row and those depending on it in the batch; the rest goes on.
        state[pick] = kDeferred;
        completions.push_back(completion);
        break;
      }
      case SendOutcome::kSent: {
        state[pick] = kDone;
        consecutive_failures_ = 0;
        completion.result = OutboxResult::kSent;
        completions.push_back(completion);
        std::lock_guard lock(mutex_);
        ++status_.sent;
        status_.last_error.clear();
        status_.last_sent_at = nowInstant();
        break;
      }
      case SendOutcome::kDead: {
        state[pick] = kDone;
        consecutive_failures_ = 0;
        logLine(LogLevel::kWarning, "outbox: " + completion.error + " (dead letter, seq " +
                                        std::to_string(row.seq) + ")");
        completions.push_back(completion);
        std::lock_guard lock(mutex_);
        ++status_.dead_lettered;
        break;
      }
      case SendOutcome::kRetry:
      case SendOutcome::kThrottled: {
        // The upstream is down or throttling: stop the batch, pause everything.
        state[pick] = kDeferred;
        pause_until = outcome == SendOutcome::kThrottled ? completion.next_attempt_ms : nowMs() + nextBackoffMs();
        completion.result = OutboxResult::kRetry;
        completion.next_attempt_ms = pause_until;
        completion.count_attempt = true;
        if (satusehat_ && outcome == SendOutcome::kRetry) satusehat_->resetConnections();
        logLine(LogLevel::kWarning, "outbox: " + completion.error + "; next attempt in " +
                                        std::to_string(pause_until - nowMs()) + " ms");
        noteError(completion.error);
        completions.push_back(completion);
        stop_batch = true;
        break;
      }
    }
    if (completions.size() >= kCompletionSlice) flush();
  }
  // Whatever was not attempted goes back, not before the pause ends.
  for (size_t i = 0; i < n; ++i) {
    if (state[i] == kWaiting) completions.push_back(completionOf(items[i].row.seq, OutboxResult::kRelease, pause_until));
  }
  flush();
  if (satusehat_) satusehat_->endBatch();
  if (pause_until > 0) {
    {
      std::lock_guard lock(mutex_);
      status_.paused_until_ms = pause_until;
    }
    waitUntil(pause_until, false);
    std::lock_guard lock(mutex_);
    status_.paused_until_ms = 0;
  }
  return true;
}

void OutboxSender::run() {
  logLine(LogLevel::kInfo, "outbox: forwarding to " + (satusehat_ ? satusehat_->describe() : base_.origin + base_.path));
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
    }
    bool worked = false;
    try {
      worked = sendBatch();
    } catch (const std::exception& e) {
      noteError(std::string("outbox: ") + e.what());
      logLine(LogLevel::kError, std::string("outbox: ") + e.what());
    }
    if (!worked && !waitUntil(nowMs() + config_.poll_interval_ms, true)) break;
  }
  client_.reset();
  token_client_.reset();
}

}  // namespace ilpgw
