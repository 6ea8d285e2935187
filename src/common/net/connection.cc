#include "common/net/connection.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace weft::net {

namespace {
void setNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}
}  // namespace

Connection::Connection(event::Reactor& reactor, int fd) : reactor_(reactor), fd_(fd) {}

Connection::~Connection() { closeSocket(); }

std::unique_ptr<Connection> Connection::adopt(event::Reactor& reactor, int fd, const Address& local,
                                              const Address& remote) {
  std::unique_ptr<Connection> c(new Connection(reactor, fd));
  c->local_ = local;
  c->remote_ = remote;
  c->connected_ = true;
  setNoDelay(fd);
  reactor.add(fd, c.get());
  return c;
}

std::unique_ptr<Connection> Connection::connect(event::Reactor& reactor, const Address& remote,
                                                const Address* bind_source, int mark) {
  int fd = socket(remote.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  std::unique_ptr<Connection> c(new Connection(reactor, fd));
  c->remote_ = remote;
  if (fd < 0) {
    c->connect_error_ = errno;
    return c;
  }
  setNoDelay(fd);
  if (mark != 0) setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark));
  if (bind_source != nullptr) {
    int one = 1;
    setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one));
    if (::bind(fd, bind_source->sockaddr_ptr(), bind_source->length) != 0) {
      c->connect_error_ = errno;
    }
  }
  if (c->connect_error_ == 0 && ::connect(fd, remote.sockaddr_ptr(), remote.length) != 0 &&
      errno != EINPROGRESS) {
    c->connect_error_ = errno;
  }
  reactor.add(fd, c.get());  // a failed connect shows up as EPOLLERR/HUP at once
  return c;
}

void Connection::onIoEvent(uint32_t events) {
  if (fd_ < 0) return;
  if (!connected_) {
    int err = connect_error_;
    if (err == 0) {
      socklen_t len = sizeof(err);
      getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    }
    if (err == 0 && (events & EPOLLOUT) == 0 && (events & (EPOLLERR | EPOLLHUP)) == 0) return;
    if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
      connect_error_ = err != 0 ? err : ECONNREFUSED;
      closeSocket();
      raise(ConnectionEvent::ConnectFailed);
      return;
    }
    connected_ = true;
    sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
      local_ = Address::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    }
    writable_ = true;
    raise(ConnectionEvent::Connected);
    if (fd_ < 0) return;
    doWrite();
    if (fd_ < 0) return;
  }
  if (events & EPOLLRDHUP) peer_fin_seen_ = true;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) readable_ = true;
  if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
    writable_ = true;
    doWrite();
    if (fd_ < 0) return;
  }
  if (readable_) doRead();
}

void Connection::doRead() {
  // The callback may drain input and want more; it cannot call back into doRead (in_read_),
  // so this loop re-checks after every callback instead.
  if (in_read_) return;
  in_read_ = true;
  for (;;) {
    bool got_data = false;
    bool got_eof = false;
    while (readable_ && !read_disabled_ && !remote_half_closed_ && fd_ >= 0 && input_.size() < read_limit_) {
      size_t space = 16 * 1024;
      char* dst = input_.writableSpace(space);
      space = input_.writableSize();
      ssize_t n = ::recv(fd_, dst, space, 0);
      if (n > 0) {
        input_.commit(static_cast<size_t>(n));
        bytes_read_ += static_cast<uint64_t>(n);
        got_data = true;
        if (static_cast<size_t>(n) < space && !peer_fin_seen_) readable_ = false;
      } else if (n == 0) {
        remote_half_closed_ = true;
        readable_ = false;
        got_eof = true;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        readable_ = false;
      } else if (errno != EINTR) {
        in_read_ = false;
        closeSocket();
        raise(ConnectionEvent::Closed);
        return;
      }
    }
    if (got_data && callbacks_) callbacks_->onData(*this);
    if (fd_ < 0) break;
    if (got_eof) {
      raise(ConnectionEvent::RemoteHalfClosed);
      break;
    }
    if (!got_data || !(readable_ && !read_disabled_ && input_.size() < read_limit_)) break;
  }
  in_read_ = false;
}

void Connection::flush() {
  if (connected_) doWrite();
}

void Connection::doWrite() {
  while (writable_ && !output_.empty() && fd_ >= 0) {
    ssize_t n = ::send(fd_, output_.data(), output_.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      bytes_written_ += static_cast<uint64_t>(n);
      if (static_cast<size_t>(n) < output_.size()) writable_ = false;
      output_.drain(static_cast<size_t>(n));
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      writable_ = false;
    } else if (errno != EINTR) {
      closeSocket();
      raise(ConnectionEvent::Closed);
      return;
    }
  }
  if (output_.size() > write_limit_) {
    was_above_write_limit_ = true;
  } else if (was_above_write_limit_ && output_.empty()) {
    was_above_write_limit_ = false;
    if (callbacks_) callbacks_->onWriteDrained(*this);
    if (fd_ < 0) return;
  }
  if (output_.empty()) {
    if (close_after_flush_) {
      closeSocket();
      raise(ConnectionEvent::Closed);
      return;
    }
    if (shutdown_pending_ && !write_shut_) {
      ::shutdown(fd_, SHUT_WR);
      write_shut_ = true;
    }
  }
}

void Connection::readDisable(bool disable) {
  if (read_disabled_ == disable) return;
  read_disabled_ = disable;
  if (!disable) resumeReading();
}

void Connection::resumeReading() {
  if (fd_ >= 0 && readable_ && !read_disabled_ && input_.size() < read_limit_) doRead();
}

void Connection::shutdownWrite() {
  shutdown_pending_ = true;
  if (connected_ && output_.empty() && fd_ >= 0 && !write_shut_) {
    ::shutdown(fd_, SHUT_WR);
    write_shut_ = true;
  }
}

void Connection::close(CloseMode mode) {
  if (fd_ < 0) return;
  if (mode == CloseMode::FlushWrite && !output_.empty() && connected_) {
    close_after_flush_ = true;
    read_disabled_ = true;
    // The owner asked for this close: tell it nothing now; it checks closed() on return.
    ConnectionCallbacks* saved = callbacks_;
    callbacks_ = nullptr;
    doWrite();
    callbacks_ = saved;
    return;
  }
  closeSocket();
}

void Connection::closeSocket() {
  if (fd_ < 0) return;
  reactor_.remove(fd_);
  ::close(fd_);
  fd_ = -1;
  readable_ = writable_ = false;
}

}  // namespace weft::net
