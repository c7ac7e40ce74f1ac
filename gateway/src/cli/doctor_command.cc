// ilp-gateway doctor: checks an installation the way a visiting engineer
// would and says, in plain words, what is wrong and how to fix it: the
// configuration, the TLS certificate and key, the data directory and its
// disk, the upstream (when forwarding is on) and every adapter library.
// Bahasa Indonesia first, then English (--lang id|en for one of them).
// Exit 0 only when nothing is wrong; warnings alone do not fail.
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "base/config.h"
#include "base/host_facts.h"
#include "base/url.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "base/time_util.h"
#include "forward/outbox_sender.h"
#include "forward/satusehat_forwarder.h"
#include "http/client.h"
#include "ingest/plugin_loader.h"

namespace ilpgw::cli {
namespace {

// Further apart than this, tokens and signed assertions start to fail.
constexpr std::int64_t kMaxClockOffsetS = 120;

enum class Verdict { kOk, kWarning, kProblem };

// One thing the doctor looked at, in both languages.
struct Finding {
  Verdict verdict = Verdict::kOk;
  std::string what_id;
  std::string fix_id;  // empty when ok
  std::string what_en;
  std::string fix_en;
};

class Report {
 public:
  explicit Report(std::string lang) : lang_(std::move(lang)) {}
  void ok(std::string id, std::string en) { add({Verdict::kOk, std::move(id), {}, std::move(en), {}}); }
  void warning(std::string what_id, std::string fix_id, std::string what_en, std::string fix_en) {
    add({Verdict::kWarning, std::move(what_id), std::move(fix_id), std::move(what_en), std::move(fix_en)});
  }
  void problem(std::string what_id, std::string fix_id, std::string what_en, std::string fix_en) {
    add({Verdict::kProblem, std::move(what_id), std::move(fix_id), std::move(what_en), std::move(fix_en)});
  }
  int problems() const { return problems_; }

  int finish() const {
    bool id = lang_ != "en";
    bool en = lang_ != "id";
    if (problems_ == 0) {
      if (id) std::printf("Semua baik.%s\n", warnings_ > 0 ? " Ada peringatan di atas." : "");
      if (en) std::printf("All is well.%s\n", warnings_ > 0 ? " See the warnings above." : "");
      return 0;
    }
    if (id) std::printf("Ditemukan %d masalah. Perbaiki dari atas ke bawah, lalu jalankan doctor lagi.\n", problems_);
    if (en) std::printf("%d problem(s) found. Fix them top to bottom, then run doctor again.\n", problems_);
    return 1;
  }

 private:
  void add(const Finding& f) {
    static const char* const kTagsId[] = {"[BAIK]   ", "[AWAS]   ", "[MASALAH]"};
    static const char* const kTagsEn[] = {"[OK]     ", "[WARNING]", "[PROBLEM]"};
    int v = static_cast<int>(f.verdict);
    if (f.verdict == Verdict::kProblem) ++problems_;
    if (f.verdict == Verdict::kWarning) ++warnings_;
    if (lang_ != "en") {
      std::printf("%s %s\n", kTagsId[v], f.what_id.c_str());
      if (!f.fix_id.empty()) std::printf("          Cara memperbaiki: %s\n", f.fix_id.c_str());
    }
    if (lang_ != "id") {
      std::printf("%s %s\n", kTagsEn[v], f.what_en.c_str());
      if (!f.fix_en.empty()) std::printf("          How to fix: %s\n", f.fix_en.c_str());
    }
    std::fflush(stdout);
  }

