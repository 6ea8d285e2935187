#pragma once
// One worker thread: its reactor, its listeners (SO_REUSEPORT sockets of its own), its view
// of every cluster, and the sessions it serves. Configuration arrives as immutable snapshots
// posted from the main thread; a connection keeps the snapshot it was accepted with.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/event/reactor.h"
#include "common/net/connection.h"
#include "common/random.h"
#include "proxy/access_log/access_logger.h"
#include "proxy/network/active_session.h"
#include "proxy/runtime/runtime_snapshot.h"
#include "proxy/server/snapshot.h"
#include "proxy/upstream/worker_cluster.h"
#include "proxy/worker_context.h"

namespace weft::proxy::http {
class RouteTable;
}

namespace weft::proxy::server {

class ListenerSocket;

// Process-wide switches the admin server flips and workers read.
struct ServerState {
  std::atomic<bool> healthcheck_failed{false};
  std::atomic<bool> draining{false};
};

class Worker final : public WorkerContext {
 public:
  Worker(uint32_t index, ServerState& state);
  ~Worker() override;

  void start();  // spawns the thread
  void stopAndJoin();

  // Main thread -> worker (posted): a new configuration; listeners are opened from the
  // inherited sockets the main thread bound.
  void applySnapshot(std::shared_ptr<const Snapshot> snapshot);
  void updateHosts(const std::string& cluster, std::shared_ptr<const upstream::HostSet> hosts);
  void updateRuntime(std::shared_ptr<const runtime::Snapshot> runtime);
  // Stop accepting; finish in-flight requests; close idle connections.
  void drain();
  // Close every connection now.
  void closeAll();
  // Stops accepting on INBOUND listeners and drains their connections; the rest keep serving.
  void drainInbound();
  size_t activeSessions() const { return session_count_.load(std::memory_order_relaxed); }

  // Worker thread only:
  event::Reactor& reactor() override { return reactor_; }
  Random& random() override { return random_; }
  const runtime::Snapshot& runtime() const override { return *runtime_; }
  uint32_t index() const { return index_; }
  std::shared_ptr<upstream::WorkerCluster> cluster(std::string_view name, bool high = false) override;
  // An RDS route table of the current snapshot, or null while it has not arrived.
  std::shared_ptr<const http::RouteTable> routeTable(const std::string& name) const override;
  // use_original_dst hand-off: the listener for exactly this IP:port, else for 0.0.0.0:port
  // (or [::]:port); null when none.
  std::shared_ptr<const network::ListenerConfig> listenerForAddress(const net::Address& addr) const override;
  // "date" header value, refreshed once a second.
  std::string_view httpDate() override;
  bool drainClose() const override { return draining_ || state_.healthcheck_failed.load(std::memory_order_relaxed); }
  void addSession(network::ActiveSession* s) override;
  void removeSession(network::ActiveSession* s) override;
  // Keeps a closing connection alive until its output is flushed (or 5 s pass).
  void lingerClose(std::unique_ptr<net::Connection> conn) override;
  void writeAccessLog(const access_log::AccessLogger& logger, const StreamInfo& info) override;

 private:
  void run();
  void flushLogs();

  uint32_t index_;
  ServerState& state_;
  event::Reactor reactor_;
  Random random_;
  std::thread thread_;
  std::shared_ptr<const Snapshot> snapshot_;
  std::shared_ptr<const runtime::Snapshot> runtime_;
  std::vector<std::unique_ptr<ListenerSocket>> listeners_;
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // shared_ptr: a request or TCP session keeps the cluster it started with alive after a
  // config update removed it from this map.
  std::unordered_map<std::string, std::shared_ptr<upstream::WorkerCluster>, StringHash, std::equal_to<>> clusters_;
  // The same clusters for priority HIGH routes, made on first use.
  std::unordered_map<std::string, std::shared_ptr<upstream::WorkerCluster>, StringHash, std::equal_to<>> high_clusters_;
  network::ActiveSession* sessions_ = nullptr;
  std::atomic<size_t> session_count_{0};
  bool draining_ = false;
  int64_t date_second_ = -1;
  std::string date_;
  std::vector<std::shared_ptr<access_log::Sink>> dirty_logs_;
  std::string log_line_;
  event::Timer log_timer_;
  class Lingerer;
  std::unique_ptr<Lingerer> lingerer_;
};

}  // namespace weft::proxy::server
