// A store that cannot take writes answers the same way on every route: 503,
// Retry-After and one OperationOutcome text, while reads keep answering
// (WAL readers are not blocked by the writer's lock). The fault is real:
// this process holds SQLite's write lock on the running gateway's database,
// as a backup tool or a stuck second writer would.
#include <gtest/gtest.h>

#include <future>
#include <stdexcept>
#include <string>
#include <vector>

#include "durability_helpers.h"
#include "fhir/outcome.h"
#include "sqlite_write_lock.h"
#include "test_support.h"

namespace ilpgw {
namespace {

using testing::GatewayProcess;

constexpr const char* kFhirJson = "application/fhir+json";

struct Answer {
  std::string route;
  int status = 0;
  std::string retry_after;
  std::string body;
};

std::string patientBody(const std::string& id_member) {
  return R"({"resourceType":"Patient",)" + id_member +
         R"("identifier":[{"system":"https://fhir.kemkes.go.id/id/nik","value":"3201010101010001"}],)"
         R"("name":[{"family":"Uji","given":["Coba"]}],"gender":"female","birthDate":"1990-01-01"})";
}

// The quarantined twin of a visit: a screening the bundled mappings do not know.
std::string unmappableVisit(int n) {
  std::string visit = testing::distinctVisit(n);
  testing::replaceOnce(visit, R"({ "jenis": "merokok", "hasil": "negatif" })",
                       R"({ "jenis": "kusta", "hasil": "negatif" })");
  return visit;
}

void expectUnavailable(const Answer& answer) {
  SCOPED_TRACE(answer.route);
  EXPECT_EQ(answer.status, 503) << answer.body;
  EXPECT_EQ(answer.retry_after, std::to_string(kRetryAfterSeconds));
  auto doc = testing::parseJson(answer.body);
  ASSERT_TRUE(doc.IsObject() && doc.HasMember("issue")) << answer.body;
  EXPECT_EQ(std::string(json::string(doc, "resourceType")), "OperationOutcome");
  const auto& issue = doc["issue"][0];
  EXPECT_EQ(std::string(json::string(issue, "severity")), "error");
  EXPECT_EQ(std::string(json::string(issue, "code")), "transient");
  EXPECT_EQ(std::string(json::string(issue, "diagnostics")), std::string(kUnavailableText));
  EXPECT_EQ(answer.body.find("locked"), std::string::npos) << "the cause stays in the log";
}

TEST(StoreUnavailableTest, EveryWriteRouteAnswers503WithRetryAfterAndReadsKeepWorking) {
  GatewayProcess gateway;
  auto client = gateway.client();
  auto seeded = client->Post("/ingest/epuskesmas-json", "[" + testing::distinctVisit(1) + "," + unmappableVisit(2) + "]",
                             "application/json");
  ASSERT_TRUE(seeded);
  ASSERT_EQ(seeded->status, 201) << seeded->body;
  auto open = testing::parseJson(client->Get("/admin/quarantine?status=open")->body);
  ASSERT_GE(open["entries"].Size(), 1u);
  std::string entry = std::to_string(open["entries"][0]["id"].GetInt64());

  testing::SqliteWriteLock lock(gateway.dataDir() + "/gateway.db");
  // The writer waits its busy timeout for the lock on every request, so the
  // requests run side by side.
  auto send = [&](std::string route, std::function<httplib::Result(httplib::Client&)> call) {
    return std::async(std::launch::async, [&gateway, route, call] {
      auto own = gateway.client();
      auto res = call(*own);
      Answer answer;
      answer.route = route;
      if (res) {
        answer.status = res->status;
        answer.retry_after = res->get_header_value("Retry-After");
        answer.body = res->body;
      }
      return answer;
    });
  };
  std::vector<std::future<Answer>> writes;
  writes.push_back(send("POST /ingest/epuskesmas-json", [](httplib::Client& c) {
    return c.Post("/ingest/epuskesmas-json", testing::distinctVisit(3), "application/json");
  }));
  writes.push_back(send("POST /fhir/Patient",
                        [](httplib::Client& c) { return c.Post("/fhir/Patient", patientBody(""), kFhirJson); }));
  writes.push_back(send("PUT /fhir/Patient/p-1", [](httplib::Client& c) {
    return c.Put("/fhir/Patient/p-1", patientBody(R"("id":"p-1",)"), kFhirJson);
  }));
  writes.push_back(send("POST /fhir (transaction)", [](httplib::Client& c) {
    return c.Post("/fhir",
                  R"({"resourceType":"Bundle","type":"transaction","entry":[{"resource":)" + patientBody("") +
                      R"(,"request":{"method":"POST","url":"Patient"}}]})",
                  kFhirJson);
  }));
  writes.push_back(send("POST /admin/quarantine/{id}/$reprocess", [entry](httplib::Client& c) {
    return c.Post(("/admin/quarantine/" + entry + "/$reprocess").c_str(), "", "application/json");
  }));
  writes.push_back(send("POST /admin/outbox/$resend",
                        [](httplib::Client& c) { return c.Post("/admin/outbox/$resend", "", "application/json"); }));

  // Reads while the writes wait: the store is still readable.
  auto search = client->Get("/fhir/Patient?_count=5");
  ASSERT_TRUE(search);
  EXPECT_EQ(search->status, 200) << search->body;
  auto quarantine = client->Get("/admin/quarantine");
  ASSERT_TRUE(quarantine);
  EXPECT_EQ(quarantine->status, 200) << quarantine->body;

  for (auto& write : writes) expectUnavailable(write.get());
  auto summary = testing::parseJson(client->Get("/fhir/Patient?_summary=count")->body);
  EXPECT_EQ(summary["total"].GetInt64(), 1) << "nothing was stored while the store answered 503";

  lock.release();
  auto retried = client->Post("/ingest/epuskesmas-json", testing::distinctVisit(3), "application/json");
  ASSERT_TRUE(retried);
  EXPECT_EQ(retried->status, 201) << retried->body;
  EXPECT_NE(gateway.log().find("database is locked"), std::string::npos) << "the log names the cause";
}

TEST(ErrorAnswerTest, InternalErrorsNeverCarryTheirMessage) {
  ErrorAnswer answer = errorAnswer(Status(StatusCode::kInternal, "SELECT * FROM resource_version: disk I/O error"));
  EXPECT_EQ(answer.http_status, 500);
  EXPECT_EQ(answer.body.find("resource_version"), std::string::npos) << answer.body;
  EXPECT_NE(answer.body.find(std::string(kInternalText)), std::string::npos) << answer.body;
  EXPECT_TRUE(answer.headers.empty());
}

TEST(ErrorAnswerTest, EachCodeAnswersItsHttpStatusAndIssueType) {
  struct Case {
    StatusCode code;
    int http;
    const char* issue;
  };
  for (const Case& c : {Case{StatusCode::kInvalidArgument, 400, "invalid"}, Case{StatusCode::kUnauthenticated, 401, "login"},
                        Case{StatusCode::kPermissionDenied, 403, "forbidden"}, Case{StatusCode::kNotFound, 404, "not-found"},
                        Case{StatusCode::kConflict, 409, "conflict"}, Case{StatusCode::kPreconditionFailed, 412, "conflict"},
                        Case{StatusCode::kTooLarge, 413, "too-costly"},
                        Case{StatusCode::kUnsupportedMedia, 415, "not-supported"},
                        Case{StatusCode::kUnprocessable, 422, "processing"},
                        Case{StatusCode::kTooManyRequests, 429, "throttled"},
                        Case{StatusCode::kUnavailable, 503, "transient"}}) {
    ErrorAnswer answer = errorAnswer(Status(c.code, "why"), "Patient.birthDate");
    EXPECT_EQ(answer.http_status, c.http);
    auto doc = testing::parseJson(answer.body);
    EXPECT_EQ(std::string(json::string(doc["issue"][0], "code")), c.issue) << c.http;
    EXPECT_EQ(std::string(doc["issue"][0]["expression"][0].GetString()), "Patient.birthDate");
    if (c.code != StatusCode::kUnavailable) {
      EXPECT_EQ(std::string(json::string(doc["issue"][0], "diagnostics")), "why");
    }
  }
}

}  // namespace
}  // namespace ilpgw
