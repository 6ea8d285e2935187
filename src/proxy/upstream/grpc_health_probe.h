#pragma once
// One grpc.health.v1.Health/Check call over HTTP/2 (prior knowledge, or the TLS connection
// the health checker made), as Envoy's gRPC health checker makes it: POST with
// content-type application/grpc and te: trailers, the request message naming `service`. The
// host is healthy when the answer is :status 200, grpc-status 0 and status SERVING.
// Bytes in, bytes out: the caller owns the connection; nghttp2 does the framing.
#include <nghttp2/nghttp2.h>

#include <string>
#include <string_view>

namespace weft::proxy::upstream {

class GrpcHealthProbe {
 public:
  // NotServing: an answer that is not SERVING (also a non-200 :status or a grpc-status other
  // than OK); ProtocolError: the stream was reset or the bytes were not HTTP/2.
  enum class Result { Pending, Serving, NotServing, ProtocolError };

  GrpcHealthProbe(std::string authority, std::string service);
  ~GrpcHealthProbe();
  GrpcHealthProbe(const GrpcHealthProbe&) = delete;
  GrpcHealthProbe& operator=(const GrpcHealthProbe&) = delete;

  // The connection preface, SETTINGS and the request: write them to the connection.
  std::string start();
  // Bytes from the host; what to write back goes to `out`. Pending until the call ends.
  Result feed(std::string_view in, std::string& out);

 private:
  static int onHeader(nghttp2_session*, const nghttp2_frame*, const uint8_t*, size_t, const uint8_t*, size_t, uint8_t,
                      void*);
  static int onData(nghttp2_session*, uint8_t, int32_t, const uint8_t*, size_t, void*);
  static int onClose(nghttp2_session*, int32_t, uint32_t, void*);
  static ssize_t readRequest(nghttp2_session*, int32_t, uint8_t*, size_t, uint32_t*, nghttp2_data_source*, void*);
  void drain(std::string& out);
  Result verdict() const;

  nghttp2_session* session_ = nullptr;
  std::string authority_, request_;
  size_t request_sent_ = 0;
  int32_t stream_ = -1;
  bool closed_ = false, reset_ = false;
  int status_ = 0, grpc_status_ = -1;
  std::string body_;  // the response message, capped
};

}  // namespace weft::proxy::upstream
