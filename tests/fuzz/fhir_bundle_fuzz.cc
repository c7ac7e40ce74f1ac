// libFuzzer target: POST /fhir, transaction and batch Bundles
// (http/fhir_api.h, FhirApi::transaction): JSON, Bundle.type, every entry's
// request method and url, fullUrl and urn:uuid references, ifNoneExist and
// ifMatch, validation, and the commit of what passes, into a real SQLite
// store on tmpfs. The caller is the development caller of one organization.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "http/fhir_api.h"
#include "ingest/gateway.h"
#include "security/request_context.h"

namespace {

struct Fixture {
  Fixture() {
    std::string dir = "/dev/shm/ilpgw-fuzz-bundle-XXXXXX";
    if (access("/dev/shm", W_OK) != 0) dir = "/tmp/ilpgw-fuzz-bundle-XXXXXX";
    if (mkdtemp(dir.data()) == nullptr) std::abort();
    ilpgw::Config config;
    config.data_dir = dir + "/data";
    config.mappings_dir = ILPGW_MAPPINGS_DIR;
    config.organization_id = "pkm-selat";
    config.auth_enabled = false;
    auto started = ilpgw::Gateway::start(config, {}, false);
    if (!started.isOk()) {
      std::fprintf(stderr, "fhir_bundle_fuzz: %s\n", started.status().message().c_str());
      std::abort();
    }
    gateway = std::move(started.value());
    api = std::make_unique<ilpgw::FhirApi>(*gateway);
  }
  std::unique_ptr<ilpgw::Gateway> gateway;
  std::unique_ptr<ilpgw::FhirApi> api;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Fixture* fixture = new Fixture();  // lives for the process
  ilpgw::RequestContext caller = ilpgw::developmentCaller("pkm-selat");
  ilpgw::FhirRequest req;
  req.base_url = "https://gw.example.id/fhir";
  req.headers["content-type"] = "application/fhir+json";
  req.body.assign(reinterpret_cast<const char*>(data), size);
  ilpgw::FhirResponse res = fixture->api->transaction(caller, req);
  if (res.status < 200 || res.status > 599) std::abort();
  return 0;
}
