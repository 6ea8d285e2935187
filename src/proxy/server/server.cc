#include "proxy/server/server.h"

#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <thread>

#include "common/config/error.h"
#include "common/config/yaml_json.h"
#include "common/http/admin_server.h"
#include "envoy/admin/v3/config_dump.pb.h"
#include "envoy/admin/v3/server_info.pb.h"
#include "proxy/admin/clusters_render.h"
#include "proxy/admin/stats_render.h"
#include "proxy/runtime/runtime_loader.h"
#include "proxy/server/dns_refresher.h"
#include "proxy/server/dynamic_config.h"
#include "proxy/telemetry/peer_metadata.h"
#include "proxy/upstream/health_checker.h"
#include "proxy/upstream/outlier_detector.h"
#include "proxy/xds/ads_client.h"

namespace weft::proxy::server {

namespace {
constexpr const char* kVersion = "weft-proxy/0.1.0";

class SignalHandler : public event::IoHandler {
 public:
  SignalHandler(int fd, std::function<void()> fn) : fd_(fd), fn_(std::move(fn)) {}
  void onIoEvent(uint32_t) override {
    signalfd_siginfo info;
    while (read(fd_, &info, sizeof(info)) == sizeof(info)) fn_();
  }

 private:
  int fd_;
  std::function<void()> fn_;
};

google::protobuf::Timestamp timestampOf(std::chrono::system_clock::time_point tp) {
  google::protobuf::Timestamp ts;
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(tp.time_since_epoch()).count();
  ts.set_seconds(ns / 1000000000);
  ts.set_nanos(static_cast<int32_t>(ns % 1000000000));
  return ts;
}
}  // namespace

Server::Server(Options options)
    : options_(std::move(options)),
      drain_timer_(reactor_, [this] { checkDrained(); }),
      outlier_timer_(reactor_, [this] { onOutlierTimer(); }),
      trim_timer_(reactor_, [this] {
        malloc_trim(0);
        trim_timer_.arm(std::chrono::seconds(5));
      }) {}

Server::~Server() {
  for (auto& w : workers_) w->stopAndJoin();
  dns_.reset();
}

int Server::run() {
  started_ = std::chrono::system_clock::now();
  auto bootstrap = loadBootstrap(options_.config_path);
  // Who this proxy is to its peers (Istio's metadata exchange), before any filter reads it.
  telemetry::setLocalPeer(telemetry::makeLocalPeer(bootstrap.node()));
  uint32_t concurrency = options_.concurrency;
  if (concurrency == 0) concurrency = std::max(1u, std::thread::hardware_concurrency());
  options_.concurrency = concurrency;
  // Rows: one per worker, then the main thread, then helper threads (DNS).
  store_ = std::make_unique<stats::Store>(concurrency + 2);
  stats::tls_row = concurrency;
  sds_ = std::make_unique<tls::SdsSecrets>(reactor_, bootstrap);
  config_ = compileBootstrap(bootstrap, *store_, sds_.get());
  runtime_ = std::make_unique<runtime::Loader>(bootstrap);
  if (options_.validate_only) {
    printf("configuration '%s' OK\n", options_.config_path.c_str());
    return 0;
  }

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);  // before any thread starts: they inherit it
  signal(SIGPIPE, SIG_IGN);
  signal_fd_ = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  signal_handler_ = std::make_unique<SignalHandler>(signal_fd_, [this] { onSignal(); });
  reactor_.add(signal_fd_, signal_handler_.get());

