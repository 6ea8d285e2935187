#include "control/authn/http_fetch.h"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>

namespace weft::control::authn {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

struct Url {
  bool tls = false;
  std::string host, port, target;
};

std::optional<Url> parseUrl(const std::string& url) {
  Url u;
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return std::nullopt;
  std::string scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") return std::nullopt;
  u.tls = scheme == "https";
  std::string rest = url.substr(scheme_end + 3);
  auto path_at = rest.find_first_of("/?");
  std::string authority = rest.substr(0, path_at);
  u.target = path_at == std::string::npos ? "/" : rest.substr(path_at);
  if (u.target.front() == '?') u.target = "/" + u.target;
  auto frag = u.target.find('#');
  if (frag != std::string::npos) u.target.resize(frag);
  if (!authority.empty() && authority.front() == '[') {  // [v6]:port
    auto close = authority.find(']');
    if (close == std::string::npos) return std::nullopt;
    u.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') u.port = authority.substr(close + 2);
  } else {
    auto colon = authority.rfind(':');
    u.host = authority.substr(0, colon);
    if (colon != std::string::npos) u.port = authority.substr(colon + 1);
  }
  if (u.host.empty()) return std::nullopt;
  if (u.port.empty()) u.port = u.tls ? "443" : "80";
  return u;
}

template <typename Stream>
FetchResult exchange(Stream& stream, const Url& u, size_t max_body, std::string* location) {
  FetchResult r;
  http::request<http::empty_body> req{http::verb::get, u.target, 11};
  req.set(http::field::host, u.host);
  req.set(http::field::user_agent, "weftd");
  req.set(http::field::accept, "application/json");
  http::write(stream, req);
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.header_limit(64 * 1024);
  parser.body_limit(max_body);
  http::read(stream, buf, parser);
  const auto& res = parser.get();
  r.status = static_cast<int>(res.result_int());
  if (r.status / 100 == 3) *location = std::string(res[http::field::location]);
  if (r.status == 200) r.body = res.body();
  return r;
}

FetchResult getOnce(const Url& u, std::chrono::steady_clock::time_point deadline, size_t max_body,
                    std::string* location) {
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  beast::tcp_stream tcp(io);
  tcp.expires_at(deadline);
  auto endpoints = resolver.resolve(u.host, u.port);
  tcp.connect(endpoints);
  if (!u.tls) return exchange(tcp, u, max_body, location);
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.set_default_verify_paths();
  ctx.set_verify_mode(asio::ssl::verify_peer);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  beast::ssl_stream<beast::tcp_stream> tls(std::move(tcp), ctx);
  SSL_set_tlsext_host_name(tls.native_handle(), u.host.c_str());
  tls.set_verify_callback(asio::ssl::host_name_verification(u.host));
  tls.handshake(asio::ssl::stream_base::client);
  FetchResult r = exchange(tls, u, max_body, location);
  beast::error_code ignored;
  beast::get_lowest_layer(tls).socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  return r;
}

}  // namespace

FetchResult httpGet(const std::string& url, std::chrono::milliseconds timeout, size_t max_body_bytes) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string at = url;
  for (int redirects = 0;; ++redirects) {
    auto u = parseUrl(at);
    if (!u) return FetchResult{0, {}, "'" + at + "' is not an http or https URL"};
    std::string location;
    FetchResult r;
    try {
      r = getOnce(*u, deadline, max_body_bytes, &location);
    } catch (const boost::system::system_error& e) {
      std::string why = e.code() == beast::error::timeout ? "timed out after " + std::to_string(timeout.count()) + " ms"
                        : e.code() == http::error::body_limit
                            ? "the body is over " + std::to_string(max_body_bytes) + " bytes"
                            : e.code().message();
      return FetchResult{0, {}, "GET " + at + ": " + why};
    }
    if (r.status / 100 == 3 && !location.empty() && redirects < 3) {
      if (location.front() == '/') location = (u->tls ? "https://" : "http://") + u->host + ":" + u->port + location;
      at = location;
      continue;
    }
    if (r.status != 200) r.error = "GET " + at + ": HTTP status " + std::to_string(r.status);
    return r;
  }
}

}  // namespace weft::control::authn
