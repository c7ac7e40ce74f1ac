// Reshaping a stored resource into what the national platform SATUSEHAT
// accepts, before it is sent (docs/satusehat.md, "What is sent"): platform
// ids in references, the puskesmas' platform organization in identifier
// systems and serviceProvider, statusHistory, times with an explicit offset,
// one ICD-10 code per Condition, the registered Location of the poli,
// medication with KFA codes, and a business identifier on every resource so
// a create whose answer was lost can be found again. Pure functions: no I/O.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "forward/satusehat_profile.h"

namespace ilpgw {

inline constexpr std::string_view kNikSystem = "https://fhir.kemkes.go.id/id/nik";
inline constexpr std::string_view kNikIbuSystem = "https://fhir.kemkes.go.id/id/nik-ibu";
inline constexpr std::string_view kKfaSystem = "http://sys-ids.kemkes.go.id/kfa";
inline constexpr std::string_view kIcd10System = "http://hl7.org/fhir/sid/icd-10";

struct ShapeContext {
  const SatusehatOrganization* organization = nullptr;
  std::string timezone_offset = "+07:00";  // for times sent without one
  // "Type/ourId" -> platform id, for every reference that has one.
  std::map<std::string, std::string> links;
  // The platform id this resource already has (a PUT), empty for a create.
  std::string platform_id;
};

// Why a resource cannot be made valid: plain words (Bahasa Indonesia, then
// English) and the FHIR path of the field.
struct ShapeProblem {
  std::string reason;
  std::string expression;
};

struct Shaped {
  std::string json;  // the body to send
  // The business identifier the platform can be searched by.
  std::string identifier_system;
  std::string identifier_value;
  // References ("Type/ourId") without a platform id, left as they were: the
  // caller waits for them (Encounter.diagnosis entries are dropped instead).
  std::vector<std::string> unresolved;
  // Encounter.diagnosis entries left out because their Condition is not on
  // the platform yet ("Condition/ourId"): the Encounter is updated once it is.
  std::vector<std::string> left_out;
  std::optional<ShapeProblem> problem;
};

Shaped shapeForPlatform(std::string_view type, std::string_view id, std::string_view resource_json,
                        const ShapeContext& context);

// The registration of a newborn without NIK in the platform's master
// patient index, through the mother's NIK: `child` is our Patient; its
// address, when it has none, is the one of `mother` (our Patient with the
// mother's NIK, may be empty). The platform requires name, birth date, sex
// (male or female), birth order (multipleBirthInteger, 0 when not a twin)
// and a home address; a problem names what is missing.
struct NewbornRegistration {
  std::string json;  // POST Patient body, empty with a problem
  std::optional<ShapeProblem> problem;
};
NewbornRegistration newbornRegistration(std::string_view child_json, std::string_view mother_nik,
                                        std::string_view mother_json);

// The business identifier system of a type for a platform organization:
// http://sys-ids.kemkes.go.id/{type in lower case}/{organization id}.
std::string businessIdentifierSystem(std::string_view type, std::string_view platform_organization_id);

// A time without offset ("2024-11-27T08:40:00", "...T08:40") with `offset`
// appended; nullopt when it has one already or is not such a time.
std::optional<std::string> withOffset(std::string_view time, std::string_view offset);

}  // namespace ilpgw
