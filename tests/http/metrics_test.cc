// GET /metrics over real TLS from a real gateway process: after known
// traffic every counter moved by exactly the known amount, the output passes
// `promtool check metrics`, and labels carry route patterns, never ids.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <sstream>

#include "durability_helpers.h"
#include "http/metrics_routes.h"
#include "test_support.h"

namespace ilpgw {
namespace {

using testing::GatewayOptions;
using testing::GatewayProcess;

// name{labels} -> value, for every sample line of an exposition.
std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

double value(const std::map<std::string, double>& s, const std::string& key) {
  auto it = s.find(key);
  return it == s.end() ? 0 : it->second;
}

std::string scrape(const GatewayProcess& gateway) {
  auto res = gateway.client()->Get("/metrics");
  EXPECT_TRUE(res);
  if (!res) return {};
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  return res->body;
}

std::string visitWithUnknownScreening(int n) {
  std::string visit = testing::distinctVisit(n);
  testing::replaceOnce(visit, R"({ "jenis": "merokok", "hasil": "negatif" })", R"({ "jenis": "kusta", "hasil": "negatif" })");
  return visit;
}

TEST(MetricsTest, CountersMoveByExactlyTheKnownTrafficAndPromtoolAcceptsThem) {
  GatewayOptions options;
  options.auth = true;
  GatewayProcess gateway(options);
  std::string token = gateway.token("clinic", options.organization_id);

  auto before = samples(scrape(gateway));
  auto client = gateway.client(token);
  for (int i = 1; i <= 3; ++i) {
    auto res = client->Post("/ingest/epuskesmas-json", testing::distinctVisit(i), "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 201) << res->body;
  }
  // One record stored, one refused into quarantine: 201 for the post.
  auto mixed = client->Post("/ingest/epuskesmas-json",
                            "[" + testing::distinctVisit(4) + "," + visitWithUnknownScreening(5) + "]",
                            "application/json");
  ASSERT_TRUE(mixed);
  ASSERT_EQ(mixed->status, 201) << mixed->body;
  auto stranger = gateway.client();
  stranger->set_bearer_token_auth("not-a-token");
  for (int i = 0; i < 2; ++i) {
    auto res = stranger->Get("/fhir/Patient/some-id");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401);
  }
  auto refused = gateway.client()->Post("/oauth2/token",
                                        "grant_type=client_credentials&client_id=nobody&client_secret=wrong",
                                        "application/x-www-form-urlencoded");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401);

  std::string text = scrape(gateway);
  auto after = samples(text);
  auto moved = [&](const std::string& key) { return value(after, key) - value(before, key); };
  EXPECT_EQ(moved(R"(ilpgw_http_requests_total{method="POST",route="/ingest/{adapter}",status="201"})"), 4);
  EXPECT_EQ(moved(R"(ilpgw_http_request_duration_seconds_count{route="/ingest/{adapter}"})"), 4);
  EXPECT_EQ(moved(R"(ilpgw_http_request_duration_seconds_bucket{route="/ingest/{adapter}",le="+Inf"})"), 4);
  EXPECT_EQ(moved(R"(ilpgw_http_requests_total{method="GET",route="/fhir/Patient/{id}",status="401"})"), 2);
  EXPECT_EQ(moved(R"(ilpgw_http_requests_total{method="POST",route="/oauth2/token",status="401"})"), 1);
  EXPECT_EQ(moved(R"(ilpgw_http_requests_total{method="GET",route="/metrics",status="200"})"), 1);  // the first scrape
  EXPECT_EQ(moved(R"(ilpgw_ingest_records_total{adapter="epuskesmas-json",result="accepted"})"), 4);
  EXPECT_EQ(moved(R"(ilpgw_ingest_records_total{adapter="epuskesmas-json",result="refused"})"), 1);
  EXPECT_EQ(moved("ilpgw_quarantine_open"), 1);
  EXPECT_EQ(moved(R"(ilpgw_auth_failures_total{kind="bearer"})"), 2);
  EXPECT_EQ(moved(R"(ilpgw_auth_failures_total{kind="token_request"})"), 1);
  EXPECT_GE(moved("ilpgw_store_commit_duration_seconds_count"), 4);  // audit-only commits come on top
  EXPECT_GE(moved("ilpgw_store_commit_batch_size_sum"), 4);
  // CPU time: every stage of the four stored posts took some, and the writer too.
  for (const char* stage : {"map", "validate", "index", "merge", "answer"}) {
    EXPECT_GT(moved(std::string(R"(ilpgw_ingest_cpu_seconds_total{stage=")") + stage + "\"}"), 0.0) << stage;
  }
  EXPECT_GT(moved("ilpgw_store_writer_cpu_seconds_total"), 0.0);
  EXPECT_GT(value(after, "process_resident_memory_bytes"), 1e6);
  EXPECT_GE(value(after, "ilpgw_http_open_connections"), 1);  // this scrape's own connection
  EXPECT_EQ(value(after, "ilpgw_outbox_pending"), 0);  // no upstream configured
  EXPECT_EQ(text.find("some-id"), std::string::npos) << "an id in a label";
  EXPECT_EQ(text.find(options.organization_id), std::string::npos) << "an organization in a label";

  testing::TempDir dir;
  testing::writeFile(dir.file("metrics.txt"), text);
  std::string command = "promtool check metrics < " + dir.file("metrics.txt") + " 2>&1";
  int exit_code = 0;
  std::string report = testing::runShell(command, exit_code);
  ASSERT_NE(exit_code, 127) << "promtool is missing: scripts/install-deps.sh installs Debian prometheus";
  EXPECT_EQ(exit_code, 0) << report << text;
}

TEST(MetricsTest, RoutePatternsNeverCarryIds) {
  EXPECT_EQ(routePattern("/fhir/Patient/p-123"), "/fhir/Patient/{id}");
  EXPECT_EQ(routePattern("/fhir/Patient/p-123/_history/7"), "/fhir/Patient/{id}/_history/{vid}");
  EXPECT_EQ(routePattern("/fhir/Patient"), "/fhir/Patient");
  EXPECT_EQ(routePattern("/fhir/NoSuchType/1"), "/fhir/{type}/{id}");
  EXPECT_EQ(routePattern("/fhir/Patient/$export"), "/fhir/Patient/$export");
  EXPECT_EQ(routePattern("/fhir/Patient/$anything-else"), "/fhir/Patient/{operation}");
  EXPECT_EQ(routePattern("/fhir/_export/0123456789abcdef0123456789abcdef/Patient.ndjson"),
            "/fhir/_export/{id}/{id}");
  EXPECT_EQ(routePattern("/ingest/simpus-csv"), "/ingest/{adapter}");
  EXPECT_EQ(routePattern("/admin/quarantine/42/$reprocess"), "/admin/quarantine/{id}/$reprocess");
  EXPECT_EQ(routePattern("/6203011204580003"), "/{other}");
  EXPECT_EQ(routePattern("/fhir/a/b/c/d/e/f/g/h"), "/fhir/{type}/{id}/{id}/{id}/{id}/...");
  EXPECT_EQ(routePattern("/"), "/");
}

}  // namespace
}  // namespace ilpgw
