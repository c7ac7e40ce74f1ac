// The FHIR REST API under /fhir: capabilities, read/vread, history, search
// with stable-cursor paging, direct FHIR ingest (create, conditional create,
// update with If-Match, transaction and batch Bundles) and Bulk Data $export.
// FhirApi's operations take a plain FhirRequest and return a FhirResponse so
// they are tested without HTTP; registerFhirApi() only wires them to routes.
#pragma once

#include <httplib.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fhir/bulk_export.h"
#include "ingest/gateway.h"
#include "fhir/search_params.h"
#include "security/request_context.h"

namespace ilpgw {

struct FhirRequest {
  std::string base_url;  // e.g. https://gw.example.id/fhir, no trailing slash
  QueryParams params;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct FhirResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/fhir+json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string file_path;  // when set, the body is this file, streamed
};

class FhirApi {
 public:
  explicit FhirApi(Gateway& gateway);

  FhirResponse capabilities(const FhirRequest& req) const;
  // `caller` decides what is visible (tenant isolation) and, for writes,
  // which organization the records belong to; writes mark it audited.
  FhirResponse read(const RequestContext& caller, const FhirRequest& req, const std::string& type,
                    const std::string& id, std::optional<std::int64_t> version);
  FhirResponse search(const RequestContext& caller, const FhirRequest& req, const std::string& type);
  // type and id may be empty (type or system level).
  FhirResponse history(const RequestContext& caller, const FhirRequest& req, const std::string& type,
                       const std::string& id);
  FhirResponse create(RequestContext& caller, const FhirRequest& req, const std::string& type);
  FhirResponse update(RequestContext& caller, const FhirRequest& req, const std::string& type, const std::string& id);
  FhirResponse transaction(RequestContext& caller, const FhirRequest& req);
  // Patient/{id}/$everything: the patient and every resource in its
  // compartment (as this gateway indexes it), paged by _count.
  FhirResponse everything(const RequestContext& caller, const FhirRequest& req, const std::string& id);

  FhirResponse exportKickOff(const RequestContext& caller, const FhirRequest& req, ExportLevel level,
                             const std::string& request_url);
  FhirResponse exportStatus(const RequestContext& caller, const FhirRequest& req, const std::string& job);
  FhirResponse exportCancel(const RequestContext& caller, const std::string& job);
  FhirResponse exportFile(const RequestContext& caller, const std::string& job, const std::string& name);

 private:
  Gateway& gateway_;
  std::unique_ptr<BulkExporter> exporter_;
};

// CapabilityStatement listing exactly what FhirApi implements.
std::string capabilityStatement(const Config& config, const std::string& base_url);

// The base URL of the FHIR API as the caller sees it (server.public_base_url,
// else the request's Host), without a trailing slash: https://gw/fhir.
std::string fhirBaseUrl(const Config& config, const httplib::Request& req, bool tls);

// Registers every /fhir route (most specific first). The FhirApi lives as
// long as the server's handlers.
void registerFhirApi(httplib::Server& server, Gateway& gateway, bool tls);

}  // namespace ilpgw
