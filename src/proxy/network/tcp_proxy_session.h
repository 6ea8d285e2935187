#pragma once
// envoy.filters.network.tcp_proxy for one downstream connection: picks a cluster (weighted),
// connects to a host, then relays bytes both ways until both sides are done or idle.
#include <memory>

#include "common/event/reactor.h"
#include "common/net/connection.h"
#include "proxy/network/active_session.h"
#include "proxy/network/relay.h"
#include "proxy/network/session_observer.h"
#include "proxy/network/tcp_proxy_config.h"
#include "proxy/stream_info.h"
#include "proxy/upstream/worker_cluster.h"
#include "proxy/worker_context.h"

namespace weft::proxy::network {

class TcpProxySession final : public ActiveSession, public net::ConnectionCallbacks, public Relay::Owner {
 public:
  // `observers` (may be null) outlive the session: the filter that made it holds them.
  TcpProxySession(WorkerContext& worker, std::unique_ptr<net::Connection> downstream,
                  std::shared_ptr<const TcpProxyConfig> config, std::shared_ptr<stats::Scope> listener_stats,
                  const std::vector<std::shared_ptr<const SessionObserver>>* observers = nullptr, bool inbound = false);
  ~TcpProxySession() override;
  void start();

  void drain() override {}  // a TCP session has no request boundary to stop at
  void closeNow() override { finish(kLocalReset); }

  void onData(net::Connection& conn) override;
  void onEvent(net::Connection& conn, net::ConnectionEvent event) override;
  void onRelayActivity() override;
  void onRelayDone() override { finish(0); }

 private:
  void finish(uint32_t flag);
  void onIdleTimer();
  // The upstream is connected and, with Istio's metadata exchange, its frame read: relay.
  void startRelay();
  // Observers hear of the session once both peers are known (or it ends before).
  void notifyOpen();
  // Tells observers the bytes relayed since the last report (`always`: even none).
  void report(bool always);

  WorkerContext& worker_;
  std::unique_ptr<net::Connection> down_;
  std::unique_ptr<net::Connection> up_;
  std::shared_ptr<const TcpProxyConfig> config_;
  std::shared_ptr<stats::Scope> listener_stats_;
  const std::vector<std::shared_ptr<const SessionObserver>>* observers_;
  bool inbound_;
  std::shared_ptr<upstream::WorkerCluster> cluster_;
  std::shared_ptr<const upstream::Host> host_;
  std::unique_ptr<Relay> relay_;
  event::Timer connect_timer_;
  event::Timer idle_timer_;
  event::Timer report_timer_;
  std::chrono::milliseconds report_interval_{0};  // the observers' shortest; 0: none
  uint64_t reported_sent_ = 0, reported_received_ = 0;
  event::TimePoint last_activity_{};
  StreamInfo info_;
  bool done_ = false;
  bool opened_ = false;
  bool exchanging_ = false;  // waiting for the upstream's metadata exchange frame
};

}  // namespace weft::proxy::network