  std::string lang_;
  int problems_ = 0;
  int warnings_ = 0;
};

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

std::string asn1Time(const ASN1_TIME* t) {
  BIO* bio = BIO_new(BIO_s_mem());
  ASN1_TIME_print(bio, t);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(size));
  BIO_free(bio);
  return out;
}

// The host name clients use: public_base_url's, else the listen address
// unless it is a wildcard.
std::string clientHostName(const Config& c) {
  std::string url = c.public_base_url;
  if (!url.empty()) {
    auto start = url.find("://");
    start = start == std::string::npos ? 0 : start + 3;
    auto end = url.find_first_of(":/", start);
    return url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  }
  if (c.listen_host == "0.0.0.0" || c.listen_host == "::" || c.listen_host.empty()) return "";
  return c.listen_host;
}

void checkTls(const Config& c, Report& report) {
  if (c.plain_http) {
    report.warning("Gateway melayani HTTP biasa tanpa TLS (server.plain_http).",
                   "hanya untuk uji di komputer sendiri; untuk klinik pasang tls.cert dan tls.key.",
                   "The gateway serves plain HTTP without TLS (server.plain_http).",
                   "only for tests on one machine; for clinics configure tls.cert and tls.key.");
    return;
  }
  FILE* cert_file = std::fopen(c.tls_cert.c_str(), "rb");
  if (cert_file == nullptr) {
    report.problem("Sertifikat TLS " + c.tls_cert + " tidak bisa dibaca (tidak ada atau tidak boleh dibaca).",
                   "periksa nama berkas di tls.cert, atau salin sertifikat ke sana.",
                   "The TLS certificate " + c.tls_cert + " cannot be read (missing or not permitted).",
                   "check the file name in tls.cert, or copy the certificate there.");
    return;
  }
  std::unique_ptr<X509, X509Free> cert(PEM_read_X509(cert_file, nullptr, nullptr, nullptr));
  std::fclose(cert_file);
  if (!cert) {
    report.problem("Berkas " + c.tls_cert + " bukan sertifikat PEM.",
                   "pakai berkas sertifikat yang diawali -----BEGIN CERTIFICATE-----.",
                   c.tls_cert + " is not a PEM certificate.",
                   "use the certificate file that starts with -----BEGIN CERTIFICATE-----.");
    return;
  }
  std::string not_after = asn1Time(X509_get0_notAfter(cert.get()));
  std::string not_before = asn1Time(X509_get0_notBefore(cert.get()));
  bool time_ok = true;
  if (X509_cmp_current_time(X509_get0_notAfter(cert.get())) < 0) {
    time_ok = false;
    report.problem("Sertifikat TLS sudah kedaluwarsa sejak " + not_after + ". Klinik tidak bisa tersambung.",
                   "minta sertifikat baru, taruh di " + c.tls_cert + " (kuncinya di " + c.tls_key +
                       "), lalu mulai ulang gateway.",
                   "The TLS certificate expired on " + not_after + ". Clinics cannot connect.",
                   "get a new certificate, put it at " + c.tls_cert + " (its key at " + c.tls_key +
                       "), then restart the gateway.");
  } else if (X509_cmp_current_time(X509_get0_notBefore(cert.get())) > 0) {
    time_ok = false;
    report.problem("Sertifikat TLS belum berlaku sampai " + not_before + ".",
                   "periksa tanggal dan jam komputer ini (date); bila benar, minta sertifikat yang sudah berlaku.",
                   "The TLS certificate is not valid before " + not_before + ".",
                   "check this computer's date and time (date); if they are right, get a certificate valid now.");
  } else {
    time_t soon = time(nullptr) + kCertificateWarnDays * 24 * 3600;
    if (X509_cmp_time(X509_get0_notAfter(cert.get()), &soon) < 0) {
      time_ok = false;
      report.warning("Sertifikat TLS akan kedaluwarsa pada " + not_after + " (kurang dari 30 hari).",
                     "minta sertifikat baru sekarang, sebelum klinik tidak bisa tersambung.",
                     "The TLS certificate expires on " + not_after + " (in less than 30 days).",
                     "get a new certificate now, before clinics cannot connect.");
    }
  }
  if (time_ok) {
    report.ok("Sertifikat TLS berlaku sampai " + not_after + ".", "The TLS certificate is valid until " + not_after + ".");
  }
  std::string host = clientHostName(c);
  if (!host.empty()) {
    bool is_ip = host.find_first_not_of("0123456789.") == std::string::npos || host.find(':') != std::string::npos;
    int matched = is_ip ? X509_check_ip_asc(cert.get(), host.c_str(), 0)
                        : X509_check_host(cert.get(), host.c_str(), host.size(), 0, nullptr);
    if (matched != 1) {
      report.problem("Sertifikat TLS tidak dibuat untuk nama " + host + ", jadi klinik akan menolaknya.",
                     "minta sertifikat untuk nama " + host + " (subjectAltName), atau betulkan server.public_base_url / "
                     "server.listen.",
                     "The TLS certificate is not made out to " + host + ", so clinics will refuse it.",
                     "get a certificate for " + host + " (subjectAltName), or correct server.public_base_url / "
                     "server.listen.");
    } else {
      report.ok("Sertifikat TLS cocok dengan nama " + host + ".", "The TLS certificate matches " + host + ".");
    }
  }

  struct stat key_stat {};
  if (::stat(c.tls_key.c_str(), &key_stat) != 0) {
    report.problem("Kunci TLS " + c.tls_key + " tidak ada.", "periksa nama berkas di tls.key.",
                   "The TLS key " + c.tls_key + " does not exist.", "check the file name in tls.key.");
    return;
  }
  if ((key_stat.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(key_stat.st_mode & 0777));
    report.problem("Kunci TLS " + c.tls_key + " boleh dibaca pengguna lain (izin " + mode +
                       "). Siapa pun di komputer ini bisa menyamar sebagai gateway.",
                   "jalankan: chmod 600 " + c.tls_key,
                   "The TLS key " + c.tls_key + " can be read by other users (mode " + mode +
                       "). Anyone on this computer could pose as the gateway.",
                   "run: chmod 600 " + c.tls_key);
  }
  FILE* key_file = std::fopen(c.tls_key.c_str(), "rb");
  if (key_file == nullptr) {
    report.problem("Kunci TLS " + c.tls_key + " tidak bisa dibaca oleh pengguna yang menjalankan gateway.",
                   "jadikan pengguna gateway pemilik berkas itu: chown <pengguna> " + c.tls_key,
                   "The TLS key " + c.tls_key + " cannot be read by the user that runs the gateway.",
                   "make the gateway's user its owner: chown <user> " + c.tls_key);
    return;
  }
  std::unique_ptr<EVP_PKEY, KeyFree> key(PEM_read_PrivateKey(key_file, nullptr, nullptr, nullptr));
  std::fclose(key_file);
  if (!key) {
    report.problem("Berkas " + c.tls_key + " bukan kunci privat PEM (atau dilindungi kata sandi).",
                   "pakai kunci tanpa kata sandi yang diawali -----BEGIN PRIVATE KEY-----.",
                   c.tls_key + " is not a PEM private key (or it is protected by a passphrase).",
                   "use an unencrypted key that starts with -----BEGIN PRIVATE KEY-----.");
    return;
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    report.problem("Kunci TLS " + c.tls_key + " bukan pasangan sertifikat " + c.tls_cert + ".",
                   "pasang kunci yang dibuat bersama sertifikat itu.",
                   "The TLS key " + c.tls_key + " does not belong to the certificate " + c.tls_cert + ".",
                   "install the key that was made together with that certificate.");
  }
}

void checkDataDirectory(const Config& c, long long min_free_mb, Report& report) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path dir = fs::absolute(c.data_dir, ec);
  bool existed = fs::exists(dir, ec);
  // A real write, as the gateway's user: permission bits alone do not tell
  // (root ignores them, read-only mounts ignore them).
  bool writable = false;
  std::string why;
  if (existed && !fs::is_directory(dir, ec)) {
    why = "bukan folder / not a directory";
  } else if (!existed) {
    fs::create_directories(dir, ec);
    if (ec) why = ec.message();
  }
  if (why.empty()) {
    std::string probe = (dir / ".ilp-gateway-doctor").string();
    {
      std::ofstream out(probe, std::ios::trunc);
      out << "probe";
      out.flush();
      if (out) writable = true;
      else why = "cannot write a file";
    }
    fs::remove(probe, ec);
    if (!existed) fs::remove(dir, ec);  // leave the installation as found
  }
  if (!writable) {
    report.problem("Folder data " + dir.string() + " tidak bisa ditulisi (" + why + "). Gateway tidak bisa menyimpan.",
                   "buat folder itu dan jadikan pengguna gateway pemiliknya: mkdir -p " + dir.string() +
                       " && chown <pengguna> " + dir.string() + ", atau betulkan store.data_dir.",
                   "The data directory " + dir.string() + " cannot be written (" + why + "). The gateway cannot store.",
                   "create it and make the gateway's user its owner: mkdir -p " + dir.string() + " && chown <user> " +
                       dir.string() + ", or correct store.data_dir.");
  } else {
    report.ok("Folder data " + dir.string() + " bisa ditulisi.", "The data directory " + dir.string() + " is writable.");
  }
  if (auto free_bytes = freeDiskBytes(dir.string())) {
    long long free_mb = *free_bytes / (1024 * 1024);
    if (free_mb < min_free_mb) {
      report.problem("Disk folder data hampir penuh: sisa " + std::to_string(free_mb) + " MB (batas " +
                         std::to_string(min_free_mb) + " MB). Bila penuh, data kiriman klinik ditolak.",
                     "hapus berkas lama yang tidak perlu (bukan isi folder data), pindahkan cadangan ke "
                     "flashdisk, atau pasang disk yang lebih besar.",
                     "The data directory's disk is almost full: " + std::to_string(free_mb) + " MB free (limit " +
                         std::to_string(min_free_mb) + " MB). When it is full, clinics' posts are refused.",
                     "delete old files you do not need (not inside the data directory), move backups to a USB "
                     "stick, or install a larger disk.");
    } else {
      report.ok("Disk folder data: sisa " + std::to_string(free_mb) + " MB.",
                "The data directory's disk has " + std::to_string(free_mb) + " MB free.");
    }
  }
}

