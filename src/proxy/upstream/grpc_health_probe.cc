#include "proxy/upstream/grpc_health_probe.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace weft::proxy::upstream {

namespace {
constexpr size_t kMaxResponse = 1024;  // a HealthCheckResponse is a few bytes

nghttp2_nv header(std::string_view n, std::string_view v) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(n.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(), NGHTTP2_NV_FLAG_NONE};
}

// Field 1 (service, a string) of grpc.health.v1.HealthCheckRequest, in a gRPC frame.
std::string requestMessage(const std::string& service) {
  std::string msg;
  if (!service.empty()) {
    msg.push_back(0x0a);
    for (size_t n = service.size();; n >>= 7) {  // varint length
      msg.push_back(static_cast<char>((n & 0x7f) | (n >= 0x80 ? 0x80 : 0)));
      if (n < 0x80) break;
    }
    msg += service;
  }
  std::string frame(5, '\0');
  uint32_t len = static_cast<uint32_t>(msg.size());
  frame[1] = static_cast<char>(len >> 24);
  frame[2] = static_cast<char>(len >> 16);
  frame[3] = static_cast<char>(len >> 8);
  frame[4] = static_cast<char>(len);
  return frame + msg;
}

// HealthCheckResponse.status (field 1, varint) of the first message; -1 if unreadable.
int servingStatus(std::string_view body) {
  if (body.size() < 5 || body[0] != 0) return -1;  // compressed messages are not asked for
  uint32_t len = (uint32_t(uint8_t(body[1])) << 24) | (uint32_t(uint8_t(body[2])) << 16) |
                 (uint32_t(uint8_t(body[3])) << 8) | uint32_t(uint8_t(body[4]));
  if (body.size() < 5 + len) return -1;
  std::string_view msg = body.substr(5, len);
  int status = 0;  // proto3: an absent field is 0 (UNKNOWN)
  for (size_t i = 0; i < msg.size();) {
    uint8_t tag = uint8_t(msg[i++]);
    uint64_t v = 0;
    int shift = 0;
    if ((tag & 7) == 0) {
      while (i < msg.size() && shift < 64) {
        uint8_t b = uint8_t(msg[i++]);
        v |= uint64_t(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) break;
      }
      if (tag >> 3 == 1) status = static_cast<int>(v);
    } else {
      return -1;  // HealthCheckResponse has only the varint field
    }
  }
  return status;
}
}  // namespace

GrpcHealthProbe::GrpcHealthProbe(std::string authority, std::string service)
    : authority_(std::move(authority)), request_(requestMessage(service)) {
  nghttp2_session_callbacks* cb;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_header_callback(cb, &GrpcHealthProbe::onHeader);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &GrpcHealthProbe::onData);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, &GrpcHealthProbe::onClose);
  nghttp2_session_client_new(&session_, cb, this);
  nghttp2_session_callbacks_del(cb);
}

GrpcHealthProbe::~GrpcHealthProbe() { nghttp2_session_del(session_); }

std::string GrpcHealthProbe::start() {
  nghttp2_settings_entry s{NGHTTP2_SETTINGS_ENABLE_PUSH, 0};
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, &s, 1);
  nghttp2_nv nv[] = {header(":method", "POST"),
                     header(":scheme", "http"),
                     header(":path", "/grpc.health.v1.Health/Check"),
                     header(":authority", authority_),
                     header("content-type", "application/grpc"),
                     header("te", "trailers"),
                     header("user-agent", "Envoy/HC")};
  nghttp2_data_provider prd{};
  prd.source.ptr = this;
  prd.read_callback = &GrpcHealthProbe::readRequest;
  stream_ = nghttp2_submit_request(session_, nullptr, nv, sizeof(nv) / sizeof(nv[0]), &prd, nullptr);
  std::string out;
  drain(out);
  return out;
}

GrpcHealthProbe::Result GrpcHealthProbe::feed(std::string_view in, std::string& out) {
  if (!in.empty() && nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(in.data()), in.size()) < 0) {
    return Result::ProtocolError;
  }
  drain(out);
  if (closed_) return verdict();
  // nghttp2 ended the session (a bad first frame, a GOAWAY): no answer is coming.
  if (nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0) {
    return Result::ProtocolError;
  }
  return Result::Pending;
}

void GrpcHealthProbe::drain(std::string& out) {
  const uint8_t* data;
  ssize_t n;
  while ((n = nghttp2_session_mem_send(session_, &data)) > 0) out.append(reinterpret_cast<const char*>(data), n);
}

GrpcHealthProbe::Result GrpcHealthProbe::verdict() const {
  if (reset_) return Result::ProtocolError;
  if (status_ != 200 || grpc_status_ != 0) return Result::NotServing;
  return servingStatus(body_) == 1 ? Result::Serving : Result::NotServing;  // 1: SERVING
}

int GrpcHealthProbe::onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                              const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  auto* self = static_cast<GrpcHealthProbe*>(user);
  if (frame->hd.stream_id != self->stream_) return 0;
  std::string_view n(reinterpret_cast<const char*>(name), namelen), v(reinterpret_cast<const char*>(value), valuelen);
  if (n == ":status") {
    self->status_ = v.size() == 3 ? (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0') : 0;
  } else if (n == "grpc-status") {
    int code = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), code);
    self->grpc_status_ = ec == std::errc() && p == v.data() + v.size() ? code : 99;
  }
  return 0;
}

int GrpcHealthProbe::onData(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* user) {
  auto* self = static_cast<GrpcHealthProbe*>(user);
  if (id == self->stream_) {
    self->body_.append(reinterpret_cast<const char*>(data), std::min(len, kMaxResponse - self->body_.size()));
  }
  return 0;
}

int GrpcHealthProbe::onClose(nghttp2_session*, int32_t id, uint32_t error, void* user) {
  auto* self = static_cast<GrpcHealthProbe*>(user);
  if (id == self->stream_) {
    self->closed_ = true;
    self->reset_ = error != NGHTTP2_NO_ERROR;
  }
  return 0;
}

ssize_t GrpcHealthProbe::readRequest(nghttp2_session*, int32_t, uint8_t* buf, size_t len, uint32_t* flags,
                                     nghttp2_data_source* source, void*) {
  auto* self = static_cast<GrpcHealthProbe*>(source->ptr);
  size_t n = std::min(len, self->request_.size() - self->request_sent_);
  std::memcpy(buf, self->request_.data() + self->request_sent_, n);
  self->request_sent_ += n;
  if (self->request_sent_ == self->request_.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

}  // namespace weft::proxy::upstream
