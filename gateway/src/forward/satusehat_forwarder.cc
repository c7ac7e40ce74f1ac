#include "forward/satusehat_forwarder.h"

#include <algorithm>
#include <set>

#include "base/json.h"
#include "base/log.h"
#include "base/time_util.h"
#include "base/url.h"
#include "fhir/outcome.h"
#include "forward/outbox_sender.h"
#include "forward/satusehat_shape.h"

namespace ilpgw {
namespace {

constexpr size_t kMaxOutcomeBytes = 64 * 1024;
constexpr size_t kMaxCachedLinks = 100000;

// Types the platform registers during onboarding: never sent from here.
bool isRegisteredOnPlatform(std::string_view type) {
  return type == "Organization" || type == "Location" || type == "HealthcareService" || type == "Endpoint";
}

bool isPerson(std::string_view type) { return type == "Patient" || type == "Practitioner"; }

// On the platform with its id (a partial Encounter is, too: only its
// diagnosis list waits).
bool onPlatform(const PlatformLink& l) { return (l.state == "linked" || l.state == "partial") && !l.platform_id.empty(); }

// A partial Encounter is looked at again after 1 s, doubling up to 5 min.
constexpr std::int64_t kFirstCompletionDelayMs = 1000;
constexpr std::int64_t kMaxCompletionDelayMs = 5 * 60 * 1000;
// Partial links left by another instance (or before a restart) are read
// from the store this often.
constexpr std::int64_t kPartialReadIntervalMs = 60 * 1000;

std::vector<std::string> splitKeys(std::string_view text) {
  std::vector<std::string> keys;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string_view::npos) end = text.size();
    if (end > start) keys.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return keys;
}

std::string joinKeys(const std::vector<std::string>& keys) {
  std::string text;
  for (const auto& key : keys) text += (text.empty() ? "" : " ") + key;
  return text;
}

std::string keyOf(std::string_view type, std::string_view id) { return std::string(type) + "/" + std::string(id); }

std::string identifierValue(const rapidjson::Value& resource, std::string_view system) {
  const auto* list = json::member(resource, "identifier");
  if (list == nullptr || !list->IsArray()) return {};
  for (const auto& ident : list->GetArray()) {
    if (json::string(ident, "system") == system) return std::string(json::string(ident, "value"));
  }
  return {};
}

std::string personWaitReason(std::string_view type, bool has_nik) {
  if (type == "Patient") {
    return has_nik ? "Menunggu data pasien: NIK pasien belum ditemukan di SATUSEHAT (master patient index); dicoba lagi "
                     "otomatis. / Waiting for patient data: the patient's NIK is not in SATUSEHAT's master patient "
                     "index yet; retried automatically."
                   : "Menunggu data pasien: pasien tanpa NIK (dan tanpa NIK ibu) tidak bisa dicari di SATUSEHAT; "
                     "lengkapi NIK di aplikasi puskesmas. / Waiting for patient data: a patient without NIK (or "
                     "mother's NIK) cannot be looked up in SATUSEHAT; add the NIK in the clinic software.";
  }
  return has_nik ? "Menunggu data tenaga kesehatan: NIK belum ditemukan di SATUSEHAT; dicoba lagi otomatis. / Waiting "
                   "for practitioner data: the NIK is not in SATUSEHAT's practitioner index yet; retried automatically."
                 : "Menunggu data tenaga kesehatan: tanpa NIK tidak bisa dicari di SATUSEHAT; lengkapi NIK di "
                   "aplikasi puskesmas. / Waiting for practitioner data: without a NIK the practitioner cannot be "
                   "looked up in SATUSEHAT; add the NIK in the clinic software.";
}

}  // namespace