// Tokens, certificates and the platform's time checks all fail when this
// machine's clock is far from the upstream's (its Date header).
void checkClock(const std::string& upstream_date, Report& report) {
  auto theirs = millisFromHttpDate(upstream_date);
  if (!theirs) return;  // no Date header: nothing to compare with
  std::int64_t off_s = (nowMs() - *theirs) / 1000;
  if (off_s > kMaxClockOffsetS || off_s < -kMaxClockOffsetS) {
    std::string by = std::to_string(off_s < 0 ? -off_s : off_s);
    report.problem("Jam komputer ini " + std::string(off_s < 0 ? "terlambat " : "terlalu cepat ") + by +
                       " detik dibanding server tujuan. Token dan sertifikat bisa ditolak, waktu kunjungan salah.",
                   "setel jam dan zona waktu komputer (timedatectl set-ntp true), lalu jalankan doctor lagi.",
                   "This machine's clock is " + by + " s " + std::string(off_s < 0 ? "behind" : "ahead of") +
                       " the upstream's. Tokens and certificates may be refused, visit times are wrong.",
                   "set the clock and time zone (timedatectl set-ntp true), then run doctor again.");
  } else {
    report.ok("Jam komputer cocok dengan server tujuan.", "This machine's clock agrees with the upstream's.");
  }
}

