#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "proxy/network/client_hello.h"
#include "proxy/server/listener_socket.h"
#include "proxy/server/worker.h"

namespace weft::proxy::server {

namespace {

void startSession(Worker& worker, const std::shared_ptr<const network::ListenerConfig>& listener, int fd,
                  const net::Address& local, const net::Address& remote, const network::ConnectionHints& hints) {
  auto& stats = *listener->stats;
  const network::FilterChain* chain = listener->match(local, remote, hints);
  if (chain == nullptr) {
    stats.inc(network::ListenerStats::no_filter_chain_match);
    ::close(fd);
    return;
  }
  std::shared_ptr<const weft::tls::Context> tls = chain->tls ? chain->tls->current() : nullptr;
  if (chain->tls && !tls) {
    // A static listener whose SDS certificate has not arrived (dynamic ones warm instead).
    stats.inc(network::ListenerStats::no_filter_chain_match);
    ::close(fd);
    return;
  }
  stats.inc(network::ListenerStats::downstream_cx_active);
  auto conn = net::Connection::adopt(worker.reactor(), fd, local, remote);
  conn->setReadLimit(listener->buffer_limit);
  conn->setWriteLimit(listener->buffer_limit);
  if (!hints.server_name.empty()) conn->setRequestedServerName(std::string(hints.server_name));
  if (tls) conn->startTls(std::move(tls));
  chain->filter->startSession(worker, std::move(conn), listener->stats, listener.get());
}

// Waits (peeking, so the bytes stay for the TLS handshake) until the first bytes tell
// whether this is TLS and, if so, the ClientHello's SNI and ALPN.
class TlsInspection final : public event::IoHandler, public event::Deferrable {
 public:
  TlsInspection(Worker& worker, std::shared_ptr<const network::ListenerConfig> listener, int fd,
                const net::Address& local, const net::Address& remote)
      : worker_(worker),
        listener_(std::move(listener)),
        fd_(fd),
        local_(local),
        remote_(remote),
        timer_(worker.reactor(), [this] { fail(); }) {
    timer_.arm(listener_->listener_filters_timeout);
    worker_.reactor().add(fd_, this);
  }
  ~TlsInspection() override {
    if (fd_ >= 0) {
      worker_.reactor().remove(fd_);
      ::close(fd_);
    }
  }

  void onIoEvent(uint32_t) override {
    if (fd_ < 0) return;
    char buf[16 * 1024 + 5];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
      fail();
      return;
    }
    network::ClientHello hello;
    auto result = network::parseClientHello(std::string_view(buf, static_cast<size_t>(n)), hello);
    if (result == network::ClientHello::Result::NeedMore) {
      if (static_cast<size_t>(n) == sizeof(buf))
        result = network::ClientHello::Result::Tls;
      else
        return;  // the next bytes bring a new edge
    }
    network::ConnectionHints hints;
    if (result == network::ClientHello::Result::Tls) {
      hints.transport = "tls";
      hints.server_name = hello.server_name;
      for (const auto& a : hello.alpn) hints.alpn.push_back(a);
    }
    int fd = release();
    startSession(worker_, listener_, fd, local_, remote_, hints);
  }

 private:
  int release() {
    timer_.disarm();
    worker_.reactor().remove(fd_);
    int fd = fd_;
    fd_ = -1;
    worker_.reactor().deferDelete(std::unique_ptr<event::Deferrable>(this));
    return fd;
  }
  void fail() {
    if (fd_ < 0) return;
    listener_->stats->inc(network::ListenerStats::downstream_listener_filter_error);
    ::close(release());
  }

  Worker& worker_;
  std::shared_ptr<const network::ListenerConfig> listener_;
  int fd_;
  net::Address local_;
  net::Address remote_;
  event::Timer timer_;
};

}  // namespace

void startConnection(Worker& worker, const std::shared_ptr<const network::ListenerConfig>& accepted_by, int fd,
                     const net::Address& accepted_local, const net::Address& remote) {
  std::shared_ptr<const network::ListenerConfig> listener = accepted_by;
  net::Address local = accepted_local;
  if (listener->original_dst || listener->use_original_dst) {
    if (auto original = net::Address::originalDestination(fd, local.family())) local = *original;
  }
  if (listener->use_original_dst && !(local == accepted_local)) {
    // virtualOutbound: the listener for the original destination takes over (its own
    // listener filters and chains); none: this listener's chains (e.g. passthrough).
    if (auto target = worker.listenerForAddress(local); target && target != listener) {
      listener->stats->inc(network::ListenerStats::downstream_cx_total);
      listener = std::move(target);
    }
  }
  listener->stats->inc(network::ListenerStats::downstream_cx_total);
  if (listener->tls_inspector) {
    new TlsInspection(worker, listener, fd, local, remote);  // owns itself until it hands off
    return;
  }
  startSession(worker, listener, fd, local, remote, network::ConnectionHints{});
}

}  // namespace weft::proxy::server
