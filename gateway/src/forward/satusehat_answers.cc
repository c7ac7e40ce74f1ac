#include "forward/satusehat_answers.h"

#include <algorithm>
#include <cctype>

#include "base/json.h"
#include "base/log.h"

namespace ilpgw {

std::optional<PlatformToken> parsePlatformToken(std::string_view body) {
  rapidjson::Document doc;
  if (json::parse(body, doc) || !doc.IsObject() || json::string(doc, "access_token").empty()) return std::nullopt;
  PlatformToken token;
  token.access_token = std::string(json::string(doc, "access_token"));
  if (const auto* e = json::member(doc, "expires_in")) {
    if (e->IsInt64()) {
      token.lifetime_s = e->GetInt64();
    } else if (e->IsString()) {
      std::string text = e->GetString();
      if (!text.empty() && text.size() < 10 &&
          std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; })) {
        token.lifetime_s = std::stoll(text);
      }
    } else if (e->IsDouble() && e->GetDouble() > 0 && e->GetDouble() < 1e9) {
      token.lifetime_s = static_cast<std::int64_t>(e->GetDouble());
    }
  }
  token.lifetime_s = std::clamp<std::int64_t>(token.lifetime_s, 1, 30 * 86400);
  return token;
}

namespace {

template <typename Visit>
void eachResultId(std::string_view bundle, Visit&& visit) {
  rapidjson::Document doc;
  if (json::parse(bundle, doc) || !doc.IsObject()) return;
  const auto* entries = json::member(doc, "entry");
  if (entries == nullptr || !entries->IsArray()) return;
  for (const auto& entry : entries->GetArray()) {
    const auto* resource = json::member(entry, "resource");
    if (resource == nullptr || !resource->IsObject()) continue;
    std::string_view id = json::string(*resource, "id");
    if (id.empty() || id.size() > 64) continue;
    if (!visit(id, *resource)) return;
  }
}

}  // namespace

std::optional<std::string> singleSearchResult(std::string_view bundle, std::string_view birth_date) {
  std::optional<std::string> found;
  int matches = 0;
  eachResultId(bundle, [&](std::string_view id, const rapidjson::Value& resource) {
    if (!birth_date.empty() && json::string(resource, "birthDate") != birth_date) return true;
    found = std::string(id);
    return ++matches < 2;
  });
  if (matches != 1) return std::nullopt;
  return found;
}

std::optional<std::string> firstSearchResult(std::string_view bundle) {
  std::optional<std::string> found;
  eachResultId(bundle, [&](std::string_view id, const rapidjson::Value&) {
    found = std::string(id);
    return false;
  });
  return found;
}

std::string platformRefusalReason(std::string_view type, std::string_view body, int status) {
  rapidjson::Document doc;
  std::string text, expression;
  if (!json::parse(body, doc) && doc.IsObject() && json::string(doc, "resourceType") == "OperationOutcome") {
    if (const auto* issues = json::member(doc, "issue"); issues != nullptr && issues->IsArray() && !issues->Empty()) {
      const auto& issue = (*issues)[0];
      if (const auto* details = json::member(issue, "details")) text = std::string(json::string(*details, "text"));
      if (text.empty()) text = std::string(json::string(issue, "diagnostics"));
      if (const auto* expr = json::member(issue, "expression"); expr != nullptr && expr->IsArray() && !expr->Empty() &&
                                                                 (*expr)[0].IsString()) {
        expression = maskIdentifiers(std::string((*expr)[0].GetString()).substr(0, 200));
      }
    }
  }
  text = maskIdentifiers(text.substr(0, 300));
  std::string rule;
  if (auto at = text.find("RuleNumber:"); at != std::string::npos) {
    size_t i = at + 11;
    while (i < text.size() && text[i] == ' ') ++i;
    while (i < text.size() && rule.size() < 9 && std::isdigit(static_cast<unsigned char>(text[i]))) rule += text[i++];
  }
  std::string where = expression.empty() ? "" : " (" + expression + ")";
  std::string rule_id = rule.empty() ? "" : ", aturan " + rule;
  std::string rule_en = rule.empty() ? "" : ", rule " + rule;
  return "SATUSEHAT menolak " + std::string(type) + " ini (HTTP " + std::to_string(status) + rule_id + ")" + where +
         ": " + (text.empty() ? "tanpa keterangan" : text) +
         ". Perbaiki data di aplikasi puskesmas atau konfigurasi gateway, lalu kirim ulang. / SATUSEHAT refused this " +
         std::string(type) + " (HTTP " + std::to_string(status) + rule_en + ")" + where + ": " +
         (text.empty() ? "no details" : text) + ". Fix the record or the gateway configuration, then resend.";
}

}  // namespace ilpgw