// SATUSEHAT: every puskesmas has its own client; each one is asked for a
// token, as the forwarder will.
void checkPlatformClients(const UpstreamConfig& u, const http::ClientOptions& options, Report& report) {
  auto profile = loadSatusehatProfile(u.organizations_file);
  if (!profile.isOk()) {
    report.problem("Berkas puskesmas upstream.organizations_file salah: " + profile.status().message(),
                   "betulkan berkas itu (lihat docs/satusehat.md), lalu jalankan doctor lagi.",
                   "upstream.organizations_file is wrong: " + profile.status().message(),
                   "correct that file (see docs/satusehat.md), then run doctor again.");
    return;
  }
  auto auth = splitUrl(u.auth_url);
  if (!auth.isOk()) {
    report.problem("Alamat upstream.auth_url tidak sah.", "tulis alamat lengkap layanan token SATUSEHAT.",
                   "upstream.auth_url is not a valid address.", "write the full address of SATUSEHAT's token service.");
    return;
  }
  http::Client client(auth->origin, options);
  for (const auto& org : profile->organizations) {
    auto token = requestPlatformToken(client, auth->path, org);
    if (token.isOk()) {
      report.ok("SATUSEHAT menerima client puskesmas " + org.organization + ".",
                "SATUSEHAT accepts the client of puskesmas " + org.organization + ".");
    } else if (token.status().code() == StatusCode::kUnauthenticated) {
      report.problem("SATUSEHAT menolak client_id/rahasia puskesmas " + org.organization +
                         ". Data puskesmas ini tidak terkirim.",
                     "minta client_id dan client secret yang benar untuk puskesmas ini dari SATUSEHAT, lalu "
                     "betulkan berkas upstream.organizations_file.",
                     "SATUSEHAT refuses the client id/secret of puskesmas " + org.organization +
                         ". Nothing of this puskesmas is forwarded.",
                     "ask SATUSEHAT for this puskesmas' right client id and secret, then correct "
                     "upstream.organizations_file.");
    } else {
      report.problem("Layanan token SATUSEHAT tidak bisa dipakai untuk puskesmas " + org.organization + " (" +
                         token.status().message() + ").",
                     "periksa upstream.auth_url dan sambungan internet; bila tetap, hubungi SATUSEHAT.",
                     "SATUSEHAT's token service does not work for puskesmas " + org.organization + " (" +
                         token.status().message() + ").",
                     "check upstream.auth_url and the internet link; if it stays, contact SATUSEHAT.");
    }
  }
}

