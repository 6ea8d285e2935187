#include "common/net/connection.h"

#include <openssl/x509v3.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>

#include "common/tls/tls_context.h"

namespace weft::net {

namespace {

// The socket as an OpenSSL BIO, so the connection learns what the plaintext path knows from a
// short recv(): the socket is drained, and asking again would only return EAGAIN.
struct SocketBioState {
  int fd;
  bool* drained;
};

int socketBioRead(BIO* b, char* buf, size_t len, size_t* done) {
  auto* st = static_cast<SocketBioState*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  ssize_t n = ::recv(st->fd, buf, len, 0);
  if (n > 0) {
    *done = static_cast<size_t>(n);
    *st->drained = static_cast<size_t>(n) < len;
    return 1;
  }
  if (n == 0) return 0;  // EOF
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
    *st->drained = true;
    BIO_set_retry_read(b);
  }
  return 0;
}

int socketBioWrite(BIO* b, const char* buf, size_t len, size_t* done) {
  auto* st = static_cast<SocketBioState*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  ssize_t n = ::send(st->fd, buf, len, MSG_NOSIGNAL);
  if (n >= 0) {
    *done = static_cast<size_t>(n);
    return 1;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) BIO_set_retry_write(b);
  return 0;
}

long socketBioCtrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }

int socketBioDestroy(BIO* b) {
  delete static_cast<SocketBioState*>(BIO_get_data(b));
  BIO_set_data(b, nullptr);
  return 1;
}

BIO_METHOD* socketBioMethod() {
  static BIO_METHOD* m = [] {
    BIO_METHOD* bm = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "weft socket");
    BIO_meth_set_read_ex(bm, socketBioRead);
    BIO_meth_set_write_ex(bm, socketBioWrite);
    BIO_meth_set_ctrl(bm, socketBioCtrl);
    BIO_meth_set_destroy(bm, socketBioDestroy);
    return bm;
  }();
  return m;
}

void setNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}
}  // namespace

Connection::Connection(event::Reactor& reactor, int fd) : reactor_(reactor), fd_(fd) {}

Connection::~Connection() {
  closeSocket();
  if (ssl_) SSL_free(ssl_);
}

std::unique_ptr<Connection> Connection::adopt(event::Reactor& reactor, int fd, const Address& local,
                                              const Address& remote) {
  std::unique_ptr<Connection> c(new Connection(reactor, fd));
  c->local_ = local;
  c->remote_ = remote;
  c->connected_ = true;
  c->tcp_connected_ = true;
  setNoDelay(fd);
  reactor.add(fd, c.get());
  return c;
}

