// Request ids and JSON logs of a real gateway over real TLS: the caller's
// X-Request-ID is echoed (or a new one made) and lands on the request's
// AuditEvent and log line; hostile ids (newlines, quotes, control bytes,
// 10 KB, a NIK) are replaced and cannot break the JSON lines; every line on
// stdout parses as JSON, and no NIK, name, token or secret appears in it.
#include <gtest/gtest.h>

#include <strings.h>

#include <cstdio>
#include <set>
#include <sstream>

#include "base/json.h"
#include "durability_helpers.h"
#include "http/request_log.h"
#include "test_support.h"

namespace ilpgw {
namespace {

using testing::GatewayOptions;
using testing::GatewayProcess;

bool isGeneratedId(const std::string& id) {
  if (id.size() != 24) return false;
  for (char c : id) {
    if (c < 'a' || c > 'z') return false;
  }
  return true;
}

GatewayOptions jsonLogs() {
  GatewayOptions options;
  options.auth = true;
  options.extra_config = R"("log": {"format": "json"})";
  return options;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Sends `request` as it is (bytes no HTTP client library would send) over
// TLS with `openssl s_client`; returns the raw answer.
std::string rawTlsExchange(int port, const std::string& request) {
  testing::TempDir dir;
  testing::writeFile(dir.file("request"), request);
  std::string command = "openssl s_client -quiet -connect 127.0.0.1:" + std::to_string(port) +
                        " -servername localhost < " + dir.file("request") + " 2>/dev/null";
  int exit_code = 0;
  return testing::runShell(command, exit_code);
}

std::string headerOf(const std::string& answer, const std::string& name) {
  for (const auto& line : lines(answer.substr(0, answer.find("\r\n\r\n")))) {
    if (line.size() > name.size() + 1 && strncasecmp(line.c_str(), (name + ":").c_str(), name.size() + 1) == 0) {
      std::string value = line.substr(name.size() + 1);
      while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
      while (!value.empty() && (value.back() == '\r')) value.pop_back();
      return value;
    }
  }
  return "";
}

TEST(RequestIdTest, AcceptsOnlySafeBoundedIds) {
  EXPECT_EQ(acceptedRequestId("3f2b9c1e-7d4a-4c55-9a0e-2b7f6d1c8e90"), "3f2b9c1e-7d4a-4c55-9a0e-2b7f6d1c8e90");
  EXPECT_EQ(acceptedRequestId("sim.pus:42/batch=7+a@b_c"), "sim.pus:42/batch=7+a@b_c");
  EXPECT_EQ(acceptedRequestId(std::string(kRequestIdMaxLength, 'x')), std::string(kRequestIdMaxLength, 'x'));
  EXPECT_EQ(acceptedRequestId(std::string(kRequestIdMaxLength + 1, 'x')), "");
  EXPECT_EQ(acceptedRequestId(""), "");
  EXPECT_EQ(acceptedRequestId("a b"), "");
  EXPECT_EQ(acceptedRequestId("a\"b"), "");
  EXPECT_EQ(acceptedRequestId("a\nb"), "");
  EXPECT_EQ(acceptedRequestId("caf\xc3\xa9"), "");
  EXPECT_EQ(acceptedRequestId("nik-6203011204580003"), "") << "eight or more digits in a row could be a NIK";
  EXPECT_EQ(acceptedRequestId("1234567-x"), "1234567-x");
  std::set<std::string> made;
  for (int i = 0; i < 100; ++i) {
    std::string id = newRequestId();
    EXPECT_TRUE(isGeneratedId(id)) << id;
    EXPECT_EQ(acceptedRequestId(id), id);
    made.insert(id);
  }
  EXPECT_EQ(made.size(), 100u);
}

TEST(RequestLogTest, IdIsEchoedOrMadeAndReachesTheAuditEventAndTheLogLine) {
  GatewayOptions options = jsonLogs();
  GatewayProcess gateway(options);
  auto clinic = gateway.addClient("clinic", options.organization_id);
  std::string token = gateway.fetchToken(clinic);
  std::string admin = gateway.token("admin");

  auto echoed = gateway.client()->Get("/fhir/metadata", {{"X-Request-ID", "simpus-7.batch:3"}});
  ASSERT_TRUE(echoed);
  EXPECT_EQ(echoed->get_header_value("X-Request-ID"), "simpus-7.batch:3");
  auto first = gateway.client()->Get("/health");
  auto second = gateway.client()->Get("/health");
  ASSERT_TRUE(first && second);
  EXPECT_TRUE(isGeneratedId(first->get_header_value("X-Request-ID"))) << first->get_header_value("X-Request-ID");
  EXPECT_NE(first->get_header_value("X-Request-ID"), second->get_header_value("X-Request-ID"));
  auto unknown = gateway.client(token)->Get("/no/such/route", {{"X-Request-ID", "lost-1"}});
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(unknown->get_header_value("X-Request-ID"), "lost-1") << "errors carry the id too";

  // A write: its AuditEvent is committed with the data and names the id.
  auto posted = gateway.client(token)->Post("/ingest/epuskesmas-json", {{"X-Request-ID", "visit-post-1"}},
                                            testing::distinctVisit(1), "application/json");
  ASSERT_TRUE(posted);
  ASSERT_EQ(posted->status, 201) << posted->body;
  EXPECT_EQ(posted->get_header_value("X-Request-ID"), "visit-post-1");
  auto bundle = testing::parseJson(posted->body);
  std::string patient;
  for (const auto& entry : bundle["entry"].GetArray()) {
    std::string location = entry["response"]["location"].GetString();
    if (location.rfind("Patient/", 0) == 0) patient = location.substr(0, location.find("/_history"));
  }
  ASSERT_FALSE(patient.empty()) << posted->body;
  // A read: audited after the answer, with the id.
  auto read = gateway.client(token)->Get(("/fhir/" + patient).c_str(), {{"X-Request-ID", "read-back-1"}});
  ASSERT_TRUE(read);
  ASSERT_EQ(read->status, 200);

  for (const char* id : {"visit-post-1", "read-back-1"}) {
    bool found = testing::waitFor(
        [&] {
          auto events = gateway.client(admin)->Get(("/fhir/AuditEvent?agent=" + clinic.id + "&_count=50").c_str());
          if (!events || events->status != 200) return false;
          auto doc = testing::parseJson(events->body);
          for (const auto& entry : doc["entry"].GetArray()) {
            const auto& event = entry["resource"];
            if (!event.HasMember("entity")) continue;
            for (const auto& entity : event["entity"].GetArray()) {
              if (entity.HasMember("type") && std::string(entity["type"]["code"].GetString()) == "XrequestId" &&
                  std::string(entity["what"]["identifier"]["value"].GetString()) == id) {
                return true;
              }
            }
          }
          return false;
        },
        std::chrono::seconds(5));
    EXPECT_TRUE(found) << "no AuditEvent with request id " << id;
  }

  // The log lines of those requests: route pattern, status, client, latency.
  auto lineOf = [&](const std::string& id) -> std::string {
    for (const auto& line : lines(gateway.output())) {
      if (line.find("\"request_id\":\"" + id + "\"") != std::string::npos) return line;
    }
    return "";
  };
  ASSERT_TRUE(testing::waitFor([&] { return !lineOf("read-back-1").empty(); }, std::chrono::seconds(5)))
      << gateway.output();
  auto line = testing::parseJson(lineOf("read-back-1"));
  EXPECT_STREQ(line["level"].GetString(), "info");
  EXPECT_STREQ(line["route"].GetString(), "/fhir/Patient/{id}");
  EXPECT_STREQ(line["method"].GetString(), "GET");
  EXPECT_STREQ(line["client_id"].GetString(), clinic.id.c_str());
  EXPECT_EQ(line["status"].GetInt64(), 200);
  EXPECT_GE(line["latency_ms"].GetInt64(), 0);
  auto post_line = testing::parseJson(lineOf("visit-post-1"));
  EXPECT_STREQ(post_line["route"].GetString(), "/ingest/{adapter}");
  EXPECT_EQ(post_line["status"].GetInt64(), 201);
  auto open_line = testing::parseJson(lineOf("simpus-7.batch:3"));
  EXPECT_STREQ(open_line["client_id"].GetString(), "anonymous");
  EXPECT_STREQ(open_line["route"].GetString(), "/fhir/metadata");
  EXPECT_EQ(gateway.output().find(patient.substr(8)), std::string::npos) << "a resource id in the log";
}

TEST(RequestLogTest, HostileIdsAreReplacedAndEveryLineStaysJsonWithoutSecrets) {
  GatewayOptions options = jsonLogs();
  GatewayProcess gateway(options);
  auto clinic = gateway.addClient("clinic", options.organization_id);
  std::string token = gateway.fetchToken(clinic);
  std::string visit = testing::distinctVisit(2);
  const std::string nik = "6203011204580002";  // distinctVisit(2)'s NIK
  ASSERT_NE(visit.find(nik), std::string::npos);

  // Through a normal client: quotes, backslashes, control bytes, UTF-8, a NIK, 10 KB.
  const std::vector<std::string> hostile = {"\"}{\"level\":\"error\"", "back\\slash", std::string("ctl\x01\x7f", 5),
                                            "tab\there", "caf\xc3\xa9", nik, std::string(10 * 1024, 'A')};
  for (const auto& id : hostile) {
    auto res = gateway.client(token)->Post("/ingest/epuskesmas-json", {{"X-Request-ID", id}}, visit, "application/json");
    ASSERT_TRUE(res);
    EXPECT_TRUE(res->status == 201 || res->status == 200 || res->status == 400 || res->status == 431) << res->status;
    EXPECT_TRUE(isGeneratedId(res->get_header_value("X-Request-ID")))
        << "kept " << res->get_header_value("X-Request-ID").substr(0, 40);
  }
  // Raw bytes no client library sends: a bare LF inside the header, a header
  // folded onto the next line, a NUL.
  std::string port = std::to_string(gateway.port());
  const std::vector<std::string> raw = {
      "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-ID: a\nforged\"line\r\nConnection: close\r\n\r\n",
      "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-ID: first\r\n second\"}\r\nConnection: close\r\n\r\n",
      std::string("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-ID: nul") + '\0' +
          "byte\r\nConnection: close\r\n\r\n"};
  for (const auto& request : raw) {
    std::string answer = rawTlsExchange(gateway.port(), request);
    ASSERT_EQ(answer.rfind("HTTP/1.1 ", 0), 0u) << answer;
    std::string id = headerOf(answer, "X-Request-ID");
    // Either a new id or the safe part before the break (a, first, nul):
    // never what came after it.
    EXPECT_EQ(acceptedRequestId(id), id) << id;
    for (const char* after : {"forged", "second", "byte"}) EXPECT_EQ(id.find(after), std::string::npos) << id;
  }
  gateway.client(token)->Get("/fhir/Patient?_count=1");
  ASSERT_EQ(gateway.terminate(), 0);

  std::string output = gateway.output();
  size_t request_lines = 0;
  for (const auto& line : lines(output)) {
    rapidjson::Document doc;
    ASSERT_FALSE(json::parse(line, doc).has_value()) << "not JSON: " << line;
    ASSERT_TRUE(doc.IsObject()) << line;
    for (const char* key : {"time", "level", "message"}) {
      ASSERT_TRUE(doc.HasMember(key) && doc[key].IsString()) << key << " missing: " << line;
    }
    if (doc.HasMember("request_id")) {
      ++request_lines;
      std::string id = doc["request_id"].GetString();
      EXPECT_FALSE(acceptedRequestId(id).empty()) << line;
      EXPECT_TRUE(doc["status"].IsInt64() && doc["latency_ms"].IsInt64()) << line;
      EXPECT_TRUE(doc["route"].IsString() && doc["client_id"].IsString()) << line;
    }
  }
  EXPECT_GE(request_lines, hostile.size() + raw.size() + 1) << output;
  for (const std::string& secret : {nik, std::string("SUPARNO"), token, clinic.secret}) {
    EXPECT_EQ(output.find(secret), std::string::npos) << "log carries " << secret.substr(0, 6) << "...";
    EXPECT_EQ(gateway.log().find(secret), std::string::npos) << "stderr carries " << secret.substr(0, 6) << "...";
  }
  EXPECT_EQ(output.find("forged"), std::string::npos);
  EXPECT_EQ(output.find(std::string(64, 'A')), std::string::npos);
}

}  // namespace
}  // namespace ilpgw
