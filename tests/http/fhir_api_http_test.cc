// End to end: a real gateway (SQLite store, HTTPS on 127.0.0.1, port 0)
// driven by a TLS client through every FHIR API interaction.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "api_fixture.h"

namespace ilpgw::apitest {
namespace {

constexpr const char* kFhirJson = "application/fhir+json";
constexpr const char* kNik = "https://fhir.kemkes.go.id/id/nik";

class FhirApiHttpTest : public ::testing::Test {
 protected:
  void SetUp() override { client_ = server_.client(); }

  // POSTs a resource and returns its id (asserting 201).
  std::string create(const std::string& type, const std::string& body) {
    auto res = client_->Post(("/fhir/" + type).c_str(), body, kFhirJson);
    EXPECT_TRUE(res) << "no response";
    if (!res) return {};
    EXPECT_EQ(res->status, 201) << res->body;
    auto doc = parseJson(res->body);
    return doc.IsObject() ? std::string(json::string(doc, "id")) : std::string();
  }

  // GETs `path` (absolute URLs of this server allowed) and parses the JSON.
  rapidjson::Document get(const std::string& path, int expected = 200, const httplib::Headers& headers = {}) {
    std::string p = path;
    std::string origin = "https://127.0.0.1:" + std::to_string(server_.port());
    if (p.starts_with(origin)) p = p.substr(origin.size());
    auto res = client_->Get(p.c_str(), headers);
    EXPECT_TRUE(res) << "no response for " << p;
    if (!res) return rapidjson::Document();
    EXPECT_EQ(res->status, expected) << p << ": " << res->body;
    return parseJson(res->body);
  }

  static std::vector<std::string> entryIds(const rapidjson::Value& bundle, const char* mode = "match") {
    std::vector<std::string> ids;
    const auto* entries = json::member(bundle, "entry");
    if (entries == nullptr) return ids;
    for (const auto& e : entries->GetArray()) {
      const auto* search = json::member(e, "search");
      if (search != nullptr && json::string(*search, "mode") != mode) continue;
      ids.emplace_back(json::string(e["resource"], "id"));
    }
    return ids;
  }

  static std::string link(const rapidjson::Value& bundle, const char* relation) {
    const auto* links = json::member(bundle, "link");
    if (links == nullptr) return {};
    for (const auto& l : links->GetArray()) {
      if (json::string(l, "relation") == relation) return std::string(json::string(l, "url"));
    }
    return {};
  }

  static std::int64_t total(const rapidjson::Value& bundle) {
    const auto* t = json::member(bundle, "total");
    return t != nullptr && t->IsInt64() ? t->GetInt64() : -1;
  }

  // Follows `next` from `path`; returns every matched id in order.
  std::vector<std::string> walk(const std::string& path) {
    std::vector<std::string> all;
    std::string url = path;
    for (int guard = 0; !url.empty() && guard < 1000; ++guard) {
      auto page = get(url);
      auto ids = entryIds(page);
      all.insert(all.end(), ids.begin(), ids.end());
      url = link(page, "next");
    }
    return all;
  }

  ApiServer server_;
  std::unique_ptr<httplib::SSLClient> client_;
};

TEST_F(FhirApiHttpTest, CapabilityStatementListsExactlyWhatIsImplemented) {
  auto doc = get("/fhir/metadata");
  EXPECT_EQ(json::string(doc, "fhirVersion"), "4.0.1");
  const auto& rest = doc["rest"][0];
  std::set<std::string> system_ops;
  for (const auto& op : rest["operation"].GetArray()) system_ops.insert(std::string(json::string(op, "name")));
  EXPECT_EQ(system_ops, std::set<std::string>{"export"});
  std::set<std::string> system_interactions;
  for (const auto& i : rest["interaction"].GetArray()) system_interactions.insert(std::string(json::string(i, "code")));
  EXPECT_EQ(system_interactions, (std::set<std::string>{"transaction", "batch", "history-system"}));
  bool saw_patient = false;
  for (const auto& r : rest["resource"].GetArray()) {
    EXPECT_NE(json::string(r, "type"), "Group");  // no groups exist, so no Group/$export
    if (json::string(r, "type") != "Patient") continue;
    saw_patient = true;
    std::set<std::string> params;
    for (const auto& p : r["searchParam"].GetArray()) params.insert(std::string(json::string(p, "name")));
    EXPECT_EQ(params, (std::set<std::string>{"_id", "_lastUpdated", "identifier", "birthdate", "gender", "name"}));
    EXPECT_EQ(json::string(r["operation"][0], "name"), "export");
  }
  EXPECT_TRUE(saw_patient);
}

TEST_F(FhirApiHttpTest, CreateReadVreadNotModifiedAndIfMatch) {
  std::string id = create("Patient", patientJson("3201010101900001", "Sutanto", "Budi", "male", "1990-01-01"));
  auto res = client_->Get(("/fhir/Patient/" + id).c_str());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("ETag"), "W/\"1\"");
  EXPECT_FALSE(res->get_header_value("Last-Modified").empty());

