// OperationOutcome: how every failure and every data problem is reported.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ilpgw/sdk/adapter.h"
#include "base/json.h"
#include "base/status.h"

namespace ilpgw {

const char* severityCode(sdk::Severity severity);
bool isBlocking(const std::vector<sdk::Issue>& issues);  // any kError or kFatal

// Builds an OperationOutcome resource value in `alloc`.
rapidjson::Value operationOutcome(const std::vector<sdk::Issue>& issues,
                                  rapidjson::Document::AllocatorType& alloc);

// Serialised OperationOutcome with one issue.
std::string outcomeJson(sdk::Severity severity, std::string_view code, std::string_view diagnostics,
                        std::string_view expression = {});
std::string outcomeJson(const std::vector<sdk::Issue>& issues);

// How a failed Status answers over HTTP. The one mapping every route uses
// (http/errors.h sends it), so the same failure answers the same way on
// every route: kUnavailable is 503 with Retry-After and one fixed text,
// kInternal is 500 and never carries the message (it may hold internals;
// the log has them); every other code answers its message.
struct ErrorAnswer {
  int http_status = 500;
  std::string body;  // OperationOutcome JSON
  std::vector<std::pair<std::string, std::string>> headers;
};
inline constexpr int kRetryAfterSeconds = 2;  // a locked or full store rarely recovers faster
inline constexpr std::string_view kUnavailableText = "the store is unavailable; retry later";
inline constexpr std::string_view kInternalText = "internal error; see the gateway log";

// `expression`: the element the failure is about, when there is one.
ErrorAnswer errorAnswer(const Status& status, std::string_view expression = {});
const char* issueTypeCode(StatusCode code);  // FHIR issue-type for a status code

}  // namespace ilpgw
