#pragma once
// CSRs made the way a workload agent makes them, for the CA's tests.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "common/tls/csr.h"
#include "control/ca/openssl_util.h"

namespace weft::control::ca::testing {

// A fresh directory for one test, removed after it.
class TempDir {
 public:
  TempDir()
      : path_(std::filesystem::temp_directory_path() /
              ("weft_ca_" + std::to_string(getpid()) + "_" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline KeyPtr ecKey() { return KeyPtr(EVP_EC_gen("P-256")); }
inline KeyPtr rsaKey(unsigned bits) { return KeyPtr(EVP_RSA_gen(bits)); }

inline std::string reqToPem(X509_REQ* req) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_REQ(b, req);
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(b);
  return out;
}

// A PEM CSR for `key`, asking for `uri` as its SAN when not empty: the agent's own CSR maker.
inline std::string csrPem(EVP_PKEY* key, const std::string& uri = "") {
  std::string error;
  return weft::tls::csrPem(key, uri, error);
}

}  // namespace weft::control::ca::testing
