// ILP Gateway adapter SDK: the only header an adapter plugin includes.
//
// An adapter turns one posted payload in a clinic's native format (CSV, JSON,
// HL7 v2, ...) into FHIR R4 resources. The gateway loads it at run time with
// Boost.DLL (dlopen with RTLD_LOCAL | RTLD_NOW), checks its ABI version before
// anything else, then calls it through the abstract `Adapter` interface below.
// Tutorial: docs/writing-an-adapter.md; starting point: `ilp-gateway adapter
// new NAME`; self-test: `ilp-gateway adapter check NAME.so`.
//
// Life cycle
//   1. load: the host reads `ilpgw_abi_version` and refuses the library if it
//      differs from the host's kAbiVersion (nothing else is called).
//   2. `ilpgw_create_adapter()` once per load, then `info()` once; the host
//      copies the AdapterInfo and validates the plugin's `config` block of
//      gateway.json against `info().options` (unknown keys, wrong types refused).
//   3. `map()` once per posted payload, for as long as the adapter is loaded,
//      from many threads at once.
//   4. on reload (POST /admin/plugins/reload, SIGHUP) a changed library is
//      loaded as a new, independent copy next to the old one; the old
//      Adapter object is deleted, and its library unmapped, once the last
//      request using it has finished. Static state is per copy.
//
// What the host guarantees
//   - `map()` receives the whole payload; `payload` and `context` (with every
//     string in it) are valid only during the call. Copy what you keep; never
//     keep a pointer or string_view into host buffers after returning.
//   - The `Host` (`context.host`) outlives the call and is thread-safe.
//   - `map()` may run concurrently on the same Adapter object: keep it free of
//     mutable shared state (the adapters we ship have none), or guard that
//     state yourself. Nothing is called on an Adapter after its destructor.
//   - The library stays loaded until every object it created is destroyed;
//     strings and vectors you return are copied by the host before unloading.
//   - Every resource you return is parsed, validated as FHIR R4 (and the
//     SATUSEHAT rules) and stamped with `meta.source` =
//     "ilp-gateway/<name>@<version>" by the host: invalid output fails only
//     that record (quarantined with an OperationOutcome), never the gateway.
//   - `map()` runs under a deadline (plugin `timeout_ms`, default 10 s). A call
//     past it is answered 504 for that payload (payload quarantined); the
//     thread cannot be killed, so it keeps running until you return, and an
//     adapter with several such calls is refused (503) until they finish.
//   - The host writes a marker naming your adapter while `map()` runs; if your
//     code crashes the process, the next start logs your name and version, and
//     the operator can set `"enabled": false` on your plugin entry.
//
// What an adapter must never do
//   - let an exception escape: every virtual here is noexcept, so an escaping
//     exception calls std::terminate and takes the gateway down. Wrap the body
//     of map() in try/catch and report failures as Issues.
//   - keep pointers into host memory (payload, context, the Host's strings)
//     after the call returns, or hand out pointers into its own memory: return
//     values by value only.
//   - block forever or for long: no network, no waiting on locks held across
//     calls, no reading files on the request path (read what you need in the
//     constructor, or put it in a ConceptMap and use Host::translate).
//   - log patient identifiers or names (NIK, medical record numbers, names):
//     `Host::log` is for operational facts ("mapped 3 records").
//   - choose the organization from the payload: `Context::organization_id`
//     comes from the poster's credentials.
//   - exit, abort, install signal handlers or change process-wide state
//     (locale, environment, current directory, stdout buffering).
//
// Output contract
//   - One `Record` per native record (CSV row, JSON array element, HL7
//     message). A record with any Issue of severity kError or kFatal is
//     refused as a whole; the other records of the payload are still stored.
//   - Resources are FHIR R4 JSON texts with an `id` obtained from
//     `Host::resourceId` so that re-posting the same data yields the same ids.
//     References between resources of one record use those ids
//     (`"Patient/<id>"`). Leave `meta` out: the store sets versionId and
//     lastUpdated, the host sets source.
//   - Payload-level problems (not parseable at all) go in `MapResult::issues`
//     with severity kFatal: the gateway answers 400 and keeps the payload in
//     quarantine.
//
// Compatibility: the host and the adapter must be built from the same
// kAbiVersion with the same compiler family and standard library (the
// interface passes std::string and std::vector by value). Build with the
// installed CMake package (`find_package(IlpGateway)` + ilpgw_add_adapter),
// which sets C++20 and hidden visibility.
#pragma once

