// ILP Gateway adapter SDK: the only header an adapter plugin includes.
//
// An adapter turns one posted payload in a clinic's native format (CSV, JSON,
// HL7 v2, ...) into FHIR R4 resources. The gateway loads it at run time with
// Boost.DLL, checks its ABI version before anything else, then calls it through
// the abstract `Adapter` interface below.
//
// What the host guarantees
//   - `map()` receives the whole payload; the view is valid only during the call
//     (copy what you keep, never store pointers to host buffers).
//   - `map()` may be called from many threads at once on the same Adapter object:
//     keep it free of mutable shared state, or guard that state yourself.
//   - The library stays loaded until every object it created is destroyed.
//   - The `Host` passed in the context outlives the call.
//
// What an adapter must never do
//   - let an exception escape: every virtual here is noexcept, so an escaping
//     exception terminates the gateway. Catch and report it as an Issue.
//   - block forever, read files or the network on the request path, or log
//     patient identifiers (NIK, names): `Host::log` is for operational facts.
//   - choose the organization from the payload: `Context::organization_id`
//     comes from the poster's credentials.
//
// Output contract
//   - One `Record` per native record (CSV row, JSON array element, posyandu
//     participant). A record with any Issue of severity kError or kFatal is
//     refused as a whole; the other records of the payload are still stored.
//   - Resources are FHIR R4 JSON texts with an `id` obtained from
//     `Host::resourceId` so that re-posting the same data yields the same ids.
//     References between resources of one record use those ids
//     (`"Patient/<id>"`). Leave `meta` out: the store sets versionId and
//     lastUpdated.
//   - Payload-level problems (not parseable at all) go in `MapResult::issues`
//     with severity kFatal: the gateway answers 400.
#pragma once

#include <boost/config.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ilpgw::sdk {

// Bumped whenever anything in this header changes layout or meaning. The host
// refuses an adapter whose `ilpgw_abi_version` differs.
inline constexpr std::uint32_t kAbiVersion = 2;

enum class Severity { kFatal, kError, kWarning, kInformation };

// One data problem, in the shape of an OperationOutcome.issue.
struct Issue {
  Severity severity = Severity::kError;
  // FHIR issue-type code: invalid, required, value, code-invalid, structure,
  // not-supported, business-rule, exception ...
  std::string code = "invalid";
  // Where in the native input: `record[2].pasien.nik`, `row 5, column tgl_lahir`.
  std::string location;
  // Where in the produced FHIR, when known: `Patient.identifier[0].value`.
  std::string expression;
  std::string diagnostics;  // human-readable; never include NIK or names
};

struct Record {
  std::string locator;     // `record[0]`, `row 3`, `peserta[1]`
  std::string source_key;  // the record's own business id when it has one
  std::vector<std::string> resources;  // FHIR R4 JSON, one resource per string
  std::vector<Issue> issues;
};

struct MapResult {
  std::vector<Record> records;
  std::vector<Issue> issues;  // payload-level problems
};

// One option an adapter accepts in its `config` block of gateway.json. The
// host validates the block against these declarations (unknown keys rejected)
// and shows them at GET /admin/plugins.
struct OptionSpec {
  std::string name;
  std::string type;  // "string" | "integer" | "boolean"
  std::string default_value;
  std::string description;
};

struct AdapterInfo {
  std::string name;      // the ingest route: POST /ingest/<name>
  std::string version;   // semantic version of the adapter
  std::string description;
  std::vector<std::string> formats;  // accepted media types
  std::vector<OptionSpec> options;
};

// A code found for a local code in one of the gateway's ConceptMaps.
struct Coding {
  std::string system;
  std::string code;
  std::string display;
};

// Services the gateway offers to adapters. All calls are thread-safe.
class Host {
 public:
  virtual ~Host() = default;

  // A stable FHIR id for a resource of `type` identified by `business_key`
  // (for example "nik|3672015209950002" or "encounter|<org>|KJ-2024-000123").
  // The same inputs always give the same id.
  virtual std::string resourceId(std::string_view type,
                                 std::string_view business_key) const noexcept = 0;

  // Looks `code` up in the ConceptMap whose id is `concept_map` (a file in
  // mappings/). Returns false when the map or the code is unknown.
  virtual bool translate(std::string_view concept_map, std::string_view code,
                         Coding& out) const noexcept = 0;

  // Operational logging. Never pass identifiers or names of patients.
  virtual void log(Severity severity, std::string_view message) const noexcept = 0;
};

// What the host knows about one call of `map()`.
struct Context {
  const Host* host = nullptr;
  std::string organization_id;   // the posting facility (from credentials)
  std::string timezone_offset;   // facility zone for local times, "+07:00"
  std::string content_type;      // as posted
  // Effective option values (declared defaults overlaid with config).
  std::vector<std::pair<std::string, std::string>> options;

  std::string_view option(std::string_view name) const noexcept {
    for (const auto& [key, value] : options) {
      if (key == name) return value;
    }
    return {};
  }
};

// What the host tells an adapter once, at start-up, before any map() call.
struct AdapterSetup {
  std::string name;          // the adapter's name in gateway.json (its ingest route)
  std::string mappings_dir;  // the gateway's mappings directory (ConceptMaps, mapping files)
  // Effective option values (declared defaults overlaid with config).
  std::vector<std::pair<std::string, std::string>> options;
  const Host* host = nullptr;

  std::string_view option(std::string_view key) const noexcept {
    for (const auto& [k, value] : options) {
      if (k == key) return value;
    }
    return {};
  }
};

class Adapter {
 public:
  virtual ~Adapter() = default;
  virtual AdapterInfo info() const noexcept = 0;
  virtual MapResult map(std::string_view payload, const Context& context) const noexcept = 0;

  // Called once after loading, from one thread, before any map(). Adapters
  // driven by data (the generic `mapping` adapter) read and validate their
  // mapping file here, and may take `setup.name` as their info().name so one
  // library can serve several configured names. Return false with issues
  // (severity kFatal) to stop the gateway from starting; the host re-reads
  // info() afterwards. The default accepts and changes nothing.
  virtual bool setup(const AdapterSetup& setup, std::vector<Issue>& issues) noexcept {
    static_cast<void>(setup);
    static_cast<void>(issues);
    return true;
  }
};

// Signature of the factory each plugin exports under `ilpgw_create_adapter`.
// The host owns the returned object and deletes it before unloading the library.
using CreateAdapterFn = Adapter*();

}  // namespace ilpgw::sdk

// Put this once in an adapter's .cc file, at global scope:
//   ILPGW_ADAPTER(ilpgw::plugins::my_adapter::MyAdapter)
// It exports the ABI version and the factory.
#define ILPGW_ADAPTER(AdapterClass)                                               \
  extern "C" BOOST_SYMBOL_EXPORT const std::uint32_t ilpgw_abi_version;          \
  extern "C" BOOST_SYMBOL_EXPORT const std::uint32_t ilpgw_abi_version =         \
      ::ilpgw::sdk::kAbiVersion;                                                  \
  extern "C" BOOST_SYMBOL_EXPORT ::ilpgw::sdk::Adapter* ilpgw_create_adapter();  \
  extern "C" BOOST_SYMBOL_EXPORT ::ilpgw::sdk::Adapter* ilpgw_create_adapter() { \
    try {                                                                         \
      return new AdapterClass();                                                  \
    } catch (...) {                                                               \
      return nullptr;                                                             \
    }                                                                             \
  }