  res = client_->Get(("/fhir/Patient/" + id).c_str(), {{"If-None-Match", "W/\"1\""}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 304);
  EXPECT_TRUE(res->body.empty());

  auto doc = parseJson(patientJson("3201010101900001", "Sutanto", "Budi Santoso", "male", "1990-01-01"));
  doc.AddMember("id", json::str(id, doc.GetAllocator()), doc.GetAllocator());
  std::string updated = json::write(doc);
  res = client_->Put(("/fhir/Patient/" + id).c_str(), {{"If-Match", "W/\"1\""}}, updated, kFhirJson);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("ETag"), "W/\"2\"");

  // Someone else's stale version: optimistic locking refuses it.
  res = client_->Put(("/fhir/Patient/" + id).c_str(), {{"If-Match", "W/\"1\""}}, updated, kFhirJson);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 412) << res->body;

  auto v1 = get("/fhir/Patient/" + id + "/_history/1");
  EXPECT_STREQ(v1["name"][0]["given"][0].GetString(), "Budi");
  auto v2 = get("/fhir/Patient/" + id + "/_history/2");
  EXPECT_STREQ(v2["meta"]["versionId"].GetString(), "2");
  get("/fhir/Patient/" + id + "/_history/3", 404);
  get("/fhir/Patient/does-not-exist", 404);

  // PUT to a new id creates it (update as create).
  auto fresh = parseJson(patientJson("3201010101900002", "Wati", "Sri", "female", "1990-01-01"));
  fresh.AddMember("id", "client-chosen-1", fresh.GetAllocator());
  res = client_->Put("/fhir/Patient/client-chosen-1", json::write(fresh), kFhirJson);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 201) << res->body;
  // The id in the body must match the URL.
  res = client_->Put("/fhir/Patient/other-id", json::write(fresh), kFhirJson);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  // Invalid resources are refused with the validator's OperationOutcome.
  res = client_->Post("/fhir/Patient", R"({"resourceType":"Patient","gender":"unknown-gender"})", kFhirJson);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 422) << res->body;
  EXPECT_NE(res->body.find("OperationOutcome"), std::string::npos);
}

