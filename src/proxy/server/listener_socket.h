#pragma once
// A worker's accept socket for one listener: accepts in batches, runs the listener filters
// (tls_inspector peeks at the ClientHello), matches a filter chain and starts the HTTP or TCP
// session on this worker, over TLS when the chain says so.
#include <memory>

#include "common/event/reactor.h"
#include "proxy/network/listener_config.h"
#include "proxy/server/snapshot.h"

namespace weft::proxy::server {

class Worker;

class ListenerSocket final : public event::IoHandler {
 public:
  ListenerSocket(Worker& worker, std::shared_ptr<const network::ListenerConfig> config,
                 std::shared_ptr<SocketSet> sockets);
  ~ListenerSocket() override;
  void onIoEvent(uint32_t events) override;
  // `refuse_new`: also stop the kernel from taking connections for it (a drain).
  void close(bool refuse_new = false);
  const network::ListenerConfig& config() const { return *config_; }
  const std::shared_ptr<SocketSet>& sockets() const { return sockets_; }

 private:
  Worker& worker_;
  std::shared_ptr<const network::ListenerConfig> config_;
  std::shared_ptr<SocketSet> sockets_;
  int fd_;
};

// Starts a session for an accepted socket on `listener`: listener filters, chain match, TLS,
// then HTTP or TCP. Also the entry for connections handed over by another listener.
void startConnection(Worker& worker, const std::shared_ptr<const network::ListenerConfig>& listener, int fd,
                     const net::Address& local, const net::Address& remote);

}  // namespace weft::proxy::server