void checkUpstream(const Config& c, Report& report) {
  const UpstreamConfig& u = c.upstream;
  if (!u.enabled) return;
  auto base = splitUrl(u.base_url);
  if (!base.isOk()) {
    report.problem("Alamat upstream.base_url tidak sah: " + base.status().message(),
                   "tulis alamat lengkap, misalnya https://api.contoh.id/fhir-r4/v1.",
                   "upstream.base_url is not a valid address: " + base.status().message(),
                   "write the full address, e.g. https://api.example.id/fhir-r4/v1.");
    return;
  }
  http::ClientOptions options{u.ca_file, std::min(u.timeout_s, 10)};
  http::Client client(base->origin, options);
  auto reply = client.get(base->path + "/metadata", {});
  if (!reply.isOk()) {
    report.problem("Server tujuan " + base->origin + " tidak bisa dihubungi (" + reply.status().message() +
                       "). Data menumpuk di outbox dan dikirim nanti.",
                   "periksa sambungan internet dan alamat upstream.base_url; bila memakai CA sendiri, "
                   "periksa upstream.ca_file.",
                   "The upstream " + base->origin + " cannot be reached (" + reply.status().message() +
                       "). Data waits in the outbox and is sent later.",
                   "check the internet link and upstream.base_url; with a private CA, check upstream.ca_file.");
    return;
  }
  report.ok("Server tujuan " + base->origin + " menjawab.", "The upstream " + base->origin + " answers.");
  checkClock(reply->header("Date"), report);
  if (u.profile == "satusehat") return checkPlatformClients(u, options, report);
  if (u.token_url.empty()) return;
  auto token = splitUrl(u.token_url);
  if (!token.isOk()) {
    report.problem("Alamat upstream.token_url tidak sah.", "tulis alamat lengkap penerbit token.",
                   "upstream.token_url is not a valid address.", "write the full address of the token endpoint.");
    return;
  }
  std::string secret = u.client_secret;
  if (secret.empty() && !u.client_secret_file.empty()) {
    std::ifstream in(u.client_secret_file, std::ios::binary);
    if (!in) {
      report.problem("Berkas rahasia " + u.client_secret_file + " tidak bisa dibaca.",
                     "periksa upstream.client_secret_file dan izin berkasnya.",
                     "The secret file " + u.client_secret_file + " cannot be read.",
                     "check upstream.client_secret_file and its permissions.");
      return;
    }
    std::getline(in, secret);
    while (!secret.empty() && (secret.back() == '\r' || secret.back() == '\n')) secret.pop_back();
  }
  http::Client token_client(token->origin, options);
  auto answer = token_client.post(
      token->path.empty() ? "/" : token->path,
      {{"Authorization", http::basicAuthorization(percentEncode(u.client_id), percentEncode(secret))}},
      "grant_type=client_credentials", "application/x-www-form-urlencoded");
  if (!answer.isOk()) {
    report.problem("Penerbit token " + token->origin + " tidak bisa dihubungi (" + answer.status().message() + ").",
                   "periksa upstream.token_url dan sambungan internet.",
                   "The token endpoint " + token->origin + " cannot be reached (" + answer.status().message() + ").",
                   "check upstream.token_url and the internet link.");
  } else if (answer->status == 400 || answer->status == 401 || answer->status == 403) {
    report.problem("Server tujuan menolak client_id/client_secret gateway (HTTP " + std::to_string(answer->status) +
                       "). Data tidak terkirim.",
                   "minta client_id dan rahasia yang benar dari pengelola platform, lalu isi upstream.client_id dan "
                   "upstream.client_secret_file.",
                   "The upstream refuses the gateway's client_id/client_secret (HTTP " +
                       std::to_string(answer->status) + "). Nothing is forwarded.",
                   "ask the platform's operators for the right client_id and secret, then set upstream.client_id "
                   "and upstream.client_secret_file.");
  } else if (answer->status != 200) {
    report.problem("Penerbit token menjawab HTTP " + std::to_string(answer->status) + ".",
                   "coba lagi nanti; bila tetap, hubungi pengelola platform.",
                   "The token endpoint answered HTTP " + std::to_string(answer->status) + ".",
                   "try again later; if it stays, contact the platform's operators.");
  } else {
    report.ok("Server tujuan menerima kredensial gateway.", "The upstream accepts the gateway's credentials.");
  }
}

