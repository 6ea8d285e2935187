#include "agent/grpc_health_probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/proto/wire.h"

namespace weft::agent {

namespace {

using Clock = std::chrono::steady_clock;

struct Exchange {
  int fd = -1;
  std::string request;  // the length-prefixed HealthCheckRequest
  size_t sent = 0;
  std::string response;  // DATA, length prefix included
  std::string grpc_status, grpc_message, http_status;
  bool closed = false;
  uint32_t close_error = 0;
};

nghttp2_nv header(const char* name, const char* value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name)), reinterpret_cast<uint8_t*>(const_cast<char*>(value)),
          strlen(name), strlen(value), NGHTTP2_NV_FLAG_NONE};
}

ssize_t sendCallback(nghttp2_session*, const uint8_t* data, size_t length, int, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  ssize_t n = ::send(ex->fd, data, length, MSG_NOSIGNAL);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? NGHTTP2_ERR_WOULDBLOCK : NGHTTP2_ERR_CALLBACK_FAILURE;
  return n;
}

ssize_t readBody(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags, nghttp2_data_source*,
                 void* user) {
  auto* ex = static_cast<Exchange*>(user);
  size_t n = std::min(length, ex->request.size() - ex->sent);
  memcpy(buf, ex->request.data() + ex->sent, n);
  ex->sent += n;
  if (ex->sent == ex->request.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

int onHeader(nghttp2_session*, const nghttp2_frame*, const uint8_t* name, size_t namelen, const uint8_t* value,
             size_t valuelen, uint8_t, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  std::string n(reinterpret_cast<const char*>(name), namelen), v(reinterpret_cast<const char*>(value), valuelen);
  if (n == ":status") ex->http_status = v;
  if (n == "grpc-status") ex->grpc_status = v;
  if (n == "grpc-message") ex->grpc_message = v;
  return 0;
}

int onData(nghttp2_session*, uint8_t, int32_t, const uint8_t* data, size_t len, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  if (ex->response.size() + len <= 64 * 1024) ex->response.append(reinterpret_cast<const char*>(data), len);
  return 0;
}

int onClose(nghttp2_session*, int32_t, uint32_t error_code, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  ex->closed = true;
  ex->close_error = error_code;
  return 0;
}

// SERVING = 1 in grpc.health.v1.HealthCheckResponse.ServingStatus.
const char* statusName(uint64_t s) {
  switch (s) {
    case 0:
      return "UNKNOWN";
    case 1:
      return "SERVING";
    case 2:
      return "NOT_SERVING";
    case 3:
      return "SERVICE_UNKNOWN";
  }
  return "an unknown status";
}

}  // namespace

std::string grpcHealthCheck(int port, const std::string& service, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto remainingMs = [&] {
    return static_cast<int>(
        std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count()));
  };
  Exchange ex;
  ex.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (ex.fd < 0) return std::string("socket: ") + strerror(errno);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const std::string where = "gRPC health check of 127.0.0.1:" + std::to_string(port);
  if (connect(ex.fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) < 0 && errno != EINPROGRESS) {
    std::string e = strerror(errno);
    close(ex.fd);
    return where + ": " + e;
  }
  {
    pollfd p{ex.fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof(err);
    if (poll(&p, 1, remainingMs()) <= 0 || getsockopt(ex.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
      close(ex.fd);
      return where + ": " + (err ? strerror(err) : "connect timed out");
    }
  }
  weft::proto::Writer msg;
  if (!service.empty()) msg.bytes(1, service);
  const std::string& body = msg.data();
  ex.request.push_back('\0');
  for (int shift = 24; shift >= 0; shift -= 8) ex.request.push_back(static_cast<char>((body.size() >> shift) & 0xff));
  ex.request += body;

  nghttp2_session_callbacks* cbs;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_send_callback(cbs, sendCallback);
  nghttp2_session_callbacks_set_on_header_callback(cbs, onHeader);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, onData);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, onClose);
  nghttp2_session* session;
  nghttp2_session_client_new(&session, cbs, &ex);
  nghttp2_session_callbacks_del(cbs);
  nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, nullptr, 0);
  const std::string authority = "127.0.0.1:" + std::to_string(port);
  nghttp2_nv hdrs[] = {header(":method", "POST"),
                       header(":scheme", "http"),
                       header(":path", "/grpc.health.v1.Health/Check"),
                       header(":authority", authority.c_str()),
                       header("content-type", "application/grpc"),
                       header("te", "trailers"),
                       header("user-agent", "weft-agent")};
  nghttp2_data_provider provider{};
  provider.read_callback = readBody;
  nghttp2_submit_request(session, nullptr, hdrs, sizeof(hdrs) / sizeof(hdrs[0]), &provider, nullptr);

  std::string failure;
  char buf[16384];
  while (!ex.closed && failure.empty()) {
    if (nghttp2_session_send(session) != 0) {
      failure = "the connection failed";
      break;
    }
    pollfd p{ex.fd, POLLIN, 0};
    int r = poll(&p, 1, remainingMs());
    if (r == 0) failure = "no answer within " + std::to_string(timeout.count()) + " ms";
    if (r < 0 && errno != EINTR) failure = strerror(errno);
    if (r <= 0) continue;
    ssize_t n = ::recv(ex.fd, buf, sizeof(buf), 0);
    if (n == 0) failure = "the application closed the connection";
    if (n < 0 && errno != EAGAIN) failure = strerror(errno);
    if (n > 0 && nghttp2_session_mem_recv(session, reinterpret_cast<uint8_t*>(buf), static_cast<size_t>(n)) < 0)
      failure = "not an HTTP/2 (gRPC) answer";
  }
  nghttp2_session_del(session);
  close(ex.fd);
  if (!failure.empty()) return where + ": " + failure;
  if (ex.close_error != 0)
    return where + ": the stream was reset (HTTP/2 error " + std::to_string(ex.close_error) + ")";
  if (ex.grpc_status != "0")
    return where + ": grpc-status " + (ex.grpc_status.empty() ? "missing" : ex.grpc_status) +
           (ex.grpc_message.empty() ? "" : " (" + ex.grpc_message + ")");
  // One length-prefixed HealthCheckResponse: field 1, the serving status.
  if (ex.response.size() < 5) return where + ": no HealthCheckResponse";
  weft::proto::Reader reader(std::string_view(ex.response).substr(5));
  uint64_t status = 0;
  while (reader.next())
    if (reader.field() == 1 && reader.wireType() == 0) status = reader.varint();
  if (status != 1) return where + ": " + statusName(status);
  return "";
}

}  // namespace weft::agent