StatusOr<std::unique_ptr<SatusehatForwarder>> SatusehatForwarder::create(const Config& config, ResourceStore& store,
                                                                         PlatformLinks& links) {
  auto profile = loadSatusehatProfile(config.upstream.organizations_file);
  if (!profile.isOk()) return profile.status();
  std::unique_ptr<SatusehatForwarder> forwarder(
      new SatusehatForwarder(config, std::move(profile.value()), store, links));
  auto base = splitUrl(config.upstream.base_url);
  if (!base.isOk()) return Status(StatusCode::kInvalidArgument, "upstream.base_url: " + base.status().message());
  auto auth = splitUrl(config.upstream.auth_url);
  if (!auth.isOk()) return Status(StatusCode::kInvalidArgument, "upstream.auth_url: " + auth.status().message());
  forwarder->origin_ = base->origin;
  forwarder->fhir_path_ = base->path;
  forwarder->auth_origin_ = auth->origin;
  forwarder->auth_path_ = auth->path;
  return forwarder;
}

SatusehatForwarder::SatusehatForwarder(const Config& config, SatusehatProfile profile, ResourceStore& store,
                                       PlatformLinks& links)
    : config_(config.upstream),
      timezone_offset_(config.timezone_offset),
      profile_(std::move(profile)),
      store_(store),
      links_(links) {}

std::string SatusehatForwarder::describe() const {
  return "SATUSEHAT at " + origin_ + fhir_path_ + " for " + std::to_string(profile_.organizations.size()) +
         " puskesmas";
}

void SatusehatForwarder::resetConnections() {
  client_.reset();
  auth_client_.reset();
}

std::optional<PlatformLink> SatusehatForwarder::link(const std::string& key, bool recheck) {
  auto it = cache_.find(key);
  if (it != cache_.end() && (!recheck || onPlatform(it->second))) return it->second;
  auto slash = key.find('/');
  auto read = links_.readLinks({{key.substr(0, slash), key.substr(slash + 1)}});
  if (!read.isOk()) return it != cache_.end() ? std::optional<PlatformLink>(it->second) : std::nullopt;
  if (read->empty()) return std::nullopt;
  cache_[key] = read.value()[0];
  return read.value()[0];
}

void SatusehatForwarder::remember(PlatformLink l) {
  cache_[keyOf(l.type, l.id)] = l;
  unwritten_.push_back(std::move(l));
}

void SatusehatForwarder::beginBatch(const std::vector<const OutboxItem*>& rows) {
  if (cache_.size() > kMaxCachedLinks) cache_.clear();
  std::vector<std::pair<std::string, std::string>> keys;
  for (const auto* row : rows) {
    if (cache_.count(keyOf(row->type, row->id)) == 0) keys.emplace_back(row->type, row->id);
  }
  if (!keys.empty()) {
    auto read = links_.readLinks(keys);
    if (read.isOk()) {
      for (auto& l : read.value()) cache_[keyOf(l.type, l.id)] = std::move(l);
    }
  }
  // Creates about to be sent are recorded before any of them leaves.
  std::vector<PlatformLink> intents;
  for (const auto* row : rows) {
    if (isPerson(row->type) || isRegisteredOnPlatform(row->type) || row->superseded) continue;
    std::string key = keyOf(row->type, row->id);
    if (cache_.count(key) != 0) continue;
    PlatformLink intent{row->type, row->id, row->organization, "posting", "", "", "", 0};
    cache_[key] = intent;
    fresh_intents_.insert(key);
    intents.push_back(std::move(intent));
  }
  Status written = links_.writeLinks(intents);
  if (!written.isOk()) {
    // Without the record a lost answer could not be told from no attempt:
    // forget the intents so send() writes each one itself first.
    for (const auto& i : intents) {
      cache_.erase(keyOf(i.type, i.id));
      fresh_intents_.erase(keyOf(i.type, i.id));
    }
    logLine(LogLevel::kWarning, "satusehat: recording creates in flight: " + written.message());
  }
}

void SatusehatForwarder::endBatch() {
  completeEncounters();

  std::vector<std::pair<std::string, std::string>> unsent;
  for (const auto& key : fresh_intents_) {
    auto it = cache_.find(key);
    if (it == cache_.end() || it->second.state != "posting") continue;
    unsent.emplace_back(it->second.type, it->second.id);
    cache_.erase(it);
  }
  fresh_intents_.clear();
  if (!unsent.empty()) (void)links_.removeLinks(unsent);
}

