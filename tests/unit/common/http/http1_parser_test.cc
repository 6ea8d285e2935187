#include "common/http/http1_parser.h"

#include <gtest/gtest.h>

#include <boost/beast/http/error.hpp>
#include <string>

namespace weft::http {
namespace {

using error = boost::beast::http::error;

struct Sink : BodySink {
  std::string body;
  int calls = 0;
  void onBodyData(std::string_view d) override {
    body.append(d);
    ++calls;
  }
};

// Feeds [in+offset, end) the way the proxy does: the head first, then the body with eager
// parsing; Beast may consume bytes while still asking for more, which the caller drains.
// Returns the new offset; `ec` is need_more when the message is incomplete.
template <typename Parser>
size_t parse(Parser& p, std::string_view in, size_t offset, ParseError& ec) {
  ec = {};
  while (!p.is_done()) {
    if (offset == in.size()) {
      ec = error::need_more;
      break;
    }
    ParseError e;
    size_t n = p.feed(in.data() + offset, in.size() - offset, e);
    offset += n;
    if (e == error::need_more) {
      if (n == 0) {
        ec = e;
        break;
      }
      continue;
    }
    if (e) {
      ec = e;
      break;
    }
    if (p.is_header_done()) p.eager(true);
  }
  return offset;
}

bool within(std::string_view view, std::string_view buffer) {
  return view.data() >= buffer.data() && view.data() + view.size() <= buffer.data() + buffer.size();
}

TEST(RequestParserTest, GetWithHeadersAsViews) {
  const std::string in =
      "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.0\r\nX-Dup: 1\r\nx-dup: 2\r\n\r\n";
  RequestHead head;
  Sink sink;
  RequestParser p(head, sink, 8192);
  ParseError ec;
  size_t n = parse(p, in, 0, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(n, in.size());
  EXPECT_TRUE(p.is_done());
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.target, "/a/b?x=1&y=2");
  EXPECT_EQ(head.path, "/a/b");
  EXPECT_EQ(head.query, "x=1&y=2");
  EXPECT_EQ(head.host, "example.com");
  EXPECT_EQ(head.version, 11);
  EXPECT_TRUE(head.keep_alive);
  EXPECT_FALSE(head.chunked);
  EXPECT_FALSE(head.content_length);
  EXPECT_FALSE(head.hasBody());
  EXPECT_FALSE(head.upgrade);
  EXPECT_FALSE(head.expect_continue);
  ASSERT_EQ(head.headers.size(), 4u);
  EXPECT_EQ(head.headers[0].name, "Host");
  EXPECT_EQ(head.headers[1].name, "User-Agent");
  EXPECT_EQ(head.headers[1].value, "curl/8.0");
  // Zero copy: every view points into the input.
  EXPECT_TRUE(within(head.method, in));
  EXPECT_TRUE(within(head.target, in));
  EXPECT_TRUE(within(head.host, in));
  for (const auto& h : head.headers) {
    EXPECT_TRUE(within(h.name, in));
    EXPECT_TRUE(within(h.value, in));
  }
  ASSERT_NE(head.find("user-agent"), nullptr);
  EXPECT_EQ(*head.find("USER-AGENT"), "curl/8.0");
  EXPECT_EQ(*head.find("x-dup"), "1");  // the first of repeated headers
  EXPECT_EQ(head.find("x-missing"), nullptr);
  EXPECT_EQ(sink.calls, 0);
}

TEST(RequestParserTest, ContentLengthBody) {
  const std::string in = "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world";
  RequestHead head;
  Sink sink;
  RequestParser p(head, sink, 8192);
  ParseError ec;
  EXPECT_EQ(parse(p, in, 0, ec), in.size());
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_TRUE(p.is_done());
  ASSERT_TRUE(head.content_length);
  EXPECT_EQ(*head.content_length, 11u);
  EXPECT_TRUE(head.hasBody());
  EXPECT_EQ(sink.body, "hello world");
}

TEST(RequestParserTest, HeadIsReportedBeforeTheBodyArrives) {
  const std::string in = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n";
  RequestHead head;
  Sink sink;
  RequestParser p(head, sink, 8192);
  ParseError ec;
  size_t n = p.feed(in.data(), in.size(), ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(n, in.size());
  EXPECT_TRUE(p.is_header_done());
  EXPECT_FALSE(p.is_done());
  EXPECT_EQ(*head.content_length, 5u);
}

TEST(RequestParserTest, ChunkedBodyIsReassembled) {
  const std::string in =
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: t\r\n\r\n";
  RequestHead head;
  Sink sink;
  RequestParser p(head, sink, 8192);
  ParseError ec;
  EXPECT_EQ(parse(p, in, 0, ec), in.size());
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_TRUE(p.is_done());
  EXPECT_TRUE(head.chunked);
  EXPECT_TRUE(head.hasBody());
  EXPECT_FALSE(p.unsupportedTransferEncoding());
  EXPECT_EQ(sink.body, "Wikipedia in\r\n\r\nchunks.");
  // Trailers are not added to the head.
  EXPECT_EQ(head.find("x-trailer"), nullptr);
  EXPECT_EQ(head.headers.size(), 2u);
}

TEST(RequestParserTest, ChunkedBodyArrivingInPiecesOfEverySize) {
  const std::string in =
      "PUT /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n10\r\n0123456789abcdef\r\n1\r\nZ\r\n0\r\n\r\n";
  for (size_t piece = 1; piece <= 9; ++piece) {
    SCOPED_TRACE("piece size " + std::to_string(piece));
    std::string buf;
    buf.reserve(in.size());  // views stay valid: never reallocated
    RequestHead head;
    Sink sink;
    RequestParser p(head, sink, 8192);
    size_t offset = 0;
    ParseError ec;
    for (size_t pos = 0; pos < in.size(); pos += piece) {
      buf.append(in, pos, piece);
      offset = parse(p, buf, offset, ec);
      if (ec && ec != error::need_more) break;
    }
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_TRUE(p.is_done());
    EXPECT_EQ(offset, in.size());
    EXPECT_EQ(sink.body, "abc0123456789abcdefZ");
    EXPECT_EQ(head.method, "PUT");
    EXPECT_EQ(head.host, "a");
  }
}

TEST(RequestParserTest, PipelinedSecondRequestIsLeftUnconsumed) {
  const std::string first = "POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
  const std::string second = "GET /2 HTTP/1.1\r\nHost: b\r\n\r\n";
  const std::string in = first + second;
  RequestHead head;
  Sink sink;
  RequestParser p(head, sink, 8192);
  ParseError ec;
  size_t n = parse(p, in, 0, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(n, first.size());
  EXPECT_EQ(sink.body, "abc");
  EXPECT_EQ(head.target, "/1");

  RequestHead head2;
  Sink sink2;
  RequestParser p2(head2, sink2, 8192);
  EXPECT_EQ(parse(p2, in, n, ec), in.size());
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(head2.target, "/2");
  EXPECT_EQ(head2.host, "b");
  EXPECT_EQ(sink2.body, "");
}

TEST(RequestParserTest, IncompleteHeadConsumesTheRequestLineAndNeedsMore) {
  // Beast parses a complete start line at once and reports it consumed together with
  // need_more: the caller must not feed those bytes again.
  const std::string line = "GET /x HTTP/1.1\r\n";
  std::string buf;
  buf.reserve(256);
  buf = line + "Host: a\r\n";
  RequestHead head;
  Sink sink;
  RequestParser p(head, sink, 8192);
  ParseError ec;
  size_t n = p.feed(buf.data(), buf.size(), ec);
  EXPECT_EQ(ec, error::need_more);
  EXPECT_EQ(n, line.size());
  EXPECT_FALSE(p.is_header_done());
  EXPECT_EQ(head.target, "/x");

  buf += "Accept: */*\r\n\r\n";
  size_t m = p.feed(buf.data() + n, buf.size() - n, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(n + m, buf.size());
  EXPECT_TRUE(p.is_header_done());
  EXPECT_EQ(head.host, "a");
  EXPECT_EQ(head.headers.size(), 2u);
}

TEST(RequestParserTest, IncompleteRequestLineConsumesNothing) {
  const std::string in = "GET /x HT";
  RequestHead head;
  Sink sink;
  RequestParser p(head, sink, 8192);
  ParseError ec;
  EXPECT_EQ(p.feed(in.data(), in.size(), ec), 0u);
  EXPECT_EQ(ec, error::need_more);
}

ParseError requestError(const std::string& in, size_t header_limit = 8192) {
  RequestHead head;
  Sink sink;
  RequestParser p(head, sink, header_limit);
  ParseError ec;
  parse(p, in, 0, ec);
  return ec;
}

TEST(RequestParserTest, ConflictingContentLengthAndTransferEncodingIsAnError) {
  ParseError ec =
      requestError("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  EXPECT_TRUE(ec);
  EXPECT_NE(ec, error::need_more);
  ec = requestError("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n");
  EXPECT_TRUE(ec);
  EXPECT_NE(ec, error::need_more);
}

TEST(RequestParserTest, DuplicateDifferingContentLengthIsAnError) {
  ParseError ec = requestError("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!");
  EXPECT_TRUE(ec);
  EXPECT_NE(ec, error::need_more);
  ec = requestError("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\nhello!");
  EXPECT_TRUE(ec);
  EXPECT_NE(ec, error::need_more);
}

TEST(RequestParserTest, BadContentLengthIsAnError) {
  EXPECT_EQ(requestError("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"), error::bad_content_length);
  EXPECT_EQ(requestError("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12abc\r\n\r\n"), error::bad_content_length);
}

TEST(RequestParserTest, BadHeaderNameIsAnError) {
  for (const char* bad : {"Bad Name: x", "Bad(Name): x", "Bad\"Name: x", ": novalue"}) {
    SCOPED_TRACE(bad);
    ParseError ec = requestError(std::string("GET / HTTP/1.1\r\nHost: a\r\n") + bad + "\r\n\r\n");
    EXPECT_TRUE(ec);
    EXPECT_NE(ec, error::need_more);
  }
}

TEST(RequestParserTest, BadRequestLinesAreErrors) {
  EXPECT_TRUE(requestError("GET / HTTP/2.0\r\nHost: a\r\n\r\n"));
  EXPECT_TRUE(requestError("GET /\r\nHost: a\r\n\r\n"));
  EXPECT_TRUE(requestError("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"));
  EXPECT_TRUE(requestError("GET / FTP/1.1\r\nHost: a\r\n\r\n"));
}

TEST(RequestParserTest, HeaderLimitIsEnforced) {
  const std::string small = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string big = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(200, 'x') + "\r\n\r\n";
  EXPECT_FALSE(requestError(small, 128));
  EXPECT_EQ(requestError(big, 128), error::header_limit);
  EXPECT_FALSE(requestError(big, 1024));
}

TEST(RequestParserTest, HeaderLimitAppliesToAHeadArrivingInPieces) {
  const std::string big = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(300, 'x') + "\r\n\r\n";
  std::string buf;
  buf.reserve(big.size());
  RequestHead head;
  Sink sink;
  RequestParser p(head, sink, 128);
  ParseError ec;
  size_t offset = 0;
  for (size_t pos = 0; pos < big.size(); pos += 16) {
    buf.append(big, pos, 16);
    offset = parse(p, buf, offset, ec);
    if (ec && ec != error::need_more) break;
  }
  EXPECT_EQ(ec, error::header_limit);
}

TEST(RequestParserTest, NonChunkedTransferEncodingIsFlagged) {
  for (const char* te : {"gzip", "gzip, chunked", "identity", "chunked, gzip", "deflate"}) {
    SCOPED_TRACE(te);
    std::string in = std::string("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ") + te + "\r\n\r\n";
    RequestHead head;
    Sink sink;
    RequestParser p(head, sink, 8192);
    ParseError ec;
    p.feed(in.data(), in.size(), ec);
    EXPECT_TRUE(p.is_header_done() || ec);
    EXPECT_TRUE(p.unsupportedTransferEncoding());
  }
  for (const char* te : {"chunked", "Chunked", " chunked "}) {
    SCOPED_TRACE(te);
    std::string in = std::string("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ") + te + "\r\n\r\n0\r\n\r\n";
    RequestHead head;
    Sink sink;
    RequestParser p(head, sink, 8192);
    ParseError ec;
    parse(p, in, 0, ec);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_FALSE(p.unsupportedTransferEncoding());
    EXPECT_TRUE(head.chunked);
  }
}

TEST(RequestParserTest, ConnectionSemantics) {
  {
    RequestHead head;
    Sink sink;
    RequestParser p(head, sink, 8192);
    ParseError ec;
    std::string in = "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    parse(p, in, 0, ec);
    EXPECT_FALSE(head.keep_alive);
  }
  {
    RequestHead head;
    Sink sink;
    RequestParser p(head, sink, 8192);
    ParseError ec;
    std::string in = "GET / HTTP/1.0\r\n\r\n";
    parse(p, in, 0, ec);
    ASSERT_FALSE(ec);
    EXPECT_EQ(head.version, 10);
    EXPECT_FALSE(head.keep_alive);
    EXPECT_EQ(head.host, "");
  }
  {
    RequestHead head;
    Sink sink;
    RequestParser p(head, sink, 8192);
    ParseError ec;
    std::string in = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    parse(p, in, 0, ec);
    EXPECT_TRUE(head.keep_alive);
  }
  {
    RequestHead head;
    Sink sink;
    RequestParser p(head, sink, 8192);
    ParseError ec;
    std::string in = "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
    parse(p, in, 0, ec);
    ASSERT_FALSE(ec);
    EXPECT_TRUE(head.upgrade);
  }
}

TEST(RequestParserTest, ExpectContinue) {
  {
    RequestHead head;
    Sink sink;
    RequestParser p(head, sink, 8192);
    ParseError ec;
    std::string in = "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n";
    p.feed(in.data(), in.size(), ec);
    ASSERT_TRUE(p.is_header_done());
    EXPECT_TRUE(head.expect_continue);
  }
  {
    RequestHead head;
    Sink sink;
    RequestParser p(head, sink, 8192);
    ParseError ec;
    std::string in = "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n";
    p.feed(in.data(), in.size(), ec);
    ASSERT_TRUE(p.is_header_done());
    EXPECT_FALSE(head.expect_continue);  // HTTP/1.0 clients do not wait for 100
  }
}

TEST(RequestHeadTest, ClearResetsEverything) {
  RequestHead head;
  Sink sink;
  RequestParser p(head, sink, 8192);
  ParseError ec;
  std::string in = "POST /x?y HTTP/1.0\r\nHost: a\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\nz";
  parse(p, in, 0, ec);
  head.clear();
  EXPECT_TRUE(head.headers.empty());
  EXPECT_EQ(head.method, "");
  EXPECT_EQ(head.target, "");
  EXPECT_EQ(head.host, "");
  EXPECT_EQ(head.version, 11);
  EXPECT_TRUE(head.keep_alive);
  EXPECT_FALSE(head.content_length);
  EXPECT_FALSE(head.chunked);
}

TEST(HopByHopTest, Names) {
  for (const char* n :
       {"connection", "Keep-Alive", "proxy-connection", "TE", "trailer", "Transfer-Encoding", "upgrade"}) {
    EXPECT_TRUE(isHopByHop(n)) << n;
  }
  for (const char* n : {"host", "content-length", "x-connection", "te2", "trailers", "upgrade-insecure-requests"}) {
    EXPECT_FALSE(isHopByHop(n)) << n;
  }
}

// ---------------------------------------------------------------------------------------------

TEST(ResponseParserTest, ContentLengthResponse) {
  const std::string in = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi";
  ResponseHead head;
  Sink sink;
  ResponseParser p(head, sink, false);
  ParseError ec;
  EXPECT_EQ(parse(p, in, 0, ec), in.size());
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.reason, "OK");
  EXPECT_EQ(head.version, 11);
  EXPECT_TRUE(head.keep_alive);
  EXPECT_EQ(*head.content_length, 2u);
  EXPECT_EQ(sink.body, "hi");
  ASSERT_EQ(head.headers.size(), 2u);
  EXPECT_EQ(*head.find("content-type"), "text/plain");
  EXPECT_TRUE(within(head.headers[0].value, in));
}

TEST(ResponseParserTest, ChunkedResponse) {
  const std::string in = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n";
  ResponseHead head;
  Sink sink;
  ResponseParser p(head, sink, false);
  ParseError ec;
  EXPECT_EQ(parse(p, in, 0, ec), in.size());
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(head.status, 201);
  EXPECT_TRUE(head.chunked);
  EXPECT_EQ(sink.body, "abcde");
}

TEST(ResponseParserTest, InformationalResponseHasNoBody) {
  const std::string interim = "HTTP/1.1 100 Continue\r\n\r\n";
  const std::string final_response = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx";
  const std::string in = interim + final_response;
  ResponseHead head;
  Sink sink;
  ResponseParser p(head, sink, false);
  ParseError ec;
  size_t n = parse(p, in, 0, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_TRUE(p.is_done());
  EXPECT_EQ(head.status, 100);
  EXPECT_EQ(n, interim.size());

  ResponseHead head2;
  ResponseParser p2(head2, sink, false);
  EXPECT_EQ(parse(p2, in, n, ec), in.size());
  EXPECT_EQ(head2.status, 200);
  EXPECT_EQ(sink.body, "x");
}

TEST(ResponseParserTest, NoContentAndNotModifiedHaveNoBody) {
  for (const char* in :
       {"HTTP/1.1 204 No Content\r\n\r\n", "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"}) {
    SCOPED_TRACE(in);
    ResponseHead head;
    Sink sink;
    ResponseParser p(head, sink, false);
    ParseError ec;
    EXPECT_EQ(parse(p, in, 0, ec), std::string_view(in).size());
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_TRUE(p.is_done());
  }
}

TEST(ResponseParserTest, ResponseToHeadHasNoBody) {
  const std::string in = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
  ResponseHead head;
  Sink sink;
  ResponseParser p(head, sink, true);
  ParseError ec;
  EXPECT_EQ(parse(p, in, 0, ec), in.size());
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_TRUE(p.is_done());
  EXPECT_EQ(*head.content_length, 100u);
  EXPECT_EQ(sink.body, "");
}

TEST(ResponseParserTest, BodyUntilEof) {
  const std::string in = "HTTP/1.1 200 OK\r\nServer: old\r\n\r\nstream of bytes";
  ResponseHead head;
  Sink sink;
  ResponseParser p(head, sink, false);
  ParseError ec;
  EXPECT_EQ(parse(p, in, 0, ec), in.size());
  EXPECT_EQ(ec, error::need_more);
  EXPECT_FALSE(p.is_done());
  EXPECT_TRUE(p.need_eof());
  EXPECT_FALSE(head.content_length);
  EXPECT_FALSE(head.chunked);
  EXPECT_EQ(sink.body, "stream of bytes");
  ParseError eof_ec;
  p.put_eof(eof_ec);
  EXPECT_FALSE(eof_ec) << eof_ec.message();
  EXPECT_TRUE(p.is_done());
}

TEST(ResponseParserTest, Http10ResponseIsNotKeepAlive) {
  const std::string in = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
  ResponseHead head;
  Sink sink;
  ResponseParser p(head, sink, false);
  ParseError ec;
  parse(p, in, 0, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(head.version, 10);
  EXPECT_FALSE(head.keep_alive);
}

TEST(ResponseParserTest, MalformedResponsesAreErrors) {
  for (const char* in : {"HTTP/1.1 2x0 OK\r\n\r\n", "HTTP/2.0 200 OK\r\n\r\n", "HTTX/1.1 200 OK\r\n\r\n",
                         "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                         "HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n"}) {
    SCOPED_TRACE(in);
    ResponseHead head;
    Sink sink;
    ResponseParser p(head, sink, false);
    ParseError ec;
    parse(p, in, 0, ec);
    EXPECT_TRUE(ec);
    EXPECT_NE(ec, error::need_more);
  }
}

TEST(ResponseHeadTest, ClearResetsEverything) {
  const std::string in = "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n";
  ResponseHead head;
  Sink sink;
  ResponseParser p(head, sink, false);
  ParseError ec;
  parse(p, in, 0, ec);
  head.clear();
  EXPECT_EQ(head.status, 0);
  EXPECT_EQ(head.reason, "");
  EXPECT_EQ(head.version, 11);
  EXPECT_TRUE(head.headers.empty());
  EXPECT_TRUE(head.keep_alive);
  EXPECT_FALSE(head.content_length);
}

}  // namespace
}  // namespace weft::http

namespace weft::http {
namespace {

HeadScan scanAll(std::string_view data) {
  size_t scanned = 0;
  return scanHead(data, scanned);
}

TEST(ScanHeadTest, CompleteHead) {
  EXPECT_EQ(scanAll("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), HeadScan::Complete);
  EXPECT_EQ(scanAll("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), HeadScan::Complete);  // RFC 9112 2.2
}

TEST(ScanHeadTest, IncompleteHeadWaits) {
  EXPECT_EQ(scanAll("GET / HT"), HeadScan::Incomplete);
  EXPECT_EQ(scanAll("GET / HTTP/1.1\r\nHost: a\r\nConte"), HeadScan::Incomplete);
}

TEST(ScanHeadTest, MalformedLinesAreRefusedBeforeTheHeadEnds) {
  EXPECT_EQ(scanAll("GET / HTTP/1.1\r\nHost: a\r\nConte\n"), HeadScan::Malformed);  // bare LF
  EXPECT_EQ(scanAll("GET / HTTP/1.1\nHost: a\n"), HeadScan::Malformed);
  EXPECT_EQ(scanAll("GET / HTTP/1.1\r\nno colon here\r\n"), HeadScan::Malformed);
  EXPECT_EQ(scanAll("GET / HTTP/1.1\r\n: empty name\r\n"), HeadScan::Malformed);
  EXPECT_EQ(scanAll("GET / HTTP/1.1\r\nbad name: x\r\n"), HeadScan::Malformed);
  EXPECT_EQ(scanAll("GET / HTTP/1.1\r\n folded: x\r\n"), HeadScan::Malformed);  // obs-fold
}

TEST(ScanHeadTest, TrickledHeadIsNotRescanned) {
  const std::string head = "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\r\n";
  size_t scanned = 0;
  for (size_t n = 1; n < head.size(); ++n) {
    ASSERT_EQ(scanHead(std::string_view(head).substr(0, n), scanned), HeadScan::Incomplete) << n;
    EXPECT_LE(scanned, n);
  }
  EXPECT_EQ(scanHead(head, scanned), HeadScan::Complete);
  EXPECT_EQ(scanned, 0u);
}

TEST(RequestParserTest, MaxHeadersCountIsEnforced) {
  std::string req = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 5; ++i) req += "X-" + std::to_string(i) + ": v\r\n";
  req += "\r\n";
  RequestHead head;
  Sink sink;
  RequestParser ok(head, sink, 8192, 6);
  ParseError ec;
  ok.feed(req.data(), req.size(), ec);
  EXPECT_FALSE(ec) << ec.message();
  RequestHead head2;
  RequestParser over(head2, sink, 8192, 5);
  over.feed(req.data(), req.size(), ec);
  EXPECT_EQ(ec, boost::beast::http::error::header_limit);
  EXPECT_TRUE(over.tooManyHeaders());
}

}  // namespace
TEST(RequestParserTest, AbsoluteFormTakesTheTargetsAuthority) {
  const std::string in = "GET http://target.test:8080/p/q?x=1 HTTP/1.1\r\nHost: other.test\r\n\r\n";
  RequestHead head;
  Sink sink;
  RequestParser p(head, sink, 8192);
  ParseError ec;
  parse(p, in, 0, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(head.host, "target.test:8080");
  EXPECT_EQ(head.target, "/p/q?x=1");
  EXPECT_EQ(head.path, "/p/q");
  EXPECT_EQ(head.query, "x=1");
  EXPECT_TRUE(within(head.host, in));
}

TEST(RequestParserTest, AbsoluteFormWithoutAPathIsSlash) {
  const std::string in = "OPTIONS HTTPS://Target.test HTTP/1.1\r\nHost: t\r\n\r\n";
  RequestHead head;
  Sink sink;
  RequestParser p(head, sink, 8192);
  ParseError ec;
  parse(p, in, 0, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(head.host, "Target.test");
  EXPECT_EQ(head.target, "/");
  EXPECT_EQ(head.path, "/");
}

TEST(RequestParserTest, MalformedAbsoluteFormIsABadTarget) {
  for (std::string target : {"http:///x", "http://user@h/x", "http://h?q"}) {
    const std::string in = "GET " + target + " HTTP/1.1\r\nHost: t\r\n\r\n";
    RequestHead head;
    Sink sink;
    RequestParser p(head, sink, 8192);
    ParseError ec;
    parse(p, in, 0, ec);
    EXPECT_EQ(ec, error::bad_target) << target;
  }
}

TEST(RequestParserTest, SecondHostHeaderIsRefused) {
  const std::string in = "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nhost: a\r\n\r\n";
  RequestHead head;
  Sink sink;
  RequestParser p(head, sink, 8192);
  ParseError ec;
  parse(p, in, 0, ec);
  EXPECT_EQ(ec, error::bad_field);
  EXPECT_TRUE(p.duplicateHost());
}

}  // namespace weft::http
