#pragma once
// HTTP/1.1 requests to the Kubernetes API server, as Asio coroutines (weftd runs all its
// watches on one thread) or blocking. A new connection per request; TLS verified against the
// cluster's CA; the bearer token or client certificate of the ApiServer; a deadline on every
// read, and caps on what is read.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/kube/api_server.h"

namespace weft::kube {

struct ApiResponse {
  int status = 0;     // 0: no HTTP answer; see error
  std::string body;   // at most the cap given (error answers: their first 64 KiB)
  std::string error;  // what failed, naming the request
  bool ok() const { return status / 100 == 2; }
};

struct Request {
  std::string method = "GET";
  std::string target;  // path and query
  std::string body;
  std::string content_type = "application/json";
  std::chrono::milliseconds timeout{30000};   // for each step: connect, handshake, write, each read
  std::chrono::milliseconds body_timeout{0};  // for each read of the body, when not 0 (a watch)
  size_t max_body = 64 << 20;
};

class ApiClient {
 public:
  explicit ApiClient(ApiServer server);  // throws ConfigError for unusable TLS material
  const ApiServer& server() const { return server_; }

  boost::asio::awaitable<ApiResponse> call(Request req) const;
  ApiResponse callSync(Request req) const;  // on its own io_context

  // A streamed answer (a watch): each line is given to `on_line` as it arrives. Returns when
  // the server ends the answer (status 200, empty error), or on an error: nothing read for
  // req.body_timeout, a line over req.max_body, a broken connection. A non-2xx answer returns its
  // status and body without calling on_line.
  boost::asio::awaitable<ApiResponse> stream(Request req, std::function<void(std::string_view)> on_line) const;

 private:
  ApiServer server_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
};

}  // namespace weft::kube