void SatusehatForwarder::completeEncounters() {
  std::int64_t now = nowMs();
  if (now - partial_read_ms_ >= kPartialReadIntervalMs) {
    partial_read_ms_ = now;
    std::string after_type, after_id;
    for (;;) {
      auto page = links_.listLinks("partial", after_type, after_id, 500);
      if (!page.isOk() || page->empty()) break;
      for (auto& l : page.value()) {
        partial_.try_emplace(keyOf(l.type, l.id));
        cache_[keyOf(l.type, l.id)] = l;
      }
      after_type = page->back().type;
      after_id = page->back().id;
      if (page->size() < 500) break;
    }
  }
  for (auto it = partial_.begin(); it != partial_.end();) {
    PendingCompletion& pending = it->second;
    if (pending.next_ms > now) {
      ++it;
      continue;
    }
    auto later = [&] {
      pending.delay_ms = std::clamp(pending.delay_ms * 2, kFirstCompletionDelayMs, kMaxCompletionDelayMs);
      pending.next_ms = now + pending.delay_ms;
    };
    auto own = link(it->first);
    const SatusehatOrganization* org = own ? profile_.find(own->organization) : nullptr;
    if (!own || own->state != "partial" || org == nullptr) {  // completed meanwhile, or no longer sendable
      it = partial_.erase(it);
      continue;
    }
    std::vector<std::string> missing = splitKeys(own->reason);
    bool ready = std::all_of(missing.begin(), missing.end(), [&](const std::string& key) {
      auto l = link(key);
      return l && onPlatform(*l);
    });
    if (!ready) {
      later();
      ++it;
      continue;
    }
    auto stored = store_.read(own->type, own->id);
    if (!stored.isOk() || !stored.value()) {
      later();
      ++it;
      continue;
    }
    const std::string& body = stored.value()->json;
    ShapeContext context;
    context.organization = org;
    context.timezone_offset = timezone_offset_;
    context.platform_id = own->platform_id;
    for (const auto& [type, id] : resourceReferences(body)) {
      auto l = link(keyOf(type, id));
      if (l && onPlatform(*l)) context.links[keyOf(type, id)] = l->platform_id;
    }
    Shaped shaped = shapeForPlatform(own->type, own->id, body, context);
    if (shaped.problem || !shaped.unresolved.empty()) {
      later();
      ++it;
      continue;
    }
    Answer answer = call(*org, Method::kPut, "/" + own->type + "/" + context.platform_id, shaped.json);
    if (answer.transport_failed || answer.reply.status < 200 || answer.reply.status >= 300) {
      // The diagnoses are on their Conditions already; the list on the
      // Encounter follows at the next attempt.
      logLine(LogLevel::kWarning, "satusehat: adding the diagnoses to " + it->first + " failed: " +
                                      (answer.transport_failed ? answer.transport_error
                                                               : "HTTP " + std::to_string(answer.reply.status)));
      if (answer.transport_failed) resetConnections();
      later();
      ++it;
      continue;
    }
    PlatformLink done = *own;
    done.state = shaped.left_out.empty() ? "linked" : "partial";
    done.reason = joinKeys(shaped.left_out);
    remember(done);
    if (shaped.left_out.empty()) {
      it = partial_.erase(it);
    } else {
      later();
      ++it;
    }
  }
  Status written = flush();  // retried with the next flush when it fails
  if (!written.isOk()) logLine(LogLevel::kWarning, "satusehat: recording completed Encounters: " + written.message());
}

Status SatusehatForwarder::flush() {
  if (unwritten_.empty()) return Status::ok();
  Status s = links_.writeLinks(unwritten_);
  if (s.isOk()) unwritten_.clear();
  return s;
}

