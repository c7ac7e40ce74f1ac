// ilp-gateway doctor on real installations made in a temporary directory:
// a healthy one passes with exit 0; each broken one (expired, not yet valid or misnamed
// certificate made with openssl, a key others can read, an unwritable data
// directory, a nearly full disk, a library that is no adapter, a bad config,
// an unreachable or refusing upstream, a SATUSEHAT client of one puskesmas
// refused, a clock far from the upstream's) exits 1 and shows the advice for it,
// Bahasa Indonesia first.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

#include "satusehat_simulator.h"
#include "test_support.h"
#include "upstream_server.h"

namespace ilpgw {
namespace {

using testing::runGateway;

std::string quote(const std::string& s) { return "\"" + s + "\""; }

class DoctorTest : public ::testing::Test {
 protected:
  DoctorTest() {
    cert_ = dir_.file("server.crt");
    key_ = dir_.file("server.key");
    std::filesystem::copy_file(testing::devCertDir() / "server.crt", cert_);
    std::filesystem::copy_file(testing::devCertDir() / "server.key", key_);
    ::chmod(key_.c_str(), 0600);
    data_ = dir_.file("data");
  }

  // gateway.json of the installation, with `extra` top-level members.
  std::string writeConfig(const std::string& extra = "") const {
    std::string config = "{\n  \"server\": {\"listen\": \"127.0.0.1:8443\"},\n  \"tls\": {\"cert\": " + quote(cert_) +
                         ", \"key\": " + quote(key_) + "},\n  \"store\": {\"data_dir\": " + quote(data_) +
                         "},\n  \"mappings_dir\": " + quote(testing::mappingsDir()) +
                         ",\n  \"plugin_dir\": " + quote(testing::pluginDir()) + ",\n  \"plugins\": [" + plugins_ +
                         "]" + (extra.empty() ? "" : ",\n  " + extra) + "\n}\n";
    std::string path = dir_.file("gateway.json");
    testing::writeFile(path, config);
    return path;
  }

  // Runs doctor; returns its exit code, stdout in `out_`.
  int doctor(const std::vector<std::string>& more = {}, const std::string& extra = "") {
    std::vector<std::string> args = {"doctor", "--config", writeConfig(extra)};
    args.insert(args.end(), more.begin(), more.end());
    std::string err;
    int code = runGateway(args, out_, &err);
    out_ += err;
    return code;
  }

  // A key and a self-signed certificate made by openssl for the test.
  void makeCertificate(const std::string& subject_alt_name, int days) {
    std::string command = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " +
                          key_ + " -out " + cert_ + ".tmp -subj /CN=doctor-test -days 1 -addext subjectAltName=" +
                          subject_alt_name + " 2>/dev/null && openssl x509 -in " + cert_ + ".tmp -signkey " + key_ +
                          " -days " + std::to_string(days) + " -out " + cert_ + " 2>/dev/null";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    ::chmod(key_.c_str(), 0600);
  }

  bool says(const std::string& text) const { return out_.find(text) != std::string::npos; }

