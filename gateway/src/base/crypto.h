// Small wrappers over OpenSSL's EVP interface.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ilpgw {

// Raw 32-byte SHA-256 digest.
std::string sha256(std::string_view data);
std::string hex(std::string_view bytes);
// The bytes of lower-case hex text; nullopt for any other text (so that
// hex(*lowerHexBytes(t)) == t always).
std::optional<std::string> lowerHexBytes(std::string_view text);

// A JOSE ECDSA signature (r||s, each `coordinate_bytes` long: 32 for P-256,
// 48 for P-384) as the DER that OpenSSL verifies; nullopt when malformed.
std::optional<std::string> ecdsaJoseToDer(std::string_view jose, size_t coordinate_bytes);

// ---- Secrets, tokens and constant-time comparison -----------------------------

// `count` bytes from OpenSSL's CSPRNG; throws when the generator fails.
std::string randomBytes(size_t count);

// RFC 4648 base64 (with padding) and base64url (without padding, as JOSE uses).
std::string base64Encode(std::string_view bytes);
std::string base64UrlEncode(std::string_view bytes);
// Accepts both alphabets, with or without padding; nullopt on any other byte.
std::optional<std::string> base64Decode(std::string_view text);

// Constant-time comparison (CRYPTO_memcmp): the time does not depend on where
// the inputs differ. Different lengths compare unequal.
bool constantTimeEquals(std::string_view a, std::string_view b);

// Slow salted hash of a client secret, self-describing so the cost can be
// raised later: "pbkdf2-sha256$<iterations>$<salt b64url>$<hash b64url>".
inline constexpr int kSecretHashIterations = 120000;
std::string hashSecret(std::string_view secret, int iterations = kSecretHashIterations);
// Recomputes and compares in constant time; false for malformed encodings.
bool verifySecret(std::string_view secret, std::string_view encoded);

}  // namespace ilpgw