StatusOr<PlatformToken> requestPlatformToken(http::Client& client, const std::string& auth_path,
                                             const SatusehatOrganization& org) {
  std::string body = "client_id=" + percentEncode(org.client_id) + "&client_secret=" + percentEncode(org.client_secret);
  auto reply = client.post(auth_path + "/accesstoken?grant_type=client_credentials", {}, body,
                           "application/x-www-form-urlencoded");
  if (!reply.isOk()) return Status(StatusCode::kUnavailable, "SATUSEHAT token endpoint: " + reply.status().message());
  int status = reply->status;
  if (status == 400 || status == 401 || status == 403) {
    return Status(StatusCode::kUnauthenticated, "SATUSEHAT token endpoint answered " + std::to_string(status) +
                                                    " for the client of puskesmas " + org.organization +
                                                    " (client_id or secret refused)");
  }
  if (status != 200) {
    return Status(StatusCode::kUnavailable, "SATUSEHAT token endpoint answered " + std::to_string(status) +
                                                " for the client of puskesmas " + org.organization);
  }
  auto answer = parsePlatformToken(reply->body);
  if (!answer) return Status(StatusCode::kUnavailable, "SATUSEHAT token endpoint: no access_token in the answer");
  return *answer;
}

Status SatusehatForwarder::ensureToken(const SatusehatOrganization& org, bool force) {
  Token& token = tokens_[org.organization];
  if (!force && !token.value.empty() && nowMs() < token.refresh_at_ms) return Status::ok();
  token.value.clear();
  if (!auth_client_) {
    auth_client_ = std::make_unique<http::Client>(auth_origin_, http::ClientOptions{config_.ca_file, config_.timeout_s});
  }
  auto answer = requestPlatformToken(*auth_client_, auth_path_, org);
  if (!answer.isOk()) {
    auth_client_.reset();
    return Status(StatusCode::kUnavailable, answer.status().message());
  }
  std::int64_t lifetime_s = answer->lifetime_s;
  token.value = answer->access_token;
  token.refresh_at_ms = nowMs() + lifetime_s * 1000 - std::min<std::int64_t>(60000, lifetime_s * 1000 / 5);
  return Status::ok();
}

SatusehatForwarder::Answer SatusehatForwarder::call(const SatusehatOrganization& org, Method method,
                                                    const std::string& path, const std::string& body) {
  Answer answer;
  for (int attempt = 0; attempt < 2; ++attempt) {
    Status token = ensureToken(org, attempt > 0);
    if (!token.isOk()) {
      answer.transport_failed = true;
      answer.transport_error = token.message();
      return answer;
    }
    if (!client_) client_ = std::make_unique<http::Client>(origin_, http::ClientOptions{config_.ca_file, config_.timeout_s});
    http::Headers headers = {{"Authorization", "Bearer " + tokens_[org.organization].value},
                             {"Accept", "application/fhir+json"}};
    StatusOr<http::Reply> reply = Status(StatusCode::kInternal, "no request");
    switch (method) {
      case Method::kGet: reply = client_->get(fhir_path_ + path, headers); break;
      case Method::kPost: reply = client_->post(fhir_path_ + path, headers, body, "application/fhir+json"); break;
      case Method::kPut: reply = client_->put(fhir_path_ + path, headers, body, "application/fhir+json"); break;
    }
    if (!reply.isOk()) {
      client_.reset();
      answer.transport_failed = true;
      answer.transport_error = "SATUSEHAT: " + reply.status().message();
      return answer;
    }
    answer.reply = std::move(reply.value());
    // An expired or revoked token: one fresh token, one more try.
    if (answer.reply.status == 401 && attempt == 0) continue;
    return answer;
  }
  return answer;
}

SendOutcome SatusehatForwarder::wait(const OutboxItem& row, const std::string& reason, OutboxCompletion& completion,
                                     std::int64_t retry_ms) {
  std::int64_t next = nowMs() + (retry_ms > 0 ? retry_ms : std::int64_t{config_.wait_retry_s} * 1000);
  completion.result = OutboxResult::kRetry;
  completion.count_attempt = false;
  completion.next_attempt_ms = next;
  completion.error = reason;
  // Shown in the waiting list, unless the platform already has (or may
  // have) this resource: its id or in-flight record must not be lost.
  std::string key = keyOf(row.type, row.id);
  auto known = link(key);
  if (!known || known->state == "waiting" || fresh_intents_.count(key) != 0) {
    fresh_intents_.erase(key);
    remember(PlatformLink{row.type, row.id, row.organization, "waiting", "", reason, "", next});
  }
  return SendOutcome::kWait;
}

