// The HTTPS front: cpp-httplib SSLServer (or plain Server when the config asks)
// tuned for keep-alive throughput, with every route answering FHIR JSON and
// every failure an OperationOutcome.
#pragma once

#include <memory>
#include <string>

#include "ingest/gateway.h"
#include "base/status.h"

namespace ilpgw {

class HttpServer {
 public:
  virtual ~HttpServer() = default;
  // Binds the configured address; returns the bound port (useful with port 0).
  virtual StatusOr<int> bind() = 0;
  // Serves until stop(); returns when the listener has closed.
  virtual void serve() = 0;
  virtual void stop() = 0;
};

// Builds the server with every route. Certificate problems fail here with a
// clear message.
StatusOr<std::unique_ptr<HttpServer>> makeServer(Gateway& gateway);

// Refuses configurations unsafe outside a developer's machine.
Status checkDeploymentSafety(const Config& config);

}  // namespace ilpgw
