#pragma once
// A non-blocking TCP connection on a Reactor: an input and an output buffer, readiness
// tracked per socket (edge-triggered epoll: a short read or a partial write means "not
// ready until the next edge", so no syscall is made just to learn EAGAIN), backpressure
// through a read limit, half-close, and close-after-flush.
#include <sys/types.h>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/buffer.h"
#include "common/event/reactor.h"
#include "common/net/address.h"

typedef struct ssl_st SSL;

namespace weft::tls {
class Context;
}

namespace weft::net {

class Connection;

enum class ConnectionEvent {
  Connected,         // outbound connect finished
  ConnectFailed,     // outbound connect failed; the connection is closed
  RemoteHalfClosed,  // peer sent FIN; we may still write
  Closed,            // closed by an error, or by a close-after-flush finishing
};

// What a filter learnt about a connection (Istio's TCP metadata exchange: the peer) and leaves
// for the filters after it, as Envoy's connection filter state.
struct ConnectionState {
  virtual ~ConnectionState() = default;
};

class ConnectionCallbacks {
 public:
  virtual ~ConnectionCallbacks() = default;
  // New bytes are in input() (or the peer half-closed: see remoteHalfClosed()).
  virtual void onData(Connection& conn) = 0;
  virtual void onEvent(Connection& conn, ConnectionEvent event) = 0;
  // output() fell to empty after having been over the write limit.
  virtual void onWriteDrained(Connection&) {}
  // An accepted connection finished its TLS handshake: the peer certificate can be read.
  virtual void onHandshakeComplete(Connection&) {}
};

class Connection final : public event::IoHandler, public event::Deferrable {
 public:
  // Takes an accepted, non-blocking socket.
  static std::unique_ptr<Connection> adopt(event::Reactor& reactor, int fd, const Address& local,
                                           const Address& remote);
  // Starts a non-blocking connect. Never fails synchronously: a failure is reported as
  // ConnectFailed from the loop. `bind_source` binds the local side first when set.
  static std::unique_ptr<Connection> connect(event::Reactor& reactor, const Address& remote,
                                             const Address* bind_source = nullptr, int mark = 0);
  ~Connection() override;

  void setCallbacks(ConnectionCallbacks* cb) { callbacks_ = cb; }
  Buffer& input() { return input_; }
  Buffer& output() { return output_; }

  // Writes as much of output() as the socket takes now.
  void flush();
  // SO_KEEPALIVE with TCP_KEEPCNT / TCP_KEEPIDLE / TCP_KEEPINTVL; 0 keeps the kernel's value.
  void setTcpKeepalive(uint32_t probes, uint32_t idle_seconds, uint32_t interval_seconds);
  // Input stops being read once it holds this many bytes (backpressure upstream of us).
  void setReadLimit(size_t bytes) { read_limit_ = bytes; }
  size_t readLimit() const { return read_limit_; }
  // Output above this many bytes means our peer reads slower than we produce.
  void setWriteLimit(size_t bytes) { write_limit_ = bytes; }
  // A consumer that sees true backs off; it is told by onWriteDrained() when to resume.
  bool aboveWriteLimit() {
    if (output_.size() <= write_limit_) return false;
    was_above_write_limit_ = true;
    return true;
  }
  void readDisable(bool disable);
  bool readDisabled() const { return read_disabled_; }
  // Call after draining input() so reading resumes if it was stopped by the read limit.
  void resumeReading();

  void shutdownWrite();  // FIN once output is flushed
  enum class CloseMode { FlushWrite, Abort };
  void close(CloseMode mode = CloseMode::Abort);

  bool connected() const { return connected_; }
  bool closed() const { return fd_ < 0; }
  bool closing() const { return close_after_flush_; }
  bool remoteHalfClosed() const { return remote_half_closed_; }
  const Address& localAddress() const { return local_; }
  const Address& remoteAddress() const { return remote_; }
  int fd() const { return fd_; }
  uint64_t bytesRead() const { return bytes_read_; }
  uint64_t bytesWritten() const { return bytes_written_; }
  int connectError() const { return connect_error_; }

