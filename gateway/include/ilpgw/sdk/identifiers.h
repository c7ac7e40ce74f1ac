// Identifier systems, code systems and extension URLs shared by the adapters
// and the core. One place, so an adapter's Patient and the core's identity
// and validation rules cannot disagree on a system string by one character.
// SATUSEHAT's own systems where it defines one; our namespace
// (https://ilp-gateway.id/...) where it does not, rather than inventing one
// under fhir.kemkes.go.id.
#pragma once

#include <string_view>

namespace ilpgw::sdk {

// Identifier systems for people.
inline constexpr std::string_view kNikSystem = "https://fhir.kemkes.go.id/id/nik";
// A newborn without a NIK is identified through the mother's NIK.
inline constexpr std::string_view kNikIbuSystem = "https://fhir.kemkes.go.id/id/nik-ibu";
inline constexpr std::string_view kIhsNumberSystem = "https://fhir.kemkes.go.id/id/ihs-number";
// Kemenkes publishes no system for the 13-digit BPJS card number.
inline constexpr std::string_view kBpjsSystem = "https://ilp-gateway.id/fhir/sid/bpjs";

// Facility-scoped business identifiers: the prefix followed by the
// organization id ("http://sys-ids.kemkes.go.id/encounter/<org>").
inline constexpr std::string_view kMrnSystemPrefix = "http://sys-ids.kemkes.go.id/mrn/";
inline constexpr std::string_view kEncounterSystemPrefix = "http://sys-ids.kemkes.go.id/encounter/";
inline constexpr std::string_view kDiagnosticSystemPrefix = "http://sys-ids.kemkes.go.id/diagnostic/";
inline constexpr std::string_view kObservationSystemPrefix = "http://sys-ids.kemkes.go.id/observation/";

// Code systems.
inline constexpr std::string_view kLoincSystem = "http://loinc.org";
inline constexpr std::string_view kUcumSystem = "http://unitsofmeasure.org";
inline constexpr std::string_view kIcd10System = "http://hl7.org/fhir/sid/icd-10";
inline constexpr std::string_view kKfaSystem = "http://sys-ids.kemkes.go.id/kfa";

// SATUSEHAT's address extension carrying province/city/district/village codes.
inline constexpr std::string_view kAdministrativeCodeUrl =
    "https://fhir.kemkes.go.id/r4/StructureDefinition/administrativeCode";

}  // namespace ilpgw::sdk
