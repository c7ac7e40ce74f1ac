// Signa, the dosage instruction ePuskesmas writes on a prescription ("3x1",
// "3 dd 1/2", "1x1 k/p"). The other value syntaxes (dates, decimals, blood
// pressure, NIK) are the SDK's (ilpgw/sdk/values.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ilpgw::plugins::epuskesmas_json {

struct Signa {
  int frequency = 0;  // times per day
  std::string dose;   // units per time, normalized decimal text
};

// "3x1", "3 x 1", "3X½", "3dd1", "3 dd 1/2": times per day and dose per time.
// Words after the dose ("3x1 bila demam") are allowed and ignored here.
std::optional<Signa> parseSigna(std::string_view text);

// Whether a signa says "when needed": k/p (kalau perlu), bila/jika perlu,
// bila + a symptom, prn.
bool isAsNeeded(std::string_view signa);

}  // namespace ilpgw::plugins::epuskesmas_json
