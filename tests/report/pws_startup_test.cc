// A district adding an indicator gets a clear refusal: the real gateway
// binary does not start with a malformed Measure file and says which file
// and which field.
#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>

#include "test_support.h"

namespace ilpgw {
namespace {

TEST(PwsStartupTest, MalformedMeasureFileStopsStartUpNamingFileAndField) {
  testing::TempDir dir;
  std::filesystem::path mappings = dir.path() / "mappings";
  std::filesystem::copy(testing::mappingsDir(), mappings, std::filesystem::copy_options::recursive);
  std::string measure = testing::readFile(mappings / "measures" / "pws-k1.json");
  std::string numerator = "not exists (Encounter";
  size_t at = measure.find(numerator);
  ASSERT_NE(at, std::string::npos);
  measure.replace(at, numerator.size(), "not exists (Encounter[colour = red]");
  testing::writeFile(mappings / "measures" / "pws-k1.json", measure);

  testing::GatewayOptions options;
  options.mappings_dir = mappings.string();
  try {
    testing::GatewayProcess gateway(options);
    FAIL() << "the gateway started with a malformed Measure";
  } catch (const std::runtime_error& e) {
    std::string log = e.what();
    EXPECT_NE(log.find("measures/pws-k1.json: group[0].population[2].criteria.expression: at character"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("\"colour\" is not a field"), std::string::npos) << log;
  }
}

}  // namespace
}  // namespace ilpgw
