#include "common/kube/api_client.h"

#include <openssl/ssl.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <future>

namespace weft::kube {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::use_awaitable;

constexpr size_t kErrorBodyCap = 64 * 1024;

http::request<http::string_body> makeRequest(const ApiServer& server, const Request& r) {
  http::request<http::string_body> req;
  req.method_string(r.method);
  req.target(r.target);
  req.version(11);
  req.set(http::field::host, server.host + ":" + server.port);
  req.set(http::field::user_agent, "weft");
  req.set(http::field::accept, "application/json");
  std::string token = server.bearerToken();
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  if (!r.body.empty() || r.method == "POST" || r.method == "PUT" || r.method == "PATCH") {
    req.set(http::field::content_type, r.content_type);
    req.body() = r.body;
    req.prepare_payload();
  }
  req.keep_alive(false);
  return req;
}

// What to do with the body's bytes as they arrive: keep them (up to a cap) or cut lines.
class BodySink {
 public:
  BodySink(const Request& r, const std::function<void(std::string_view)>* on_line, ApiResponse& out)
      : max_(r.max_body), on_line_(on_line), out_(out) {}

  // False to stop reading (a cap reached; out_.error says which).
  bool add(std::string_view data) {
    if (!out_.ok() || !on_line_) {
      size_t cap = out_.ok() ? max_ : kErrorBodyCap;
      if (out_.body.size() + data.size() > cap) {
        if (out_.ok()) out_.error = "the answer is over " + std::to_string(max_) + " bytes";
        out_.body.append(data.substr(0, cap - out_.body.size()));
        return false;
      }
      out_.body.append(data);
      return true;
    }
    pending_.append(data);
    size_t start = 0;
    for (size_t nl; (nl = pending_.find('\n', start)) != std::string::npos; start = nl + 1) {
      if (nl > start) (*on_line_)(std::string_view(pending_).substr(start, nl - start));
    }
    pending_.erase(0, start);
    if (pending_.size() > max_) {
      out_.error = "a watch event is over " + std::to_string(max_) + " bytes";
      return false;
    }
    return true;
  }

  void finish() {
    if (on_line_ && out_.ok() && !pending_.empty() && out_.error.empty()) (*on_line_)(pending_);
  }

 private:
  size_t max_;
  const std::function<void(std::string_view)>* on_line_;
  ApiResponse& out_;
  std::string pending_;
};

template <typename Stream>
asio::awaitable<void> exchange(Stream& s, beast::tcp_stream& tcp, const ApiServer& server, const Request& r,
                               const std::function<void(std::string_view)>* on_line, ApiResponse& out) {
  auto req = makeRequest(server, r);
  tcp.expires_after(r.timeout);
  co_await http::async_write(s, req, use_awaitable);
  beast::flat_buffer buf;
  http::response_parser<http::buffer_body> parser;
  parser.header_limit(64 * 1024);
  parser.body_limit(boost::none);  // BodySink caps what is kept
  tcp.expires_after(r.timeout);
  co_await http::async_read_header(s, buf, parser, use_awaitable);
  out.status = static_cast<int>(parser.get().result_int());
  BodySink sink(r, on_line, out);
  std::vector<char> chunk(64 * 1024);
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    tcp.expires_after(r.body_timeout.count() ? r.body_timeout : r.timeout);
    beast::error_code ec;
    co_await http::async_read_some(s, buf, parser, asio::redirect_error(use_awaitable, ec));
    if (ec && ec != http::error::need_buffer) throw beast::system_error(ec);
    size_t got = chunk.size() - parser.get().body().size;
    if (got && !sink.add(std::string_view(chunk.data(), got))) co_return;
  }
  sink.finish();
}

std::string describe(const beast::system_error& e, const Request& r) {
  if (e.code() == beast::error::timeout) return "nothing for " + std::to_string(r.timeout.count()) + " ms (timed out)";
  return e.code().message();
}

}  // namespace

ApiClient::ApiClient(ApiServer server) : server_(std::move(server)) {
  if (!server_.tls) return;
  tls_ = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(tls_->native_handle(), TLS1_2_VERSION);
  try {
    if (!server_.ca_pem.empty()) {
      tls_->add_certificate_authority(asio::buffer(server_.ca_pem));
    } else {
      tls_->set_default_verify_paths();
    }
    tls_->set_verify_mode(server_.insecure_skip_verify ? asio::ssl::verify_none : asio::ssl::verify_peer);
    if (!server_.client_cert_pem.empty()) {
      tls_->use_certificate_chain(asio::buffer(server_.client_cert_pem));
      tls_->use_private_key(asio::buffer(server_.client_key_pem), asio::ssl::context::pem);
    }
  } catch (const boost::system::system_error& e) {
    throw ConfigError("Kubernetes API server " + server_.url() + ": TLS material: " + e.code().message());
  }
}

asio::awaitable<ApiResponse> ApiClient::stream(Request r, std::function<void(std::string_view)> on_line) const {
  ApiResponse out;
  auto executor = co_await asio::this_coro::executor;
  try {
    asio::ip::tcp::resolver resolver(executor);
    beast::tcp_stream tcp(executor);
    tcp.expires_after(r.timeout);
    auto endpoints = co_await resolver.async_resolve(server_.host, server_.port, use_awaitable);
    co_await tcp.async_connect(endpoints, use_awaitable);
    if (!server_.tls) {
      co_await exchange(tcp, tcp, server_, r, on_line ? &on_line : nullptr, out);
    } else {
      beast::ssl_stream<beast::tcp_stream> tls(std::move(tcp), *tls_);
      asio::ip::address ip;
      beast::error_code not_ip;
      ip = asio::ip::make_address(server_.host, not_ip);
      if (not_ip) SSL_set_tlsext_host_name(tls.native_handle(), server_.host.c_str());
      if (!server_.insecure_skip_verify) tls.set_verify_callback(asio::ssl::host_name_verification(server_.host));
      beast::get_lowest_layer(tls).expires_after(r.timeout);
      co_await tls.async_handshake(asio::ssl::stream_base::client, use_awaitable);
      co_await exchange(tls, beast::get_lowest_layer(tls), server_, r, on_line ? &on_line : nullptr, out);
    }
  } catch (const beast::system_error& e) {
    out.error = describe(e, r);
  }
  if (!out.error.empty()) out.error = r.method + " " + server_.url() + r.target + ": " + out.error;
  co_return out;
}

asio::awaitable<ApiResponse> ApiClient::call(Request r) const { return stream(std::move(r), nullptr); }

ApiResponse ApiClient::callSync(Request r) const {
  asio::io_context io;
  auto f = asio::co_spawn(io, call(std::move(r)), asio::use_future);
  io.run();
  return f.get();
}

}  // namespace weft::kube
