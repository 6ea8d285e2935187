#pragma once
// One blocking HTTP or HTTPS GET for weftd's own needs (JSON Web Key Sets, OpenID discovery):
// the name resolved, the server's certificate verified against the system's roots (OpenSSL's
// default paths, so SSL_CERT_FILE applies) and its host name, a deadline for the whole
// exchange, a cap on the body, and up to 3 redirects followed.
#include <chrono>
#include <cstddef>
#include <string>

namespace weft::control::authn {

struct FetchResult {
  int status = 0;     // 0: no HTTP answer (see error)
  std::string body;   // when status is 200
  std::string error;  // what went wrong, naming the URL
};

FetchResult httpGet(const std::string& url, std::chrono::milliseconds timeout, size_t max_body_bytes);

}  // namespace weft::control::authn
