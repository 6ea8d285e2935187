#pragma once
// A small blocking HTTP/1.1 client for calls off any event loop: the agent's to the proxy's
// admin (/ready, /stats/prometheus, /drain_listeners) and the application's probes and
// metrics, the proxy's Zipkin reporter thread. One request per connection, a deadline for the
// whole exchange, at most 16 MiB of response.
#include <chrono>
#include <string>

namespace weft::http {

struct HttpResult {
  int status = 0;  // 0: no HTTP answer (see error)
  std::string body;
  std::string error;  // connect/timeout/parse problem
};

HttpResult httpRequest(const std::string& method, const std::string& host, int port, const std::string& path,
                       std::chrono::milliseconds timeout, const std::string& host_header = {},
                       const std::string& body = {}, const std::string& content_type = {});

}  // namespace weft::http