TEST_F(FhirApiHttpTest, SearchEveryParameter) {
  std::string budi = create("Patient", patientJson("3201010101900001", "Sutanto", "Budi", "male", "1990-01-01"));
  std::string sri = create("Patient", patientJson("3201014502850002", "Wulandari", "Sri", "female", "1985-02-05"));
  std::string enc1 = create("Encounter", encounterJson(budi, "finished", "2024-03-05T09:00:00+07:00"));
  std::string enc2 = create("Encounter", encounterJson(sri, "in-progress", "2024-04-10T10:00:00+07:00"));
  std::string obs1 = create("Observation", observationJson(budi, enc1, "8480-6", "2024-03-05T09:10:00+07:00"));
  std::string obs2 = create("Observation", observationJson(sri, enc2, "8462-4", "2024-04-10T10:05:00+07:00"));
  std::string cond = create("Condition", conditionJson(budi, enc1, "I10"));
  std::string imm = create("Immunization", immunizationJson(sri, "VG-BCG", "2024-01-15"));
  std::string med = create("MedicationRequest", medicationRequestJson(budi, enc1, "active"));
  std::string med2 = create("MedicationRequest", medicationRequestJson(sri, enc2, "completed"));

  auto ids = [&](const std::string& query) {
    auto ids = entryIds(get(query));
    return std::set<std::string>(ids.begin(), ids.end());
  };
  using S = std::set<std::string>;
  // Patient
  EXPECT_EQ(ids("/fhir/Patient?identifier=" + std::string(kNik) + "%7C3201010101900001"), S{budi});
  EXPECT_EQ(ids("/fhir/Patient?identifier=3201014502850002"), S{sri});
  EXPECT_EQ(ids("/fhir/Patient?identifier=other-system%7C3201014502850002"), S{});
  EXPECT_EQ(ids("/fhir/Patient?birthdate=1990-01-01"), S{budi});
  EXPECT_EQ(ids("/fhir/Patient?birthdate=1985"), S{sri});
  EXPECT_EQ(ids("/fhir/Patient?birthdate=gt1986"), S{budi});
  EXPECT_EQ(ids("/fhir/Patient?birthdate=ge1985-02-05"), (S{budi, sri}));
  EXPECT_EQ(ids("/fhir/Patient?birthdate=lt1990-01-01"), S{sri});
  EXPECT_EQ(ids("/fhir/Patient?birthdate=le1990-01-01"), (S{budi, sri}));
  EXPECT_EQ(ids("/fhir/Patient?birthdate=ne1990-01-01"), S{sri});
  EXPECT_EQ(ids("/fhir/Patient?gender=female"), S{sri});
  EXPECT_EQ(ids("/fhir/Patient?gender=male,female"), (S{budi, sri}));
  EXPECT_EQ(ids("/fhir/Patient?name=sut"), S{budi});
  EXPECT_EQ(ids("/fhir/Patient?name=SRI"), S{sri});
  EXPECT_EQ(ids("/fhir/Patient?name:exact=Sutanto"), S{budi});
  EXPECT_EQ(ids("/fhir/Patient?name:exact=sutanto"), S{});
  EXPECT_EQ(ids("/fhir/Patient?name:contains=landa"), S{sri});
  EXPECT_EQ(ids("/fhir/Patient?_id=" + budi + "," + sri), (S{budi, sri}));
  EXPECT_EQ(ids("/fhir/Patient?gender=male&birthdate=1985"), S{});  // AND
  // Encounter
  EXPECT_EQ(ids("/fhir/Encounter?patient=" + budi), S{enc1});
  EXPECT_EQ(ids("/fhir/Encounter?patient=Patient/" + sri), S{enc2});
  EXPECT_EQ(ids("/fhir/Encounter?subject=Patient/" + budi), S{enc1});
  EXPECT_EQ(ids("/fhir/Encounter?subject:Patient=" + sri), S{enc2});
  EXPECT_EQ(ids("/fhir/Encounter?date=2024-03-05"), S{});  // the open period is not inside that day
  EXPECT_EQ(ids("/fhir/Encounter?date=ge2024-04-01"), (S{enc1, enc2}));  // open-ended periods reach beyond
  EXPECT_EQ(ids("/fhir/Encounter?date=lt2024-04-01"), S{enc1});
  EXPECT_EQ(ids("/fhir/Encounter?status=finished"), S{enc1});
  EXPECT_EQ(ids("/fhir/Encounter?service-provider=Organization/test-puskesmas"), (S{enc1, enc2}));
  // Observation
  EXPECT_EQ(ids("/fhir/Observation?patient=" + budi), S{obs1});
  EXPECT_EQ(ids("/fhir/Observation?subject=Patient/" + sri), S{obs2});
  EXPECT_EQ(ids("/fhir/Observation?encounter=" + enc2), S{obs2});
  EXPECT_EQ(ids("/fhir/Observation?code=http://loinc.org%7C8480-6"), S{obs1});
  EXPECT_EQ(ids("/fhir/Observation?code=8462-4"), S{obs2});
  EXPECT_EQ(ids("/fhir/Observation?code=http://loinc.org%7C"), (S{obs1, obs2}));
  EXPECT_EQ(ids("/fhir/Observation?date=2024-03-05"), S{obs1});
  EXPECT_EQ(ids("/fhir/Observation?date=2024-03-05T02:10:00Z"), S{obs1});  // 09:10+07:00 in UTC
  EXPECT_EQ(ids("/fhir/Observation?date=gt2024-03-31"), S{obs2});
  EXPECT_EQ(ids("/fhir/Observation?category=vital-signs"), (S{obs1, obs2}));
  // Condition
  EXPECT_EQ(ids("/fhir/Condition?patient=" + budi), S{cond});
  EXPECT_EQ(ids("/fhir/Condition?encounter=Encounter/" + enc1), S{cond});
  EXPECT_EQ(ids("/fhir/Condition?code=http://hl7.org/fhir/sid/icd-10%7CI10"), S{cond});
  EXPECT_EQ(ids("/fhir/Condition?code=E11"), S{});
  // Immunization
  EXPECT_EQ(ids("/fhir/Immunization?patient=" + sri), S{imm});
  EXPECT_EQ(ids("/fhir/Immunization?date=2024-01"), S{imm});
  EXPECT_EQ(ids("/fhir/Immunization?vaccine-code=VG-BCG"), S{imm});
  // MedicationRequest
  EXPECT_EQ(ids("/fhir/MedicationRequest?patient=" + budi), S{med});
  EXPECT_EQ(ids("/fhir/MedicationRequest?encounter=" + enc2), S{med2});
  EXPECT_EQ(ids("/fhir/MedicationRequest?status=active"), S{med});
  // _lastUpdated
  auto all = get("/fhir/Patient");
  std::string mark(json::string(all["meta"], "lastUpdated"));
  EXPECT_EQ(ids("/fhir/Patient?_lastUpdated=gt" + mark), S{});
  EXPECT_EQ(ids("/fhir/Patient?_lastUpdated=le" + mark), (S{budi, sri}));
  EXPECT_EQ(ids("/fhir/Patient?_lastUpdated=ge2000-01-01&_lastUpdated=lt2999-01-01"), (S{budi, sri}));
  EXPECT_EQ(ids("/fhir/Patient?_lastUpdated=lt2000-01-01"), S{});

  // _summary=count and _count=0: total only.
  auto count = get("/fhir/Observation?_summary=count");
  EXPECT_EQ(total(count), 2);
  EXPECT_EQ(json::member(count, "entry"), nullptr);
  EXPECT_EQ(total(get("/fhir/Encounter?_count=0")), 2);

  // _sort by commit order, both ways.
  auto asc = entryIds(get("/fhir/Patient?_sort=_lastUpdated"));
  auto desc = entryIds(get("/fhir/Patient?_sort=-_lastUpdated"));
  EXPECT_EQ(asc, (std::vector<std::string>{budi, sri}));
  EXPECT_EQ(desc, (std::vector<std::string>{sri, budi}));

  // _include brings the subject along, once.
  auto included = get("/fhir/Observation?_include=Observation:patient");
  EXPECT_EQ(entryIds(included, "match").size(), 2u);
  auto inc = entryIds(included, "include");
  EXPECT_EQ(std::set<std::string>(inc.begin(), inc.end()), (S{budi, sri}));
  auto enc_inc = get("/fhir/MedicationRequest?status=active&_include=MedicationRequest:subject");
  EXPECT_EQ(entryIds(enc_inc, "include"), std::vector<std::string>{budi});
}

