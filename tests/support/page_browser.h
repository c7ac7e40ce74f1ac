// A cookie-keeping HTTPS client that acts like a browser on the gateway's
// pages for people (login form, session cookie, CSRF fields), and making
// accounts with `ilp-gateway user add`. Used by the tests of the pages.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <string>
#include <vector>

#include "test_support.h"

namespace ilpgw::testing {

// Cookies kept and sent back the way a browser keeps them for one site.
class Browser {
 public:
  explicit Browser(const GatewayProcess& gateway) : client_(gateway.client()) {}

  httplib::Result get(const std::string& path) {
    auto res = client_->Get(path.c_str(), headers());
    keep(res);
    return res;
  }
  httplib::Result post(const std::string& path, const httplib::Params& form) {
    auto res = client_->Post(path.c_str(), headers(), form);
    keep(res);
    return res;
  }
  // GET /masuk, then POST it with the form's CSRF token.
  httplib::Result login(const std::string& username, const std::string& password, const std::string& next = "/pws") {
    auto form = get("/masuk");
    EXPECT_TRUE(form);
    return post("/masuk", {{"csrf", hidden(form->body, "csrf")}, {"username", username}, {"password", password},
                           {"next", next}});
  }
  static std::string hidden(const std::string& html, const std::string& name) {
    std::smatch m;
    std::regex field("name=\"" + name + "\" value=\"([^\"]*)\"");
    return std::regex_search(html, m, field) ? std::string(m[1]) : std::string();
  }
  std::map<std::string, std::string>& cookies() { return cookies_; }
  std::vector<std::string> set_cookie_lines;

 private:
  httplib::Headers headers() const {
    std::string jar;
    for (const auto& [name, value] : cookies_) jar += (jar.empty() ? "" : "; ") + name + "=" + value;
    return jar.empty() ? httplib::Headers{} : httplib::Headers{{"Cookie", jar}};
  }
  void keep(const httplib::Result& res) {
    if (!res) return;
    auto range = res->headers.equal_range("Set-Cookie");
    for (auto it = range.first; it != range.second; ++it) {
      set_cookie_lines.push_back(it->second);
      std::string line = it->second;
      std::string pair = line.substr(0, line.find(';'));
      std::string name = pair.substr(0, pair.find('='));
      std::string value = pair.substr(pair.find('=') + 1);
      if (value.empty() || line.find("Max-Age=0") != std::string::npos) {
        cookies_.erase(name);
      } else {
        cookies_[name] = value;
      }
    }
  }
  std::unique_ptr<httplib::Client> client_;
  std::map<std::string, std::string> cookies_;
};

// `ilp-gateway user add` against a running gateway's store; `orgs` comma-separated or empty.
inline void addPerson(const GatewayProcess& gateway, const std::string& name, const std::string& role,
                      const std::string& orgs, const std::string& password) {
  TempDir dir;
  writeFile(dir.file("pw"), password + "\n");
  std::vector<std::string> args = {"user", "add", name, "--config", gateway.configPath(), "--role", role,
                                   "--password-file", dir.file("pw")};
  if (!orgs.empty()) {
    args.push_back("--org");
    args.push_back(orgs);
  }
  std::string out;
  std::string err;
  ASSERT_EQ(runGateway(args, out, &err), 0) << err;
}

}  // namespace ilpgw::testing
