#include "security/token_request.h"

#include <cctype>

#include "base/crypto.h"

namespace ilpgw {
namespace {

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string formDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && hexDigit(s[i + 1]) >= 0 && hexDigit(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hexDigit(s[i + 1]) * 16 + hexDigit(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::map<std::string, std::string> parseForm(std::string_view body) {
  std::map<std::string, std::string> out;
  size_t at = 0;
  while (at <= body.size()) {
    size_t end = body.find('&', at);
    if (end == std::string_view::npos) end = body.size();
    std::string_view pair = body.substr(at, end - at);
    size_t eq = pair.find('=');
    if (!pair.empty()) {
      std::string name = formDecode(pair.substr(0, eq));
      std::string value = eq == std::string_view::npos ? "" : formDecode(pair.substr(eq + 1));
      out.emplace(std::move(name), std::move(value));
    }
    at = end + 1;
  }
  return out;
}

bool isFormContentType(std::string_view content_type) {
  std::string type = lower(content_type.substr(0, content_type.find(';')));
  return type == "application/x-www-form-urlencoded";
}

std::optional<BasicCredentials> parseBasicCredentials(std::string_view authorization) {
  if (lower(authorization.substr(0, 6)) != "basic ") return std::nullopt;
  BasicCredentials credentials;
  auto decoded = base64Decode(authorization.substr(6));
  size_t colon = decoded ? decoded->find(':') : std::string::npos;
  if (colon == std::string::npos) {
    credentials.malformed = true;
    return credentials;
  }
  credentials.id = formDecode(decoded->substr(0, colon));
  credentials.secret = formDecode(decoded->substr(colon + 1));
  return credentials;
}

}  // namespace ilpgw
