// weft-ca-sign: how many workload certificates weftd's CA signs per second on one thread:
// a self-signed root as weftd makes it (RSA 2048), and EC P-256 CSRs as agents send them
// (made before the clock starts). Prints one JSON line.
//   weft-ca-sign [--seconds 5] [--csrs 200]
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "common/tls/csr.h"
#include "control/ca/ca_bundle.h"
#include "control/ca/csr_signer.h"

namespace ca = weft::control::ca;

static std::string csrPem(EVP_PKEY* key) {
  std::string error;
  return weft::tls::csrPem(key, "", error);
}

int main(int argc, char** argv) {
  CLI::App app{"weft CA signing rate"};
  double seconds = 5;
  int csrs = 200;
  app.add_option("--seconds", seconds, "how long to sign");
  app.add_option("--csrs", csrs, "distinct CSRs, signed in turn");
  CLI11_PARSE(app, argc, argv);

  auto dir = std::filesystem::temp_directory_path() / ("weft-ca-sign-" + std::to_string(getpid()));
  auto root = ca::loadOrCreateSelfSigned(dir, "cluster.local");
  std::vector<std::string> requests;
  for (int i = 0; i < csrs; ++i) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    requests.push_back(csrPem(key));
    EVP_PKEY_free(key);
  }
  ca::WorkloadIdentity who{"cluster.local", "default", "bench"};
  auto start = std::chrono::steady_clock::now();
  auto until = start + std::chrono::duration<double>(seconds);
  long signed_count = 0;
  while (std::chrono::steady_clock::now() < until) {
    auto r =
        ca::signCsr(*root, who, requests[static_cast<size_t>(signed_count) % requests.size()], std::chrono::seconds(0));
    if (!r.error.empty()) {
      std::fprintf(stderr, "weft-ca-sign: %s\n", r.error.c_str());
      return 1;
    }
    ++signed_count;
  }
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::filesystem::remove_all(dir);
  std::printf("{\"certificates\": %ld, \"seconds\": %.3f, \"per_second\": %.1f}\n", signed_count, elapsed,
              signed_count / elapsed);
  return 0;
}
