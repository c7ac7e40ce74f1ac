#include "http/request_log.h"

#include <chrono>

#include "base/crypto.h"
#include "base/log.h"
#include "http/metrics_routes.h"

namespace ilpgw {
namespace {

using Clock = std::chrono::steady_clock;

// One request at a time per worker thread (cpp-httplib serves a connection's
// requests one after the other on one thread).
struct Current {
  bool started = false;
  Clock::time_point at;
  std::string id;
  std::string client_id;
};
thread_local Current t_current;

bool safeChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == ':' || c == '+' || c == '=' || c == '/' || c == '@';
}

void ensureStarted() {
  if (t_current.started) return;
  t_current = Current{};
  t_current.started = true;
  t_current.at = Clock::now();
  t_current.id = newRequestId();
}

}  // namespace

std::string acceptedRequestId(std::string_view value) {
  if (value.empty() || value.size() > kRequestIdMaxLength) return "";
  size_t digits = 0;
  for (char c : value) {
    if (!safeChar(c)) return "";
    digits = c >= '0' && c <= '9' ? digits + 1 : 0;
    if (digits >= 8) return "";
  }
  return std::string(value);
}

std::string newRequestId() {
  std::string bytes = randomBytes(24);
  std::string id(bytes.size(), 'a');
  // 24 letters from 256 values each: 256 = 9*26 + 22, a negligible bias.
  for (size_t i = 0; i < bytes.size(); ++i) id[i] = static_cast<char>('a' + static_cast<unsigned char>(bytes[i]) % 26);
  return id;
}

void requestStarted(const httplib::Request& req) {
  t_current = Current{};
  t_current.started = true;
  t_current.at = Clock::now();
  t_current.id = acceptedRequestId(req.get_header_value("X-Request-ID"));
  if (t_current.id.empty()) t_current.id = newRequestId();
}

const std::string& requestId() {
  ensureStarted();
  return t_current.id;
}

void requestAnswering(httplib::Response& res, std::string_view client_id) {
  ensureStarted();  // a request refused before its head was complete still gets an id
  if (!client_id.empty()) t_current.client_id = std::string(client_id);
  res.set_header("X-Request-ID", t_current.id);
}

void requestFinished(const httplib::Request& req, const httplib::Response& res) {
  ensureStarted();
  Current done = std::move(t_current);
  t_current = Current{};
  // Text logs stay short on a busy gateway (debug); journald gets every request.
  LogLevel level = logFormat() == LogFormat::kJson ? LogLevel::kInfo : LogLevel::kDebug;
  if (!logEnabled(level)) return;
  std::string route = routePattern(req.path);
  auto latency_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - done.at).count();
  std::string method = req.method.size() <= 16 ? req.method : req.method.substr(0, 16);
  logLine(level, method + " " + route + " " + std::to_string(res.status),
          {{"request_id", done.id},
           {"client_id", done.client_id.empty() ? std::string_view("anonymous") : std::string_view(done.client_id)},
           {"method", method},
           {"route", route},
           {"status", res.status},
           {"latency_ms", static_cast<std::int64_t>(latency_ms)}});
}

}  // namespace ilpgw
