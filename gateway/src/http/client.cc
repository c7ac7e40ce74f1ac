#include "http/client.h"

#include <httplib.h>

#include <strings.h>

namespace ilpgw::http {

std::string Reply::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() && strncasecmp(key.data(), name.data(), name.size()) == 0) return value;
  }
  return {};
}

struct Client::Impl {
  explicit Impl(const std::string& origin) : client(origin) {}
  httplib::Client client;
};

Client::Client(const std::string& origin, const ClientOptions& options) : impl_(std::make_unique<Impl>(origin)) {
  auto& client = impl_->client;
  if (!options.ca_file.empty()) client.set_ca_cert_path(options.ca_file);
  client.enable_server_certificate_verification(true);
  client.set_connection_timeout(options.timeout_s);
  client.set_read_timeout(options.timeout_s);
  client.set_write_timeout(options.timeout_s);
  client.set_keep_alive(true);
  client.set_tcp_nodelay(true);
}

Client::~Client() = default;

namespace {

httplib::Headers toHeaders(const Headers& headers) {
  httplib::Headers out;
  for (const auto& [key, value] : headers) out.emplace(key, value);
  return out;
}

StatusOr<Reply> toReply(const httplib::Result& res) {
  if (!res) return Status(StatusCode::kUnavailable, httplib::to_string(res.error()));
  Reply reply;
  reply.status = res->status;
  for (const auto& [key, value] : res->headers) reply.headers.emplace_back(key, value);
  reply.body = res->body;
  return reply;
}

}  // namespace

StatusOr<Reply> Client::get(const std::string& path, const Headers& headers) {
  return toReply(impl_->client.Get(path.c_str(), toHeaders(headers)));
}

StatusOr<Reply> Client::post(const std::string& path, const Headers& headers, const std::string& body,
                             const std::string& content_type) {
  return toReply(impl_->client.Post(path.c_str(), toHeaders(headers), body, content_type.c_str()));
}

StatusOr<Reply> Client::put(const std::string& path, const Headers& headers, const std::string& body,
                            const std::string& content_type) {
  return toReply(impl_->client.Put(path.c_str(), toHeaders(headers), body, content_type.c_str()));
}

StatusOr<std::string> fetchDocument(const std::string& url, const ClientOptions& options) {
  constexpr std::string_view kScheme = "https://";
  if (url.rfind(kScheme, 0) != 0) return Status(StatusCode::kInvalidArgument, "not an https:// URL: " + url);
  size_t path_at = url.find('/', kScheme.size());
  std::string origin = url.substr(0, path_at);
  std::string path = path_at == std::string::npos ? "/" : url.substr(path_at);
  if (origin.size() == kScheme.size()) return Status(StatusCode::kInvalidArgument, "no host in " + url);
  Client client(origin, options);
  auto reply = client.get(path, {{"Accept", "application/json"}});
  if (!reply.isOk()) return Status(StatusCode::kUnavailable, "GET " + url + ": " + reply.status().message());
  if (reply->status != 200) {
    return Status(StatusCode::kUnavailable, "GET " + url + " answered " + std::to_string(reply->status));
  }
  return std::move(reply->body);
}

std::string basicAuthorization(const std::string& user, const std::string& password) {
  return httplib::make_basic_authentication_header(user, password).second;
}

}  // namespace ilpgw::http
