#pragma once
// Compiled envoy.config.core.v3.Http2ProtocolOptions, and the nghttp2 plumbing both HTTP/2
// sides share: SETTINGS, header list building, moving frames between nghttp2 and a connection.
#include <nghttp2/nghttp2.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/buffer.h"
#include "common/net/connection.h"
#include "envoy/config/core/v3/protocol.pb.h"

namespace weft::proxy::http {

struct Http2Options {
  uint32_t max_concurrent_streams = 2147483647;  // Envoy's default
  // Envoy defaults both windows to 256 MiB. Request and response bytes are only
  // acknowledged (WINDOW_UPDATE) once the other side has taken them, so the window is what
  // one stream may buffer here: 1 MiB per stream, 16 MiB per connection keeps memory bounded.
  uint32_t initial_stream_window = 1 << 20;
  uint32_t initial_connection_window = 16 << 20;
  std::chrono::milliseconds keepalive_interval{0};  // connection_keepalive: PING every interval
  std::chrono::milliseconds keepalive_timeout{0};   // no PING ACK in this long: close
};

// Throws ConfigError naming `path`.
Http2Options compileHttp2Options(const envoy::config::core::v3::Http2ProtocolOptions& o, const std::string& path);

// The HPACK dynamic table size both directions use (RFC 7541's default; what we advertise as
// SETTINGS_HEADER_TABLE_SIZE and what our encoder uses whatever the peer allows).
constexpr uint32_t kHpackTableSize = 4096;

// Sends our SETTINGS (and the connection window) on a new session; `max_header_list` is
// advertised as SETTINGS_MAX_HEADER_LIST_SIZE (the limit this side enforces while decoding).
void submitSettings(nghttp2_session* session, const Http2Options& o, size_t max_header_list);

// A header list for nghttp2_submit_*: names are lower-cased (HTTP/2 requires it) and the
// bytes are copied into `storage`, which must outlive the submit call.
class NvList {
 public:
  NvList() = default;
  NvList(const NvList&) = delete;  // the entries point into storage_
  NvList& operator=(const NvList&) = delete;
  void clear() {
    nv_.clear();
    storage_.clear();
  }
  void add(std::string_view name, std::string_view value);
  // Name already lower case and bytes stable until submit: no copy.
  void addStatic(std::string_view name, std::string_view value);
  nghttp2_nv* data() { return nv_.data(); }
  bool empty() const { return nv_.empty(); }
  size_t size() const { return nv_.size(); }

 private:
  void fixup();
  std::vector<nghttp2_nv> nv_;
  std::string storage_;
  std::vector<std::pair<size_t, size_t>> offsets_;  // into storage_, for names then values
};

// An nghttp2 data source over `body`: copies what is buffered; once `end` is set and all is
// sent, EOF, with `trailers` (if any) submitted to follow; with nothing buffered yet it defers
// (`deferred` is set: call nghttp2_session_resume_data when more comes).
ssize_t readBufferedBody(nghttp2_session* session, int32_t id, Buffer& body, bool end, NvList& trailers, uint8_t* buf,
                         size_t length, uint32_t* flags, bool& deferred);

// Frames nghttp2 has queued go into the connection's output buffer until it is above its
// write limit (or all of them, `ignore_limit`: nghttp2's queue is bounded). False on a fatal
// session error.
bool sendPending(nghttp2_session* session, net::Connection& conn, bool ignore_limit = false);

}  // namespace weft::proxy::http