TEST_F(FhirApiHttpTest, UnknownOrMalformedParametersAre400UnlessLenient) {
  create("Patient", patientJson("3201010101900001", "Sutanto", "Budi", "male", "1990-01-01"));
  for (const char* query : {"/fhir/Patient?foo=bar", "/fhir/Patient?birthdate=1990-13-01", "/fhir/Patient?birthdate=sa1990",
                            "/fhir/Patient?_count=-1", "/fhir/Patient?_count=abc", "/fhir/Patient?_sort=name",
                            "/fhir/Patient?_summary=true", "/fhir/Patient?gender:not=male", "/fhir/Patient?name=",
                            "/fhir/Patient?_include=Observation:patient", "/fhir/Patient?_lastUpdated=yesterday",
                            "/fhir/Patient?_cursor=x", "/fhir/Observation?patient=Encounter/1",
                            "/fhir/Patient?identifier=a%7Cb%7Cc", "/fhir/Patient?_revinclude=Observation:encounter",
                            "/fhir/Encounter?code=x", "/fhir/Patient/_history?_at=2020"}) {
    auto doc = get(query, 400);
    EXPECT_EQ(json::string(doc, "resourceType"), "OperationOutcome") << query;
  }
  // Injection attempts are just values that match nothing.
  auto safe = get("/fhir/Patient?name=x'%20OR%20'1'='1&identifier=1%27%3B%20DROP%20TABLE%20resource_version%3B--");
  EXPECT_EQ(total(safe), 0);
  EXPECT_EQ(total(get("/fhir/Patient")), 1);

  // Lenient: the bad parameter is ignored, and said so in an outcome entry.
  auto lenient = get("/fhir/Patient?foo=bar&gender=male", 200, {{"Prefer", "handling=lenient"}});
  EXPECT_EQ(total(lenient), 1);
  EXPECT_EQ(link(lenient, "self").find("foo"), std::string::npos);
  bool saw_outcome = false;
  for (const auto& e : lenient["entry"].GetArray()) {
    saw_outcome |= json::string(e["resource"], "resourceType") == "OperationOutcome";
  }
  EXPECT_TRUE(saw_outcome);
  get("/fhir/Unknown?x=1", 404);
}

