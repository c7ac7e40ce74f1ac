// OperationOutcome: how every failure and every data problem is reported.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ilpgw/sdk/adapter.h"
#include "base/json.h"

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

}  // namespace ilpgw
