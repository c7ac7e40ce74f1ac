#include "fhir/terminology.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/json.h"

namespace ilpgw {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

StatusOr<Terminology> Terminology::loadDirectory(const std::string& dir) {
  namespace fs = std::filesystem;
  Terminology terminology;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Status(StatusCode::kNotFound, "mappings directory not found: " + dir);
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    rapidjson::Document doc;
    if (auto error = json::parse(text.str(), doc)) {
      return Status(StatusCode::kInvalidArgument, path.string() + ": " + *error);
    }
    if (json::string(doc, "resourceType") != "ConceptMap") continue;
    std::string id(json::string(doc, "id"));
    if (id.empty()) return Status(StatusCode::kInvalidArgument, path.string() + ": ConceptMap without id");
    if (terminology.tables_.count(id) != 0) {
      return Status(StatusCode::kInvalidArgument, path.string() + ": duplicate ConceptMap id " + id);
    }
    Table table;
    const rapidjson::Value* groups = json::member(doc, "group");
    if (groups != nullptr && groups->IsArray()) {
      for (const auto& group : groups->GetArray()) {
        std::string system(json::string(group, "target"));
        const rapidjson::Value* elements = json::member(group, "element");
        if (elements == nullptr || !elements->IsArray()) continue;
        for (const auto& element : elements->GetArray()) {
          std::string code(json::string(element, "code"));
          const rapidjson::Value* targets = json::member(element, "target");
          if (code.empty() || targets == nullptr || !targets->IsArray() || targets->Empty()) continue;
          const auto& target = (*targets)[0];
          table.by_code.emplace(lower(code), sdk::Coding{system, std::string(json::string(target, "code")),
                                                         std::string(json::string(target, "display"))});
        }
      }
    }
    terminology.tables_.emplace(id, std::move(table));
    terminology.raw_.emplace(id, json::write(doc));
  }
  return terminology;
}

std::optional<sdk::Coding> Terminology::translate(std::string_view map_id, std::string_view code) const {
  auto table = tables_.find(map_id);
  if (table == tables_.end()) return std::nullopt;
  auto it = table->second.by_code.find(lower(code));
  if (it == table->second.by_code.end()) return std::nullopt;
  return it->second;
}

}  // namespace ilpgw
