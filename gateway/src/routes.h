// Route handlers: thin adapters from HTTP to Gateway operations.
#pragma once

#include <httplib.h>

#include "gateway.h"

namespace ilpgw {

void registerRoutes(httplib::Server& server, Gateway& gateway, bool tls);

// CapabilityStatement describing exactly what the routes implement.
std::string capabilityStatement(const Gateway& gateway);

}  // namespace ilpgw
