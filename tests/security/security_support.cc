#include "security_support.h"

#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/pem.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "base/crypto.h"

namespace ilpgw::testing {
namespace {
// The gateway closes connections whose request body it refused to read; a
// client still writing that body must get EPIPE, not die of SIGPIPE.
const bool kIgnoreSigpipe = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();
}  // namespace

std::vector<std::string> bundleLocations(const std::string& body) {
  std::vector<std::string> out;
  auto doc = parsedJson(body);
  if (!doc.IsObject() || !doc.HasMember("entry")) return out;
  for (const auto& entry : doc["entry"].GetArray()) {
    if (entry["response"].HasMember("location")) out.emplace_back(entry["response"]["location"].GetString());
  }
  return out;
}

std::string signJwt(const std::string& header, const std::string& payload, EVP_PKEY* key) {
  std::string input = base64UrlEncode(header) + "." + base64UrlEncode(payload);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t length = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
  EVP_DigestSign(ctx, nullptr, &length, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  std::string der(length, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(der.data()), &length,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  der.resize(length);
  EVP_MD_CTX_free(ctx);
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig, &r, &s);
  std::string raw(64, '\0');
  BN_bn2binpad(r, reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(s, reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  ECDSA_SIG_free(sig);
  return input + "." + base64UrlEncode(raw);
}

EVP_PKEY* loadSigningKey(const std::string& data_dir, std::string& kid) {
  std::filesystem::path newest;
  for (const auto& entry : std::filesystem::directory_iterator(data_dir + "/keys")) {
    std::string name = entry.path().filename().string();
    if (name.size() > 8 && name.substr(name.size() - 8) == ".key.pem" && entry.path() > newest) newest = entry.path();
  }
  std::string name = newest.filename().string();
  kid = name.substr(0, name.size() - 8);
  BIO* bio = BIO_new_file(newest.c_str(), "r");
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return key;
}

EVP_PKEY* newKey() { return EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); }

std::string decodePart(const std::string& token, int part) {
  size_t start = 0;
  for (int i = 0; i < part; ++i) start = token.find('.', start) + 1;
  size_t end = token.find('.', start);
  return base64Decode(token.substr(start, end - start)).value_or("");
}

std::string makeClientCert(const std::string& name, bool own_ca) {
  static TempDir* dir = new TempDir();  // lives for the whole process
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  std::string d = dir->path().string();
  std::string ca_cert = (devCertDir() / "ca.crt").string();
  std::string ca_key = (devCertDir() / "ca.key").string();
  std::string quiet = " >/dev/null 2>&1";
  if (own_ca) {
    ca_cert = d + "/other-ca.crt";
    ca_key = d + "/other-ca.key";
    if (!std::filesystem::exists(ca_cert)) {
      std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -keyout " +
                        ca_key + " -out " + ca_cert + " -subj '/CN=Other CA'" + quiet;
      if (std::system(cmd.c_str()) != 0) throw std::runtime_error("other CA failed");
    }
  }
  std::string base = d + "/" + name;
  std::string cmd = "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + base + ".key -out " +
                    base + ".csr -subj '/CN=" + name + "'" + quiet + " && printf 'extendedKeyUsage=clientAuth\\n' > " +
                    base + ".ext && openssl x509 -req -in " + base + ".csr -CA " + ca_cert + " -CAkey " + ca_key +
                    " -CAcreateserial -days 2 -extfile " + base + ".ext -out " + base + ".crt" + quiet;
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("client certificate failed");
  return d;
}

}  // namespace ilpgw::testing
