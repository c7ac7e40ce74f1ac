// Admin routes: quarantine (list, show, reprocess),
// raw payloads, the outbox (list, resend dead letters, records waiting for
// national platform data and their retry) and GET /ready with
// the outbox state. Handlers stay thin: the work is in quarantine.cc and the
// store.
#pragma once

#include <httplib.h>

#include "ingest/gateway.h"

namespace ilpgw {

void registerAdminRoutes(httplib::Server& server, Gateway& gateway);

// The body of GET /ready; `ready` tells whether to answer 200 or 503.
std::string readyJson(Gateway& gateway, bool& ready);

// Seconds since a FHIR instant (for "age of the oldest unsent item"); -1 if unreadable.
std::int64_t secondsSince(const std::string& instant);

}  // namespace ilpgw
