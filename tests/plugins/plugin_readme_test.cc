// Each bundled adapter's README documents its options in one table
// (`| option | [type |] default | meaning |` under "## Options"). The table must
// say what the adapter declares (sdk::AdapterInfo::options, read from the real
// .so): the same option names, types and defaults, so an operator reading the
// README configures what the gateway will accept.
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "ingest/plugin_loader.h"
#include "test_support.h"

namespace ilpgw {
namespace {

struct DocumentedOption {
  std::string type;           // empty when the table has no type column
  std::string default_value;  // without the backticks; "(required)" and "" mean no default
};

std::vector<std::string> cells(const std::string& row) {
  std::vector<std::string> out;
  std::string cell;
  bool escaped = false;
  for (std::size_t i = 1; i < row.size(); ++i) {
    char c = row[i];
    if (c == '|' && !escaped) {
      std::size_t first = cell.find_first_not_of(' ');
      std::size_t last = cell.find_last_not_of(' ');
      out.push_back(first == std::string::npos ? std::string() : cell.substr(first, last - first + 1));
      cell.clear();
      continue;
    }
    escaped = c == '\\';
    cell.push_back(c);
  }
  return out;
}

std::string unquote(std::string text) {
  if (text.size() >= 2 && text.front() == '`' && text.back() == '`') return text.substr(1, text.size() - 2);
  return text;
}

// The options table of a README, by option name.
std::map<std::string, DocumentedOption> documentedOptions(const std::string& readme) {
  std::map<std::string, DocumentedOption> out;
  std::istringstream in(readme);
  std::string line;
  bool in_section = false;
  int type_column = -1, default_column = -1;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) {
      in_section = line == "## Options";
      continue;
    }
    if (!in_section || line.rfind("|", 0) != 0) continue;
    std::vector<std::string> row = cells(line);
    if (row.empty()) continue;
    if (row[0] == "option") {
      for (std::size_t i = 0; i < row.size(); ++i) {
        if (row[i] == "type") type_column = static_cast<int>(i);
        if (row[i] == "default") default_column = static_cast<int>(i);
      }
      continue;
    }
    if (row[0].rfind("---", 0) == 0 || row[0].size() < 3 || row[0].front() != '`') continue;
    DocumentedOption option;
    if (type_column >= 0 && type_column < static_cast<int>(row.size())) option.type = row[type_column];
    if (default_column >= 0 && default_column < static_cast<int>(row.size())) {
      option.default_value = unquote(row[default_column]);
    }
    out[unquote(row[0])] = option;
  }
  return out;
}

class PluginReadmeTest : public ::testing::TestWithParam<std::string> {};

TEST_P(PluginReadmeTest, OptionsTableMatchesTheDeclaredOptions) {
  const std::string name = GetParam();
  auto loaded = loadAdapter(testing::pluginDir() + "/" + name + ".so");
  ASSERT_TRUE(loaded.isOk()) << loaded.status().message();
  std::string readme = testing::readFile(testing::sourceDir() + "/plugins/" + name + "/README.md");
  ASSERT_FALSE(readme.empty());
  auto documented = documentedOptions(readme);

  const auto& declared = loaded.value()->info().options;
  for (const auto& option : declared) {
    SCOPED_TRACE(name + ": option " + option.name);
    auto it = documented.find(option.name);
    ASSERT_NE(it, documented.end()) << "declared but missing from the README's options table";
    if (!it->second.type.empty()) {
      EXPECT_EQ(it->second.type, option.type);
    }
    std::string doc_default = it->second.default_value == "(required)" ? "" : it->second.default_value;
    EXPECT_EQ(doc_default, option.default_value);
  }
  for (const auto& [documented_name, ignored] : documented) {
    bool found = false;
    for (const auto& option : declared) found |= option.name == documented_name;
    EXPECT_TRUE(found) << name << ": README documents option " << documented_name << " that the adapter does not declare";
  }
  EXPECT_EQ(documented.size(), declared.size()) << name;
}

INSTANTIATE_TEST_SUITE_P(BundledAdapters, PluginReadmeTest,
                         ::testing::Values("epuskesmas-json", "hl7v2-oru", "mapping", "posyandu-kader", "simpus-csv"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string out;
                           for (char c : info.param) out.push_back(c == '-' ? '_' : c);
                           return out;
                         });

}  // namespace
}  // namespace ilpgw