#include <boost/config.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ilpgw::sdk {

// Bumped whenever anything in this header changes layout or meaning. The host
// refuses an adapter whose `ilpgw_abi_version` differs; rebuild the adapter
// against the new SDK (no source change is needed unless the header says so).
// Version 2 added Adapter::setup() and AdapterSetup.
inline constexpr std::uint32_t kAbiVersion = 2;

// Issue severities, as in OperationOutcome.issue.severity. kFatal: the whole
// payload is unusable (400). kError: this record is refused. kWarning,
// kInformation: the record is stored and the issue is returned with it.
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

// What one native record became.
struct Record {
  std::string locator;     // where it was: `record[0]`, `row 3`, `message[1]`; shown to the clinic
  std::string source_key;  // the record's own business id when it has one (kept with quarantined records)
  std::vector<std::string> resources;  // FHIR R4 JSON, one resource per string, each with its id
  std::vector<Issue> issues;           // problems of this record only
};

// The result of one map() call. Returned by value: the host copies it before
// the library could be unloaded.
struct MapResult {
  std::vector<Record> records;
  std::vector<Issue> issues;  // payload-level problems
};

// One option an adapter accepts in its `config` block of gateway.json. The
// host validates the block against these declarations (unknown keys rejected)
// and shows them at GET /admin/plugins.
// Declare each option once here; that one table is the validation, the
// defaults (Context::options always holds every declared option), the
// documentation at GET /admin/plugins and in `adapter check`.
struct OptionSpec {
  std::string name;           // key in the plugin's config block
  std::string type;           // "string" | "integer" | "boolean" (anything else is refused at load)
  std::string default_value;  // as text: "10", "true", "lab-loinc"
  std::string description;    // one line for operators
};

// Who the adapter is. Called once after creation; must not depend on config.
struct AdapterInfo {
  std::string name;      // the ingest route: POST /ingest/<name>; must equal the plugin's name in gateway.json
  std::string version;   // semantic version; bump it on every change (stored resources record it)
  std::string description;
  std::vector<std::string> formats;  // accepted media types; a post with another Content-Type gets 415
  std::vector<OptionSpec> options;
};

// A code found for a local code in one of the gateway's ConceptMaps.
struct Coding {
  std::string system;
  std::string code;
  std::string display;
};

// Services the gateway offers to adapters. All calls are thread-safe, never
// throw and never block for long. Valid for the duration of map() only.
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

  // Operational logging into the gateway's log, prefixed "adapter:". Never pass
  // identifiers or names of patients (runs of 8+ digits are masked anyway).
  // kFatal and kError log as errors. Keep it rare: not one line per record.
  virtual void log(Severity severity, std::string_view message) const noexcept = 0;
};

// What the host knows about one call of `map()`. Valid during the call only.
struct Context {
  const Host* host = nullptr;
  std::string organization_id;   // the posting facility (from credentials)
  std::string timezone_offset;   // facility zone for local times, "+07:00"
  std::string content_type;      // as posted
  // Effective option values (declared defaults overlaid with config), every
  // declared option present, values as text: "true"/"false", "42", "abc".
  std::vector<std::pair<std::string, std::string>> options;

  // The value of option `name`, or empty for an undeclared name. The view is
  // valid during the call only; copy it to keep it.
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

// The interface an adapter implements. info() and map() are const and
// noexcept: const because many threads call them at once, noexcept because no
// exception may cross the library boundary.
class Adapter {
 public:
  virtual ~Adapter() = default;  // runs before the library is unmapped
  virtual AdapterInfo info() const noexcept = 0;
  // Maps one payload (the raw request body, any encoding the adapter accepts).
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
