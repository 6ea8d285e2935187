#pragma once
// weft-proxy's main thread: loads and compiles the bootstrap, binds the listeners, runs the
// workers, the admin server, DNS refresh and signal handling, and drains on shutdown.
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/event/reactor.h"
#include "common/stats/stats.h"
#include "proxy/admin/clusters_render.h"
#include "proxy/server/bootstrap_compiler.h"
#include "proxy/server/snapshot.h"
#include "proxy/server/worker.h"
#include "proxy/tls/sds_secrets.h"

namespace weft::http {
class AdminServer;
}
namespace weft::proxy::xds {
class AdsClient;
}

namespace weft::proxy::upstream {
class HealthChecker;
class OutlierDetector;
}  // namespace weft::proxy::upstream

namespace weft::proxy::runtime {
class Loader;
}

namespace weft::proxy::server {

class DnsRefresher;
class DynamicConfig;

struct Options {
  std::string config_path;
  uint32_t concurrency = 0;  // 0: number of CPUs
  bool validate_only = false;
  std::chrono::seconds drain_time{600};
  std::string log_level = "info";
  std::vector<std::string> command_line;
};

class Server {
 public:
  explicit Server(Options options);
  ~Server();
  // Returns the process exit code.
  int run();

 private:
  void bindListeners();
  std::shared_ptr<SocketSet> bindSockets(const network::ListenerConfig& l, std::string* error);
  void startXds();
  void publishSnapshot();
  void setupAdmin();
  void onSignal();
  void startDrain(bool exit_after);
  void checkDrained();
  void shutdown();
  std::string stateName() const;
  void refreshServerStats();
  void publishRuntime();
  void refreshMembership();
  // Outlier detectors and health checkers: hands each its cluster's current hosts; runs the
  // detectors' intervals.
  void syncHostMonitors();
  void onOutlierTimer();
  std::vector<admin::ClusterView> clusterViews() const;

  Options options_;
  std::unique_ptr<stats::Store> store_;
  CompiledBootstrap config_;
  event::Reactor reactor_;
  std::unique_ptr<tls::SdsSecrets> sds_;
  ServerState state_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<ListenerSockets> listeners_;
  std::map<std::string, std::shared_ptr<const upstream::HostSet>> dns_hosts_;
  std::shared_ptr<const Snapshot> snapshot_;
  std::unique_ptr<weft::http::AdminServer> admin_;
  std::unique_ptr<DnsRefresher> dns_;
  std::unique_ptr<DynamicConfig> dynamic_;
  std::unique_ptr<xds::AdsClient> ads_;
  std::unique_ptr<runtime::Loader> runtime_;
  std::chrono::system_clock::time_point started_;
  event::Timer drain_timer_;
  event::Timer outlier_timer_;
  // Gives the heap's free pages back to the system every few seconds: compiling an xDS update
  // parses protobuf into memory that is freed at once but would stay in the process's RSS.
  event::Timer trim_timer_;
  // By the cluster configuration they check (each holds it, so the key stays valid).
  std::map<const upstream::ClusterConfig*, std::unique_ptr<upstream::HealthChecker>> health_checkers_;
  std::set<std::shared_ptr<upstream::OutlierDetector>> outlier_detectors_;  // of the current clusters
  event::TimePoint drain_deadline_{};
  bool exiting_ = false;
  bool live_ = false;
  int signal_fd_ = -1;
  std::unique_ptr<event::IoHandler> signal_handler_;
};

}  // namespace weft::proxy::server
