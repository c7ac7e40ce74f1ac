// Sends a failed Status as the HTTP answer: status, OperationOutcome and
// headers from the one mapping in fhir/outcome.h (errorAnswer), so every
// route answers the same failure the same way.
#pragma once

#include <httplib.h>

#include <string_view>

#include "base/status.h"
#include "fhir/outcome.h"

namespace ilpgw {

void sendAnswer(httplib::Response& res, const ErrorAnswer& answer);
void sendStatus(httplib::Response& res, const Status& status, std::string_view expression = {});

}  // namespace ilpgw