SendOutcome SatusehatForwarder::failure(const Answer& answer, const std::string& what, const OutboxItem& row,
                                        OutboxCompletion& completion) {
  if (answer.transport_failed) {
    completion.error = answer.transport_error + " (" + what + ")";
    return SendOutcome::kRetry;
  }
  int status = answer.reply.status;
  completion.error = "SATUSEHAT answered " + std::to_string(status) + " to " + what;
  if (status == 429) {
    auto after = parseRetryAfterMs(answer.reply.header("Retry-After"), nowMs());
    completion.next_attempt_ms = nowMs() + (after ? *after : config_.backoff_initial_ms);
    return SendOutcome::kThrottled;
  }
  if (status == 401 || status == 408 || status >= 500) return SendOutcome::kRetry;
  // A refusal naming an IHS id we had kept: the id is stale. Forget it and
  // look the person up again before deciding anything.
  std::vector<std::pair<std::string, std::string>> stale;
  for (const auto& person : cached_people_) {
    if (!person.platform_id.empty() && answer.reply.body.find(person.platform_id) != std::string::npos) {
      stale.emplace_back(person.type, person.id);
      cache_.erase(keyOf(person.type, person.id));
    }
  }
  if (!stale.empty()) {
    (void)links_.removeLinks(stale);
    completion.error += "; a kept IHS id is no longer known to the platform, looking it up again";
    completion.next_attempt_ms = nowMs();
    completion.count_attempt = false;
    return SendOutcome::kRetry;
  }
  completion.result = OutboxResult::kDead;
  completion.http_status = status;
  completion.error = platformRefusalReason(row.type, answer.reply.body, status);
  // Refused, so certainly not created: nothing to search for on a resend.
  if (auto it = cache_.find(keyOf(row.type, row.id)); it != cache_.end() && it->second.state == "posting") {
    cache_.erase(it);
    (void)links_.removeLinks({{row.type, row.id}});
  }
  std::string body = answer.reply.body.substr(0, kMaxOutcomeBytes);
  rapidjson::Document doc;
  if (!json::parse(body, doc) && doc.IsObject() && json::string(doc, "resourceType") == "OperationOutcome") {
    completion.outcome_json = body;  // the platform's own, rule number, expression and text
  } else {
    completion.outcome_json = outcomeJson(sdk::Severity::kError, "exception", completion.error);
  }
  return SendOutcome::kDead;
}

