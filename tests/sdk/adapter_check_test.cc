// `ilp-gateway adapter check`: each broken fixture gives exit 1 and a clear
// line; a crash or hang in the adapter never takes the tool down with it.
#include <gtest/gtest.h>

#include <filesystem>

#include "ilpgw/sdk/adapter.h"
#include "test_support.h"

namespace ilpgw {
namespace {

namespace fs = std::filesystem;
using ilpgw::testing::TempDir;

std::string fixture(const std::string& name) { return std::string(ILPGW_FIXTURE_PLUGIN_DIR) + "/" + name + ".so"; }

class AdapterCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_.file("samples"));
    ilpgw::testing::writeFile(dir_.file("samples/two.txt"), "A1\nB2\n");
  }
  int check(const std::string& library, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"adapter", "check", library, "--samples", dir_.file("samples"),
                                     "--mappings", dir_.file("samples")};
    args.insert(args.end(), extra.begin(), extra.end());
    out_.clear();
    return ilpgw::testing::runGateway(args, out_, &err_);
  }
  TempDir dir_;
  std::string out_;
  std::string err_;
};

TEST_F(AdapterCheckTest, GoodAdapterPassesAndReportsItself) {
  EXPECT_EQ(check(fixture("good-v1")), 0) << out_ << err_;
  EXPECT_NE(out_.find("adapter  fixture-good 1.0.0 (ABI " + std::to_string(ilpgw::sdk::kAbiVersion) + ")"), std::string::npos) << out_;
  EXPECT_NE(out_.find("formats  text/plain"), std::string::npos);
  EXPECT_NE(out_.find("greeting (string, default \"halo\")"), std::string::npos);
  EXPECT_NE(out_.find("two.txt: 2 record(s), 2 accepted, 2 resource(s), valid FHIR"), std::string::npos) << out_;
  EXPECT_NE(out_.find("adapter check OK"), std::string::npos);
}

TEST_F(AdapterCheckTest, GoldenFilesAreWrittenThenEnforced) {
  ASSERT_EQ(check(fixture("good-v1"), {"--update-golden"}), 0) << out_;
  ASSERT_TRUE(fs::exists(dir_.file("samples/two.expected.json")));
  EXPECT_EQ(check(fixture("good-v1")), 0) << out_;
  EXPECT_NE(out_.find("matches two.expected.json"), std::string::npos);
  // v2 maps differently: the golden file catches it.
  EXPECT_EQ(check(fixture("good-v2")), 1) << out_;
  EXPECT_NE(out_.find("output differs from two.expected.json"), std::string::npos) << out_;
}

TEST_F(AdapterCheckTest, RejectsUnknownOption) {
  EXPECT_EQ(check(fixture("good-v1"), {"--options", R"({"colour":"blue"})"}), 1);
  EXPECT_NE(out_.find("unknown option \"colour\""), std::string::npos) << out_;
}

TEST_F(AdapterCheckTest, ReportsAbiMismatch) {
  EXPECT_EQ(check(fixture("wrong-abi")), 1);
  EXPECT_NE(out_.find("FAIL: plugin"), std::string::npos) << out_;
  EXPECT_NE(out_.find("ABI version " + std::to_string(ilpgw::sdk::kAbiVersion + 41) + ", gateway expects " + std::to_string(ilpgw::sdk::kAbiVersion)), std::string::npos) << out_;
}

TEST_F(AdapterCheckTest, ReportsMissingSymbol) {
  EXPECT_EQ(check(fixture("no-create")), 1);
  EXPECT_NE(out_.find("missing symbol ilpgw_create_adapter"), std::string::npos) << out_;
}

TEST_F(AdapterCheckTest, ReportsNullAdapter) {
  EXPECT_EQ(check(fixture("null-create")), 1);
  EXPECT_NE(out_.find("returned no adapter"), std::string::npos) << out_;
}

TEST_F(AdapterCheckTest, ReportsCrashWhileLoading) {
  EXPECT_EQ(check(fixture("crash-on-create")), 1);
  EXPECT_NE(out_.find("FAIL: the adapter crashed (SIGABRT) while loading the library"), std::string::npos) << out_;
}

TEST_F(AdapterCheckTest, ReportsCrashWhileMappingASample) {
  EXPECT_EQ(check(fixture("crash")), 1);
  EXPECT_NE(out_.find("FAIL: the adapter crashed (SIGABRT) while mapping sample two.txt"), std::string::npos)
      << out_;
}

TEST_F(AdapterCheckTest, ReportsHangAfterTimeout) {
  EXPECT_EQ(check(fixture("slow"), {"--options", R"({"sleep_ms":60000})", "--timeout", "1"}), 1);
  EXPECT_NE(out_.find("did not finish within 1 s while mapping sample two.txt"), std::string::npos) << out_;
}

TEST_F(AdapterCheckTest, ReportsInvalidJsonAndInvalidFhir) {
  EXPECT_EQ(check(fixture("invalid-json")), 1);
  EXPECT_NE(out_.find("adapter produced invalid JSON"), std::string::npos) << out_;
  EXPECT_EQ(check(fixture("invalid-fhir")), 1);
  EXPECT_NE(out_.find("Patient.gender"), std::string::npos) << out_;
}

TEST_F(AdapterCheckTest, ReportsMissingFileAndNonLibrary) {
  EXPECT_EQ(check(dir_.file("nothing.so")), 1);
  EXPECT_NE(out_.find("file not found"), std::string::npos) << out_;
  ilpgw::testing::writeFile(dir_.file("junk.so"), "junk");
  EXPECT_EQ(check(dir_.file("junk.so")), 1);
  EXPECT_NE(out_.find("cannot load"), std::string::npos) << out_;
}

TEST_F(AdapterCheckTest, FindsInstalledSamplesBesideTheLibrary) {
  // Convention: <plugin dir>/samples/<adapter name>/ next to the .so.
  fs::create_directories(dir_.file("lib/samples/fixture-good"));
  fs::copy_file(fixture("good-v1"), dir_.file("lib/fixture-good.so"));
  ilpgw::testing::writeFile(dir_.file("lib/samples/fixture-good/one.txt"), "Z9\n");
  std::vector<std::string> args = {"adapter", "check", dir_.file("lib/fixture-good.so"), "--mappings", dir_.file("samples")};
  EXPECT_EQ(ilpgw::testing::runGateway(args, out_, &err_), 0) << out_;
  EXPECT_NE(out_.find("one.txt: 1 record(s)"), std::string::npos) << out_;
}

}  // namespace
}  // namespace ilpgw
