#include "common/http/http1_parser.h"

#include <boost/beast/http/error.hpp>

namespace weft::http {

namespace {
std::string_view sv(boost::beast::string_view s) { return {s.data(), s.size()}; }

// RFC 9110 5.6.2 tchar.
bool isTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool onlyChunked(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return equalsIgnoreCase(v, "chunked");
}
}  // namespace

HeadScan scanHead(std::string_view data, size_t& scanned) {
  size_t pos = scanned;
  while (true) {
    size_t lf = data.find('\n', pos);
    if (lf == std::string_view::npos) {
      scanned = pos;
      return HeadScan::Incomplete;
    }
    if (lf == 0 || data[lf - 1] != '\r') return HeadScan::Malformed;  // bare LF
    std::string_view line = data.substr(pos, lf - 1 - pos);
    // The start line, after any empty lines before it (RFC 9112 2.2), is Beast's to check.
    bool start_line = data.find_first_not_of("\r\n") >= pos;
    if (line.empty() && !start_line) {
      scanned = 0;
      return HeadScan::Complete;
    }
    if (!start_line) {
      size_t colon = line.find(':');
      if (colon == 0 || colon == std::string_view::npos) return HeadScan::Malformed;
      for (char c : line.substr(0, colon)) {
        if (!isTokenChar(c)) return HeadScan::Malformed;
      }
    }
    pos = lf + 1;
  }
}

RequestParser::RequestParser(RequestHead& head, BodySink& sink, size_t max_header_bytes, uint32_t max_headers_count)
    : head_(head), sink_(sink), max_headers_count_(max_headers_count) {
  header_limit(static_cast<std::uint32_t>(max_header_bytes));
  body_limit(boost::none);
}

size_t RequestParser::feed(const char* data, size_t len, ParseError& ec) {
  return put(boost::asio::const_buffer(data, len), ec);
}

void RequestParser::on_request_impl(beast_http::verb, boost::beast::string_view method,
                                    boost::beast::string_view target, int version, ParseError& ec) {
  head_.method = sv(method);
  head_.target = sv(target);
  // absolute-form (RFC 9112 3.2.2): the target's authority is the request's, whatever a Host
  // header says, and the upstream gets origin-form; as Envoy.
  if (startsWithIgnoreCase(head_.target, "http://") || startsWithIgnoreCase(head_.target, "https://")) {
    std::string_view rest = head_.target.substr(head_.target.find("://") + 3);
    size_t end = rest.find_first_of("/?");
    std::string_view authority = rest.substr(0, end);
    if (authority.empty() || authority.find('@') != std::string_view::npos) {
      ec = beast_http::error::bad_target;
      return;
    }
    head_.host = authority;
    absolute_form_ = true;
    head_.target = end == std::string_view::npos ? std::string_view("/") : rest.substr(end);
    if (head_.target.front() == '?') {
      // "http://h?q": the path is empty, which origin-form writes as "/" (RFC 9112 3.2.1).
      ec = beast_http::error::bad_target;
      return;
    }
  }
  auto q = head_.target.find('?');
  head_.path = head_.target.substr(0, q);
  head_.query = q == std::string_view::npos ? std::string_view() : head_.target.substr(q + 1);
  head_.version = version;
  if (version != 10 && version != 11) ec = beast_http::error::bad_version;
}

void RequestParser::on_field_impl(beast_http::field f, boost::beast::string_view name, boost::beast::string_view value,
                                  ParseError& ec) {
  if (in_trailers_) return;  // HTTP/1 trailers are not forwarded (as Envoy by default)
  if (head_.headers.size() >= max_headers_count_) {
    too_many_headers_ = true;
    ec = beast_http::error::header_limit;
    return;
  }
  if (f == beast_http::field::host) {
    // RFC 9112 3.2: more than one Host is a 400 (request smuggling between proxies that
    // pick different ones).
    if (seen_host_) {
      duplicate_host_ = true;
      ec = beast_http::error::bad_field;
      return;
    }
    seen_host_ = true;
    if (!absolute_form_) head_.host = sv(value);
  } else if (f == beast_http::field::transfer_encoding) {
    // Beast treats a final "chunked" as chunked and anything else as no framing; a request
    // with another coding is refused rather than guessed at (request smuggling).
    if (!onlyChunked(sv(value))) bad_te_ = true;
  } else if (f == beast_http::field::expect) {
    head_.expect_continue = equalsIgnoreCase(sv(value), "100-continue");
  }
  head_.headers.push_back({sv(name), sv(value)});
}

void RequestParser::on_header_impl(ParseError&) {
  in_trailers_ = true;
  head_.keep_alive = keep_alive();
  head_.chunked = chunked();
  if (auto cl = content_length()) head_.content_length = *cl;
  head_.upgrade = upgrade();
  // An h2c upgrade is declined by serving the request over HTTP/1.1, as Envoy does; the
  // Upgrade, Connection and HTTP2-Settings headers are then not forwarded.
  if (head_.upgrade) {
    const std::string_view* u = head_.find("upgrade");
    if (u && equalsIgnoreCase(*u, "h2c")) head_.upgrade = false;
  }
  if (head_.version == 10) head_.expect_continue = false;
}

std::size_t RequestParser::on_body_impl(boost::beast::string_view body, ParseError&) {
  sink_.onBodyData(sv(body));
  return body.size();
}

std::size_t RequestParser::on_chunk_body_impl(std::uint64_t, boost::beast::string_view body, ParseError&) {
  sink_.onBodyData(sv(body));
  return body.size();
}

ResponseParser::ResponseParser(ResponseHead& head, BodySink& sink, bool head_request, uint32_t max_headers_count)
    : head_(head), sink_(sink), max_headers_count_(max_headers_count) {
  header_limit(96 * 1024 + 4);
  body_limit(boost::none);
  skip(head_request);
}

size_t ResponseParser::feed(const char* data, size_t len, ParseError& ec) {
  return put(boost::asio::const_buffer(data, len), ec);
}

void ResponseParser::on_response_impl(int code, boost::beast::string_view reason, int version, ParseError& ec) {
  head_.status = code;
  head_.reason = sv(reason);
  head_.version = version;
  if (version != 10 && version != 11) ec = beast_http::error::bad_version;
}

void ResponseParser::on_field_impl(beast_http::field, boost::beast::string_view name, boost::beast::string_view value,
                                   ParseError& ec) {
  if (in_trailers_) return;
  if (head_.headers.size() >= max_headers_count_) {
    ec = beast_http::error::header_limit;
    return;
  }
  head_.headers.push_back({sv(name), sv(value)});
}

void ResponseParser::on_header_impl(ParseError&) {
  in_trailers_ = true;
  head_.keep_alive = keep_alive();
  head_.chunked = chunked();
  if (auto cl = content_length()) head_.content_length = *cl;
}

std::size_t ResponseParser::on_body_impl(boost::beast::string_view body, ParseError&) {
  sink_.onBodyData(sv(body));
  return body.size();
}

std::size_t ResponseParser::on_chunk_body_impl(std::uint64_t, boost::beast::string_view body, ParseError&) {
  sink_.onBodyData(sv(body));
  return body.size();
}

}  // namespace weft::http
