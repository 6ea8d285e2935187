#include "proxy/http/http2_options.h"

#include "common/config/error.h"
#include "common/strings.h"

#include <algorithm>
#include <cstring>

namespace weft::proxy::http {

Http2Options compileHttp2Options(const envoy::config::core::v3::Http2ProtocolOptions& o, const std::string& path) {
  Http2Options out;
  if (o.has_max_concurrent_streams()) out.max_concurrent_streams = o.max_concurrent_streams().value();
  if (o.has_initial_stream_window_size()) {
    uint32_t v = o.initial_stream_window_size().value();
    if (v < 65535 || v > 2147483647) throw ConfigError(path + ".initial_stream_window_size: must be 65535..2147483647");
    out.initial_stream_window = v;
  }
  if (o.has_initial_connection_window_size()) {
    uint32_t v = o.initial_connection_window_size().value();
    if (v < 65535 || v > 2147483647)
      throw ConfigError(path + ".initial_connection_window_size: must be 65535..2147483647");
    out.initial_connection_window = v;
  }
  if (o.has_connection_keepalive()) {
    const auto& k = o.connection_keepalive();
    out.keepalive_interval = weft::toMillis(k.interval());
    out.keepalive_timeout = k.has_timeout() ? weft::toMillis(k.timeout()) : std::chrono::milliseconds(20000);
    if (out.keepalive_interval.count() <= 0) throw ConfigError(path + ".connection_keepalive.interval: required");
  }
  return out;
}

void submitSettings(nghttp2_session* session, const Http2Options& o, size_t max_header_list) {
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, kHpackTableSize},
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, o.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, o.initial_stream_window},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(max_header_list)},
  };
  nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0]));
  int32_t extra = static_cast<int32_t>(o.initial_connection_window) - NGHTTP2_INITIAL_CONNECTION_WINDOW_SIZE;
  if (extra > 0) nghttp2_submit_window_update(session, NGHTTP2_FLAG_NONE, 0, extra);
}

void NvList::add(std::string_view name, std::string_view value) {
  size_t n = storage_.size();
  for (char c : name) storage_.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c);
  size_t v = storage_.size();
  storage_.append(value);
  nv_.push_back(nghttp2_nv{nullptr, nullptr, name.size(), value.size(), NGHTTP2_NV_FLAG_NONE});
  offsets_.resize(nv_.size());
  offsets_.back() = {n, v};
  fixup();
}

void NvList::addStatic(std::string_view name, std::string_view value) {
  nv_.push_back(nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                           reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                           NGHTTP2_NV_FLAG_NONE});
  offsets_.resize(nv_.size());
  offsets_.back() = {SIZE_MAX, SIZE_MAX};
}

// storage_ may have moved: point the copied entries at its current bytes.
void NvList::fixup() {
  auto* base = reinterpret_cast<uint8_t*>(storage_.data());
  for (size_t i = 0; i < nv_.size(); ++i) {
    if (offsets_[i].first == SIZE_MAX) continue;
    nv_[i].name = base + offsets_[i].first;
    nv_[i].value = base + offsets_[i].second;
  }
}

ssize_t readBufferedBody(nghttp2_session* session, int32_t id, Buffer& body, bool end, NvList& trailers, uint8_t* buf,
                         size_t length, uint32_t* flags, bool& deferred) {
  size_t n = std::min(length, body.size());
  if (n > 0) {
    std::memcpy(buf, body.data(), n);
    body.drain(n);
  }
  if (!body.empty()) return static_cast<ssize_t>(n);
  if (end) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!trailers.empty()) {
      *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      nghttp2_submit_trailer(session, id, trailers.data(), trailers.size());
      trailers.clear();
    }
  } else if (n == 0) {
    deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  return static_cast<ssize_t>(n);
}

bool sendPending(nghttp2_session* session, net::Connection& conn, bool ignore_limit) {
  while (nghttp2_session_want_write(session) && !conn.closed() && (ignore_limit || !conn.aboveWriteLimit())) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(session, &data);
    if (n < 0) return false;
    if (n == 0) break;
    conn.output().append(std::string_view(reinterpret_cast<const char*>(data), static_cast<size_t>(n)));
  }
  return true;
}

}  // namespace weft::proxy::http
