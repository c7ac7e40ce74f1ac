// The quarantine listing on every backend, as the status page reads it: by
// the payload's organization (tenancy), by creation time (today's refused
// records), with each entry's organization.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "base/time_util.h"
#include "store_backends.h"

namespace ilpgw {
namespace {

class StoreQuarantineFilterTest : public testing::StoreBackendTest {};
ILPGW_ALL_BACKENDS(StoreQuarantineFilterTest);

void refused(Store& store, const std::string& organization, const std::string& locator) {
  WriteBatch batch;
  batch.payload = PayloadWrite{"simpus-csv", organization, "text/csv", "no_rm\n1\n"};
  batch.quarantine.push_back({locator, "", R"({"resourceType":"OperationOutcome","issue":[]})"});
  ASSERT_TRUE(store.commit(std::move(batch)).isOk());
}

TEST_P(StoreQuarantineFilterTest, ByOrganizationAndCreationTime) {
  auto store = open();
  refused(*store, "pkm-selat", "row 2");
  refused(*store, "pkm-kahayan", "row 2");
  std::string between = instantFromMillis(*millisFromInstant(nowInstant()) + 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  refused(*store, "pkm-selat", "row 3");

  QuarantineFilter all;
  auto every = store->listQuarantine(all);
  ASSERT_TRUE(every.isOk()) << every.status().message();
  ASSERT_EQ(every.value().size(), 3u);
  EXPECT_EQ(every.value()[0].organization, "pkm-selat");
  EXPECT_EQ(every.value()[1].organization, "pkm-kahayan");

  QuarantineFilter selat;
  selat.organization = "pkm-selat";
  auto own = store->listQuarantine(selat);
  ASSERT_TRUE(own.isOk());
  ASSERT_EQ(own.value().size(), 2u);
  for (const auto& e : own.value()) EXPECT_EQ(e.organization, "pkm-selat");

  QuarantineFilter recent = selat;
  recent.created_ge = between;
  auto later = store->listQuarantine(recent);
  ASSERT_TRUE(later.isOk());
  ASSERT_EQ(later.value().size(), 1u);
  EXPECT_EQ(later.value()[0].locator, "row 3");

  QuarantineFilter none;
  none.organization = "pkm-lain";
  EXPECT_TRUE(store->listQuarantine(none).value().empty());
  auto read = store->readQuarantine(own.value()[0].id);
  ASSERT_TRUE(read.isOk() && read.value());
  EXPECT_EQ(read.value()->organization, "pkm-selat");
}

}  // namespace
}  // namespace ilpgw
