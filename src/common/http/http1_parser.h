#pragma once
// HTTP/1.1 parsing with Boost.Beast's basic_parser: a strict, well-tested parser (it rejects
// conflicting Content-Length/Transfer-Encoding, bad header bytes, oversized heads) used
// without Beast's allocating message container. Header fields are reported as views into the
// caller's buffer and stored in a RequestHead/ResponseHead; body bytes (de-chunked) go to a
// BodySink as they arrive, so bodies are streamed, never buffered whole.
#include <boost/beast/http/basic_parser.hpp>
#include <string_view>

#include "common/http/headers.h"

namespace weft::http {

class BodySink {
 public:
  virtual ~BodySink() = default;
  virtual void onBodyData(std::string_view data) = 0;
};

namespace beast_http = boost::beast::http;
using ParseError = boost::system::error_code;

// Whether data holds a whole message head (up to the blank line). Beast would parse a
// complete start line and report it consumed while waiting for the fields, leaving the
// views it handed out pointing into bytes the caller may since have moved; feeding it only
// complete heads keeps every view valid. Each line is checked as soon as it is complete, so
// a malformed head is refused at once instead of waiting for a blank line that never comes:
// a bare LF, or a field line without a name and a colon. `scanned` remembers where the first
// incomplete line starts, so a head that trickles in is not rescanned from the start.
enum class HeadScan { Incomplete, Complete, Malformed };
HeadScan scanHead(std::string_view data, size_t& scanned);

class RequestParser final : public beast_http::basic_parser<true> {
 public:
  RequestParser(RequestHead& head, BodySink& sink, size_t header_limit, uint32_t max_headers_count = 100);
  // Consumes what it can from [data, data+len); `ec` is beast's need_more when more is needed.
  size_t feed(const char* data, size_t len, ParseError& ec);
  // The Transfer-Encoding was something other than a final "chunked" (501 per RFC 9112).
  bool unsupportedTransferEncoding() const { return bad_te_; }
  // The head had more fields than max_headers_count (reported as beast's header_limit).
  bool tooManyHeaders() const { return too_many_headers_; }
  // More than one Host header (reported as beast's bad_field).
  bool duplicateHost() const { return duplicate_host_; }

 private:
  void on_request_impl(beast_http::verb, boost::beast::string_view method, boost::beast::string_view target,
                       int version, ParseError& ec) override;
  void on_response_impl(int, boost::beast::string_view, int, ParseError&) override {}
  void on_field_impl(beast_http::field f, boost::beast::string_view name, boost::beast::string_view value,
                     ParseError& ec) override;
  void on_header_impl(ParseError& ec) override;
  void on_body_init_impl(boost::optional<std::uint64_t> const&, ParseError&) override {}
  std::size_t on_body_impl(boost::beast::string_view body, ParseError& ec) override;
  void on_chunk_header_impl(std::uint64_t, boost::beast::string_view, ParseError&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view body, ParseError& ec) override;
  void on_finish_impl(ParseError&) override {}

  RequestHead& head_;
  BodySink& sink_;
  uint32_t max_headers_count_;
  bool in_trailers_ = false;
  bool bad_te_ = false;
  bool too_many_headers_ = false;
  bool seen_host_ = false;
  bool duplicate_host_ = false;
  bool absolute_form_ = false;
};

class ResponseParser final : public beast_http::basic_parser<false> {
 public:
  ResponseParser(ResponseHead& head, BodySink& sink, bool head_request, uint32_t max_headers_count = 100);
  size_t feed(const char* data, size_t len, ParseError& ec);

 private:
  void on_request_impl(beast_http::verb, boost::beast::string_view, boost::beast::string_view, int,
                       ParseError&) override {}
  void on_response_impl(int code, boost::beast::string_view reason, int version, ParseError& ec) override;
  void on_field_impl(beast_http::field f, boost::beast::string_view name, boost::beast::string_view value,
                     ParseError& ec) override;
  void on_header_impl(ParseError& ec) override;
  void on_body_init_impl(boost::optional<std::uint64_t> const&, ParseError&) override {}
  std::size_t on_body_impl(boost::beast::string_view body, ParseError& ec) override;
  void on_chunk_header_impl(std::uint64_t, boost::beast::string_view, ParseError&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view body, ParseError& ec) override;
  void on_finish_impl(ParseError&) override {}

  ResponseHead& head_;
  BodySink& sink_;
  uint32_t max_headers_count_;
  bool in_trailers_ = false;
};

}  // namespace weft::http
