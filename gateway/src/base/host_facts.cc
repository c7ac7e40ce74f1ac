#include "base/host_facts.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <memory>

#include "base/crypto.h"

namespace ilpgw {
namespace {

std::optional<std::int64_t> unixSeconds(const ASN1_TIME* t) {
  std::tm parts{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &parts) != 1) return std::nullopt;
  return static_cast<std::int64_t>(timegm(&parts));
}

}  // namespace

std::int64_t CertificateValidity::daysLeft(std::int64_t now_s) const {
  std::int64_t left = not_after_s - now_s;
  return left >= 0 ? left / 86400 : -((-left + 86399) / 86400);
}

std::optional<CertificateValidity> certificateValidity(const std::string& pem_path) {
  FILE* file = std::fopen(pem_path.c_str(), "rb");
  if (file == nullptr) return std::nullopt;
  X509* raw = PEM_read_X509(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  if (raw == nullptr) return std::nullopt;
  std::unique_ptr<X509, void (*)(X509*)> cert(raw, X509_free);
  auto before = unixSeconds(X509_get0_notBefore(cert.get()));
  auto after = unixSeconds(X509_get0_notAfter(cert.get()));
  if (!before || !after) return std::nullopt;
  return CertificateValidity{*before, *after};
}

std::filesystem::path existingAncestor(std::filesystem::path dir) {
  std::error_code ec;
  while (!dir.empty() && !std::filesystem::exists(dir, ec)) {
    auto parent = dir.parent_path();
    if (parent == dir) break;
    dir = parent;
  }
  return dir.empty() ? std::filesystem::path(".") : dir;
}

std::optional<std::int64_t> freeDiskBytes(const std::string& dir) {
  std::error_code ec;
  std::filesystem::path at = existingAncestor(std::filesystem::absolute(dir, ec));
  struct statvfs disk {};
  if (::statvfs(at.c_str(), &disk) != 0) return std::nullopt;
  return static_cast<std::int64_t>(disk.f_bavail) * static_cast<std::int64_t>(disk.f_frsize);
}

std::int64_t filesSize(const std::string& dir, const std::string& prefix) {
  std::error_code ec;
  std::int64_t total = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file(ec)) continue;
    if (entry.path().filename().string().rfind(prefix, 0) != 0) continue;
    auto size = entry.file_size(ec);
    if (!ec) total += static_cast<std::int64_t>(size);
  }
  return total;
}

std::string instanceName() {
  char host[128] = {};
  gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + hex(randomBytes(3));
}

}  // namespace ilpgw
