#pragma once
// A small blocking HTTP/1.1 client for loopback calls the agent makes: the proxy's admin
// (/ready, /stats/prometheus, /drain_listeners), the application's probes and metrics. One
// request per connection, a deadline for the whole exchange.
#include <chrono>
#include <string>

namespace weft::http {

struct HttpResult {
  int status = 0;  // 0: no HTTP answer (see error)
  std::string body;
  std::string error;  // connect/timeout/parse problem
};

HttpResult httpRequest(const std::string& method, const std::string& host, int port, const std::string& path,
                       std::chrono::milliseconds timeout, const std::string& host_header = {});

}  // namespace weft::http
