#pragma once
// One request on a downstream HTTP/2 connection: collects the request headers, routes with
// the shared router, streams the body to an UpstreamStream (HTTP/1.1 or HTTP/2) with the
// client's window as backpressure, and sends the response, trailers included. Local replies
// to gRPC requests are trailers-only responses with grpc-status, as Envoy sends them.
#include <nghttp2/nghttp2.h>

#include <boost/container/small_vector.hpp>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "common/buffer.h"
#include "common/intrusive_list.h"
#include "proxy/http/header_limit.h"
#include "proxy/http/http2_options.h"
#include "proxy/http/router.h"
#include "proxy/http/upstream_stream.h"
#include "proxy/stream_info.h"

namespace weft::proxy::http {

class Http2ServerConnection;

class Http2Stream final : public UpstreamCallbacks, public event::Deferrable {
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

  // UpstreamCallbacks
  void onUpstreamFailure(uint32_t flag, std::string_view reason) override;
  void onUpstreamHeaders(const ResponseHead& head, bool end_stream) override;
  void onUpstreamBody(std::string_view data) override;
  void onUpstreamTrailers(const std::vector<Header>& trailers) override;
  void onUpstreamComplete() override;
  void onUpstreamResetAfterHeaders() override;
  void onUpstreamUpgraded(const ResponseHead& head) override;
  void onUpstreamWriteDrained() override;
  void onUpstreamDataDone() override;

 private:
  static ssize_t readResponseBody(nghttp2_session*, int32_t, uint8_t*, size_t, uint32_t*, nghttp2_data_source*, void*);
  // Header bytes collect in one arena while HEADERS arrive; the views in req_ are made when
  // the block is complete (the arena no longer moves then).
  void collect(std::string_view name, std::string_view value);
  void discardRequestData(size_t len);
  void buildRequestHead();
  void route();
  void localReply(int status, std::string_view body, uint32_t flag, std::string_view details,
                  const MutationChain* mutations = nullptr, std::string_view location = {}, int grpc_status = -1);
  void submitResponse(NvList& nv, bool with_body);
  void resetStream(uint32_t flag, uint32_t error_code);
  void abortUpstream();
  void finish();
  void armTimer();
  void onTimer();
  void responseStarted();  // once: the connection stops counting it as awaiting a response

  Http2ServerConnection& parent_;
  int32_t id_;
  server::Worker& worker_;
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
  bool is_grpc_ = false;
  int grpc_status_ = -1;  // from the response (trailers, or trailers-only headers) or our reply
  bool bad_request_ = false;
  HeaderLimit header_limit_;     // the block being decoded (headers, then trailers)
  size_t held_header_bytes_ = 0;  // counted in the connection's header budget
  bool refused_ = false;          // reset here for passing a header limit
  bool peer_reset_ = false;
  bool awaiting_response_ = true;

  StreamInfo info_;
  RouteDecision decision_;
  std::chrono::milliseconds route_timeout_{0};
  char request_id_buf_[36];
  std::string_view generated_request_id_;
  std::unique_ptr<UpstreamStream> upstream_;
  ResponseHead response_head_;
  size_t unconsumed_ = 0;  // request bytes not yet acknowledged (upstream backed up)

  Buffer response_body_;
  NvList response_trailers_;
  bool response_started_ = false;
  bool response_end_ = false;  // all of the response is in response_body_ (or sent)
  bool body_deferred_ = false;
  bool upstream_paused_ = false;
  bool reset_after_response_ = false;
  bool response_end_sent_ = false;
  size_t discarded_ = 0;
  bool finished_ = false;
  bool closed_ = false;

  event::Timer timer_;
  event::TimePoint route_deadline_{};
  event::TimePoint headers_deadline_{};  // request_headers_timeout, until the headers are in
  event::TimePoint last_activity_{};
};

}  // namespace weft::proxy::http
