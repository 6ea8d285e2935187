#pragma once
// A cluster as one worker sees it: the current host set, load-balancer state and the pool of
// idle keep-alive connections. Owned by exactly one worker thread, so nothing here locks.
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/event/reactor.h"
#include "common/net/connection.h"
#include "common/random.h"
#include "proxy/upstream/cluster_config.h"
#include "proxy/upstream/hash_lb.h"
#include "proxy/upstream/priority_load.h"

namespace weft::proxy::upstream {

// Multiplexed (HTTP/2) connections of a cluster, made by the HTTP layer on first use.
class MultiplexedPool {
 public:
  virtual ~MultiplexedPool() = default;
};

// A request waiting for a connection slot (circuit breakers' pending requests).
class ConnectionWaiter {
 public:
  virtual ~ConnectionWaiter() = default;
  virtual const Host& waitingFor() const = 0;
  // An idle connection to the host, or room for a new one: the waiter takes it now.
  virtual void onConnectionAvailable() = 0;
};

class WorkerCluster : public net::ConnectionCallbacks {
 public:
  // `linger` takes connections that are closing but still have bytes to flush.
  using Linger = std::function<void(std::unique_ptr<net::Connection>)>;
  WorkerCluster(std::shared_ptr<const ClusterConfig> config, std::shared_ptr<const HostSet> hosts,
                event::Reactor& reactor, Random& random, Linger linger);
  ~WorkerCluster() override;

  const ClusterConfig& config() const { return *config_; }
  const std::shared_ptr<const ClusterConfig>& configPtr() const { return config_; }
  stats::Scope& stats() const { return *config_->stats; }
  void updateHosts(std::shared_ptr<const HostSet> hosts);
  const HostSet& hosts() const { return *hosts_; }
  const std::shared_ptr<const HostSet>& hostsPtr() const { return hosts_; }

  // Picks a host, or returns null when there is none (Envoy's UH). For ORIGINAL_DST clusters
  // `original_dst` (or the override header's value) names the host. RING_HASH and MAGLEV use
  // the request's `hash` (a random one without), `attempt` > 0 for a retry's host selection.
  // `excluded_priorities` (a bit per priority) take no load unless nothing else is healthy.
  std::shared_ptr<const Host> chooseHost(const net::Address* original_dst, std::string_view override_host,
                                         std::optional<uint64_t> hash = std::nullopt, uint32_t attempt = 0,
                                         uint64_t excluded_priorities = 0);
  // Percent of requests each priority gets now (for /clusters and tests).
  const std::vector<uint32_t>& priorityLoad() const { return priority_load_.load; }

  // An idle keep-alive connection to `host` (made with this auto_sni server name), or null.
  std::unique_ptr<net::Connection> takeIdle(const Host& host, std::string_view server_name = {});
  // Returns a healthy keep-alive connection to the pool.
  void releaseIdle(std::shared_ptr<const Host> host, std::unique_ptr<net::Connection> conn);
  // `server_name`: auto_sni's SNI for TLS (empty: the cluster's own).
  std::unique_ptr<net::Connection> connect(const Host& host, std::string_view server_name = {});
  // auto_config: whether `host` answered ALPN with h2, once a connection has learnt it.
  std::optional<bool> knownHttp2(const Host& host) const;
  void learnHttp2(const Host& host, bool http2) { alpn_h2_[host.address_string] = http2; }
  // max_connection_duration has passed since `conn` was made: it takes no new request.
  bool expired(const net::Connection& conn) const { return tooOld(conn); }
  // Closes a connection made by connect() and accounts for it; deletion is deferred.
  void destroy(const Host& host, std::unique_ptr<net::Connection> conn);