  testing::TempDir dir_;
  std::string cert_;
  std::string key_;
  std::string data_;
  std::string plugins_ = R"({"name": "epuskesmas-json", "library": "epuskesmas-json.so"})";
  std::string out_;
};

TEST_F(DoctorTest, HealthyInstallationIsWell) {
  ASSERT_EQ(doctor(), 0) << out_;
  EXPECT_TRUE(says("Semua baik.")) << out_;
  EXPECT_TRUE(says("All is well.")) << out_;
  EXPECT_LT(out_.find("Semua baik."), out_.find("All is well.")) << "Bahasa Indonesia comes first";
  EXPECT_TRUE(says("[BAIK]    Adapter epuskesmas-json")) << out_;
  EXPECT_FALSE(says("[MASALAH]")) << out_;
  EXPECT_FALSE(std::filesystem::exists(data_)) << "doctor left the data directory it probed";
}

TEST_F(DoctorTest, ExpiredCertificate) {
  makeCertificate("IP:127.0.0.1", -1);
  EXPECT_EQ(doctor(), 1) << out_;
  EXPECT_TRUE(says("Sertifikat TLS sudah kedaluwarsa sejak")) << out_;
  EXPECT_TRUE(says("Cara memperbaiki: minta sertifikat baru, taruh di " + cert_)) << out_;
  EXPECT_TRUE(says("The TLS certificate expired on")) << out_;
  EXPECT_TRUE(says("How to fix: get a new certificate")) << out_;
}

TEST_F(DoctorTest, CertificateNotYetValid) {
  // openssl 3.0's req and x509 cannot set a start date; its ca command can.
  std::string ca = dir_.file("ca");
  std::filesystem::create_directories(ca);
  testing::writeFile(ca + "/index.txt", "");
  testing::writeFile(ca + "/serial", "01\n");
  testing::writeFile(ca + "/ca.cnf",
                     "[ca]\ndefault_ca = d\n[d]\ndir = .\ndatabase = index.txt\nserial = serial\n"
                     "new_certs_dir = .\ndefault_md = sha256\npolicy = p\ncopy_extensions = copy\n"
                     "[p]\ncommonName = supplied\n");
  std::string command = "cd " + ca + " && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes " +
                        "-keyout " + key_ + " -out r.csr -subj /CN=doctor-test -addext subjectAltName=IP:127.0.0.1 " +
                        "2>/dev/null && openssl ca -config ca.cnf -selfsign -keyfile " + key_ +
                        " -in r.csr -startdate 20400101000000Z -enddate 20410101000000Z -batch -out " + cert_ +
                        " >/dev/null 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  ::chmod(key_.c_str(), 0600);
  EXPECT_EQ(doctor(), 1) << out_;
  EXPECT_TRUE(says("Sertifikat TLS belum berlaku sampai Jan  1 00:00:00 2040 GMT")) << out_;
  EXPECT_TRUE(says("periksa tanggal dan jam komputer ini")) << out_;
  EXPECT_TRUE(says("The TLS certificate is not valid before Jan  1 00:00:00 2040 GMT")) << out_;
}

TEST_F(DoctorTest, CertificateExpiringSoonIsAWarningOnly) {
  makeCertificate("IP:127.0.0.1", 10);
  EXPECT_EQ(doctor(), 0) << out_;
  EXPECT_TRUE(says("[AWAS]    Sertifikat TLS akan kedaluwarsa pada")) << out_;
  EXPECT_TRUE(says("minta sertifikat baru sekarang")) << out_;
  EXPECT_TRUE(says("Semua baik. Ada peringatan di atas.")) << out_;
}

TEST_F(DoctorTest, CertificateForAnotherHostName) {
  makeCertificate("DNS:wrong.example", 30 * 12);
  EXPECT_EQ(doctor(), 1) << out_;
  EXPECT_TRUE(says("Sertifikat TLS tidak dibuat untuk nama 127.0.0.1")) << out_;
  EXPECT_TRUE(says("The TLS certificate is not made out to 127.0.0.1")) << out_;
  EXPECT_TRUE(says("subjectAltName")) << out_;
  // Under 30 days left is a warning, not a failure; here a year is left.
  EXPECT_FALSE(says("[AWAS]")) << out_;
}

TEST_F(DoctorTest, KeyReadableByOtherUsers) {
  ::chmod(key_.c_str(), 0644);
  EXPECT_EQ(doctor(), 1) << out_;
  EXPECT_TRUE(says("boleh dibaca pengguna lain (izin 644)")) << out_;
  EXPECT_TRUE(says("Cara memperbaiki: jalankan: chmod 600 " + key_)) << out_;
  EXPECT_TRUE(says("How to fix: run: chmod 600 " + key_)) << out_;
}

TEST_F(DoctorTest, KeyOfAnotherCertificate) {
  makeCertificate("IP:127.0.0.1", 365);
  std::filesystem::copy_file(testing::devCertDir() / "server.crt", cert_,
                             std::filesystem::copy_options::overwrite_existing);
  EXPECT_EQ(doctor(), 1) << out_;
  EXPECT_TRUE(says("bukan pasangan sertifikat")) << out_;
  EXPECT_TRUE(says("does not belong to the certificate")) << out_;
}

TEST_F(DoctorTest, DataDirectoryCannotBeWritten) {
  // A data directory below a regular file cannot be made, whoever runs this
  // (permission bits do not stop root).
  testing::writeFile(dir_.file("not-a-directory"), "x");
  data_ = dir_.file("not-a-directory") + "/data";
  EXPECT_EQ(doctor(), 1) << out_;
  EXPECT_TRUE(says("Folder data " + data_ + " tidak bisa ditulisi")) << out_;
  EXPECT_TRUE(says("Cara memperbaiki: buat folder itu dan jadikan pengguna gateway pemiliknya: mkdir -p " + data_))
      << out_;
  EXPECT_TRUE(says("The data directory " + data_ + " cannot be written")) << out_;
}

TEST_F(DoctorTest, DiskAlmostFull) {
  EXPECT_EQ(doctor({"--min-free-mb", "900000000000"}), 1) << out_;
  EXPECT_TRUE(says("Disk folder data hampir penuh")) << out_;
  EXPECT_TRUE(says("pindahkan cadangan ke flashdisk")) << out_;
  EXPECT_TRUE(says("The data directory's disk is almost full")) << out_;
}

TEST_F(DoctorTest, LibraryThatIsNoAdapter) {
  testing::writeFile(dir_.file("broken.so"), "this is not a shared library");
  plugins_ += R"(, {"name": "broken", "library": ")" + dir_.file("broken.so") + "\"}";
  EXPECT_EQ(doctor(), 1) << out_;
  EXPECT_TRUE(says("[MASALAH] Adapter broken tidak bisa dimuat")) << out_;
  EXPECT_TRUE(says("matikan sementara dengan \"enabled\": false")) << out_;
  EXPECT_TRUE(says("[PROBLEM] The adapter broken does not load")) << out_;
  EXPECT_TRUE(says("[BAIK]    Adapter epuskesmas-json")) << out_;  // the good one still loads
}

TEST_F(DoctorTest, BadConfiguration) {
  EXPECT_EQ(doctor({}, R"("no_such_key": 1)"), 1) << out_;
  EXPECT_TRUE(says("[MASALAH] Konfigurasi tidak bisa dipakai")) << out_;
  EXPECT_TRUE(says("no_such_key")) << out_;
  EXPECT_TRUE(says("ilp-gateway config-reference")) << out_;
}

TEST_F(DoctorTest, UpstreamUnreachable) {
  EXPECT_EQ(doctor({}, R"("upstream": {"enabled": true, "base_url": "https://127.0.0.1:1/fhir", "timeout_s": 2})"), 1)
      << out_;
  EXPECT_TRUE(says("Server tujuan https://127.0.0.1:1 tidak bisa dihubungi")) << out_;
  EXPECT_TRUE(says("periksa sambungan internet")) << out_;
  EXPECT_TRUE(says("The upstream https://127.0.0.1:1 cannot be reached")) << out_;
}

TEST_F(DoctorTest, UpstreamRefusesTheCredentials) {
  testing::UpstreamServer upstream;
  std::string ca = (testing::devCertDir() / "ca.crt").string();
  std::string section = "\"upstream\": {\"enabled\": true, \"base_url\": " + quote(upstream.baseUrl()) +
                        ", \"token_url\": " + quote(upstream.tokenUrl()) + ", \"client_id\": " +
                        quote(testing::UpstreamServer::kClientId) + ", \"client_secret\": \"wrong\", \"ca_file\": " +
                        quote(ca) + "}";
  EXPECT_EQ(doctor({}, section), 1) << out_;
  EXPECT_TRUE(says("Server tujuan menolak client_id/client_secret gateway (HTTP 401)")) << out_;
  EXPECT_TRUE(says("The upstream refuses the gateway's client_id/client_secret")) << out_;

  EXPECT_EQ(doctor({}, upstream.gatewayConfig()), 0) << out_;  // the right secret
  EXPECT_TRUE(says("The upstream accepts the gateway's credentials.")) << out_;
}

// The SATUSEHAT profile: every puskesmas' own client is tried, and the
// platform's Date is compared with this machine's clock.
TEST_F(DoctorTest, SatusehatClientOfOnePuskesmasRefusedAndClockOff) {
  auto seed = [](const std::string& clock_offset_s) {
    return R"({"clock_offset_s":")" + clock_offset_s +
           R"(","organizations":[{"id":"100011","client_id":"client-a","client_secret":"secret-a"},)"
           R"({"id":"100012","client_id":"client-b","client_secret":"secret-b"}]})";
  };
  auto section = [&](const testing::SatusehatSimulator& sim, const std::string& secret_b) {
    testing::writeFile(dir_.file("a.secret"), "secret-a\n");
    testing::writeFile(dir_.file("b.secret"), secret_b + "\n");
    testing::writeFile(dir_.file("organizations.json"),
                       R"({"organizations":[{"organization":"pkm-a","platform_organization_id":"100011",)"
                       R"("client_id":"client-a","client_secret_file":")" + dir_.file("a.secret") +
                           R"(","locations":{"*":"loc-a"}},{"organization":"pkm-b","platform_organization_id":)"
                           R"("100012","client_id":"client-b","client_secret_file":")" + dir_.file("b.secret") +
                           R"(","locations":{"*":"loc-b"}}]})");
    return R"("upstream": {"enabled": true, "profile": "satusehat", "base_url": ")" + sim.fhirBase() +
           R"(", "auth_url": ")" + sim.authBase() + R"(", "organizations_file": ")" + dir_.file("organizations.json") +
           R"(", "ca_file": ")" + (testing::devCertDir() / "ca.crt").string() + R"(", "timeout_s": 5})";
  };
  {
    testing::SatusehatSimulator sim(seed("0"));
    EXPECT_EQ(doctor({}, section(sim, "Rahasia-Keliru-42")), 1) << out_;
    EXPECT_TRUE(says("SATUSEHAT accepts the client of puskesmas pkm-a.")) << out_;
    EXPECT_TRUE(says("SATUSEHAT menolak client_id/rahasia puskesmas pkm-b")) << out_;
    EXPECT_TRUE(says("SATUSEHAT refuses the client id/secret of puskesmas pkm-b")) << out_;
    EXPECT_TRUE(says("This machine's clock agrees with the upstream's.")) << out_;
    EXPECT_FALSE(says("Rahasia-Keliru-42")) << "the secret is never printed";
    EXPECT_EQ(doctor({}, section(sim, "secret-b")), 0) << out_;
    EXPECT_TRUE(says("SATUSEHAT accepts the client of puskesmas pkm-b.")) << out_;
  }
  testing::SatusehatSimulator late(seed("-3600"));  // the platform's clock is an hour behind ours
  EXPECT_EQ(doctor({}, section(late, "secret-b")), 1) << out_;
  EXPECT_TRUE(says("Jam komputer ini terlalu cepat")) << out_;
  EXPECT_TRUE(says("timedatectl set-ntp true")) << out_;
  EXPECT_TRUE(says("ahead of the upstream's")) << out_;
}

TEST_F(DoctorTest, OneLanguageOnRequest) {
  ::chmod(key_.c_str(), 0640);
  EXPECT_EQ(doctor({"--lang", "en"}), 1) << out_;
  EXPECT_TRUE(says("How to fix: run: chmod 600")) << out_;
  EXPECT_FALSE(says("Cara memperbaiki")) << out_;
  EXPECT_EQ(doctor({"--lang", "id"}), 1) << out_;
  EXPECT_TRUE(says("Cara memperbaiki: jalankan: chmod 600")) << out_;
  EXPECT_FALSE(says("How to fix")) << out_;
}

}  // namespace
}  // namespace ilpgw