std::unique_ptr<Connection> Connection::connect(event::Reactor& reactor, const Address& remote,
                                                const Address* bind_source, int mark) {
  int fd = socket(remote.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  std::unique_ptr<Connection> c(new Connection(reactor, fd));
  c->remote_ = remote;
  c->connect_started_ = reactor.now();
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
  if (c->connect_error_ == 0 && ::connect(fd, remote.sockaddr_ptr(), remote.length) != 0 && errno != EINPROGRESS) {
    c->connect_error_ = errno;
  }
  reactor.add(fd, c.get());  // a failed connect shows up as EPOLLERR/HUP at once
  return c;
}

void Connection::setTcpKeepalive(uint32_t probes, uint32_t idle_seconds, uint32_t interval_seconds) {
  if (fd_ < 0) return;
  int one = 1;
  setsockopt(fd_, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
  auto set = [&](int opt, uint32_t v) {
    int value = static_cast<int>(v);
    if (v) setsockopt(fd_, IPPROTO_TCP, opt, &value, sizeof(value));
  };
  set(TCP_KEEPCNT, probes);
  set(TCP_KEEPIDLE, idle_seconds);
  set(TCP_KEEPINTVL, interval_seconds);
}

void Connection::startTls(std::shared_ptr<const tls::Context> ctx, std::string server_name, bool verify_server_name) {
  if (!ctx) {
    // A context whose SDS secret has not arrived: never fall back to plaintext. An outbound
    // connect then fails; an accepted connection is shut.
    tls_error_ = "no TLS context yet (its SDS secret has not arrived)";
    connect_error_ = EPROTO;
    if (tcp_connected_ && fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
    return;
  }
  tls_ctx_ = std::move(ctx);
  ssl_ = tls_ctx_->newSsl();
  tls_server_name_ = std::move(server_name);
  verify_server_name_ = verify_server_name && !tls_server_name_.empty();
  if (ssl_ != nullptr && !tls_server_name_.empty()) SSL_set_tlsext_host_name(ssl_, tls_server_name_.c_str());
  if (ssl_ == nullptr || fd_ < 0) {
    tls_error_ = "cannot create TLS session: " + tls::opensslErrors();
    return;
  }
  BIO* bio = BIO_new(socketBioMethod());
  BIO_set_data(bio, new SocketBioState{fd_, &tls_socket_drained_});
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_, bio, bio);
  if (tls_ctx_->server()) {
    SSL_set_accept_state(ssl_);
  } else {
    SSL_set_connect_state(ssl_);
    connected_ = false;  // connected means "handshake done" for TLS clients
  }
  handshaking_ = true;
}

std::string_view Connection::requestedServerName() const {
  if (!requested_server_name_.empty() || ssl_ == nullptr || !tls_ctx_->server()) return requested_server_name_;
  const char* sni = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
  return sni ? std::string_view(sni) : std::string_view();
}

std::string_view Connection::alpn() const { return ssl_ ? tls::negotiatedAlpn(ssl_) : std::string_view(); }

void Connection::onIoEvent(uint32_t events) {
  if (fd_ < 0) return;
  if (!tcp_connected_) {
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
    tcp_connected_ = true;
    sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
      local_ = Address::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    }
    writable_ = true;
    if (!handshaking_) {
      connected_ = true;
      raise(ConnectionEvent::Connected);
      if (fd_ < 0) return;
      doWrite();
      if (fd_ < 0) return;
    }
  }
  if (events & EPOLLRDHUP) peer_fin_seen_ = true;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) readable_ = true;
  if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) writable_ = true;
  if (handshaking_) {
    if (!continueHandshake() || handshaking_) return;
    doWrite();  // anything queued while the handshake ran
    if (fd_ < 0) return;
  } else if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
    doWrite();
    if (fd_ < 0) return;
  }
  if (readable_) doRead();
}

bool Connection::continueHandshake() {
  ERR_clear_error();
  int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    handshaking_ = false;
    // The handshake's last reads (read-ahead) may have taken application data the peer sent
    // right behind its Finished: the socket is drained, so no new edge will say so. Read it.
    readable_ = true;
    std::string bad = tls_ctx_->verifyPeer(ssl_);
    if (bad.empty() && verify_server_name_) {
      // auto_san_validation: the certificate must be for the name we asked for (DNS SANs,
      // wildcards as RFC 6125).
      X509* cert = SSL_get0_peer_certificate(ssl_);
      if (cert == nullptr || X509_check_host(cert, tls_server_name_.data(), tls_server_name_.size(), 0, nullptr) != 1)
        bad = "the peer certificate has no subject alt name matching '" + tls_server_name_ + "'";
    }
    ERR_clear_error();  // leave the queue empty for the I/O calls that follow
    if (bad.empty()) {
      if (!connected_) {
        connected_ = true;
        raise(ConnectionEvent::Connected);
      } else if (callbacks_ != nullptr) {
        callbacks_->onHandshakeComplete(*this);
      }
      return fd_ >= 0;
    }
    tls_error_ = std::move(bad);
  } else {
    int err = SSL_get_error(ssl_, r);
    if (err == SSL_ERROR_WANT_READ) {
      readable_ = false;
      return true;
    }
    if (err == SSL_ERROR_WANT_WRITE) {
      writable_ = false;
      return true;
    }
    tls_error_ = tls::opensslErrors();
    if (tls_error_.empty())
      tls_error_ = err == SSL_ERROR_SYSCALL ? "connection closed during the TLS handshake" : "TLS handshake failed";
    long verify = SSL_get_verify_result(ssl_);
    if (verify != X509_V_OK) tls_error_ += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
  }
  bool outbound = !tls_ctx_->server();
  connect_error_ = EPROTO;
  closeSocket();
  raise(outbound ? ConnectionEvent::ConnectFailed : ConnectionEvent::Closed);
  return false;
}

