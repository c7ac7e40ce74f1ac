#include "fhir/outcome.h"

namespace ilpgw {

const char* severityCode(sdk::Severity severity) {
  switch (severity) {
    case sdk::Severity::kFatal: return "fatal";
    case sdk::Severity::kError: return "error";
    case sdk::Severity::kWarning: return "warning";
    case sdk::Severity::kInformation: return "information";
  }
  return "error";
}

bool isBlocking(const std::vector<sdk::Issue>& issues) {
  for (const auto& issue : issues) {
    if (issue.severity == sdk::Severity::kError || issue.severity == sdk::Severity::kFatal) return true;
  }
  return false;
}

rapidjson::Value operationOutcome(const std::vector<sdk::Issue>& issues,
                                  rapidjson::Document::AllocatorType& alloc) {
  rapidjson::Value outcome(rapidjson::kObjectType);
  outcome.AddMember("resourceType", "OperationOutcome", alloc);
  rapidjson::Value list(rapidjson::kArrayType);
  for (const auto& issue : issues) {
    rapidjson::Value item(rapidjson::kObjectType);
    item.AddMember("severity", rapidjson::StringRef(severityCode(issue.severity)), alloc);
    item.AddMember("code", json::str(issue.code.empty() ? "invalid" : issue.code, alloc), alloc);
    if (!issue.diagnostics.empty()) item.AddMember("diagnostics", json::str(issue.diagnostics, alloc), alloc);
    if (!issue.location.empty()) {
      rapidjson::Value location(rapidjson::kArrayType);
      location.PushBack(json::str(issue.location, alloc), alloc);
      item.AddMember("location", location, alloc);
    }
    if (!issue.expression.empty()) {
      rapidjson::Value expression(rapidjson::kArrayType);
      expression.PushBack(json::str(issue.expression, alloc), alloc);
      item.AddMember("expression", expression, alloc);
    }
    list.PushBack(item, alloc);
  }
  if (issues.empty()) {
    // OperationOutcome.issue is 1..*; an empty outcome still says "all fine".
    rapidjson::Value item(rapidjson::kObjectType);
    item.AddMember("severity", "information", alloc);
    item.AddMember("code", "informational", alloc);
    list.PushBack(item, alloc);
  }
  outcome.AddMember("issue", list, alloc);
  return outcome;
}

std::string outcomeJson(const std::vector<sdk::Issue>& issues) {
  rapidjson::Document doc;
  rapidjson::Value value = operationOutcome(issues, doc.GetAllocator());
  return json::write(value);
}

std::string outcomeJson(sdk::Severity severity, std::string_view code, std::string_view diagnostics,
                        std::string_view expression) {
  sdk::Issue issue;
  issue.severity = severity;
  issue.code = std::string(code);
  issue.diagnostics = std::string(diagnostics);
  issue.expression = std::string(expression);
  return outcomeJson(std::vector<sdk::Issue>{issue});
}

const char* issueTypeCode(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "informational";
    case StatusCode::kInvalidArgument: return "invalid";
    case StatusCode::kUnauthenticated: return "login";
    case StatusCode::kPermissionDenied: return "forbidden";
    case StatusCode::kNotFound: return "not-found";
    case StatusCode::kConflict: return "conflict";
    case StatusCode::kPreconditionFailed: return "conflict";
    case StatusCode::kTooLarge: return "too-costly";
    case StatusCode::kUnsupportedMedia: return "not-supported";
    case StatusCode::kUnprocessable: return "processing";
    case StatusCode::kTooManyRequests: return "throttled";
    case StatusCode::kUnavailable: return "transient";
    case StatusCode::kInternal: return "exception";
  }
  return "exception";
}

ErrorAnswer errorAnswer(const Status& status, std::string_view expression) {
  ErrorAnswer answer;
  answer.http_status = httpStatus(status.code());
  std::string_view text = status.message();
  if (status.code() == StatusCode::kUnavailable) {
    text = kUnavailableText;
    answer.headers.emplace_back("Retry-After", std::to_string(kRetryAfterSeconds));
  } else if (status.code() == StatusCode::kInternal || text.empty()) {
    text = kInternalText;
  }
  answer.body = outcomeJson(sdk::Severity::kError, issueTypeCode(status.code()), text, expression);
  return answer;
}

}  // namespace ilpgw
