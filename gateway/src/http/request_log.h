// Request ids and the request log. Every request gets an id: the caller's
// X-Request-ID when it is a safe token, else a new one. The id is echoed in
// the response's X-Request-ID, put on the request's AuditEvent (via
// RequestContext::request_id) and on its log line, which names the route
// pattern (never the raw path or query), status, client and latency.
#pragma once

#include <httplib.h>

#include <string>
#include <string_view>

namespace ilpgw {

inline constexpr std::size_t kRequestIdMaxLength = 128;

// The caller's id if it may be used as is: 1..128 characters of
// A-Z a-z 0-9 and - . _ : + = / @, without a run of 8 or more digits (it
// could be a NIK or a phone number). Empty when it must be replaced.
std::string acceptedRequestId(std::string_view header_value);
// A new id: 24 random lowercase letters.
std::string newRequestId();

// The server calls these on the worker's thread: when the request head has
// been read, just before the answer is written (sets the header), and after
// it was written (writes the log line). requestId() is the id of the
// request this thread is serving.
void requestStarted(const httplib::Request& req);
void requestAnswering(httplib::Response& res, std::string_view client_id);
void requestFinished(const httplib::Request& req, const httplib::Response& res);
const std::string& requestId();

}  // namespace ilpgw
