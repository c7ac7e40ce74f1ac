#include "http/admin_routes.h"

#include <ctime>

#include "base/json.h"
#include "base/log.h"
#include "forward/outbox_sender.h"
#include "fhir/outcome.h"
#include "http/errors.h"
#include "ingest/quarantine.h"

namespace ilpgw {
namespace {

constexpr const char* kJson = "application/json";
constexpr int kMaxPage = 1000;

// Non-negative integer query parameter; `fallback` when absent; nullopt when malformed.
std::optional<std::int64_t> intParam(const httplib::Request& req, const char* name, std::int64_t fallback) {
  if (!req.has_param(name)) return fallback;
  std::string text = req.get_param_value(name);
  if (text.empty() || text.size() > 18) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  return std::stoll(text);
}

void handleQuarantineList(Gateway& gateway, const httplib::Request& req, httplib::Response& res) {
  QuarantineFilter filter;
  filter.status = req.get_param_value("status");
  filter.adapter = req.get_param_value("adapter");
  auto after = intParam(req, "after", 0);
  auto count = intParam(req, "_count", 100);
  if (!after || !count || *count < 1 || *count > kMaxPage) {
    sendStatus(res, {StatusCode::kInvalidArgument, "after and _count must be numbers, _count 1.." + std::to_string(kMaxPage)});
    return;
  }
  if (!filter.status.empty() && filter.status != "open" && filter.status != "resolved") {
    sendStatus(res, {StatusCode::kInvalidArgument, "status must be open or resolved"});
    return;
  }
  filter.after_id = *after;
  filter.limit = static_cast<int>(*count);
  auto page = gateway.store().listQuarantine(filter);
  if (!page.isOk()) return sendStatus(res, page.status());
  std::string body = "{\"entries\":[";
  for (size_t i = 0; i < page.value().size(); ++i) {
    if (i > 0) body += ",";
    body += quarantineEntryJson(page.value()[i], false);
  }
  body += "]";
  if (static_cast<int>(page.value().size()) == filter.limit) {
    std::string next = "/admin/quarantine?after=" + std::to_string(page.value().back().id) +
                       "&_count=" + std::to_string(filter.limit);
    if (!filter.status.empty()) next += "&status=" + filter.status;
    if (!filter.adapter.empty()) next += "&adapter=" + httplib::detail::encode_query_param(filter.adapter);
    rapidjson::Document d;
    body += ",\"next\":" + json::write(json::str(next, d.GetAllocator()));
  }
  body += "}";
  res.set_content(body, kJson);
}

void handleQuarantineRead(Gateway& gateway, const httplib::Request& req, httplib::Response& res) {
  auto found = gateway.store().readQuarantine(std::stoll(req.matches[1]));
  if (!found.isOk()) return sendStatus(res, found.status());
  if (!found.value()) {
    sendStatus(res, {StatusCode::kNotFound, "quarantine entry " + std::string(req.matches[1]) + " does not exist"});
    return;
  }
  res.set_content(quarantineEntryJson(*found.value(), true), kJson);
}

void handlePayloadRead(Gateway& gateway, const httplib::Request& req, httplib::Response& res) {
  auto found = gateway.store().readPayload(std::stoll(req.matches[1]));
  if (!found.isOk()) return sendStatus(res, found.status());
  if (!found.value()) {
    sendStatus(res, {StatusCode::kNotFound, "payload " + std::string(req.matches[1]) + " does not exist"});
    return;
  }
  const StoredPayload& p = *found.value();
  res.set_header("X-Adapter", p.adapter);
  res.set_header("X-Received-At", p.received_at);
  res.set_content(p.body, p.content_type.empty() ? "application/octet-stream" : p.content_type.c_str());
}

void handleReprocessOne(Gateway& gateway, const httplib::Request& req, httplib::Response& res) {
  ReprocessResult r = reprocessQuarantine(gateway, std::stoll(req.matches[1]));
  res.status = r.http_status;
  for (const auto& [name, value] : r.headers) res.set_header(name.c_str(), value);
  if (r.http_status >= 500) {
    // The store failed: the same OperationOutcome as on every other route.
    res.set_content(r.outcome_json, "application/fhir+json");
    return;
  }
  res.set_content(reprocessResultJson(r), kJson);
}

void handleReprocessBulk(Gateway& gateway, const httplib::Request& req, httplib::Response& res) {
  QuarantineFilter filter;
  filter.adapter = req.get_param_value("adapter");
  auto max = intParam(req, "max", 1000);
  if (!max || *max < 1 || *max > 100000) {
    sendStatus(res, {StatusCode::kInvalidArgument, "max must be a number 1..100000"});
    return;
  }
  auto results = reprocessQuarantineMatching(gateway, filter, static_cast<int>(*max));
  if (results.size() == 1 && results[0].id == 0 && results[0].http_status != 200) {
    // The store failed before any entry was reached: the request failed as a whole.
    res.status = results[0].http_status;
    for (const auto& [name, value] : results[0].headers) res.set_header(name.c_str(), value);
    res.set_content(results[0].outcome_json, "application/fhir+json");
    return;
  }
  res.set_content(reprocessSummaryJson(results), kJson);
}

std::string outboxItemJson(const OutboxItem& item) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("seq", item.seq, a);
  doc.AddMember("resource", json::str(item.type + "/" + item.id + "/_history/" + std::to_string(item.version), a), a);
  doc.AddMember("state", json::str(item.state, a), a);
  doc.AddMember("attempts", item.attempts, a);
  doc.AddMember("createdAt", json::str(item.created_at, a), a);
  if (!item.last_error.empty()) doc.AddMember("lastError", json::str(item.last_error, a), a);
  if (item.http_status != 0) doc.AddMember("httpStatus", item.http_status, a);
  if (!item.outcome_json.empty()) {
    rapidjson::Document outcome(&a);
    if (!json::parse(item.outcome_json, outcome)) {
      rapidjson::Value copy(outcome, a);
      doc.AddMember("outcome", copy, a);
    }
  }
  if (item.state == "dead") {
    doc.AddMember("resend", json::str("/admin/outbox/" + std::to_string(item.seq) + "/$resend", a), a);
  }
  return json::write(doc);
}

void handleOutboxList(Gateway& gateway, const httplib::Request& req, httplib::Response& res) {
  std::string state = req.get_param_value("state");
  auto after = intParam(req, "after", 0);
  auto count = intParam(req, "_count", 100);
  if (!after || !count || *count < 1 || *count > kMaxPage) {
    sendStatus(res, {StatusCode::kInvalidArgument, "after and _count must be numbers, _count 1.." + std::to_string(kMaxPage)});
    return;
  }
  if (!state.empty() && state != "pending" && state != "dead") {
    sendStatus(res, {StatusCode::kInvalidArgument, "state must be pending or dead"});
    return;
  }
  auto page = gateway.store().listOutbox(state, *after, static_cast<int>(*count));
  if (!page.isOk()) return sendStatus(res, page.status());
  std::string body = "{\"entries\":[";
  for (size_t i = 0; i < page.value().size(); ++i) {
    if (i > 0) body += ",";
    body += outboxItemJson(page.value()[i]);
  }
  body += "]";
  if (static_cast<std::int64_t>(page.value().size()) == *count) {
    body += ",\"next\":\"/admin/outbox?after=" + std::to_string(page.value().back().seq) +
            "&_count=" + std::to_string(*count) + (state.empty() ? "" : "&state=" + state) + "\"";
  }
  body += "}";
  res.set_content(body, kJson);
}

// Records waiting for data the national platform lacks (a patient not in
// its master patient index yet), with the reason in plain words.
void handleWaitingList(Gateway& gateway, const httplib::Request& req, httplib::Response& res) {
  auto count = intParam(req, "_count", 100);
  if (!count || *count < 1 || *count > kMaxPage) {
    sendStatus(res, {StatusCode::kInvalidArgument, "_count must be a number 1.." + std::to_string(kMaxPage)});
    return;
  }
  std::string after = req.get_param_value("after");  // Type/id of the last entry of the previous page
  auto slash = after.find('/');
  std::string after_type = slash == std::string::npos ? "" : after.substr(0, slash);
  std::string after_id = slash == std::string::npos ? "" : after.substr(slash + 1);
  auto page = gateway.store().listLinks("waiting", after_type, after_id, static_cast<int>(*count));
  if (!page.isOk()) return sendStatus(res, page.status());
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  rapidjson::Value entries(rapidjson::kArrayType);
  for (const auto& link : page.value()) {
    rapidjson::Value e(rapidjson::kObjectType);
    std::string key = link.type + "/" + link.id;
    e.AddMember("resource", json::str(key, a), a);
    e.AddMember("organization", json::str(link.organization, a), a);
    e.AddMember("state", "menunggu", a);
    e.AddMember("reason", json::str(link.reason, a), a);
    e.AddMember("since", json::str(link.updated_at, a), a);
    e.AddMember("nextAttemptInSeconds", std::max<std::int64_t>(0, (link.next_check_ms - nowMs()) / 1000), a);
    e.AddMember("retry", json::str("/admin/outbox/waiting/" + key + "/$retry", a), a);
    entries.PushBack(e, a);
  }
  doc.AddMember("entries", entries, a);
  if (static_cast<std::int64_t>(page.value().size()) == *count) {
    const auto& last = page.value().back();
    doc.AddMember("next", json::str("/admin/outbox/waiting?after=" + last.type + "/" + last.id + "&_count=" +
                                        std::to_string(*count), a), a);
  }
  res.set_content(json::write(doc), kJson);
}

void handleWaitingRetry(Gateway& gateway, const std::string& type, const std::string& id, httplib::Response& res) {
  auto changed = gateway.store().retryWaiting(type, id);
  if (!changed.isOk()) return sendStatus(res, changed.status());
  if (!type.empty() && changed.value() == 0) {
    sendStatus(res, {StatusCode::kNotFound, type + "/" + id + " is not waiting"});
    return;
  }
  if (gateway.sender() != nullptr) gateway.sender()->notify();
  res.set_content("{\"retried\":" + std::to_string(changed.value()) + "}", kJson);
}

void handleResend(Gateway& gateway, std::int64_t seq, httplib::Response& res) {
  auto changed = gateway.store().resendOutbox(seq);
  if (!changed.isOk()) return sendStatus(res, changed.status());
  if (seq != 0 && changed.value() == 0) {
    sendStatus(res, {StatusCode::kNotFound, "outbox entry " + std::to_string(seq) + " is not a dead letter"});
    return;
  }
  if (gateway.sender() != nullptr) gateway.sender()->notify();
  res.set_content("{\"requeued\":" + std::to_string(changed.value()) + "}", kJson);
}

}  // namespace

