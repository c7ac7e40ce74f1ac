// Helpers shared by the durability tests: distinct visits, polling, reading
// the gateway's answers.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "base/json.h"
#include "test_support.h"

namespace ilpgw::testing {

inline std::string exampleVisit() { return readFile(sourceDir() + "/docs/examples/epuskesmas-visit.json"); }

inline void replaceOnce(std::string& text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  if (at == std::string::npos) throw std::runtime_error("fixture text not found: " + from);
  text.replace(at, from.size(), to);
}

// Visit number `n` (1..9999): its own visit id and its own patient (NIK
// serial), the same practitioner as every other visit.
inline std::string distinctVisit(int n) {
  std::string visit = exampleVisit();
  char serial[8];
  std::snprintf(serial, sizeof serial, "%04d", n % 10000);
  replaceOnce(visit, "KJ-2024-007781", "KJ-D-" + std::to_string(n));
  replaceOnce(visit, "\"nik\": \"6203011204580003\"", std::string("\"nik\": \"620301120458") + serial + "\"");
  replaceOnce(visit, "\"no_rm\": \"00031452\"", "\"no_rm\": \"D" + std::to_string(n) + "\"");
  return visit;
}

inline bool waitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

inline rapidjson::Document parseJson(const std::string& body) {
  rapidjson::Document doc;
  auto error = json::parse(body, doc);
  EXPECT_FALSE(error.has_value()) << *error << "\n" << body;
  return doc;
}

// Locations (Type/id/_history/v) of a batch-response Bundle.
inline std::vector<std::string> bundleLocations(const std::string& body) {
  std::vector<std::string> out;
  auto doc = parseJson(body);
  if (!doc.IsObject() || !doc.HasMember("entry")) return out;
  for (const auto& entry : doc["entry"].GetArray()) {
    const auto& response = entry["response"];
    if (response.HasMember("location")) out.emplace_back(response["location"].GetString());
  }
  return out;
}

// GET /ready as JSON (Null document when unreachable).
inline rapidjson::Document readyState(const GatewayProcess& gateway) {
  rapidjson::Document doc;
  auto res = gateway.client()->Get("/ready");
  if (res) (void)json::parse(res->body, doc);
  return doc;
}

inline std::int64_t outboxCount(const GatewayProcess& gateway, const char* what) {
  auto ready = readyState(gateway);
  if (!ready.IsObject() || !ready.HasMember("outbox") || !ready["outbox"].HasMember(what)) return -1;
  return ready["outbox"][what].GetInt64();
}

}  // namespace ilpgw::testing