TEST_F(FhirApiHttpTest, PagingUnderConcurrentInsertsReturnsEveryMatchOnce) {
  std::set<std::string> expected;
  for (int i = 0; i < 40; ++i) {
    expected.insert(create("Patient", patientJson("32010101019" + std::to_string(10000 + i), "Pasien", "A" + std::to_string(i),
                                                  "male", "1990-01-01")));
  }
  std::mutex mutex;
  std::thread inserter([&] {
    auto client = server_.client();
    for (int i = 0; i < 40; ++i) {
      auto res = client->Post("/fhir/Patient",
                              patientJson("32010101019" + std::to_string(20000 + i), "Pasien", "B" + std::to_string(i),
                                          "male", "1990-01-01"),
                              kFhirJson);
      ASSERT_TRUE(res);
      ASSERT_EQ(res->status, 201);
      std::lock_guard lock(mutex);
      expected.insert(std::string(json::string(parseJson(res->body), "id")));
    }
  });
  std::vector<std::string> seen;
  std::string url = "/fhir/Patient?name=pasien&_count=7";
  int pages = 0;
  while (!url.empty()) {
    auto page = get(url);
    auto ids = entryIds(page);
    seen.insert(seen.end(), ids.begin(), ids.end());
    url = link(page, "next");
    // After a few pages every insert is committed: the rest must include them all.
    if (++pages == 3) inserter.join();
  }
  if (inserter.joinable()) inserter.join();
  std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size()) << "a resource came twice";
  EXPECT_EQ(unique, expected);
  EXPECT_EQ(expected.size(), 80u);
}

TEST_F(FhirApiHttpTest, IncrementalPullsMissNothingWhileWritesCommit) {
  // Writers commit concurrently; a puller repeatedly asks for what is newer
  // than the Bundle.meta.lastUpdated of its previous answer.
  std::atomic<int> done{0};
  constexpr int kWriters = 4;
  constexpr int kEach = 25;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      auto client = server_.client();
      for (int i = 0; i < kEach; ++i) {
        std::string nik = "3201010101" + std::to_string(900000 + w * 1000 + i);
        auto res = client->Post("/fhir/Patient", patientJson(nik, "Inc", "X", "male", "1990-01-01"), kFhirJson);
        ASSERT_TRUE(res);
        ASSERT_EQ(res->status, 201);
      }
      ++done;
    });
  }
  std::vector<std::string> pulled;
  std::string mark;
  bool last_round = false;
  while (true) {
    bool writers_done = done == kWriters;
    std::string url = "/fhir/Patient?_count=1000" + (mark.empty() ? std::string() : "&_lastUpdated=gt" + mark);
    auto page = get(url);
    auto ids = entryIds(page);
    pulled.insert(pulled.end(), ids.begin(), ids.end());
    if (const auto* meta = json::member(page, "meta")) mark = std::string(json::string(*meta, "lastUpdated"));
    if (last_round) break;
    last_round = writers_done;
  }
  for (auto& t : writers) t.join();
  std::set<std::string> unique(pulled.begin(), pulled.end());
  EXPECT_EQ(unique.size(), pulled.size()) << "a resource was pulled twice";
  EXPECT_EQ(unique.size(), static_cast<size_t>(kWriters * kEach));

  // _since on history: only versions at or after the instant.
  std::string id = create("Patient", patientJson("3201010101990001", "Since", "Y", "male", "1990-01-01"));
  auto hist = get("/fhir/_history?_since=" + mark);
  auto since_ids = entryIds(hist);
  EXPECT_EQ(std::count(since_ids.begin(), since_ids.end(), id), 1);
  // Besides the new one, only the versions of the commit exactly at `mark`
  // (a group commit gives all its versions the same instant).
  for (const auto& entry : hist["entry"].GetArray()) {
    const auto& resource = entry["resource"];
    if (json::string(resource, "id") == id) continue;
    EXPECT_EQ(json::string(resource["meta"], "lastUpdated"), mark) << json::string(resource, "id");
  }
}

