#pragma once
// A gate in front of the rest of a filter chain (envoy.filters.network.rbac, Istio's
// istio.metadata_exchange): it holds the accepted connection until it has decided, then closes
// it or hands it to the next filter. GateFilter<G> makes one G per connection.
#include <memory>
#include <utility>

#include "proxy/network/active_session.h"
#include "proxy/network/network_filter.h"

namespace weft::proxy::network {

class GateSession : public ActiveSession, public net::ConnectionCallbacks {
 public:
  GateSession(WorkerContext& worker, std::unique_ptr<net::Connection> conn, std::shared_ptr<const NetworkFilter> next,
              std::shared_ptr<stats::Scope> listener_stats)
      : worker_(worker), conn_(std::move(conn)), next_(std::move(next)), listener_stats_(std::move(listener_stats)) {}

  void onEvent(net::Connection&, net::ConnectionEvent) override { closeNow(); }
  void drain() override { closeNow(); }  // nothing is in flight yet
  void closeNow() override;

 protected:
  // The connection goes on to the next filter (its input, if any, still unread).
  void pass();
  bool done() const { return done_; }

  WorkerContext& worker_;
  std::unique_ptr<net::Connection> conn_;

 private:
  std::shared_ptr<const NetworkFilter> next_;
  std::shared_ptr<stats::Scope> listener_stats_;
  bool done_ = false;
};

// G(worker, conn, config, next, listener_stats) with a start() that begins its judgement.
template <typename G, typename Config>
class GateFilter final : public NetworkFilter {
 public:
  GateFilter(std::shared_ptr<const Config> config, std::shared_ptr<const NetworkFilter> next)
      : config_(std::move(config)), next_(std::move(next)) {}
  void startSession(WorkerContext& worker, std::unique_ptr<net::Connection> conn,
                    std::shared_ptr<stats::Scope> listener_stats, const void* listener) const override {
    auto* gate = new G(worker, std::move(conn), config_, next_, std::move(listener_stats));
    gate->listener = listener;
    worker.addSession(gate);
    gate->start();
  }
  std::string_view rdsName() const override { return next_->rdsName(); }
  std::vector<std::pair<std::string, std::string>> referencedClusters(const std::string& path) const override {
    return next_->referencedClusters(path);
  }

 private:
  std::shared_ptr<const Config> config_;
  std::shared_ptr<const NetworkFilter> next_;
};

}  // namespace weft::proxy::network