  bindListeners();
  dns_ = std::make_unique<DnsRefresher>(
      config_.clusters, store_->rows(),
      [this](const std::string& cluster, std::shared_ptr<const upstream::HostSet> hosts) {
        reactor_.post([this, cluster, fresh = hosts] {
          // Hosts whose address stays keep their state (health, outlier ejections, stats).
          auto prev = dns_hosts_.find(cluster);
          auto hosts = upstream::keepKnownHosts(fresh->hosts, prev != dns_hosts_.end() ? prev->second.get() : nullptr,
                                                fresh->locality_weights, fresh->overprovisioning_factor);
          dns_hosts_[cluster] = hosts;
          spdlog::info("cluster '{}': DNS now gives {} host(s)", cluster, hosts->hosts.size());
          auto next = std::make_shared<Snapshot>(*snapshot_);
          next->hosts[cluster] = hosts;
          snapshot_ = next;
          syncHostMonitors();
          for (auto& w : workers_) w->updateHosts(cluster, hosts);
        });
      });
  for (auto& [name, hosts] : dns_->resolveAll()) {
    if (hosts->hosts.empty()) spdlog::warn("cluster '{}': DNS resolution gave no hosts (will retry)", name);
    dns_hosts_[name] = hosts;
  }
  for (uint32_t i = 0; i < concurrency; ++i) workers_.push_back(std::make_unique<Worker>(i, state_));
  for (auto& w : workers_) w->start();
  publishRuntime();
  publishSnapshot();
  setupAdmin();
  dns_->start();
  // A secret that arrives (or changes) may warm a listener or cluster: publish again.
  sds_->onChange([this] { publishSnapshot(); });
  sds_->start();
  if (config_.bootstrap.has_dynamic_resources()) startXds();
  live_ = true;
  for (const auto& l : listeners_) {
    spdlog::info("listener '{}' on {} ({} worker sockets)", l.config->name, l.config->address.toString(),
                 l.sockets ? l.sockets->fds.size() : 0);
  }
  spdlog::info("weft-proxy live: {} worker(s){}", concurrency,
               admin_ ? ", admin at http://" + admin_->address().toString() : std::string());
  trim_timer_.arm(std::chrono::seconds(1));
  reactor_.run();
  shutdown();
  return 0;
}