TEST_F(FhirApiHttpTest, HistoryInstanceTypeAndSystem) {
  std::string id = create("Patient", patientJson("3201010101900001", "Sutanto", "Budi", "male", "1990-01-01"));
  for (const char* given : {"Budi2", "Budi3"}) {
    auto doc = parseJson(patientJson("3201010101900001", "Sutanto", given, "male", "1990-01-01"));
    doc.AddMember("id", json::str(id, doc.GetAllocator()), doc.GetAllocator());
    auto res = client_->Put(("/fhir/Patient/" + id).c_str(), json::write(doc), kFhirJson);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200);
  }
  std::string other = create("Encounter", encounterJson(id, "finished", "2024-03-05T09:00:00+07:00"));

  auto instance = get("/fhir/Patient/" + id + "/_history");
  EXPECT_EQ(json::string(instance, "type"), "history");
  ASSERT_EQ(instance["entry"].Size(), 3u);
  EXPECT_STREQ(instance["entry"][0]["resource"]["meta"]["versionId"].GetString(), "3");  // newest first
  EXPECT_STREQ(instance["entry"][2]["request"]["method"].GetString(), "POST");
  EXPECT_STREQ(instance["entry"][0]["request"]["method"].GetString(), "PUT");
  EXPECT_STREQ(instance["entry"][0]["response"]["etag"].GetString(), "W/\"3\"");

  EXPECT_EQ(entryIds(get("/fhir/Patient/_history")).size(), 3u);
  EXPECT_EQ(entryIds(get("/fhir/Encounter/_history")), std::vector<std::string>{other});
  // System history, two per page, oldest first: every version once.
  auto versions = walk("/fhir/_history?_count=2&_sort=_lastUpdated");
  EXPECT_EQ(versions, (std::vector<std::string>{id, id, id, other}));
  auto newest = walk("/fhir/_history?_count=3");
  EXPECT_EQ(newest, (std::vector<std::string>{other, id, id, id}));
  get("/fhir/Patient/nobody/_history", 404);
  get("/fhir/_history?_since=notadate", 400);
}

TEST_F(FhirApiHttpTest, ConcurrentConditionalCreatesMakeOneResource) {
  constexpr int kThreads = 8;
  std::string body = patientJson("3201010101900077", "Kembar", "Satu", "male", "1990-01-01");
  std::string condition = std::string("identifier=") + kNik + "|3201010101900077";
  std::vector<int> statuses(kThreads);
  std::vector<std::string> ids(kThreads);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto client = server_.client();
      ++ready;
      while (ready < kThreads) std::this_thread::yield();  // fire together
      auto res = client->Post("/fhir/Patient", {{"If-None-Exist", condition}}, body, kFhirJson);
      ASSERT_TRUE(res);
      statuses[t] = res->status;
      ids[t] = std::string(json::string(parseJson(res->body), "id"));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 201), 1);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 200), kThreads - 1);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 1u) << "all answers name the same resource";
  EXPECT_EQ(total(get("/fhir/Patient?identifier=3201010101900077")), 1);

  auto bad = client_->Post("/fhir/Patient", {{"If-None-Exist", "nonsense=1"}}, body, kFhirJson);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
}

