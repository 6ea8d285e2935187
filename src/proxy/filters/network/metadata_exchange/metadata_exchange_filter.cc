// istio.metadata_exchange (network): Istio's TCP metadata exchange on the server side, a gate in
// front of the chain's tcp_proxy. When the TLS handshake negotiated the configured ALPN
// (istio-peer-exchange), it sends this workload's frame, reads the client's, and leaves the
// client's metadata on the connection for istio.stats; without that ALPN, or with a peer that
// sends no frame, the connection goes on untouched and the peer stays unknown, as in Envoy.
// Stats metadata_exchange.{alpn_protocol_found,alpn_protocol_not_found,initial_header_not_found,
// metadata_added}. A client that never completes its frame is closed after 10 s.
#include "common/config/error.h"
#include "proxy/network/gate.h"
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

class MxGate final : public GateSession {
 public:
  MxGate(WorkerContext& worker, std::unique_ptr<net::Connection> conn, std::shared_ptr<const MxConfig> config,
         std::shared_ptr<const NetworkFilter> next, std::shared_ptr<stats::Scope> listener_stats)
      : GateSession(worker, std::move(conn), std::move(next), std::move(listener_stats)),
        config_(std::move(config)),
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
    if (!exchanging_ || done()) return;
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
    timer_.disarm();
    pass();
  }

 private:
  std::shared_ptr<const MxConfig> config_;
  event::Timer timer_;  // a client that never completes its frame is closed
  bool exchanging_ = false;
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
    return std::make_shared<GateFilter<MxGate, MxConfig>>(std::move(c), ctx.next);
  }
};

WEFT_REGISTER_NETWORK_FILTER(MxFactory);

}  // namespace

}  // namespace weft::proxy::network
