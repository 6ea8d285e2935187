#include "agent/file_secrets.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <openssl/err.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

namespace weft::agent {

namespace {

constexpr std::string_view kCertPrefix = "file-cert:", kRootPrefix = "file-root:";
constexpr off_t kMaxFileBytes = 1 << 20;

// The files a name refers to; empty when the name is malformed.
std::vector<std::string> filesOf(std::string_view name) {
  if (name.substr(0, kCertPrefix.size()) == kCertPrefix) {
    std::string_view rest = name.substr(kCertPrefix.size());
    auto sep = rest.find('~');
    if (sep == std::string_view::npos || sep == 0 || sep + 1 == rest.size() ||
        rest.find('~', sep + 1) != std::string_view::npos)
      return {};
    return {std::string(rest.substr(0, sep)), std::string(rest.substr(sep + 1))};
  }
  if (name.substr(0, kRootPrefix.size()) == kRootPrefix) {
    std::string_view path = name.substr(kRootPrefix.size());
    if (path.empty() || path.find('~') != std::string_view::npos) return {};
    return {path == "system" ? systemRootsFile() : std::string(path)};
  }
  return {};
}

bool readFile(const std::string& path, std::string& out, std::string& error) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    error = "cannot read '" + path + "': " + std::strerror(errno);
    return false;
  }
  if (!S_ISREG(st.st_mode) || st.st_size > kMaxFileBytes) {
    error = "'" + path + "' is not a regular file of at most 1 MiB";
    return false;
  }
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  if (!f) {
    error = "cannot read '" + path + "'";
    return false;
  }
  out = s.str();
  return true;
}

int countCertificates(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  int n = 0;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509_free(x);
    ++n;
  }
  ERR_clear_error();
  return n;
}

}  // namespace

std::string systemRootsFile() {
  for (const char* p :
       {"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"}) {
    struct stat st {};
    if (::stat(p, &st) == 0) return p;
  }
  return "/etc/ssl/certs/ca-certificates.crt";
}

bool isFileSecretName(std::string_view name) { return !filesOf(name).empty(); }

std::string fileSecretFingerprint(const std::string& name) {
  std::string out;
  for (const auto& path : filesOf(name)) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return "";
    out += std::to_string(st.st_size) + "/" + std::to_string(st.st_mtim.tv_sec) + "." +
           std::to_string(st.st_mtim.tv_nsec) + "/" + std::to_string(st.st_ino) + ";";
  }
  return out;
}

std::optional<FileSecret> readFileSecret(const std::string& name, std::string& error) {
  std::vector<std::string> files = filesOf(name);
  if (files.empty()) {
    error = "'" + name + "' is not file-cert:CERT~KEY or file-root:CA";
    return std::nullopt;
  }
  FileSecret out;
  out.fingerprint = fileSecretFingerprint(name);
  out.value.name = name;
  if (files.size() == 1) {
    if (!readFile(files[0], out.value.trusted_ca, error)) return std::nullopt;
    if (countCertificates(out.value.trusted_ca) == 0) {
      error = "'" + files[0] + "' has no PEM certificate";
      return std::nullopt;
    }
    return out;
  }
  if (!readFile(files[0], out.value.certificate_chain, error) || !readFile(files[1], out.value.private_key, error))
    return std::nullopt;
  std::unique_ptr<BIO, decltype(&BIO_free)> cb(
      BIO_new_mem_buf(out.value.certificate_chain.data(), static_cast<int>(out.value.certificate_chain.size())),
      BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr), X509_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> kb(
      BIO_new_mem_buf(out.value.private_key.data(), static_cast<int>(out.value.private_key.size())), BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr),
                                                          EVP_PKEY_free);
  ERR_clear_error();
  if (!cert) {
    error = "'" + files[0] + "' has no PEM certificate";
    return std::nullopt;
  }
  if (!key) {
    error = "'" + files[1] + "' has no PEM private key";
    return std::nullopt;
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    error = "the key in '" + files[1] + "' does not match the certificate in '" + files[0] + "'";
    return std::nullopt;
  }
  return out;
}

}  // namespace weft::agent