std::optional<std::string> SatusehatForwarder::resolvePerson(const SatusehatOrganization& org, const std::string& type,
                                                             const std::string& id, const std::string* body,
                                                             const OutboxItem& row, OutboxCompletion& completion,
                                                             SendOutcome& outcome) {
  std::string key = keyOf(type, id);
  auto known = link(key);
  if (known && known->state == "linked" && !known->platform_id.empty()) {
    cached_people_.push_back(*known);
    return known->platform_id;
  }
  if (body == nullptr && known && known->state == "waiting" && known->next_check_ms > nowMs()) {
    // Looked up a short while ago without a match: its own row asks again.
    outcome = wait(row, known->reason, completion);
    return std::nullopt;
  }
  std::string text;
  if (body != nullptr) {
    text = *body;
  } else {
    auto stored = store_.read(type, id);
    if (!stored.isOk()) {
      completion.error = "store: " + stored.status().message();
      outcome = SendOutcome::kRetry;
      return std::nullopt;
    }
    if (!stored.value()) {
      outcome = wait(row, (type == "Patient" ? std::string("Menunggu data pasien") : std::string("Menunggu data tenaga kesehatan")) +
                              ": " + key + " belum ada di gateway. / Waiting: " + key + " is not stored yet.",
                     completion);
      return std::nullopt;
    }
    text = stored.value()->json;
  }
  rapidjson::Document doc;
  if (json::parse(text, doc) || !doc.IsObject()) {
    completion.error = "stored " + key + " is not readable";
    outcome = SendOutcome::kRetry;
    return std::nullopt;
  }
  std::string nik = identifierValue(doc, kNikSystem);
  std::string system(kNikSystem);
  if (nik.empty() && type == "Patient") {
    nik = identifierValue(doc, kNikIbuSystem);  // a newborn: found through the mother
    system = kNikIbuSystem;
  }
  if (nik.empty()) {
    remember(PlatformLink{type, id, row.organization, "waiting", "", personWaitReason(type, false), "",
                          nowMs() + std::int64_t{config_.wait_retry_s} * 1000});
    outcome = wait(row, personWaitReason(type, false), completion);
    return std::nullopt;
  }
  Answer answer = call(org, Method::kGet, "/" + type + "?identifier=" + percentEncode(system + "|" + nik), "");
  if (answer.transport_failed || answer.reply.status != 200) {
    outcome = failure(answer, "the " + type + " lookup by NIK", row, completion);
    if (outcome == SendOutcome::kDead) {
      // A refused lookup is not this record's fault: wait and try again.
      completion = OutboxCompletion{};
      completion.seq = row.seq;
      outcome = wait(row, platformRefusalReason(type, answer.reply.body, answer.reply.status), completion);
    }
    return std::nullopt;
  }
  std::string found = singleSearchResult(answer.reply.body, system == kNikIbuSystem ? std::string(json::string(doc, "birthDate")) : std::string())
                          .value_or("");
  if (found.empty() && system == kNikIbuSystem && config_.register_newborns) {
    return registerNewborn(org, id, text, nik, row, completion, outcome);
  }
  if (found.empty()) {
    std::string reason = personWaitReason(type, true);
    remember(PlatformLink{type, id, row.organization, "waiting", "", reason, "",
                          nowMs() + std::int64_t{config_.wait_retry_s} * 1000});
    outcome = wait(row, reason, completion);
    return std::nullopt;
  }
  remember(PlatformLink{type, id, row.organization, "linked", found, "", "", 0});
  return found;
}

std::optional<std::string> SatusehatForwarder::registerNewborn(const SatusehatOrganization& org, const std::string& id,
                                                               const std::string& child_json,
                                                               const std::string& mother_nik, const OutboxItem& row,
                                                               OutboxCompletion& completion, SendOutcome& outcome) {
  // Without an address of its own the child takes its mother's, from her
  // record at the same puskesmas.
  std::string mother_json;
  SearchQuery mother;
  mother.type = "Patient";
  mother.limit = 1;
  mother.want_total = false;
  mother.organization = row.organization;
  mother.all_of.push_back(SearchClause{SearchKind::kToken, "identifier", StringMatch::kExact,
                                       {SearchValue{std::string(kNikSystem), mother_nik, "", SearchPrefix::kEq, "", ""}}});
  if (auto found = store_.search(mother); found.isOk() && !found->resources.empty()) {
    mother_json = found->resources.front().json;
  }
  NewbornRegistration registration = newbornRegistration(child_json, mother_nik, mother_json);
  if (registration.problem) {
    std::string reason = "Menunggu data pasien: " + registration.problem->reason;
    remember(PlatformLink{"Patient", id, row.organization, "waiting", "", reason, "",
                          nowMs() + std::int64_t{config_.wait_retry_s} * 1000});
    outcome = wait(row, reason, completion);
    return std::nullopt;
  }
  auto refusedMeansWait = [&](const Answer& answer, const std::string& what) {
    outcome = failure(answer, what, row, completion);
    if (outcome == SendOutcome::kDead) {
      // Not this record's fault alone: the data is corrected in the clinic
      // software and the child tried again on the schedule.
      completion = OutboxCompletion{};
      completion.seq = row.seq;
      outcome = wait(row, platformRefusalReason("Patient", answer.reply.body, answer.reply.status), completion);
    }
  };
  Answer created = call(org, Method::kPost, "/Patient", registration.json);
  if (created.transport_failed || created.reply.status < 200 || created.reply.status >= 300) {
    // A lost answer is harmless: the next attempt looks the child up first,
    // and the index keeps one child per mother, birth date, sex and order.
    refusedMeansWait(created, "the registration of a newborn");
    return std::nullopt;
  }
  // The id is taken from the index as any lookup takes it, not from the
  // shape of the registration's answer.
  rapidjson::Document child;
  std::string birth_date;
  if (!json::parse(child_json, child) && child.IsObject()) birth_date = std::string(json::string(child, "birthDate"));
  Answer again = call(org, Method::kGet, "/Patient?identifier=" + percentEncode(std::string(kNikIbuSystem) + "|" + mother_nik), "");
  if (again.transport_failed || again.reply.status != 200) {
    refusedMeansWait(again, "the lookup of a newborn just registered");
    return std::nullopt;
  }
  std::string found = singleSearchResult(again.reply.body, birth_date).value_or("");
  if (found.empty()) {
    std::string reason = personWaitReason("Patient", true);
    remember(PlatformLink{"Patient", id, row.organization, "waiting", "", reason, "",
                          nowMs() + std::int64_t{config_.wait_retry_s} * 1000});
    outcome = wait(row, reason, completion);
    return std::nullopt;
  }
  logLine(LogLevel::kInfo, "satusehat: a newborn of puskesmas " + row.organization +
                               " was registered in the master patient index through the mother's NIK");
  remember(PlatformLink{"Patient", id, row.organization, "linked", found, "", "", 0});
  return found;
}

