#include "forward/satusehat_forwarder.h"

#include <algorithm>
#include <set>

#include "base/json.h"
#include "base/log.h"
#include "base/time_util.h"
#include "base/url.h"
#include "fhir/outcome.h"
#include "forward/outbox_sender.h"
#include "forward/satusehat_answers.h"
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
  if (it != cache_.end() && (!recheck || it->second.state == "linked")) return it->second;
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
  std::vector<DiagnosisUpdate> still_waiting;
  for (auto& update : diagnosis_updates_) {
    bool ready = std::all_of(update.conditions.begin(), update.conditions.end(), [&](const std::string& key) {
      auto it = cache_.find(key);
      return it != cache_.end() && it->second.state == "linked";
    });
    if (!ready) {
      if (--update.batches_left > 0) still_waiting.push_back(std::move(update));
      continue;
    }
    const SatusehatOrganization* org = profile_.find(update.row.organization);
    auto own = cache_.find(keyOf(update.row.type, update.row.id));
    if (org == nullptr || own == cache_.end() || own->second.state != "linked") continue;
    ShapeContext context;
    context.organization = org;
    context.timezone_offset = timezone_offset_;
    context.platform_id = own->second.platform_id;
    for (const auto& [type, id] : resourceReferences(update.row.body)) {
      auto it = cache_.find(keyOf(type, id));
      if (it != cache_.end() && it->second.state == "linked") context.links[keyOf(type, id)] = it->second.platform_id;
    }
    Shaped shaped = shapeForPlatform(update.row.type, update.row.id, update.row.body, context);
    if (shaped.problem || !shaped.unresolved.empty()) continue;
    Answer answer = call(*org, Method::kPut, "/Encounter/" + context.platform_id, shaped.json);
    if (answer.transport_failed || answer.reply.status < 200 || answer.reply.status >= 300) {
      // The diagnoses stay on their Conditions; the next version of the
      // visit carries the list again.
      logLine(LogLevel::kWarning, "satusehat: adding the diagnoses to Encounter/" + update.row.id + " failed: " +
                                      (answer.transport_failed ? answer.transport_error
                                                               : "HTTP " + std::to_string(answer.reply.status)));
      if (answer.transport_failed) resetConnections();
    }
  }
  diagnosis_updates_ = std::move(still_waiting);

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

Status SatusehatForwarder::flush() {
  if (unwritten_.empty()) return Status::ok();
  Status s = links_.writeLinks(unwritten_);
  if (s.isOk()) unwritten_.clear();
  return s;
}

Status SatusehatForwarder::ensureToken(const SatusehatOrganization& org, bool force) {
  Token& token = tokens_[org.organization];
  if (!force && !token.value.empty() && nowMs() < token.refresh_at_ms) return Status::ok();
  token.value.clear();
  if (!auth_client_) {
    auth_client_ = std::make_unique<http::Client>(auth_origin_, http::ClientOptions{config_.ca_file, config_.timeout_s});
  }
  std::string body = "client_id=" + percentEncode(org.client_id) + "&client_secret=" + percentEncode(org.client_secret);
  auto reply = auth_client_->post(auth_path_ + "/accesstoken?grant_type=client_credentials", {}, body,
                                  "application/x-www-form-urlencoded");
  if (!reply.isOk()) {
    auth_client_.reset();
    return Status(StatusCode::kUnavailable, "SATUSEHAT token endpoint: " + reply.status().message());
  }
  if (reply->status != 200) {
    return Status(StatusCode::kUnavailable,
                  "SATUSEHAT token endpoint answered " + std::to_string(reply->status) + " for the client of puskesmas " +
                      org.organization + (reply->status == 401 ? " (client_id or secret refused)" : ""));
  }
  auto answer = parsePlatformToken(reply->body);
  if (!answer) return Status(StatusCode::kUnavailable, "SATUSEHAT token endpoint: no access_token in the answer");
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
    } else if (auto known = link(key, true); known && known->state == "linked" && !known->platform_id.empty()) {
      context.links[key] = known->platform_id;
    }
  }
  auto own = link(keyOf(row.type, row.id));
  if (own && own->state == "linked") context.platform_id = own->platform_id;
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
  if (create) {
    rapidjson::Document created;
    std::string platform_id;
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
    remember(PlatformLink{row.type, row.id, row.organization, "linked", platform_id, "", "", 0});
  } else if (!own || own->state != "linked") {
    remember(PlatformLink{row.type, row.id, row.organization, "linked", context.platform_id, "", "", 0});
  }
  // A newer version of the same Encounter replaces a pending update.
  diagnosis_updates_.erase(std::remove_if(diagnosis_updates_.begin(), diagnosis_updates_.end(),
                                          [&](const DiagnosisUpdate& u) { return u.row.id == row.id && u.row.type == row.type; }),
                           diagnosis_updates_.end());
  if (!shaped.left_out.empty()) diagnosis_updates_.push_back(DiagnosisUpdate{row, shaped.left_out, 20});
  return SendOutcome::kSent;
}

}  // namespace ilpgw
