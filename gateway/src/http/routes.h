// Route handlers: thin adapters from HTTP to Gateway operations.
#pragma once

#include <httplib.h>

#include "ingest/gateway.h"

namespace ilpgw {

void registerRoutes(httplib::Server& server, Gateway& gateway, bool tls);

}  // namespace ilpgw
