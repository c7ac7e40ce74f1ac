// Every #include in gateway/src and plugins/ obeys gateway/layers.txt: a
// layer includes only layers below it, third-party headers stay in the layer
// that owns them, and plugins see the core only through the adapter SDK.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

struct Rules {
  std::map<std::string, std::set<std::string>> allowed;  // layer -> layers it may include
  std::map<std::string, std::set<std::string>> owners;   // third-party header -> layers
};

std::vector<std::string> words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

Rules parseRules(std::istream& in) {
  Rules rules;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    auto values = words(line.substr(colon + 1));
    if (key.rfind("only ", 0) == 0) {
      rules.owners[key.substr(5)].insert(values.begin(), values.end());
    } else {
      rules.allowed[key].insert(values.begin(), values.end());
    }
  }
  return rules;
}

// The layer a path inside gateway/src belongs to: "http/client" for
// http/client.{h,cc}, else its first folder.
std::string layerOf(const std::string& relative) {
  if (relative.rfind("http/client.", 0) == 0) return "http/client";
  return relative.substr(0, relative.find('/'));
}

// Problems in one source file of `layer`, "" when it follows the rules.
std::vector<std::string> check(const Rules& rules, const std::string& layer, const std::string& name,
                               std::istream& source) {
  static const std::regex kInclude(R"re(^\s*#\s*include\s*([<"])([^">]+)[">])re");
  std::vector<std::string> problems;
  int line_no = 0;
  for (std::string line; std::getline(source, line);) {
    ++line_no;
    std::smatch m;
    if (!std::regex_search(line, m, kInclude)) continue;
    std::string header = m[2];
    std::string where = name + ":" + std::to_string(line_no) + ": ";
    auto owner = rules.owners.find(fs::path(header).filename().string());
    if (owner != rules.owners.end() && !owner->second.count(layer)) {
      problems.push_back(where + layer + " may not include " + header);
      continue;
    }
    if (m[1] != "\"" || header.rfind("ilpgw/sdk/", 0) == 0) continue;
    if (header.find('/') == std::string::npos) {
      problems.push_back(where + "include \"" + header + "\" by its layer path (e.g. \"base/json.h\")");
      continue;
    }
    std::string target = layerOf(header);
    if (target == layer) continue;
    if (!rules.allowed.count(target)) continue;  // not a core header (e.g. a test helper)
    auto allowed = rules.allowed.find(layer);
    if (allowed == rules.allowed.end() || !allowed->second.count(target)) {
      problems.push_back(where + layer + " may not include " + header + " (layer " + target + ")");
    }
  }
  return problems;
}

Rules loadRules() {
  std::ifstream in(std::string(ILPGW_SOURCE_DIR) + "/gateway/layers.txt");
  EXPECT_TRUE(in) << "gateway/layers.txt is missing";
  return parseRules(in);
}

bool isSource(const fs::path& p) { return p.extension() == ".h" || p.extension() == ".cc"; }

TEST(LayeringTest, EveryCoreIncludeFollowsTheLayerTable) {
  Rules rules = loadRules();
  fs::path src = fs::path(ILPGW_SOURCE_DIR) / "gateway" / "src";
  std::vector<std::string> problems;
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(src)) {
    if (!entry.is_regular_file() || !isSource(entry.path())) continue;
    std::string relative = fs::relative(entry.path(), src).string();
    std::string layer = layerOf(relative);
    ASSERT_TRUE(rules.allowed.count(layer)) << relative << " is in a folder layers.txt does not name";
    std::ifstream in(entry.path());
    auto found = check(rules, layer, relative, in);
    problems.insert(problems.end(), found.begin(), found.end());
    ++files;
  }
  EXPECT_GT(files, 40);
  for (const auto& p : problems) ADD_FAILURE() << p;
}

TEST(LayeringTest, PluginsSeeTheCoreOnlyThroughTheSdk) {
  Rules rules = loadRules();
  std::vector<std::string> problems;
  for (const auto& entry : fs::recursive_directory_iterator(fs::path(ILPGW_SOURCE_DIR) / "plugins")) {
    if (!entry.is_regular_file() || !isSource(entry.path())) continue;
    std::ifstream in(entry.path());
    int line_no = 0;
    for (std::string line; std::getline(in, line);) {
      ++line_no;
      static const std::regex kCore(R"re(^\s*#\s*include\s*"((base|store|fhir|security|forward|ingest|http|cli)/[^"]+)")re");
      std::smatch m;
      if (std::regex_search(line, m, kCore)) {
        problems.push_back(entry.path().string() + ":" + std::to_string(line_no) + ": includes core header " +
                           m[1].str() + "; plugins include only ilpgw/sdk/...");
      }
    }
  }
  for (const auto& p : problems) ADD_FAILURE() << p;
}

TEST(LayeringTest, TheCheckerRefusesAnUpwardInclude) {
  std::istringstream table("base:\nstore: base\nhttp: base store\nonly httplib.h: http\n");
  Rules rules = parseRules(table);
  std::istringstream upward("#include \"base/json.h\"\n#include \"http/server.h\"\n");
  auto problems = check(rules, "store", "store/x.cc", upward);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("store/x.cc:2: store may not include http/server.h"), std::string::npos);

  std::istringstream library("#include <httplib.h>\n");
  EXPECT_EQ(check(rules, "store", "store/y.cc", library).size(), 1u);
  std::istringstream allowed("#include <httplib.h>\n#include \"store/store.h\"\n");
  EXPECT_TRUE(check(rules, "http", "http/z.cc", allowed).empty());
  std::istringstream flat("#include \"json.h\"\n");
  EXPECT_EQ(check(rules, "store", "store/w.cc", flat).size(), 1u);
}

}  // namespace
