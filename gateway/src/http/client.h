// Outbound HTTPS for the layers below the server (the outbox sender and, in
// future, platform lookups): one small client whose header shows no HTTP
// library, so forwarding code depends on this contract and never on
// cpp-httplib itself. Lives in http/ because http/ is the only folder that
// includes httplib.h; it is its own target (ilpgw_http_client) that depends
// only on base/.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace ilpgw::http {

struct ClientOptions {
  std::string ca_file;  // empty: the system trust store
  int timeout_s = 30;   // connect, read and write, each
};

struct Reply {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first header of that name (case-insensitive); empty when absent.
  std::string header(std::string_view name) const;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// One keep-alive connection to one origin ("https://host:port"). Not
// thread-safe: one owner at a time. A transport failure (no answer at all)
// is kUnavailable with the library's reason; any HTTP answer is a Reply.
class Client {
 public:
  Client(const std::string& origin, const ClientOptions& options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  StatusOr<Reply> get(const std::string& path, const Headers& headers);
  StatusOr<Reply> post(const std::string& path, const Headers& headers, const std::string& body,
                       const std::string& content_type);
  StatusOr<Reply> put(const std::string& path, const Headers& headers, const std::string& body,
                      const std::string& content_type);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// GET of a whole https:// URL on a fresh connection (a document fetched now
// and then, such as a client's JWKS): the body of a 200 answer, otherwise
// kUnavailable saying what happened. Redirects are not followed.
StatusOr<std::string> fetchDocument(const std::string& url, const ClientOptions& options);

// "Basic base64(user:password)" for an Authorization header.
std::string basicAuthorization(const std::string& user, const std::string& password);

}  // namespace ilpgw::http