SendOutcome SatusehatForwarder::send(const OutboxItem& row, OutboxCompletion& completion) {
  completion.seq = row.seq;
  cached_people_.clear();
  const SatusehatOrganization* org = profile_.find(row.organization);
  if (org == nullptr) {
    completion.result = OutboxResult::kDead;
    completion.error = "Puskesmas '" + row.organization +
                       "' belum terdaftar di upstream.organizations_file, jadi datanya tidak bisa dikirim ke "
                       "SATUSEHAT; tambahkan lalu kirim ulang. / Puskesmas '" +
                       row.organization + "' is not in upstream.organizations_file; add it, then resend.";
    completion.outcome_json = outcomeJson(sdk::Severity::kError, "not-found", completion.error, row.type + ".meta");
    return SendOutcome::kDead;
  }
  if (isRegisteredOnPlatform(row.type)) return SendOutcome::kSent;
  SendOutcome outcome = SendOutcome::kSent;
  if (isPerson(row.type)) {
    auto ihs = resolvePerson(*org, row.type, row.id, &row.body, row, completion, outcome);
    return ihs ? SendOutcome::kSent : outcome;
  }

  // Every reference needs the platform's id first.
  ShapeContext context;
  context.organization = org;
  context.timezone_offset = timezone_offset_;
  for (const auto& [type, id] : resourceReferences(row.body)) {
    std::string key = keyOf(type, id);
    if (isPerson(type)) {
      auto ihs = resolvePerson(*org, type, id, nullptr, row, completion, outcome);
      if (!ihs) {
        if (outcome == SendOutcome::kWait) {
          std::string reason = completion.error;
          completion = OutboxCompletion{};
          completion.seq = row.seq;
          outcome = wait(row, (type == "Patient" ? "Menunggu data pasien " : "Menunggu data tenaga kesehatan ") + key +
                                  ". " + reason,
                         completion);
        }
        return outcome;
      }
      context.links[key] = *ihs;
    } else if (type == "Organization" || type == "Location") {
      continue;  // the puskesmas' own organization and Location mapping
    } else if (auto known = link(key, true); known && onPlatform(*known)) {
      context.links[key] = known->platform_id;
    }
  }
  auto own = link(keyOf(row.type, row.id));
  if (own && onPlatform(*own)) context.platform_id = own->platform_id;
  Shaped shaped = shapeForPlatform(row.type, row.id, row.body, context);
  if (shaped.problem) {
    completion.result = OutboxResult::kDead;
    completion.error = shaped.problem->reason;
    completion.outcome_json =
        outcomeJson(sdk::Severity::kError, "business-rule", shaped.problem->reason, shaped.problem->expression);
    return SendOutcome::kDead;
  }
  if (!shaped.unresolved.empty()) {
    const std::string& first = shaped.unresolved.front();
    // Our own record, normally sent moments later: asked again within a
    // minute, not on the schedule of data the platform lacks.
    return wait(row,
                "Menunggu " + first + " terkirim ke SATUSEHAT lebih dulu. / Waiting for " + first +
                    " to reach SATUSEHAT first.",
                completion, std::min<std::int64_t>(std::int64_t{config_.wait_retry_s} * 1000, 60000));
  }
  std::string description = row.type + "/" + row.id;

  if (context.platform_id.empty() && own && own->state == "posting") {
    // A create was sent before and its answer never recorded (timeout,
    // dropped connection, process killed): find it before creating again.
    Answer found = call(*org, Method::kGet,
                        "/" + row.type + "?identifier=" + percentEncode(shaped.identifier_system + "|" + shaped.identifier_value),
                        "");
    if (found.transport_failed || found.reply.status != 200) return failure(found, "the search for " + description, row, completion);
    context.platform_id = firstSearchResult(found.reply.body).value_or("");
    if (!context.platform_id.empty()) {
      logLine(LogLevel::kInfo, "satusehat: " + description + " was created before its answer was lost; adopted");
      remember(PlatformLink{row.type, row.id, row.organization, "linked", context.platform_id, "", "", 0});
      shaped = shapeForPlatform(row.type, row.id, row.body, context);  // now as an update of that id
    }
  } else if (context.platform_id.empty() && (!own || own->state != "posting")) {
    // Not recorded as in flight by beginBatch (a waiting record, or that
    // write failed): record it now, before the create leaves.
    PlatformLink intent{row.type, row.id, row.organization, "posting", "", "", "", 0};
    Status written = links_.writeLinks({intent});
    if (!written.isOk()) {
      completion.error = "store: " + written.message();
      return SendOutcome::kRetry;
    }
    cache_[keyOf(row.type, row.id)] = intent;
  }

  bool create = context.platform_id.empty();
  fresh_intents_.erase(keyOf(row.type, row.id));
  Answer answer = create ? call(*org, Method::kPost, "/" + row.type, shaped.json)
                         : call(*org, Method::kPut, "/" + row.type + "/" + context.platform_id, shaped.json);
  std::string what = (create ? "POST " : "PUT ") + description;
  if (answer.transport_failed || answer.reply.status < 200 || answer.reply.status >= 300) {
    return failure(answer, what, row, completion);
  }
  std::string platform_id = context.platform_id;
  if (create) {
    rapidjson::Document created;
    if (!json::parse(answer.reply.body, created) && created.IsObject()) platform_id = std::string(json::string(created, "id"));
    if (platform_id.empty()) {
      // Location: {base}/{type}/{id}/_history/{v}
      std::string location = answer.reply.header("Location");
      std::string marker = "/" + row.type + "/";
      if (auto at = location.find(marker); at != std::string::npos) {
        platform_id = location.substr(at + marker.size());
        platform_id = platform_id.substr(0, platform_id.find('/'));
      }
    }
    if (platform_id.empty()) {
      completion.error = "SATUSEHAT created " + description + " without saying its id; it will be searched for";
      return SendOutcome::kRetry;  // the link stays "posting": found by identifier next time
    }
  }
  // Sent without diagnoses whose Conditions are not there yet: "partial"
  // until completeEncounters adds them.
  std::string key = keyOf(row.type, row.id);
  PlatformLink sent{row.type, row.id, row.organization, shaped.left_out.empty() ? "linked" : "partial", platform_id,
                    joinKeys(shaped.left_out), "", 0};
  if (create || !own || own->state != sent.state || own->reason != sent.reason || own->platform_id != platform_id) {
    remember(sent);
  }
  if (shaped.left_out.empty()) {
    partial_.erase(key);
  } else {
    partial_[key] = PendingCompletion{};
  }
  return SendOutcome::kSent;
}

}  // namespace ilpgw
