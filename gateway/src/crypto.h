// Small wrappers over OpenSSL's EVP interface.
#pragma once

#include <string>
#include <string_view>

namespace ilpgw {

// Raw 32-byte SHA-256 digest.
std::string sha256(std::string_view data);
std::string hex(std::string_view bytes);

}  // namespace ilpgw
