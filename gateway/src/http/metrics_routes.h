// GET /metrics: the Prometheus text exposition (format 0.0.4) of the
// registry in base/metrics.h, answered only to loopback callers (a local
// Prometheus or node exporter, or an SSH tunnel); others get 403. Also the
// per-request bookkeeping the server calls for every answer.
#pragma once

#include <httplib.h>

#include <string>
#include <string_view>

#include "ingest/gateway.h"

namespace ilpgw {

void registerMetricsRoutes(httplib::Server& server, Gateway& gateway);

// The route pattern of a request path, as a metrics label: fixed words stay,
// resource types stay when the gateway knows them, everything else (ids,
// adapter names, job ids) becomes a placeholder, so labels never carry ids
// and their number stays bounded, e.g. /fhir/Patient/{id}/_history/{vid}.
std::string routePattern(std::string_view path);

// The server calls these around every request on the worker's thread: the
// head has been read, and the answer has been written.
void requestHeadRead();
void requestAnswered(const httplib::Request& req, const httplib::Response& res);

}  // namespace ilpgw
