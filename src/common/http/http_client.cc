#include "common/http/http_client.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace weft::http {

namespace {
using Clock = std::chrono::steady_clock;

int remainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

bool waitFor(int fd, short events, Clock::time_point deadline) {
  pollfd p{fd, events, 0};
  int r = poll(&p, 1, remainingMs(deadline));
  return r > 0;
}
}  // namespace

HttpResult httpRequest(const std::string& method, const std::string& host, int port, const std::string& path,
                       std::chrono::milliseconds timeout, const std::string& host_header, const std::string& body,
                       const std::string& content_type) {
  HttpResult r;
  auto deadline = Clock::now() + timeout;
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof(sockaddr_in6);
  } else {
    r.error = "'" + host + "' is not an IP address";
    return r;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    r.error = std::string("socket: ") + std::strerror(errno);
    return r;
  }
  std::string target = host + ":" + std::to_string(port) + path;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
    r.error = "connect " + target + ": " + std::strerror(errno);
    close(fd);
    return r;
  }
  if (!waitFor(fd, POLLOUT, deadline)) {
    r.error = "connect " + target + ": timed out";
    close(fd);
    return r;
  }
  int err = 0;
  socklen_t elen = sizeof(err);
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
  if (err != 0) {
    r.error = "connect " + target + ": " + std::strerror(err);
    close(fd);
    return r;
  }
  std::string req = method + " " + path + " HTTP/1.1\r\nhost: " + (host_header.empty() ? host : host_header) +
                    "\r\nconnection: close\r\ncontent-length: " + std::to_string(body.size()) +
                    (content_type.empty() ? "" : "\r\ncontent-type: " + content_type) + "\r\nuser-agent: weft\r\n\r\n";
  req += body;
  size_t sent = 0;
  while (sent < req.size()) {
    ssize_t n = send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!waitFor(fd, POLLOUT, deadline)) break;
    } else {
      break;
    }
  }
  std::string resp;
  for (;;) {
    char buf[16384];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      resp.append(buf, static_cast<size_t>(n));
      if (resp.size() > (16u << 20)) {
        r.error = method + " " + target + ": response larger than 16 MiB";
        close(fd);
        return r;
      }
    } else if (n == 0) {
      break;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!waitFor(fd, POLLIN, deadline)) {
        r.error = method + " " + target + ": timed out";
        close(fd);
        return r;
      }
    } else {
      r.error = "read " + target + ": " + std::strerror(errno);
      break;
    }
  }
  close(fd);
  auto head_end = resp.find("\r\n\r\n");
  if (resp.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos || resp.size() < 12) {
    if (r.error.empty()) r.error = "no HTTP response from " + target;
    return r;
  }
  r.status = std::atoi(resp.c_str() + 9);
  std::string head = resp.substr(0, head_end);
  std::string resp_body = resp.substr(head_end + 4);
  // Chunked bodies (the admin server's large responses) are de-chunked here.
  std::string lower;
  for (char c : head) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.find("transfer-encoding: chunked") != std::string::npos) {
    std::string out;
    size_t pos = 0;
    while (pos < resp_body.size()) {
      size_t eol = resp_body.find("\r\n", pos);
      if (eol == std::string::npos) break;
      size_t n = std::strtoul(resp_body.c_str() + pos, nullptr, 16);
      if (n == 0) break;
      out.append(resp_body, eol + 2, n);
      pos = eol + 2 + n + 2;
    }
    resp_body = std::move(out);
  }
  r.body = std::move(resp_body);
  return r;
}

}  // namespace weft::http
