// PWS against a synthetic district (tests/support/synthetic_district.h): a
// year of records of three puskesmas in the native formats of the four
// bundled adapters, posted over real TLS to the real gateway with the
// plugins loaded from disk; then every indicator, for every puskesmas, month
// and desa, read through $evaluate-measure must equal what the district's
// own counter (which shares no code with the evaluator) expects. A pustu's
// held-back month, posted last, must give that month's stored MeasureReports
// new versions with the new figures.
#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "base/json.h"
#include "synthetic_district.h"
#include "test_support.h"

namespace ilpgw {
namespace {

using testing::IndicatorCounts;
using testing::SyntheticDistrict;

constexpr int kYear = 2025;

testing::DistrictOptions districtOptions() {
  testing::DistrictOptions options;
  options.seed = 20250301;
  options.year = kYear;
  return options;
}

std::map<std::string, IndicatorCounts> countsOfReport(const std::string& body, std::string* id = nullptr) {
  rapidjson::Document doc;
  std::map<std::string, IndicatorCounts> out;
  if (json::parse(body, doc) || !doc.IsObject() || !doc.HasMember("group")) {
    ADD_FAILURE() << "not a MeasureReport: " << body.substr(0, 400);
    return out;
  }
  if (id != nullptr && doc.HasMember("id")) *id = doc["id"].GetString();
  for (const auto& s : doc["group"][0]["stratifier"][0]["stratum"].GetArray()) {
    IndicatorCounts c;
    for (const auto& p : s["population"].GetArray()) {
      std::string code = p["code"]["coding"][0]["code"].GetString();
      std::int64_t n = p["count"].GetInt64();
      if (code == "initial-population") c.initial_population = n;
      if (code == "denominator") c.denominator = n;
      if (code == "numerator") c.numerator = n;
    }
    for (const auto& part : s["extension"][0]["extension"].GetArray()) {
      std::string url = part["url"].GetString();
      if (url == "yearToDateNumerator") c.year_to_date_numerator = part["valueInteger"].GetInt64();
      if (url == "previousMonthCount") c.previous_month_numerator = part["valueInteger"].GetInt64();
    }
    if (!c.empty()) out[s["value"]["coding"][0]["code"].GetString()] = c;
  }
  return out;
}

std::string describe(const std::map<std::string, IndicatorCounts>& counts) {
  std::ostringstream out;
  for (const auto& [desa, c] : counts) {
    out << " " << desa << "=" << c.initial_population << "/" << c.denominator << "/" << c.numerator << " ytd "
        << c.year_to_date_numerator << " prev " << c.previous_month_numerator << ";";
  }
  return out.str();
}

std::string monthQuery(int month, const std::string& organization) {
  char buffer[128];
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  std::snprintf(buffer, sizeof buffer, "periodStart=%d-%02d-01&periodEnd=%d-%02d-%02d&subject=Organization/", kYear,
                month, kYear, month, kDays[month - 1]);
  return buffer + organization;
}

class SyntheticDistrictTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    district_ = new SyntheticDistrict(districtOptions());
    testing::GatewayOptions options;
    options.plugins = {"epuskesmas-json", "posyandu-kader", "simpus-csv", "hl7v2-oru"};
    options.auth = true;
    options.organization_id = "dinkes-sintetis";
    // The checks pull every indicator of every puskesmas and month, hundreds
    // of reports within seconds from one client; the per-client rate limit
    // (security_test.cc) would answer some of them 429 on a fast machine.
    options.extra_config = R"("limits": {"rate_per_s": 100000, "rate_burst": 100000})";
    gateway_ = new testing::GatewayProcess(options);
    puller_ = new std::string(gateway_->token("puller"));
    for (const auto& pkm : district_->puskesmas()) clinics_.push_back(gateway_->token("clinic", pkm.organization));
    auto started = std::chrono::steady_clock::now();
    postAll(district_->payloads());
    post_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  }
  static void TearDownTestSuite() {
    delete gateway_;
    delete district_;
    delete puller_;
    clinics_.clear();
  }

  static void postAll(const std::vector<testing::DistrictPayload>& payloads) {
    std::vector<std::unique_ptr<httplib::Client>> clients;
    for (const auto& token : clinics_) clients.push_back(gateway_->client(token));
    for (const auto& p : payloads) {
      auto res = clients[p.puskesmas]->Post(("/ingest/" + p.adapter).c_str(), p.body, p.content_type.c_str());
      ASSERT_TRUE(res) << p.adapter;
      // Every generated record is valid: all of them accepted.
      ASSERT_EQ(res->status, 201) << p.adapter << ": " << res->body.substr(0, 2000) << "\n" << p.body.substr(0, 2000);
    }
  }

  static std::string evaluate(httplib::Client& client, const std::string& measure, int month, int puskesmas) {
    auto res = client.Get(("/fhir/Measure/" + measure + "/$evaluate-measure?" +
                           monthQuery(month, district_->puskesmas()[puskesmas].organization))
                              .c_str());
    EXPECT_TRUE(res);
    if (!res) return {};
    EXPECT_EQ(res->status, 200) << res->body;
    return res->body;
  }

