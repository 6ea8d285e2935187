#include "proxy/network/tcp_proxy_session.h"

#include "proxy/telemetry/istio_metrics.h"
#include "proxy/telemetry/tcp_metadata_exchange.h"

#include "proxy/network/listener_config.h"
#include "proxy/worker_context.h"

namespace weft::proxy::network {

using upstream::ClusterStats;

TcpProxySession::TcpProxySession(WorkerContext& worker, std::unique_ptr<net::Connection> downstream,
                                 std::shared_ptr<const TcpProxyConfig> config,
                                 std::shared_ptr<stats::Scope> listener_stats,
                                 const std::vector<std::shared_ptr<const SessionObserver>>* observers, bool inbound)
    : worker_(worker),
      down_(std::move(downstream)),
      config_(std::move(config)),
      listener_stats_(std::move(listener_stats)),
      observers_(observers),
      inbound_(inbound),
      connect_timer_(worker.reactor(),
                     [this] {
                       if (cluster_) {
                         cluster_->stats().inc(ClusterStats::upstream_cx_connect_timeout);
                         cluster_->stats().inc(ClusterStats::upstream_cx_connect_fail);
                       }
                       finish(kUpstreamConnectionFailure);
                     }),
      idle_timer_(worker.reactor(), [this] { onIdleTimer(); }),
      report_timer_(worker.reactor(), [this] {
        report(false);
        report_timer_.arm(report_interval_);
      }) {
  info_.protocol = {};
  info_.start = worker.reactor().now();
  info_.start_time = std::chrono::system_clock::now();
  info_.downstream_remote = &down_->remoteAddress();
  info_.downstream_local = &down_->localAddress();
  info_.downstream = down_.get();
}

TcpProxySession::~TcpProxySession() = default;

void TcpProxySession::start() {
  auto& stats = *config_->stats;
  stats.inc(TcpProxyStats::downstream_cx_total);
  stats.inc(TcpProxyStats::downstream_cx_active);
  down_->setCallbacks(this);
  down_->readDisable(true);  // bytes wait in the socket until the upstream is connected
  const TcpProxyConfig::Target* target = &config_->targets[0];
  if (config_->targets.size() > 1) {
    uint64_t r = worker_.random().below(config_->total_weight);
    for (const auto& t : config_->targets) {
      if (r < t.weight) {
        target = &t;
        break;
      }
      r -= t.weight;
    }
  }
  info_.upstream_cluster = target->cluster;
  if (auto s = std::dynamic_pointer_cast<const telemetry::PeerState>(down_->state())) info_.downstream_peer = s->peer;
  cluster_ = worker_.cluster(target->cluster);
  if (cluster_ == nullptr) {
    stats.inc(TcpProxyStats::downstream_cx_no_route);
    finish(kNoClusterFound);
    return;
  }
  host_ = cluster_->chooseHost(&down_->localAddress(), {});
  if (!host_) {
    stats.inc(TcpProxyStats::downstream_cx_no_healthy_upstream);
    cluster_->stats().inc(ClusterStats::upstream_cx_none_healthy);
    finish(kNoHealthyUpstream);
    return;
  }
  info_.upstream_host = host_->address_string;
  if (!cluster_->canConnect(*host_, {})) {  // circuit breakers: max_connections, max_connection_pools
    cluster_->stats().inc(ClusterStats::upstream_cx_overflow);
    finish(kUpstreamOverflow);
    return;
  }
  up_ = cluster_->connect(*host_);
  up_->setCallbacks(this);
  connect_timer_.arm(cluster_->config().connect_timeout);
}

void TcpProxySession::onEvent(net::Connection& conn, net::ConnectionEvent event) {
  if (done_) return;
  if (&conn == up_.get()) {
    if (event == net::ConnectionEvent::Connected) {
      connect_timer_.disarm();
      last_activity_ = worker_.reactor().now();
      info_.upstream_local = up_->localAddress();
      if (up_->tls()) info_.upstream_principals = telemetry::upstreamPrincipals(*up_);
      const std::string& mx = cluster_->config().mx_protocol;
      if (!mx.empty() && up_->alpn() == mx) {
        // Istio's metadata exchange: our frame first, then the server's before its bytes.
        exchanging_ = true;
        up_->output().append(telemetry::localPeer().mx_frame);
        up_->flush();
        if (!done_ && !up_->input().empty()) onData(*up_);
        return;
      }
      startRelay();
      return;
    }
    if (event == net::ConnectionEvent::ConnectFailed) {
      cluster_->stats().inc(ClusterStats::upstream_cx_connect_fail);
      finish(kUpstreamConnectionFailure);
      return;
    }
    finish(kUpstreamConnectionTermination);
    return;
  }
  // The downstream went away while we were still connecting.
  finish(kDownstreamConnectionTermination);
}

void TcpProxySession::onData(net::Connection& conn) {
  if (done_ || !exchanging_ || &conn != up_.get()) return;
  size_t consumed = 0;
  std::shared_ptr<const telemetry::PeerMetadata> peer;
  switch (telemetry::decodeMxFrame(up_->input().view(), consumed, peer)) {
    case telemetry::MxDecode::NeedMore:
      return;
    case telemetry::MxDecode::Bad:
      break;  // not a frame: the bytes are the server's, the peer stays unknown
    case telemetry::MxDecode::Done:
      up_->input().drain(consumed);
      info_.upstream_peer = std::move(peer);
      break;
  }
  exchanging_ = false;
  startRelay();
}

void TcpProxySession::startRelay() {
  notifyOpen();
  relay_ = std::make_unique<Relay>(*down_, *up_, *this);
  relay_->start();
  if (!done_ && config_->idle_timeout.count() > 0) idle_timer_.arm(config_->idle_timeout);
}

void TcpProxySession::notifyOpen() {
  if (opened_) return;
  opened_ = true;
  if (!observers_) return;
  for (const auto& o : *observers_) {
    o->onOpen(worker_, info_, *down_, inbound_);
    auto every = o->reportingInterval();
    if (every.count() > 0 && (report_interval_.count() == 0 || every < report_interval_)) report_interval_ = every;
  }
  if (report_interval_.count() > 0 && !done_) report_timer_.arm(report_interval_);
}

void TcpProxySession::report(bool always) {
  if (!observers_) return;
  // While relaying, the relay's running totals; at the end, the totals finish() kept.
  uint64_t sent = relay_ ? relay_->bytesFromUpstream() : info_.bytes_sent;
  uint64_t received = relay_ ? relay_->bytesFromDownstream() : info_.bytes_received;
  uint64_t ds = sent - reported_sent_, dr = received - reported_received_;
  if (!always && ds == 0 && dr == 0) return;
  reported_sent_ = sent;
  reported_received_ = received;
  for (const auto& o : *observers_) o->onReport(worker_, info_, *down_, inbound_, ds, dr);
}

void TcpProxySession::onRelayActivity() { last_activity_ = worker_.reactor().now(); }

void TcpProxySession::onIdleTimer() {
  auto idle_for = worker_.reactor().now() - last_activity_;
  if (idle_for >= config_->idle_timeout) {
    config_->stats->inc(TcpProxyStats::idle_timeout);
    finish(0);
    return;
  }
  idle_timer_.armAt(last_activity_ + config_->idle_timeout);
}

void TcpProxySession::finish(uint32_t flag) {
  if (done_) return;
  done_ = true;
  connect_timer_.disarm();
  idle_timer_.disarm();
  report_timer_.disarm();
  info_.response_flags |= flag;
  info_.end = worker_.reactor().now();
  auto& stats = *config_->stats;
  stats.dec(TcpProxyStats::downstream_cx_active);
  if (relay_) {
    info_.bytes_received = relay_->bytesFromDownstream();
    info_.bytes_sent = relay_->bytesFromUpstream();
    stats.add(TcpProxyStats::downstream_cx_rx_bytes_total, info_.bytes_received);
    stats.add(TcpProxyStats::downstream_cx_tx_bytes_total, info_.bytes_sent);
    worker_.reactor().deferDelete(std::move(relay_));
  }
  notifyOpen();
  report(true);
  if (observers_)
    for (const auto& o : *observers_) o->onClose(worker_, info_, *down_, inbound_);
  for (const auto& logger : config_->access_logs) worker_.writeAccessLog(*logger, info_);
  if (up_) {
    up_->close(net::Connection::CloseMode::FlushWrite);
    cluster_->destroy(*host_, std::move(up_));
  }
  listener_stats_->dec(ListenerStats::downstream_cx_active);
  listener_stats_->inc(ListenerStats::downstream_cx_destroy);
  down_->setCallbacks(nullptr);
  down_->close(net::Connection::CloseMode::FlushWrite);
  worker_.lingerClose(std::move(down_));
  worker_.removeSession(this);
}

}  // namespace weft::proxy::network