TEST_F(FhirApiHttpTest, TransactionIsAtomicAndResolvesReferences) {
  std::string tx = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"fullUrl":"urn:uuid:11111111-1111-4111-8111-111111111111","resource":)" +
                   patientJson("3201010101900055", "Trans", "Aksi", "male", "1990-01-01") +
                   R"(,"request":{"method":"POST","url":"Patient"}},
    {"fullUrl":"urn:uuid:22222222-2222-4222-8222-222222222222","resource":{"resourceType":"Encounter","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},"subject":{"reference":"urn:uuid:11111111-1111-4111-8111-111111111111"}},"request":{"method":"POST","url":"Encounter"}},
    {"resource":{"resourceType":"Organization","id":"org-1","name":"Puskesmas Uji"},"request":{"method":"PUT","url":"Organization/org-1"}}]})";
  auto res = client_->Post("/fhir", tx, kFhirJson);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  auto bundle = parseJson(res->body);
  EXPECT_EQ(json::string(bundle, "type"), "transaction-response");
  ASSERT_EQ(bundle["entry"].Size(), 3u);
  EXPECT_STREQ(bundle["entry"][0]["response"]["status"].GetString(), "201 Created");
  std::string location = bundle["entry"][0]["response"]["location"].GetString();
  std::string patient_id = location.substr(8, location.find("/_history") - 8);
  auto encounters = get("/fhir/Encounter?patient=" + patient_id);
  EXPECT_EQ(total(encounters), 1);
  get("/fhir/Organization/org-1");

  // One bad entry: nothing of the transaction is stored.
  std::string bad = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"resource":)" + patientJson("3201010101900056", "Gagal", "Satu", "male", "1990-01-01") +
                    R"(,"request":{"method":"POST","url":"Patient"}},
    {"resource":{"resourceType":"Encounter","status":"no-such-status","class":{"code":"AMB"}},"request":{"method":"POST","url":"Encounter"}}]})";
  res = client_->Post("/fhir", bad, kFhirJson);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 422) << res->body;
  EXPECT_EQ(total(get("/fhir/Patient?identifier=3201010101900056")), 0);

  // A precondition failing in the writer also rolls the whole transaction back.
  std::string stale = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"resource":)" + patientJson("3201010101900057", "Gagal", "Dua", "male", "1990-01-01") +
                      R"(,"request":{"method":"POST","url":"Patient"}},
    {"resource":{"resourceType":"Organization","id":"org-1","name":"Lama"},"request":{"method":"PUT","url":"Organization/org-1","ifMatch":"W/\"7\""}}]})";
  res = client_->Post("/fhir", stale, kFhirJson);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 412) << res->body;
  EXPECT_EQ(total(get("/fhir/Patient?identifier=3201010101900057")), 0);

  // Batch: entries succeed or fail on their own.
  std::string batch = R"({"resourceType":"Bundle","type":"batch","entry":[
    {"resource":)" + patientJson("3201010101900058", "Batch", "Satu", "male", "1990-01-01") +
                      R"(,"request":{"method":"POST","url":"Patient"}},
    {"resource":{"resourceType":"Encounter","status":"no-such-status","class":{"code":"AMB"}},"request":{"method":"POST","url":"Encounter"}},
    {"request":{"method":"DELETE","url":"Patient/x"}}]})";
  res = client_->Post("/fhir", batch, kFhirJson);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  auto batch_response = parseJson(res->body);
  EXPECT_EQ(json::string(batch_response, "type"), "batch-response");
  EXPECT_STREQ(batch_response["entry"][0]["response"]["status"].GetString(), "201 Created");
  EXPECT_STREQ(batch_response["entry"][1]["response"]["status"].GetString(), "422 Unprocessable Entity");
  EXPECT_STREQ(batch_response["entry"][2]["response"]["status"].GetString(), "400 Bad Request");
  EXPECT_EQ(total(get("/fhir/Patient?identifier=3201010101900058")), 1);
}