// Loads one adapter library in a child process, so a library that crashes
// while loading is a finding, not the end of the doctor. "" when it loads.
std::string tryLoad(const std::string& path) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return "cannot start a check process";
  pid_t pid = fork();
  if (pid < 0) return "cannot start a check process";
  if (pid == 0) {
    ::close(pipe_fds[0]);
    auto loaded = loadAdapter(path);
    std::string message = loaded.isOk() ? "" : loaded.status().message();
    if (::write(pipe_fds[1], message.data(), message.size()) < 0) _exit(3);
    _exit(loaded.isOk() ? 0 : 1);
  }
  ::close(pipe_fds[1]);
  std::string message;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  char buffer[512];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{pipe_fds[0], POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      ::kill(pid, SIGKILL);
      message = "loading took longer than 20 s";
      break;
    }
    ssize_t got = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (got <= 0) break;
    message.append(buffer, static_cast<size_t>(got));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFSIGNALED(status) && message.empty()) return "crashed while loading (signal " + std::to_string(WTERMSIG(status)) + ")";
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  return message.empty() ? "does not load" : message;
}

void checkPlugins(const Config& c, Report& report) {
  for (const auto& plugin : c.plugins) {
    if (!plugin.enabled) continue;
    std::filesystem::path path(plugin.library);
    if (path.is_relative()) path = std::filesystem::path(c.plugin_dir) / path;
    std::string problem = tryLoad(path.string());
    if (problem.empty()) {
      report.ok("Adapter " + plugin.name + " (" + path.string() + ") bisa dimuat.",
                "The adapter " + plugin.name + " (" + path.string() + ") loads.");
    } else {
      report.problem("Adapter " + plugin.name + " tidak bisa dimuat: " + problem + ". Gateway tidak mau mulai.",
                     "pasang ulang berkas adapter yang dibuat untuk versi gateway ini, periksa plugins[].library dan "
                     "plugin_dir, atau matikan sementara dengan \"enabled\": false.",
                     "The adapter " + plugin.name + " does not load: " + problem + ". The gateway will not start.",
                     "reinstall the adapter built for this gateway version, check plugins[].library and plugin_dir, "
                     "or switch it off for now with \"enabled\": false.");
    }
  }
}

}  // namespace

int doctorCommand(const Args& args) {
  if (args.lang != "id" && args.lang != "en" && args.lang != "both") return fail("--lang must be id, en or both");
  if (!args.files.empty()) return fail("usage: doctor [--config FILE] [--lang id|en] [--min-free-mb N]");
  Report report(args.lang);
  auto config = buildConfig(args);
  if (!config.isOk()) {
    report.problem("Konfigurasi tidak bisa dipakai: " + config.status().message(),
                   "betulkan kunci yang disebut di gateway.json (daftar kunci: ilp-gateway config-reference).",
                   "The configuration cannot be used: " + config.status().message(),
                   "correct the key named in gateway.json (all keys: ilp-gateway config-reference).");
    return report.finish();
  }
  report.ok("Konfigurasi terbaca.", "The configuration reads correctly.");
  const Config& c = config.value();
  checkTls(c, report);
  checkDataDirectory(c, args.min_free_mb, report);  // also with PostgreSQL: keys and exports live there
  checkUpstream(c, report);
  checkPlugins(c, report);
  return report.finish();
}

}  // namespace ilpgw::cli
