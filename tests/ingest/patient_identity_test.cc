// Patient identity across concurrent posts: posts of the same person (same
// NIK) with different local record numbers, sent at the same instant, must
// all end up as identifiers of one Patient. Each merge is checked against the
// stored version inside the commit, so the group commit cannot let one post
// overwrite another's identifiers.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "base/json.h"
#include "durability_helpers.h"
#include "test_support.h"

namespace ilpgw {
namespace {

using testing::GatewayOptions;
using testing::GatewayProcess;

constexpr const char* kNik = "6203011204580003";

std::string visitWithRecordNumber(int n) {
  std::string visit = testing::exampleVisit();
  testing::replaceOnce(visit, "KJ-2024-007781", "KJ-ID-" + std::to_string(n));
  testing::replaceOnce(visit, "\"no_rm\": \"00031452\"", "\"no_rm\": \"RM" + std::to_string(n) + "\"");
  return visit;
}

std::set<std::string> recordNumbersOfThePatient(const GatewayProcess& gateway) {
  auto client = gateway.client();
  auto res = client->Get((std::string("/fhir/Patient?identifier=https://fhir.kemkes.go.id/id/nik|") + kNik).c_str());
  EXPECT_TRUE(res);
  if (!res) return {};
  EXPECT_EQ(res->status, 200) << res->body;
  auto bundle = testing::parseJson(res->body);
  std::set<std::string> numbers;
  const auto* entries = json::member(bundle, "entry");
  EXPECT_TRUE(entries != nullptr && entries->IsArray() && entries->Size() == 1) << res->body;
  if (entries == nullptr || !entries->IsArray() || entries->Empty()) return numbers;
  const auto& patient = (*entries)[0]["resource"];
  for (const auto& id : patient["identifier"].GetArray()) {
    if (json::string(id, "system").find("/mrn/") != std::string_view::npos) {
      numbers.insert(std::string(json::string(id, "value")));
    }
  }
  return numbers;
}

TEST(ConcurrentIdentityTest, PostsOfOnePersonAtOnceKeepEveryLocalIdentifier) {
  GatewayOptions options;
  options.server_config = R"("threads": 32)";
  GatewayProcess gateway(options);
  constexpr int kRounds = 3;
  constexpr int kPostsPerRound = 16;
  std::set<std::string> expected;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::thread> posters;
    std::vector<int> statuses(kPostsPerRound, 0);
    for (int i = 0; i < kPostsPerRound; ++i) {
      int n = round * kPostsPerRound + i;
      expected.insert("RM" + std::to_string(n));
      posters.emplace_back([&gateway, &statuses, i, n] {
        auto client = gateway.client();
        auto res = client->Post("/ingest/epuskesmas-json", visitWithRecordNumber(n), "application/json");
        statuses[i] = res ? res->status : -1;
      });
    }
    for (auto& t : posters) t.join();
    for (int status : statuses) EXPECT_EQ(status, 201);
  }
  EXPECT_EQ(recordNumbersOfThePatient(gateway), expected);
}

}  // namespace
}  // namespace ilpgw