TEST_F(FhirApiHttpTest, BulkExportAsyncCycle) {
  std::string p1 = create("Patient", patientJson("3201010101900001", "Sutanto", "Budi", "male", "1990-01-01"));
  std::string p2 = create("Patient", patientJson("3201014502850002", "Wulandari", "Sri", "female", "1985-02-05"));
  std::string e1 = create("Encounter", encounterJson(p1, "finished", "2024-03-05T09:00:00+07:00"));
  create("Observation", observationJson(p1, e1, "8480-6", "2024-03-05T09:10:00+07:00"));
  create("Organization", R"({"resourceType":"Organization","name":"Puskesmas Uji"})");

  auto no_prefer = client_->Get("/fhir/$export");
  ASSERT_TRUE(no_prefer);
  EXPECT_EQ(no_prefer->status, 400);
  auto bad_format = client_->Get("/fhir/$export?_outputFormat=text/csv", {{"Prefer", "respond-async"}});
  ASSERT_TRUE(bad_format);
  EXPECT_EQ(bad_format->status, 400);

  // Runs an export to completion and returns {type: lines}.
  auto runExport = [&](const std::string& kickoff) {
    std::map<std::string, std::vector<std::string>> out;
    auto res = client_->Get(kickoff.c_str(), {{"Prefer", "respond-async"}, {"Accept", "application/fhir+json"}});
    EXPECT_TRUE(res);
    if (!res) return out;
    EXPECT_EQ(res->status, 202) << res->body;
    std::string status_url = res->get_header_value("Content-Location");
    EXPECT_NE(status_url.find("/fhir/_export/"), std::string::npos);
    std::string origin = "https://127.0.0.1:" + std::to_string(server_.port());
    std::string status_path = status_url.substr(origin.size());
    auto poll = client_->Get(status_path.c_str());
    for (int i = 0; i < 200 && poll && poll->status == 202; ++i) {
      EXPECT_FALSE(poll->get_header_value("X-Progress").empty());
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
      poll = client_->Get(status_path.c_str());
    }
    EXPECT_TRUE(poll);
    if (!poll) return out;
    EXPECT_EQ(poll->status, 200) << poll->body;
    auto manifest = parseJson(poll->body);
    EXPECT_FALSE(json::string(manifest, "transactionTime").empty());
    EXPECT_NE(json::string(manifest, "request").find("$export"), std::string_view::npos);
    for (const auto& item : manifest["output"].GetArray()) {
      std::string url(json::string(item, "url"));
      auto file = client_->Get(url.substr(origin.size()).c_str());
      EXPECT_TRUE(file);
      if (!file) continue;
      EXPECT_EQ(file->status, 200);
      EXPECT_EQ(file->get_header_value("Content-Type"), "application/fhir+ndjson");
      std::istringstream lines(file->body);
      std::string line;
      auto& list = out[std::string(json::string(item, "type"))];
      while (std::getline(lines, line)) {
        auto doc = parseJson(line);
        EXPECT_EQ(json::string(doc, "resourceType"), json::string(item, "type"));
        list.push_back(std::string(json::string(doc, "id")));
      }
      EXPECT_EQ(static_cast<std::int64_t>(list.size()), item["count"].GetInt64());
    }
    // DELETE removes the job and its files.
    auto del = client_->Delete(status_path.c_str());
    EXPECT_TRUE(del);
    EXPECT_EQ(del ? del->status : 0, 202);
    auto gone = client_->Get(status_path.c_str());
    EXPECT_TRUE(gone);
    EXPECT_EQ(gone ? gone->status : 0, 404);
    return out;
  };

  auto all = runExport("/fhir/$export?_outputFormat=application/fhir%2Bndjson");
  EXPECT_EQ(all["Patient"].size(), 2u);
  EXPECT_EQ(all["Encounter"].size(), 1u);
  EXPECT_EQ(all["Observation"].size(), 1u);
  EXPECT_EQ(all["Organization"].size(), 1u);

  auto typed = runExport("/fhir/$export?_type=Patient,Encounter");
  EXPECT_EQ(typed.size(), 2u);

  auto patient_level = runExport("/fhir/Patient/$export");
  EXPECT_EQ(patient_level["Patient"].size(), 2u);
  EXPECT_EQ(patient_level["Observation"].size(), 1u);
  EXPECT_EQ(patient_level.count("Organization"), 0u);  // not in the Patient compartment

  auto mark = get("/fhir/Patient");
  std::string since(json::string(mark["meta"], "lastUpdated"));
  std::string p3 = create("Patient", patientJson("3201010101900003", "Baru", "C", "male", "1990-01-01"));
  auto incremental = runExport("/fhir/$export?_since=" + since);
  EXPECT_EQ(incremental["Patient"], std::vector<std::string>{p3});
  EXPECT_EQ(incremental.size(), 1u);

  // Cancelling a job that may still run.
  auto res = client_->Get("/fhir/$export", {{"Prefer", "respond-async"}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 202);
  std::string status_url = res->get_header_value("Content-Location");
  std::string path = status_url.substr(status_url.find("/fhir/"));
  auto del = client_->Delete(path.c_str());
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 202);
  auto gone = client_->Get(path.c_str());
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->status, 404);
}

}  // namespace
}  // namespace ilpgw::apitest