std::int64_t secondsSince(const std::string& instant) {
  std::tm tm{};
  if (std::sscanf(instant.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec) != 6) {
    return -1;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::int64_t then = static_cast<std::int64_t>(timegm(&tm));
  return std::max<std::int64_t>(0, nowMs() / 1000 - then);
}

std::string readyJson(Gateway& gateway, bool& ready) {
  Status writable = gateway.store().checkWritable();
  auto set = gateway.adapters();
  ready = writable.isOk() && !set->adapters.empty();
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("status", rapidjson::StringRef(ready ? "ready" : "not-ready"), a);
  doc.AddMember("store", rapidjson::StringRef(writable.isOk() ? "writable" : "unavailable"), a);
  doc.AddMember("plugins", static_cast<int>(set->adapters.size()), a);
  rapidjson::Value outbox(rapidjson::kObjectType);
  outbox.AddMember("enabled", gateway.config().upstream.enabled, a);
  if (gateway.config().upstream.enabled) {
    auto stats = gateway.store().outboxStats();
    if (stats.isOk()) {
      outbox.AddMember("pending", stats->pending, a);
      outbox.AddMember("dead", stats->dead, a);
      if (gateway.config().upstream.profile == "satusehat") {
        // Records waiting for platform data (GET /admin/outbox/waiting), up to 1000 counted.
        auto waiting = gateway.store().listLinks("waiting", "", "", 1000);
        if (waiting.isOk()) outbox.AddMember("waiting", static_cast<std::int64_t>(waiting->size()), a);
      }
      outbox.AddMember("oldestPendingAgeSeconds",
                       stats->oldestPendingAgeSeconds(nowMs()), a);
      if (!stats->oldest_pending_at.empty()) {
        outbox.AddMember("oldestPendingAt", json::str(stats->oldest_pending_at, a), a);
      }
    }
    if (gateway.sender() != nullptr) {
      SenderStatus s = gateway.sender()->status();
      outbox.AddMember("sentSinceStart", s.sent, a);
      outbox.AddMember("deadLetteredSinceStart", s.dead_lettered, a);
      if (!s.last_sent_at.empty()) outbox.AddMember("lastSentAt", json::str(s.last_sent_at, a), a);
      if (!s.last_error.empty()) {
        outbox.AddMember("lastError", json::str(s.last_error, a), a);
        outbox.AddMember("lastErrorAt", json::str(s.last_error_at, a), a);
      }
      if (s.paused_until_ms > 0) {
        outbox.AddMember("pausedForMs", std::max<std::int64_t>(0, s.paused_until_ms - nowMs()), a);
      }
    }
  }
  doc.AddMember("outbox", outbox, a);
  return json::write(doc);
}

void registerAdminRoutes(httplib::Server& server, Gateway& gateway) {
  server.Get("/admin/quarantine", [&gateway](const httplib::Request& req, httplib::Response& res) {
    handleQuarantineList(gateway, req, res);
  });
  server.Get(R"(/admin/quarantine/([0-9]{1,18}))", [&gateway](const httplib::Request& req, httplib::Response& res) {
    handleQuarantineRead(gateway, req, res);
  });
  server.Post(R"(/admin/quarantine/([0-9]{1,18})/\$reprocess)",
              [&gateway](const httplib::Request& req, httplib::Response& res) {
                handleReprocessOne(gateway, req, res);
              });
  server.Post(R"(/admin/quarantine/\$reprocess)", [&gateway](const httplib::Request& req, httplib::Response& res) {
    handleReprocessBulk(gateway, req, res);
  });
  server.Get(R"(/admin/payloads/([0-9]{1,18}))", [&gateway](const httplib::Request& req, httplib::Response& res) {
    handlePayloadRead(gateway, req, res);
  });
  server.Get("/admin/outbox", [&gateway](const httplib::Request& req, httplib::Response& res) {
    handleOutboxList(gateway, req, res);
  });
  server.Post(R"(/admin/outbox/([0-9]{1,18})/\$resend)",
              [&gateway](const httplib::Request& req, httplib::Response& res) {
                handleResend(gateway, std::stoll(req.matches[1]), res);
              });
  server.Post(R"(/admin/outbox/\$resend)", [&gateway](const httplib::Request&, httplib::Response& res) {
    handleResend(gateway, 0, res);
  });
  server.Get("/admin/outbox/waiting", [&gateway](const httplib::Request& req, httplib::Response& res) {
    handleWaitingList(gateway, req, res);
  });
  server.Post(R"(/admin/outbox/waiting/\$retry)", [&gateway](const httplib::Request&, httplib::Response& res) {
    handleWaitingRetry(gateway, "", "", res);
  });
  server.Post(R"(/admin/outbox/waiting/([A-Za-z]{1,64})/([A-Za-z0-9\-\.]{1,64})/\$retry)",
              [&gateway](const httplib::Request& req, httplib::Response& res) {
                handleWaitingRetry(gateway, req.matches[1], req.matches[2], res);
              });
  server.Get("/ready", [&gateway](const httplib::Request&, httplib::Response& res) {
    bool ready = false;
    std::string body = readyJson(gateway, ready);
    res.status = ready ? 200 : 503;
    res.set_content(body, kJson);
  });
}

}  // namespace ilpgw