ssize_t Connection::readSome(char* dst, size_t space) {
  if (ssl_ == nullptr) {
    ssize_t n = ::recv(fd_, dst, space, 0);
    if (n >= 0) {
      // A short read drained the socket (unless a FIN is pending: read on to see it).
      if (n > 0 && static_cast<size_t>(n) < space && !peer_fin_seen_) readable_ = false;
      return n;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      readable_ = false;
      return -1;
    }
    return errno == EINTR ? -1 : -2;
  }
  // TLS hands out one record at a time: keep reading until it asks for more socket bytes.
  // No ERR_clear_error() here (it costs ~2% of a request): every failure path drains the
  // error queue through opensslErrors(), so it is empty whenever we get here.
  tls_socket_drained_ = false;
  int n = SSL_read(ssl_, dst, static_cast<int>(std::min<size_t>(space, 1 << 30)));
  if (n > 0) {
    // Nothing buffered in OpenSSL and its last recv() was short: the socket is drained.
    if (tls_socket_drained_ && !SSL_has_pending(ssl_) && !peer_fin_seen_) readable_ = false;
    return n;
  }
  switch (SSL_get_error(ssl_, n)) {
    case SSL_ERROR_WANT_READ:
      readable_ = false;
      return -1;
    case SSL_ERROR_WANT_WRITE:
      writable_ = false;
      readable_ = false;  // resumes on the next edge
      return -1;
    case SSL_ERROR_ZERO_RETURN:
      return 0;
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() == 0) return 0;  // EOF without close_notify: treat as FIN
      [[fallthrough]];
    default:
      tls_error_ = tls::opensslErrors();
      return -2;
  }
}

ssize_t Connection::writeSome(const char* src, size_t len) {
  if (ssl_ == nullptr) {
    ssize_t n = ::send(fd_, src, len, MSG_NOSIGNAL);
    if (n >= 0) return n;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      writable_ = false;
      return -1;
    }
    return errno == EINTR ? -1 : -2;
  }
  int n = SSL_write(ssl_, src, static_cast<int>(std::min<size_t>(len, 1 << 30)));
  if (n > 0) return n;
  switch (SSL_get_error(ssl_, n)) {
    case SSL_ERROR_WANT_WRITE:
      writable_ = false;
      return -1;
    case SSL_ERROR_WANT_READ:
      writable_ = false;
      return -1;
    default:
      tls_error_ = tls::opensslErrors();
      return -2;
  }
}

void Connection::doRead() {
  // The callback may drain input and want more; it cannot call back into doRead (in_read_),
  // so this loop re-checks after every callback instead.
  if (in_read_ || handshaking_) return;
  in_read_ = true;
  for (;;) {
    bool got_data = false;
    bool got_eof = false;
    while (readable_ && !read_disabled_ && !remote_half_closed_ && fd_ >= 0 && input_.size() < read_limit_) {
      size_t space = 16 * 1024;
      char* dst = input_.writableSpace(space);
      space = input_.writableSize();
      ssize_t n = readSome(dst, space);
      if (n > 0) {
        input_.commit(static_cast<size_t>(n));
        bytes_read_ += static_cast<uint64_t>(n);
        got_data = true;
      } else if (n == 0) {
        remote_half_closed_ = true;
        readable_ = false;
        got_eof = true;
      } else if (n == -2) {
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
  if (connected_ && !handshaking_) doWrite();
}

void Connection::doWrite() {
  if (handshaking_) return;
  while (writable_ && !output_.empty() && fd_ >= 0) {
    ssize_t n = writeSome(output_.data(), output_.size());
    if (n >= 0) {
      bytes_written_ += static_cast<uint64_t>(n);
      if (ssl_ == nullptr && static_cast<size_t>(n) < output_.size()) writable_ = false;
      output_.drain(static_cast<size_t>(n));
    } else if (n == -2) {
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
  if (output_.empty() && fd_ >= 0) {
    if (close_after_flush_) {
      closeSocket();
      raise(ConnectionEvent::Closed);
      return;
    }
    if (shutdown_pending_ && !write_shut_) {
      if (ssl_) SSL_shutdown(ssl_);  // close_notify before the FIN
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
  if (connected_ && !handshaking_ && output_.empty() && fd_ >= 0 && !write_shut_) {
    if (ssl_) SSL_shutdown(ssl_);
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
  // The TLS session outlives the socket: who closes a connection may still ask for its peer's
  // certificate (Istio's TCP metrics, when the connection ends).
  if (fd_ < 0) return;
  reactor_.remove(fd_);
  ::close(fd_);
  fd_ = -1;
  readable_ = writable_ = false;
}

}  // namespace weft::net