namespace {
int bindSocket(const net::Address& addr, bool reuse_port, std::string* err) {
  int fd = socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (addr.family() == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (bind(fd, addr.sockaddr_ptr(), addr.length) != 0 || (reuse_port && listen(fd, 1024) != 0)) {
    *err = strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}
}  // namespace

std::shared_ptr<SocketSet> Server::bindSockets(const network::ListenerConfig& l, std::string* error) {
  auto set = std::make_shared<SocketSet>();
  net::Address addr = l.address;
  std::string err;
  // SO_REUSEPORT would let us share a port with another process of the same user without
  // a word; a plain bind first proves the port is ours (and picks it for port 0).
  int probe = bindSocket(addr, false, &err);
  if (probe < 0) {
    *error = "listener '" + l.name + "': cannot listen on " + addr.toString() + ": " + err;
    return nullptr;
  }
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  getsockname(probe, reinterpret_cast<sockaddr*>(&ss), &len);
  addr = net::Address::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  close(probe);
  for (uint32_t i = 0; i < options_.concurrency; ++i) {
    int fd = bindSocket(addr, true, &err);
    if (fd < 0) {
      *error = "listener '" + l.name + "': cannot listen on " + addr.toString() + ": " + err;
      return nullptr;
    }
    set->fds.push_back(fd);
  }
  return set;
}

void Server::bindListeners() {
  for (const auto& l : config_.listeners) {
    ListenerSockets ls{l, nullptr};
    if (l->bind_to_port) {
      std::string err;
      ls.sockets = bindSockets(*l, &err);
      // Not a configuration error: the config is valid, the machine refused. A static
      // listener that cannot listen stops startup (as Envoy); a dynamic one is NACKed.
      if (!ls.sockets) throw std::runtime_error(err);
    }
    listeners_.push_back(std::move(ls));
  }
}

void Server::startXds() {
  const auto& dr = config_.bootstrap.dynamic_resources();
  const auto& ads = dr.ads_config();
  if (ads.api_type() != envoy::config::core::v3::ApiConfigSource::GRPC) {
    throw ConfigError(
        "dynamic_resources.ads_config.api_type: only GRPC (state of the world ADS) is supported by weft-proxy");
  }
  if (ads.grpc_services_size() != 1 || !ads.grpc_services(0).has_envoy_grpc()) {
    throw ConfigError("dynamic_resources.ads_config.grpc_services: exactly one envoy_grpc service is required");
  }
  if ((dr.has_cds_config() && !dr.cds_config().has_ads()) || (dr.has_lds_config() && !dr.lds_config().has_ads())) {
    throw ConfigError("dynamic_resources: cds_config and lds_config must use ads");
  }
  const std::string& cluster = ads.grpc_services(0).envoy_grpc().cluster_name();
  std::shared_ptr<const upstream::HostSet> hosts;
  for (const auto& c : config_.clusters) {
    if (c->name == cluster) hosts = c->static_hosts;
  }
  if (auto it = dns_hosts_.find(cluster); it != dns_hosts_.end()) hosts = it->second;
  if (!hosts || hosts->hosts.empty()) {
    throw ConfigError("dynamic_resources.ads_config.grpc_services[0].envoy_grpc.cluster_name: '" + cluster +
                      "' must be a static cluster with at least one endpoint");
  }
  std::set<std::string> static_clusters, static_listeners;
  for (const auto& c : config_.clusters) static_clusters.insert(c->name);
  for (const auto& l : config_.listeners) static_listeners.insert(l->name);
  dynamic_ = std::make_unique<DynamicConfig>(
      *store_, [this](const network::ListenerConfig& l, std::string* err) { return bindSockets(l, err); },
      [this] { publishSnapshot(); }, static_clusters, static_listeners, sds_.get());
  dynamic_->subscribed(dr.has_cds_config(), dr.has_lds_config());
  ads_ = std::make_unique<xds::AdsClient>(reactor_, hosts->hosts.front()->address, config_.bootstrap.node(), *dynamic_,
                                          dr.has_cds_config(), dr.has_lds_config());
  ads_->start();
  spdlog::info("xDS: ADS to {} (cluster '{}')", hosts->hosts.front()->address_string, cluster);
}

void Server::publishRuntime() {
  auto snap = runtime_->snapshot();
  for (auto& w : workers_) w->updateRuntime(snap);
}

// The active clusters (static, and from CDS once warm) with their current hosts.
std::vector<admin::ClusterView> Server::clusterViews() const {
  std::set<std::string> statics;
  for (const auto& c : config_.clusters) statics.insert(c->name);
  std::vector<admin::ClusterView> views;
  for (const auto& [name, c] : snapshot_->clusters) {
    auto it = snapshot_->hosts.find(name);
    views.push_back({c, it != snapshot_->hosts.end() ? it->second : c->static_hosts, !statics.count(name)});
  }
  return views;
}

// membership_total / membership_healthy: the hosts each cluster has now and those without a
// failed health flag (the main thread's row of the gauge holds the whole value).
void Server::refreshMembership() {
  if (!snapshot_) return;
  for (const auto& [name, c] : snapshot_->clusters) {
    auto it = snapshot_->hosts.find(name);
    const auto& hosts = it != snapshot_->hosts.end() ? it->second : c->static_hosts;
    int64_t total = hosts ? static_cast<int64_t>(hosts->hosts.size()) : 0;
    int64_t healthy = 0;
    if (hosts) {
      for (const auto& h : hosts->hosts) healthy += h->healthy() ? 1 : 0;
    }
    auto setGauge = [&](size_t stat, int64_t n) {
      c->stats->add(stat, static_cast<uint64_t>(n - c->stats->localValue(stat)));
    };
    setGauge(upstream::ClusterStats::membership_total, total);
    setGauge(upstream::ClusterStats::membership_healthy, healthy);
    // Envoy's circuit breaker gauges per priority: 1 while a limit is reached; remaining_* with
    // track_remaining.
    for (const auto& [prio, config] : {std::pair<const char*, const upstream::ClusterConfig*>{"default", c.get()},
                                       {"high", c->high_priority.get()}}) {
      if (config == nullptr) continue;
      const upstream::ResourceLimits& l = *config->limits;
      const std::string p = "cluster." + name + ".circuit_breakers." + prio + ".";
      struct Breaker {
        const char* open;
        const char* remaining;
        const upstream::ResourceCount& count;
        uint64_t max;
      };
      for (const Breaker& b :
           {Breaker{"cx_open", "remaining_cx", l.connections, l.connections.max()},
            Breaker{"rq_pending_open", "remaining_pending", l.pending_requests, l.pending_requests.max()},
            Breaker{"rq_open", "remaining_rq", l.requests, l.requests.max()},
            Breaker{"rq_retry_open", "remaining_retries", l.retries, l.maxRetries()}}) {
        uint64_t used = b.count.count();
        store_->setValue(p + b.open, used >= b.max ? 1 : 0);
        if (l.track_remaining)
          store_->setValue(p + b.remaining, static_cast<int64_t>(used >= b.max ? 0 : b.max - used));
      }
    }
  }
}

void Server::publishSnapshot() {
  auto snap = std::make_shared<Snapshot>();
  snap->listeners = listeners_;
  for (const auto& c : config_.clusters) snap->clusters[c->name] = c;
  snap->hosts = dns_hosts_;
  if (dynamic_) dynamic_->fill(*snap);
  snapshot_ = snap;
  syncHostMonitors();  // before any worker can report to a new detector
  for (auto& w : workers_) w->applySnapshot(snap);
}

void Server::syncHostMonitors() {
  event::TimePoint now = event::Clock::now();
  event::TimePoint next = event::TimePoint::max();
  std::map<const upstream::ClusterConfig*, std::unique_ptr<upstream::HealthChecker>> checkers;
  std::set<std::shared_ptr<upstream::OutlierDetector>> detectors;
  for (const admin::ClusterView& v : clusterViews()) {
    if (v.config->health_check) {
      auto it = health_checkers_.find(v.config.get());
      auto checker = it != health_checkers_.end() ? std::move(it->second)
                                                  : std::make_unique<upstream::HealthChecker>(v.config, reactor_);
      checker->setHosts(v.hosts ? *v.hosts : upstream::HostSet{});
      checkers.emplace(v.config.get(), std::move(checker));
    }
    upstream::OutlierDetector* od = v.config->outlier.get();
    if (od == nullptr) continue;
    od->attach(reactor_);
    od->setHosts(v.hosts ? *v.hosts : upstream::HostSet{}, now);
    next = std::min(next, od->nextInterval());
    detectors.insert(v.config->outlier);
  }
  health_checkers_ = std::move(checkers);  // those of clusters gone stop here
  for (const auto& od : outlier_detectors_) {
    if (!detectors.count(od)) od->detach();  // a replaced cluster's: events still queued find no host
  }
  outlier_detectors_ = std::move(detectors);
  if (next != event::TimePoint::max()) outlier_timer_.armAt(next);
}

void Server::onOutlierTimer() {
  event::TimePoint now = event::Clock::now();
  event::TimePoint next = event::TimePoint::max();
  for (const auto& [name, c] : snapshot_->clusters) {
    upstream::OutlierDetector* od = c->outlier.get();
    if (od == nullptr) continue;
    if (od->nextInterval() <= now) od->onInterval(now);
    next = std::min(next, od->nextInterval());
  }
  if (next != event::TimePoint::max()) outlier_timer_.armAt(next);
}

std::string Server::stateName() const {
  // As Envoy: failing health checks reports DRAINING, so load balancers stop sending.
  if (state_.draining.load() || state_.healthcheck_failed.load()) return "DRAINING";
  // With xDS, LIVE once the first clusters and listeners arrived (Envoy's init manager).
  bool initialized = !dynamic_ || dynamic_->initialized();
  return live_ && initialized ? "LIVE" : "PRE_INITIALIZING";
}

void Server::refreshServerStats() {
  auto uptime = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - started_).count();
  store_->setValue("server.uptime", uptime);
  store_->setValue("server.live", live_ && !state_.draining.load() ? 1 : 0);
  store_->setValue("server.state", state_.draining.load() ? 1 : (live_ ? 0 : 2));
  store_->setValue("server.concurrency", options_.concurrency);
  refreshMembership();
  store_->setValue("runtime.num_keys", static_cast<int64_t>(runtime_->snapshot()->values.size()));
  store_->setValue("runtime.num_layers", static_cast<int64_t>(runtime_->layerCount()));
  store_->setValue("runtime.admin_overrides_active", runtime_->adminOverrides() > 0 ? 1 : 0);
  size_t sessions = 0;
  for (const auto& w : workers_) sessions += w->activeSessions();
  store_->setValue("server.total_connections", static_cast<int64_t>(sessions));
  store_->setValue("cluster_manager.active_clusters", static_cast<int64_t>(snapshot_ ? snapshot_->clusters.size() : 0));
  store_->setValue("cluster_manager.warming_clusters",
                   dynamic_ ? static_cast<int64_t>(dynamic_->warmingClusters()) : 0);
  store_->setValue("listener_manager.total_listeners_active",
                   static_cast<int64_t>(snapshot_ ? snapshot_->listeners.size() : 0));
  struct mallinfo2 mi = mallinfo2();
  store_->setValue("server.memory_allocated", static_cast<int64_t>(mi.uordblks + mi.hblkhd));
  store_->setValue("server.memory_heap_size", static_cast<int64_t>(mi.arena + mi.hblkhd));
}

void Server::setupAdmin() {
  if (!config_.admin_address) return;
  admin_ = std::make_unique<weft::http::AdminServer>(reactor_, *config_.admin_address);
  using weft::http::AdminRequest;
  using weft::http::AdminResponse;
  admin_->add("/ready", "whether the server is ready to serve (LIVE)", false, [this](const AdminRequest&) {
    std::string s = stateName();
    return AdminResponse{s == "LIVE" ? 200 : 503, "text/plain; charset=UTF-8", s + "\n"};
  });
  admin_->add("/server_info", "server version, state, uptime, options and node", false, [this](const AdminRequest&) {
    envoy::admin::v3::ServerInfo info;
    info.set_version(kVersion);
    envoy::admin::v3::ServerInfo::State st = envoy::admin::v3::ServerInfo::LIVE;
    if (stateName() == "DRAINING") st = envoy::admin::v3::ServerInfo::DRAINING;
    info.set_state(st);
    info.set_hot_restart_version("disabled");
    auto uptime = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - started_).count();
    info.mutable_uptime_current_epoch()->set_seconds(uptime);
    info.mutable_uptime_all_epochs()->set_seconds(uptime);
    auto* opts = info.mutable_command_line_options();
    opts->set_concurrency(options_.concurrency);
    opts->set_config_path(options_.config_path);
    opts->set_log_level(options_.log_level);
    opts->mutable_drain_time()->set_seconds(options_.drain_time.count());
    *info.mutable_node() = config_.bootstrap.node();
    return AdminResponse{200, "application/json", weft::config::messageToJson(info, true, true) + "\n"};
  });
  admin_->add(
      "/stats", "counters and gauges (?filter=RE2, ?usedonly, ?format=json|prometheus)", false,
      [this](const AdminRequest& req) {
        refreshServerStats();
        std::string format = req.queryParam("format");
        if (format == "prometheus")
          return AdminResponse{200, "text/plain; version=0.0.4", admin::renderPrometheus(*store_)};
        if (format == "json") {
          return AdminResponse{200, "application/json",
                               admin::renderStatsJson(*store_, req.queryParam("filter"), req.hasParam("usedonly"))};
        }
        return AdminResponse{200, "text/plain; charset=UTF-8",
                             admin::renderStatsText(*store_, req.queryParam("filter"), req.hasParam("usedonly"))};
      });
  admin_->add("/stats/prometheus", "stats in Prometheus text format", false, [this](const AdminRequest&) {
    refreshServerStats();
    return AdminResponse{200, "text/plain; version=0.0.4; charset=utf-8", admin::renderPrometheus(*store_)};
  });
  admin_->add("/clusters", "upstream clusters and their hosts (?format=json)", false, [this](const AdminRequest& req) {
    auto views = clusterViews();
    if (req.queryParam("format") == "json")
      return AdminResponse{200, "application/json", admin::renderClustersJson(views)};
    return AdminResponse{200, "text/plain; charset=UTF-8", admin::renderClustersText(views)};
  });
  admin_->add("/listeners", "listener names and addresses", false, [this](const AdminRequest&) {
    std::string out;
    for (const auto& l : snapshot_->listeners) {
      // The bound address, which differs from the configured one for port 0.
      sockaddr_storage ss;
      socklen_t len = sizeof(ss);
      std::string addr = l.config->address.toString();
      if (l.sockets && !l.sockets->fds.empty() &&
          getsockname(l.sockets->fds[0], reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
        addr = net::Address::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len).toString();
      }
      out += l.config->name + "::" + addr + "\n";
    }
    return AdminResponse{200, "text/plain; charset=UTF-8", out};
  });
  admin_->add("/config_dump", "the running configuration as Envoy's ConfigDump (?include_eds)", false,
              [this](const AdminRequest& req) {
                envoy::admin::v3::ConfigDump dump;
                auto updated = timestampOf(started_);
                envoy::admin::v3::BootstrapConfigDump b;
                *b.mutable_bootstrap() = config_.bootstrap;
                *b.mutable_last_updated() = updated;
                dump.add_configs()->PackFrom(b);
                envoy::admin::v3::ClustersConfigDump clusters;
                for (const auto& c : config_.clusters) {
                  auto* sc = clusters.add_static_clusters();
                  sc->mutable_cluster()->PackFrom(c->source);
                  *sc->mutable_last_updated() = updated;
                }
                dump.add_configs()->PackFrom(clusters);
                envoy::admin::v3::ListenersConfigDump listeners;
                envoy::admin::v3::RoutesConfigDump routes;
                for (const auto& l : config_.listeners) {
                  auto* sl = listeners.add_static_listeners();
                  sl->mutable_listener()->PackFrom(l->source);
                  *sl->mutable_last_updated() = updated;
                }
                if (dynamic_) {
                  dynamic_->dump(clusters, listeners, routes);
                  dump.mutable_configs(1)->PackFrom(clusters);
                }
                // Envoy's order: bootstrap, clusters, endpoints (with include_eds), listeners, routes.
                if (req.hasParam("include_eds")) {
                  auto views = clusterViews();
                  if (!views.empty()) dump.add_configs()->PackFrom(admin::renderEndpointsDump(views));
                }
                dump.add_configs()->PackFrom(listeners);
                dump.add_configs()->PackFrom(routes);
                return AdminResponse{200, "application/json", weft::config::messageToJson(dump) + "\n"};
              });
  admin_->add("/runtime", "the runtime: every key's value in each layer and the final value", false,
              [this](const AdminRequest&) {
                return AdminResponse{200, "application/json", runtime_->renderJson()};
              });
  admin_->add(
      "/runtime_modify", "set runtime keys in the admin layer: ?key=value (an empty value removes one)", true,
      [this](const AdminRequest& req) {
        if (!runtime_->hasAdminLayer())
          return AdminResponse{503, "text/plain; charset=UTF-8", "No admin layer specified\n"};
        auto changes = req.params();
        if (changes.empty())
          return AdminResponse{400, "text/plain; charset=UTF-8", "usage: /runtime_modify?key1=value1&key2=value2\n"};
        runtime_->modify(changes);
        publishRuntime();
        return AdminResponse{200, "text/plain; charset=UTF-8", "OK\n"};
      });
  admin_->add("/memory", "heap use of this process", false, [](const AdminRequest&) {
    struct mallinfo2 mi = mallinfo2();
    std::string body = "{\n \"allocated\": \"" + std::to_string(mi.uordblks + mi.hblkhd) + "\",\n \"heap_size\": \"" +
                       std::to_string(mi.arena + mi.hblkhd) + "\"\n}\n";
    return AdminResponse{200, "application/json", body};
  });
  admin_->add("/healthcheck/fail", "fail health checks: every response now closes its connection", true,
              [this](const AdminRequest&) {
                state_.healthcheck_failed = true;
                return AdminResponse{200, "text/plain; charset=UTF-8", "OK\n"};
              });
  admin_->add("/healthcheck/ok", "pass health checks again", true, [this](const AdminRequest&) {
    state_.healthcheck_failed = false;
    return AdminResponse{200, "text/plain; charset=UTF-8", "OK\n"};
  });
  admin_->add("/drain_listeners", "stop accepting and drain connections (the server keeps running)", true,
              [this](const AdminRequest& req) {
                // ?inboundonly (Envoy's): only listeners with traffic_direction INBOUND, so a
                // sidecar's app can still call out while its inbound side drains.
                if (req.hasParam("inboundonly")) {
                  for (auto& w : workers_) w->drainInbound();
                } else {
                  startDrain(false);
                }
                return AdminResponse{200, "text/plain; charset=UTF-8", "OK\n"};
              });
  admin_->add("/quitquitquit", "exit the server", true, [this](const AdminRequest&) {
    // Answer first; the loop stops on its next turn.
    reactor_.post([this] {
      for (auto& w : workers_) w->closeAll();
      reactor_.stop();
    });
    return AdminResponse{200, "text/plain; charset=UTF-8", "OK\n"};
  });
}

void Server::onSignal() {
  if (exiting_) {
    spdlog::warn("second signal: exiting now");
    reactor_.stop();
    return;
  }
  spdlog::info("shutdown requested: draining for at most {}s", options_.drain_time.count());
  startDrain(true);
}

void Server::startDrain(bool exit_after) {
  state_.draining = true;
  for (auto& w : workers_) w->drain();
  if (exit_after) {
    exiting_ = true;
    drain_deadline_ = reactor_.now() + options_.drain_time;
    drain_timer_.arm(std::chrono::milliseconds(50));
  }
}

void Server::checkDrained() {
  size_t active = 0;
  for (const auto& w : workers_) active += w->activeSessions();
  if (active == 0 || reactor_.now() >= drain_deadline_) {
    if (active) spdlog::warn("drain time over: closing {} connection(s)", active);
    for (auto& w : workers_) w->closeAll();
    reactor_.stop();
    return;
  }
  drain_timer_.arm(std::chrono::milliseconds(50));
}

void Server::shutdown() {
  for (auto& w : workers_) w->stopAndJoin();
  dns_.reset();
  spdlog::info("weft-proxy exiting");
}

}  // namespace weft::proxy::server
