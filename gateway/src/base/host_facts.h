// Facts about the machine the gateway runs on that both `ilp-gateway doctor`
// and the status page report: how long the TLS certificate stays valid, how
// much room the data directory's disk has left, and how large the store's
// files are. Plain reads of files and the file system, no opinion on what is
// too little: the callers decide what is a warning.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace ilpgw {

struct CertificateValidity {
  std::int64_t not_before_s = 0;  // unix seconds
  std::int64_t not_after_s = 0;
  // Whole days from now until not_after (negative once expired).
  std::int64_t daysLeft(std::int64_t now_s) const;
};

// The validity period of the first certificate in a PEM file; nullopt when
// the file cannot be read or holds no certificate.
std::optional<CertificateValidity> certificateValidity(const std::string& pem_path);

// The nearest existing directory at or above `dir` (the disk a directory
// that does not exist yet will be on).
std::filesystem::path existingAncestor(std::filesystem::path dir);

// Bytes an unprivileged process may still write on the disk holding `dir`;
// nullopt when the file system cannot be asked.
std::optional<std::int64_t> freeDiskBytes(const std::string& dir);

// Total size of the regular files directly in `dir` whose names start with
// `prefix` (the SQLite store with its -wal and -shm files).
std::int64_t filesSize(const std::string& dir, const std::string& prefix);

// A name for this process among instances sharing a store, for the leases
// it takes: "host:pid:random", different in every run.
std::string instanceName();

}  // namespace ilpgw

namespace ilpgw {
// Less free disk than this on the data directory's disk is a problem
// (doctor's default --min-free-mb, the status page's red light).
constexpr std::int64_t kMinFreeDiskMb = 1024;
// A certificate that expires sooner than this is a warning (doctor) and a
// yellow light (the status page).
constexpr std::int64_t kCertificateWarnDays = 30;
}  // namespace ilpgw
