// istio.metadata_exchange (network): Istio's TCP metadata exchange on the server side, a gate in
// front of the chain's tcp_proxy. When the TLS handshake negotiated the configured ALPN
// (istio-peer-exchange), it sends this workload's frame, reads the client's, and leaves the
// client's metadata on the connection for istio.stats; without that ALPN, or with a peer that
// sends no frame, the connection goes on untouched and the peer stays unknown, as in Envoy.
// Stats metadata_exchange.{alpn_protocol_found,alpn_protocol_not_found,initial_header_not_found,
// metadata_added}. A client that never completes its frame is closed after 10 s.
#include "common/config/error.h"
#include "proxy/network/active_session.h"
#include "proxy/network/listener_config.h"
#include "proxy/network/network_filter.h"
#include "proxy/telemetry/tcp_metadata_exchange.h"

namespace weft::proxy::network {

namespace {

// clang-format off
#define WEFT_MX_STATS(COUNTER, GAUGE)                                                   \
  COUNTER(alpn_protocol_found) COUNTER(alpn_protocol_not_found)                         \
  COUNTER(initial_header_not_found) COUNTER(metadata_added)
// clang-format on
WEFT_STATS_STRUCT(MxStats, WEFT_MX_STATS)

struct MxConfig {
  std::string protocol;
  std::shared_ptr<stats::Scope> stats;
};

class MxGate final : public ActiveSession, public net::ConnectionCallbacks {
 public:
  MxGate(WorkerContext& worker, std::unique_ptr<net::Connection> conn, std::shared_ptr<const MxConfig> config,
         std::shared_ptr<const NetworkFilter> next, std::shared_ptr<stats::Scope> listener_stats)
      : worker_(worker),
        conn_(std::move(conn)),
        config_(std::move(config)),
        next_(std::move(next)),
        listener_stats_(std::move(listener_stats)),
        timer_(worker.reactor(), [this] { closeNow(); }) {}

  void start() {
    if (!conn_->tls()) {  // no TLS, no ALPN: nothing to exchange
      config_->stats->inc(MxStats::alpn_protocol_not_found);
      pass();
      return;
    }
    conn_->setCallbacks(this);
    timer_.arm(std::chrono::seconds(10));
  }
  void onHandshakeComplete(net::Connection&) override {
    if (conn_->alpn() != config_->protocol) {
      config_->stats->inc(MxStats::alpn_protocol_not_found);
      pass();
      return;
    }
    config_->stats->inc(MxStats::alpn_protocol_found);
    exchanging_ = true;
    conn_->output().append(telemetry::localPeer().mx_frame);
    conn_->flush();
    config_->stats->inc(MxStats::metadata_added);
  }
  void onData(net::Connection&) override {
    if (!exchanging_) return;
    size_t consumed = 0;
    std::shared_ptr<const telemetry::PeerMetadata> peer;
    switch (telemetry::decodeMxFrame(conn_->input().view(), consumed, peer)) {
      case telemetry::MxDecode::NeedMore:
        return;
      case telemetry::MxDecode::Bad:
        config_->stats->inc(MxStats::initial_header_not_found);
        break;  // the bytes are the application's: they go on as they are
      case telemetry::MxDecode::Done: {
        conn_->input().drain(consumed);
        auto state = std::make_shared<telemetry::PeerState>();
        state->peer = std::move(peer);
        conn_->setState(std::move(state));
        break;
      }
    }
    pass();
  }
  void onEvent(net::Connection&, net::ConnectionEvent) override { closeNow(); }
  void drain() override { closeNow(); }
  void closeNow() override {
    if (done_) return;
    done_ = true;
    timer_.disarm();
    conn_->close();
    listener_stats_->dec(ListenerStats::downstream_cx_active);
    listener_stats_->inc(ListenerStats::downstream_cx_destroy);
    worker_.removeSession(this);
  }

 private:
  void pass() {
    if (done_) return;
    done_ = true;
    timer_.disarm();
    worker_.removeSession(this);
    next_->startSession(worker_, std::move(conn_), std::move(listener_stats_), listener);
  }

  WorkerContext& worker_;
  std::unique_ptr<net::Connection> conn_;
  std::shared_ptr<const MxConfig> config_;
  std::shared_ptr<const NetworkFilter> next_;
  std::shared_ptr<stats::Scope> listener_stats_;
  event::Timer timer_;
  bool exchanging_ = false;
  bool done_ = false;
};

class MxFilter final : public NetworkFilter {
 public:
  MxFilter(std::shared_ptr<const MxConfig> config, std::shared_ptr<const NetworkFilter> next)
      : config_(std::move(config)), next_(std::move(next)) {}
  void startSession(WorkerContext& worker, std::unique_ptr<net::Connection> conn,
                    std::shared_ptr<stats::Scope> listener_stats, const void* listener) const override {
    auto* gate = new MxGate(worker, std::move(conn), config_, next_, std::move(listener_stats));
    gate->listener = listener;
    worker.addSession(gate);
    gate->start();
  }
  std::string_view rdsName() const override { return next_->rdsName(); }
  std::vector<std::pair<std::string, std::string>> referencedClusters(const std::string& path) const override {
    return next_->referencedClusters(path);
  }

 private:
  std::shared_ptr<const MxConfig> config_;
  std::shared_ptr<const NetworkFilter> next_;
};

class MxFactory final : public NetworkFilterFactory {
 public:
  std::string_view name() const override { return "istio.metadata_exchange"; }
  std::vector<std::string_view> configTypes() const override {
    return {"envoy.tcp.metadataexchange.config.MetadataExchange"};
  }
  config::FieldTable supportedFields() const override { return {}; }
  bool terminal() const override { return false; }
  std::shared_ptr<const NetworkFilter> compile(const google::protobuf::Any& any, const std::string& path,
                                               const NetworkFilterContext& ctx) const override {
    auto c = std::make_shared<MxConfig>();
    c->protocol = telemetry::mxProtocol(any, path);
    c->stats = ctx.store.scope("metadata_exchange.", MxStats::kDefs, MxStats::kCount);
    return std::make_shared<MxFilter>(std::move(c), ctx.next);
  }
};

WEFT_REGISTER_NETWORK_FILTER(MxFactory);

}  // namespace

}  // namespace weft::proxy::network