  static std::string versionOf(httplib::Client& client, const std::string& id) {
    auto res = client.Get(("/fhir/MeasureReport/" + id).c_str());
    if (!res || res->status != 200) return "?";
    rapidjson::Document doc;
    if (json::parse(res->body, doc) || !doc.IsObject()) return "?";
    return doc["meta"]["versionId"].GetString();
  }

  static inline SyntheticDistrict* district_ = nullptr;
  static inline testing::GatewayProcess* gateway_ = nullptr;
  static inline std::string* puller_ = nullptr;
  static inline std::vector<std::string> clinics_;
  static inline double post_seconds_ = 0;
};

// The generator is a function of its seed.
TEST(SyntheticDistrict, SameSeedSameRecords) {
  SyntheticDistrict a(districtOptions()), b(districtOptions());
  auto options = districtOptions();
  options.seed += 1;
  SyntheticDistrict c(options);
  auto body = [](const SyntheticDistrict& d) {
    std::string all;
    for (const auto& p : d.payloads()) all += p.adapter + "\n" + p.body + "\n";
    return all;
  };
  EXPECT_EQ(body(a), body(b));
  EXPECT_NE(body(a), body(c));
  // A district of every kind of record, every format and a backlog.
  std::set<std::string> adapters;
  for (const auto& p : a.payloads()) adapters.insert(p.adapter);
  EXPECT_EQ(adapters, (std::set<std::string>{"epuskesmas-json", "hl7v2-oru", "posyandu-kader", "simpus-csv"}));
  EXPECT_FALSE(a.backlogPayloads().empty());
  for (const auto& v : a.villages()) EXPECT_EQ(v.code.size(), 10u) << v.code;
}

TEST_F(SyntheticDistrictTest, EveryIndicatorPerDesaAndMonthEqualsTheIndependentCount) {
  std::cout << "posted " << district_->recordCount(false) << " records of " << district_->people().size()
            << " people in " << post_seconds_ << " s\n";
  auto client = gateway_->client(*puller_);
  int checked = 0, nonzero = 0, mismatches = 0;
  std::set<std::string> measures_with_numerator;
  auto started = std::chrono::steady_clock::now();
  for (int k = 0; k < static_cast<int>(district_->puskesmas().size()); ++k) {
    for (int month = 1; month <= 12; ++month) {
      for (const auto& measure : SyntheticDistrict::indicators()) {
        auto expected = district_->expected(measure, k, month, false);
        auto actual = countsOfReport(evaluate(*client, measure, month, k));
        ++checked;
        for (const auto& [desa, c] : expected) {
          if (c.numerator > 0) {
            ++nonzero;
            measures_with_numerator.insert(measure);
          }
        }
        if (expected != actual && ++mismatches <= 20) {
          ADD_FAILURE() << measure << " " << district_->puskesmas()[k].organization << " month " << month
                        << "\n expected:" << describe(expected) << "\n   actual:" << describe(actual);
        }
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
  std::cout << checked << " reports checked in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() << " s, " << nonzero
            << " desa-months with a numerator\n";
  // A district where every indicator counts someone somewhere.
  EXPECT_EQ(measures_with_numerator.size(), SyntheticDistrict::indicators().size());
}

// The pustu's backlog of one month, posted after that month's reports were
// stored: each report whose figures change gets a new version with the new
// figures (the counter's, with the backlog); the others keep theirs.
TEST_F(SyntheticDistrictTest, BacklogGivesTheStoredMonthNewVersions) {
  const int month = district_->options().backlog_month;
  auto client = gateway_->client(*puller_);
  std::map<std::string, std::string> ids, versions;
  std::set<std::string> changing;
  for (const auto& measure : SyntheticDistrict::indicators()) {
    std::string id;
    auto before = countsOfReport(evaluate(*client, measure, month, 0), &id);
    ASSERT_FALSE(id.empty());
    EXPECT_EQ(before, district_->expected(measure, 0, month, false)) << measure;
    ids[measure] = id;
    versions[measure] = versionOf(*client, id);
    if (district_->expected(measure, 0, month, true) != district_->expected(measure, 0, month, false)) {
      changing.insert(measure);
    }
  }
  ASSERT_GE(changing.size(), 3u) << "the backlog should change several indicators";
  postAll(district_->backlogPayloads());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::set<std::string> waiting = changing;
  while (!waiting.empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    for (auto it = waiting.begin(); it != waiting.end();) {
      it = versionOf(*client, ids[*it]) != versions[*it] ? waiting.erase(it) : std::next(it);
    }
  }
  EXPECT_TRUE(waiting.empty()) << waiting.size() << " stored reports were not recomputed, e.g. " << *waiting.begin();
  for (const auto& measure : SyntheticDistrict::indicators()) {
    auto res = client->Get(("/fhir/MeasureReport/" + ids[measure]).c_str());
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200);
    auto stored = countsOfReport(res->body);
    auto expected = district_->expected(measure, 0, month, true);
    EXPECT_EQ(stored, expected) << measure << "\n expected:" << describe(expected) << "\n   stored:" << describe(stored);
    if (!changing.contains(measure)) {
      EXPECT_EQ(versionOf(*client, ids[measure]), versions[measure]) << measure;
    }
  }
}

}  // namespace
}  // namespace ilpgw
