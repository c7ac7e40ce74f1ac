// Every way loading an adapter can fail, each with its fixture plugin, plus
// the validation of an adapter's config block against its declared options.
#include <gtest/gtest.h>

#include <filesystem>

#include "ingest/gateway.h"
#include "ingest/plugin_loader.h"
#include "test_support.h"

namespace ilpgw {
namespace {

namespace fs = std::filesystem;
using ilpgw::testing::TempDir;

std::string fixture(const std::string& name) { return std::string(ILPGW_FIXTURE_PLUGIN_DIR) + "/" + name + ".so"; }

class PluginLoaderTest : public ::testing::Test {
 protected:
  // A config loading `library` as `name` with an empty mappings directory.
  Config configWith(const std::string& name, const std::string& library, const std::string& options = "{}") {
    Config config;
    config.mappings_dir = dir_.file("mappings");
    fs::create_directories(config.mappings_dir);
    config.plugin_dir = ILPGW_FIXTURE_PLUGIN_DIR;
    config.plugins = {PluginConfig{name, library, options}};
    return config;
  }
  TempDir dir_;
};

TEST_F(PluginLoaderTest, LoadsGoodAdapter) {
  auto loaded = loadAdapter(fixture("good-v1"));
  ASSERT_TRUE(loaded.isOk()) << loaded.status().message();
  EXPECT_EQ(loaded.value()->info().name, "fixture-good");
  EXPECT_EQ(loaded.value()->info().version, "1.0.0");
  EXPECT_EQ(loaded.value()->label(), "fixture-good@1.0.0");
  EXPECT_EQ(loaded.value()->info().options.size(), 4u);
  EXPECT_EQ(loaded.value()->contentHash().size(), 64u);
}

TEST_F(PluginLoaderTest, RejectsMissingFile) {
  auto loaded = loadAdapter(fixture("does-not-exist"));
  ASSERT_FALSE(loaded.isOk());
  EXPECT_EQ(loaded.status().code(), StatusCode::kNotFound);
  EXPECT_NE(loaded.status().message().find("file not found"), std::string::npos);
}

TEST_F(PluginLoaderTest, RejectsFileThatIsNotALibrary) {
  ilpgw::testing::writeFile(dir_.file("text.so"), "this is not an ELF file\n");
  auto loaded = loadAdapter(dir_.file("text.so"));
  ASSERT_FALSE(loaded.isOk());
  EXPECT_NE(loaded.status().message().find("cannot load"), std::string::npos) << loaded.status().message();
}

TEST_F(PluginLoaderTest, RejectsLibraryWithoutAbiSymbol) {
  // A real shared library that is not an adapter: the C++ runtime itself.
  std::string libstdcxx;
  for (const char* dir : {"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"}) {
    if (fs::exists(std::string(dir) + "/libstdc++.so.6")) libstdcxx = std::string(dir) + "/libstdc++.so.6";
  }
  if (libstdcxx.empty()) GTEST_SKIP() << "libstdc++.so.6 not found";
  auto loaded = loadAdapter(libstdcxx);
  ASSERT_FALSE(loaded.isOk());
  EXPECT_NE(loaded.status().message().find("missing symbol ilpgw_abi_version"), std::string::npos);
}

TEST_F(PluginLoaderTest, RejectsAbiMismatchBeforeCallingAnything) {
  // The fixture's factory aborts: reaching it would kill this test.
  auto loaded = loadAdapter(fixture("wrong-abi"));
  ASSERT_FALSE(loaded.isOk());
  EXPECT_NE(loaded.status().message().find("ABI version " + std::to_string(sdk::kAbiVersion + 41) +
                                           ", gateway expects " + std::to_string(sdk::kAbiVersion)),
            std::string::npos)
      << loaded.status().message();
}

TEST_F(PluginLoaderTest, RejectsMissingCreateSymbol) {
  auto loaded = loadAdapter(fixture("no-create"));
  ASSERT_FALSE(loaded.isOk());
  EXPECT_NE(loaded.status().message().find("missing symbol ilpgw_create_adapter"), std::string::npos);
}

TEST_F(PluginLoaderTest, RejectsFactoryReturningNull) {
  auto loaded = loadAdapter(fixture("null-create"));
  ASSERT_FALSE(loaded.isOk());
  EXPECT_NE(loaded.status().message().find("returned no adapter"), std::string::npos);
}

TEST_F(PluginLoaderTest, RejectsEmptyName) {
  auto loaded = loadAdapter(fixture("empty-name"));
  ASSERT_FALSE(loaded.isOk());
  EXPECT_NE(loaded.status().message().find("empty name"), std::string::npos);
}

TEST_F(PluginLoaderTest, PrivateCopyPicksUpNewVersionAtSamePath) {
  // dlopen() of a path it already has open returns the old handle; the
  // private copy is what lets a reload see a new build at the same path.
  std::string path = dir_.file("fixture-good.so");
  fs::copy_file(fixture("good-v1"), path);
  auto v1 = loadAdapter(path, LoadOptions{.private_copy = true});
  ASSERT_TRUE(v1.isOk()) << v1.status().message();
  // Install v2 the safe way: write beside, rename over.
  fs::copy_file(fixture("good-v2"), dir_.file("fixture-good.so.new"));
  fs::rename(dir_.file("fixture-good.so.new"), path);
  auto v2 = loadAdapter(path, LoadOptions{.private_copy = true});
  ASSERT_TRUE(v2.isOk()) << v2.status().message();
  EXPECT_EQ(v1.value()->info().version, "1.0.0");
  EXPECT_EQ(v2.value()->info().version, "2.0.0");
  EXPECT_NE(v1.value()->contentHash(), v2.value()->contentHash());
  // Both stay usable side by side (requests in flight on v1 during a reload).
  Config config;
  GatewayHost host(std::make_shared<Terminology>());
  sdk::Context context;
  context.host = &host;
  auto r1 = v1.value()->adapter().map("A1\n", context);
  auto r2 = v2.value()->adapter().map("A1\n", context);
  ASSERT_EQ(r1.records.size(), 1u);
  ASSERT_EQ(r2.records.size(), 1u);
  EXPECT_EQ(r1.records[0].resources[0].find("\"active\""), std::string::npos);
  EXPECT_NE(r2.records[0].resources[0].find("\"active\":true"), std::string::npos);
  // The private copies are unlinked right after dlopen: nothing piles up.
  for (const auto& entry : fs::directory_iterator(fs::temp_directory_path())) {
    EXPECT_EQ(entry.path().filename().string().rfind("ilpgw-fixture-good-", 0), std::string::npos)
        << entry.path();
  }
}

TEST_F(PluginLoaderTest, AppliesDeclaredDefaultsAndConfiguredValues) {
  auto set = loadAdapterSet(configWith("fixture-good", "good-v1.so", R"({"greeting":"selamat","max_lines":5})"));
  ASSERT_TRUE(set.isOk()) << set.status().message();
  const auto& options = set.value()->adapters.at("fixture-good").options;
  std::map<std::string, std::string> by_name(options.begin(), options.end());
  EXPECT_EQ(by_name["greeting"], "selamat");
  EXPECT_EQ(by_name["max_lines"], "5");
  EXPECT_EQ(by_name["strict"], "false");  // declared default
}

TEST_F(PluginLoaderTest, RejectsUnknownOptionNamingTheKnownOnes) {
  auto set = loadAdapterSet(configWith("fixture-good", "good-v1.so", R"({"greting":"typo"})"));
  ASSERT_FALSE(set.isOk());
  EXPECT_NE(set.status().message().find("unknown option \"greting\""), std::string::npos) << set.status().message();
  EXPECT_NE(set.status().message().find("known: greeting, strict, max_lines, sleep_ms"), std::string::npos)
      << set.status().message();
}

TEST_F(PluginLoaderTest, RejectsOptionOfWrongType) {
  for (const char* block : {R"({"max_lines":"5"})", R"({"strict":"yes"})", R"({"greeting":3})",
                            R"({"max_lines":1.5})"}) {
    auto set = loadAdapterSet(configWith("fixture-good", "good-v1.so", block));
    ASSERT_FALSE(set.isOk()) << block;
    EXPECT_NE(set.status().message().find("must be"), std::string::npos) << set.status().message();
  }
}

TEST_F(PluginLoaderTest, RejectsNameMismatchWithConfig) {
  auto set = loadAdapterSet(configWith("lab", "good-v1.so"));
  ASSERT_FALSE(set.isOk());
  EXPECT_NE(set.status().message().find("calls itself \"fixture-good\""), std::string::npos);
}

TEST_F(PluginLoaderTest, SkipsDisabledPluginWithoutLoadingIt) {
  // A disabled entry may point at a library that would crash on load.
  Config config = configWith("fixture-good", "good-v1.so");
  config.plugins.push_back(PluginConfig{"fixture-crash", "crash-on-create.so", "{}", false});
  auto set = loadAdapterSet(config);
  ASSERT_TRUE(set.isOk()) << set.status().message();
  EXPECT_EQ(set.value()->adapters.size(), 1u);
  ASSERT_EQ(set.value()->disabled.size(), 1u);
  EXPECT_EQ(set.value()->disabled[0].name, "fixture-crash");
}

TEST_F(PluginLoaderTest, ConfigFileAcceptsEnabledAndTimeoutAndRejectsWrongTypes) {
  auto config = parseConfig(
      R"({"plugins":[{"name":"a","library":"a.so","enabled":false,"timeout_ms":250,"config":{"x":1}}]})");
  ASSERT_TRUE(config.isOk()) << config.status().message();
  EXPECT_FALSE(config.value().plugins[0].enabled);
  EXPECT_EQ(config.value().plugins[0].timeout_ms, 250);
  EXPECT_FALSE(parseConfig(R"({"plugins":[{"name":"a","library":"a.so","enabled":"no"}]})").isOk());
  EXPECT_FALSE(parseConfig(R"({"plugins":[{"name":"a","library":"a.so","timeout_ms":-1}]})").isOk());
  EXPECT_FALSE(parseConfig(R"({"plugins":[{"name":"a","library":"a.so","optons":{}}]})").isOk());
}

}  // namespace
}  // namespace ilpgw