  ResourceLimits& limits() const { return *config_->limits; }
  // An idle connection to `host` or room for a new one (circuit breakers' max_connections).
  bool connectionAvailable(const Host& host);
  // Room for a new connection to `host` (with this server name): max_connections, and
  // max_connection_pools when it would open a pool (counted, upstream_cx_pool_overflow, if not).
  bool canConnect(const Host& host, std::string_view server_name);
  // Queues a request until a connection is available on this worker; served in order.
  void addWaiter(ConnectionWaiter* w);
  void removeWaiter(ConnectionWaiter* w);

  std::unique_ptr<MultiplexedPool>& multiplexedPool() { return mux_pool_; }
  event::Reactor& reactor() { return reactor_; }

  // ConnectionCallbacks for idle pooled connections: any event means it is no longer usable.
  void onData(net::Connection& conn) override { dropIdle(conn); }
  void onEvent(net::Connection& conn, net::ConnectionEvent) override { dropIdle(conn); }

 private:
  // Hosts one pick chooses among, with the policy's state over them.
  struct LbSet {
    std::shared_ptr<const HostSet> hosts;
    size_t rr_next = 0;
    std::vector<int64_t> rr_current;  // smooth weighted round robin state
    std::vector<double> lr_current;   // the same, for LEAST_REQUEST's load-adjusted weights
    std::unique_ptr<HashTable> hash;  // RING_HASH, MAGLEV
  };
  struct PriorityLb {
    LbSet set;  // the priority's healthy hosts, or all of them in panic mode
    bool panic = false;
    // locality_weighted_lb_config (outside panic): healthy hosts per locality, picked by their
    // effective weights with smooth weighted round robin.
    std::vector<LbSet> localities;
    std::vector<double> locality_weight, locality_current;
  };

  void dropIdle(net::Connection& conn);
  // Rebuilds what the load balancer picks from: per priority its healthy hosts, or all of them
  // when it is in panic mode (Envoy's), and the load each priority gets.
  void refreshHealth();
  void buildLbSet(LbSet& set, std::shared_ptr<const HostSet> hosts);
  void buildLocalities(PriorityLb& p, uint32_t priority, const std::vector<std::shared_ptr<const Host>>& all);
  void servePending();
  const std::shared_ptr<const Host>& pickRoundRobin(LbSet& set);
  const std::shared_ptr<const Host>& pickWeightedRandom(LbSet& set);
  const std::shared_ptr<const Host>& pickLeastRequest(LbSet& set);
  LbSet& pickLocality(PriorityLb& p);

  std::shared_ptr<const ClusterConfig> config_;
  std::shared_ptr<const HostSet> hosts_;
  uint64_t health_generation_ = 0;
  std::vector<PriorityLb> priorities_;
  PriorityLoad priority_load_;
  event::Reactor& reactor_;
  Random& random_;
  Linger linger_;
  struct IdleEntry {
    std::shared_ptr<const Host> host;
    std::unique_ptr<net::Connection> conn;
    event::TimePoint since;
  };
  std::vector<IdleEntry> idle_;  // oldest first
  // Per connection made while max_requests_per_connection or max_connection_duration is set:
  // the requests it carried and when it was made.
  struct ConnUse {
    uint32_t served = 0;
    event::TimePoint born;
  };
  std::unordered_map<const net::Connection*, ConnUse> served_;
  bool tooOld(const net::Connection& conn) const;
  // max_connection_pools: connections per pool ("address|server name") and each one's pool.
  std::unordered_map<std::string, uint32_t> pool_conns_;
  std::unordered_map<const net::Connection*, std::string> conn_pool_;
  void closeIdleExpired();
  void armIdleTimer();
  std::unordered_map<std::string, std::shared_ptr<const Host>> original_dst_hosts_;
  std::unordered_map<std::string, bool> alpn_h2_;  // by host address
  std::unique_ptr<MultiplexedPool> mux_pool_;
  std::deque<ConnectionWaiter*> waiters_;
  bool serving_ = false;
  // Connections another worker frees wake nobody here: waiters look again every few ms.
  event::Timer waiter_poll_;
  event::Timer idle_timer_;  // closes connections idle past idle_timeout
};

}  // namespace weft::proxy::upstream
