#pragma once
// The HTTP/2 codec side of one request on a downstream connection: collects the request
// headers and trailers as nghttp2 decodes them (within the header limits), drives an
// ActiveStream with them, and writes what the stream encodes as HEADERS and DATA frames, with
// the client's window as backpressure both ways.
#include <nghttp2/nghttp2.h>

#include <boost/container/small_vector.hpp>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "common/buffer.h"
#include "common/intrusive_list.h"
#include "proxy/http/active_stream.h"
#include "proxy/http/header_limit.h"
#include "proxy/http/http2_options.h"

namespace weft::proxy::http {

class Http2ServerConnection;

class Http2Stream final : public StreamCodec, public event::Deferrable {
 public:
  Http2Stream(Http2ServerConnection& parent, int32_t id);
  ~Http2Stream() override;
  int32_t id() const { return id_; }

  // From the connection's nghttp2 callbacks. False past the header limits: the stream is reset.
  bool onHeader(std::string_view name, std::string_view value);
  void onPeerReset() { peer_reset_ = true; }
  void onRequestHeaders(bool end_stream);
  void onRequestTrailers();
  void onRequestData(const uint8_t* data, size_t len);
  void onRequestEnd();
  void onClose(uint32_t error_code);  // the stream is gone (done, or reset by either side)
  void onResponseEndSent();           // our END_STREAM frame went out
  // After onClose: reset by the client (or refused here) within `min_lifetime` of its start,
  // before its response was complete (Envoy's premature reset).
  bool closedPrematurely(std::chrono::milliseconds min_lifetime) const;

  ListHook<Http2Stream> hook;  // the connection's list of open streams

  // StreamCodec
  void encodeHeaders(const ResponseHead& head, bool end_stream) override;
  void encodeData(std::string_view data, bool end_stream) override;
  void encodeTrailers(const std::vector<Header>& trailers) override;
  void resetStream() override;
  bool aboveWriteLimit() const override;
  void flush() override;
  void resumeRequestBody() override;
  void upgradeTunnel(const ResponseHead& head, net::Connection& upstream) override;

 private:
  static ssize_t readResponseBody(nghttp2_session*, int32_t, uint8_t*, size_t, uint32_t*, nghttp2_data_source*, void*);
  // Header bytes collect in one arena while HEADERS arrive; the views in req_ are made when
  // the block is complete (the arena no longer moves then).
  void collect(std::string_view name, std::string_view value);
  void discardRequestData(size_t len);
  void buildRequestHead();
  void submitResponse(NvList& nv, bool with_body);
  void armHeaderTimer();
  void onHeaderTimer();
  void responseStarted();  // once: the connection stops counting it as awaiting a response

  Http2ServerConnection& parent_;
  int32_t id_;
  ActiveStream stream_;
  RequestHead req_;
  struct Span {
    uint32_t name_at, name_len, value_at, value_len;
  };
  // Inline capacity covers a typical request head: no allocation for it.
  boost::container::small_vector<char, 512> arena_;
  boost::container::small_vector<Span, 20> spans_;
  std::list<std::string> trailer_strings_;  // request trailers (rare): stable storage; a deque would allocate up front
  std::vector<Header> request_trailers_;
  bool headers_done_ = false;
  bool request_end_ = false;
  bool bad_request_ = false;
  HeaderLimit header_limit_;      // the block being decoded (headers, then trailers)
  size_t held_header_bytes_ = 0;  // counted in the connection's header budget
  bool refused_ = false;          // reset here for passing a header limit
  bool peer_reset_ = false;
  bool awaiting_response_ = true;
  size_t unconsumed_ = 0;  // request bytes not yet acknowledged (the stream is backed up)

  Buffer response_body_;
  NvList response_trailers_;
  bool response_end_ = false;  // all of the response is in response_body_ (or sent)
  bool body_deferred_ = false;
  bool above_limit_ = false;  // response_body_ passed the limit; the stream was told
  bool reset_after_response_ = false;
  bool response_end_sent_ = false;
  size_t discarded_ = 0;
  bool closed_ = false;

  // Until the header block is complete: request_headers_timeout and stream_idle_timeout.
  event::Timer header_timer_;
  event::TimePoint headers_deadline_{};
  event::TimePoint started_{};
};

}  // namespace weft::proxy::http
