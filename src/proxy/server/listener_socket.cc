#include "proxy/server/listener_socket.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "proxy/server/worker.h"

namespace weft::proxy::server {

ListenerSocket::ListenerSocket(Worker& worker, std::shared_ptr<const network::ListenerConfig> config,
                               std::shared_ptr<SocketSet> sockets)
    : worker_(worker), config_(std::move(config)), sockets_(std::move(sockets)), fd_(sockets_->fds[worker.index()]) {
  worker_.reactor().add(fd_, this);
  // Connections may have queued while no socket was registered (a config swap): take them.
  onIoEvent(0);
}

SocketSet::~SocketSet() {
  for (int fd : fds) ::close(fd);
}

ListenerSocket::~ListenerSocket() { close(); }

void ListenerSocket::close(bool refuse_new) {
  if (fd_ < 0) return;
  worker_.reactor().remove(fd_);
  // Stop accepting for good (drain): a socket no longer read would still take connections.
  if (refuse_new || worker_.drainClose()) ::shutdown(fd_, SHUT_RD);
  fd_ = -1;
}

void ListenerSocket::onIoEvent(uint32_t) {
  // Edge-triggered: accept until the queue is empty.
  while (fd_ >= 0) {
    sockaddr_storage remote_ss;
    socklen_t remote_len = sizeof(remote_ss);
    int fd = accept4(fd_, reinterpret_cast<sockaddr*>(&remote_ss), &remote_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // EAGAIN, or EMFILE and friends: try again on the next edge
    }
    sockaddr_storage local_ss;
    socklen_t local_len = sizeof(local_ss);
    getsockname(fd, reinterpret_cast<sockaddr*>(&local_ss), &local_len);
    auto local = net::Address::fromSockaddr(reinterpret_cast<sockaddr*>(&local_ss), local_len);
    auto remote = net::Address::fromSockaddr(reinterpret_cast<sockaddr*>(&remote_ss), remote_len);
    startConnection(worker_, config_, fd, local, remote);
  }
}

}  // namespace weft::proxy::server