  // Runs TLS over this connection, as client or server as `ctx` says. Bytes flow only after
  // the handshake; an outbound connection raises Connected after it, and a failed handshake
  // is ConnectFailed (outbound) or Closed (inbound), with tlsError() saying why.
  // `server_name`: SNI instead of the context's (auto_sni); `verify_server_name`: the peer's
  // certificate must match it (auto_san_validation). A null `ctx` (TLS wanted, no context
  // yet) fails the connection rather than send plaintext.
  void startTls(std::shared_ptr<const tls::Context> ctx, std::string server_name = {}, bool verify_server_name = false);
  // The SNI given to startTls (empty: the context's own).
  const std::string& tlsServerName() const { return tls_server_name_; }
  // An accepted connection's SNI: the one tls_inspector read from the ClientHello, else the
  // one its own TLS handshake got (empty: none).
  void setRequestedServerName(std::string name) { requested_server_name_ = std::move(name); }
  std::string_view requestedServerName() const;
  // An outbound connection: `hook` hears how long it took to be Connected (TCP, and TLS when it
  // runs), once, before the callbacks do.
  void onConnectTime(std::function<void(std::chrono::nanoseconds)> hook) { connect_time_hook_ = std::move(hook); }
  void setState(std::shared_ptr<const ConnectionState> s) { state_ = std::move(s); }
  const std::shared_ptr<const ConnectionState>& state() const { return state_; }
  bool tls() const { return ssl_ != nullptr; }
  SSL* ssl() const { return ssl_; }
  std::string_view alpn() const;
  const std::string& tlsError() const { return tls_error_; }

  void onIoEvent(uint32_t events) override;

 private:
  Connection(event::Reactor& reactor, int fd);
  void doRead();
  void doWrite();
  // Reads/writes through the socket or TLS: >0 bytes, 0 EOF, -1 would block (readiness
  // updated), -2 fatal error.
  ssize_t readSome(char* dst, size_t space);
  ssize_t writeSome(const char* src, size_t len);
  bool continueHandshake();  // false when the connection was closed
  void closeSocket();
  void raise(ConnectionEvent e) {
    if (e == ConnectionEvent::Connected && connect_time_hook_) {
      auto hook = std::move(connect_time_hook_);
      connect_time_hook_ = nullptr;
      hook(reactor_.now() - connect_started_);
    }
    if (callbacks_) callbacks_->onEvent(*this, e);
  }

  event::Reactor& reactor_;
  int fd_;
  ConnectionCallbacks* callbacks_ = nullptr;
  Buffer input_;
  Buffer output_;
  Address local_;
  Address remote_;
  size_t read_limit_ = 1024 * 1024;
  size_t write_limit_ = 1024 * 1024;
  uint64_t bytes_read_ = 0;
  uint64_t bytes_written_ = 0;
  int connect_error_ = 0;
  bool readable_ = false;
  bool writable_ = false;
  bool connected_ = false;
  bool peer_fin_seen_ = false;  // EPOLLRDHUP: read to EOF instead of stopping at a short read
  bool remote_half_closed_ = false;
  bool read_disabled_ = false;
  bool shutdown_pending_ = false;
  bool write_shut_ = false;
  bool close_after_flush_ = false;
  bool was_above_write_limit_ = false;
  bool in_read_ = false;
  bool tcp_connected_ = false;
  bool handshaking_ = false;
  bool tls_socket_drained_ = false;  // the TLS layer's last recv() was short or EAGAIN
  SSL* ssl_ = nullptr;
  std::shared_ptr<const tls::Context> tls_ctx_;
  std::string tls_error_;
  std::string tls_server_name_;
  std::string requested_server_name_;
  std::shared_ptr<const ConnectionState> state_;
  event::TimePoint connect_started_{};
  std::function<void(std::chrono::nanoseconds)> connect_time_hook_;
  bool verify_server_name_ = false;
};

}  // namespace weft::net
