#include "proxy/upstream/worker_cluster.h"

#include <algorithm>
#include <cmath>

namespace weft::proxy::upstream {

WorkerCluster::WorkerCluster(std::shared_ptr<const ClusterConfig> config, std::shared_ptr<const HostSet> hosts,
                             event::Reactor& reactor, Random& random, Linger linger)
    : config_(std::move(config)),
      reactor_(reactor),
      random_(random),
      linger_(std::move(linger)),
      waiter_poll_(reactor, [this] { servePending(); }),
      idle_timer_(reactor, [this] { closeIdleExpired(); }) {
  updateHosts(hosts ? std::move(hosts) : std::make_shared<const HostSet>());
}

WorkerCluster::~WorkerCluster() {
  mux_pool_.reset();  // its connections account for themselves here
  for (auto& e : idle_) destroy(*e.host, std::move(e.conn));
}

void WorkerCluster::updateHosts(std::shared_ptr<const HostSet> hosts) {
  hosts_ = std::move(hosts);
  priorities_.clear();
  refreshHealth();
  // Idle connections to hosts that left the set are closed; in-flight requests finish.
  for (size_t i = 0; i < idle_.size();) {
    bool present = false;
    for (const auto& h : hosts_->hosts) present |= h->address == idle_[i].host->address;
    if (present || config_->type == ClusterConfig::Type::OriginalDst) {
      ++i;
      continue;
    }
    destroy(*idle_[i].host, std::move(idle_[i].conn));
    idle_.erase(idle_.begin() + static_cast<std::ptrdiff_t>(i));  // keeps the oldest first
  }
}

void WorkerCluster::buildLbSet(LbSet& set, std::shared_ptr<const HostSet> hosts) {
  bool fresh = !set.hosts;
  set.hosts = std::move(hosts);
  size_t n = set.hosts->hosts.size();
  // A new membership starts round robin at a random host, so workers do not move in step.
  if (fresh || set.rr_next >= n) set.rr_next = n == 0 ? 0 : random_.below(n);
  set.rr_current.assign(n, 0);
  set.lr_current.assign(n, 0);
  set.hash.reset();
  if (config_->lb == ClusterConfig::Lb::RingHash) {
    set.hash = buildRingHash(*set.hosts, config_->ring_min_size, config_->ring_max_size);
  } else if (config_->lb == ClusterConfig::Lb::Maglev) {
    set.hash = buildMaglev(*set.hosts, config_->maglev_table_size);
  }
}

void WorkerCluster::refreshHealth() {
  health_generation_ = health::generation().load(std::memory_order_acquire);
  const uint32_t n = hosts_->priorities;
  std::vector<std::vector<std::shared_ptr<const Host>>> all(n), healthy(n);
  for (const auto& h : hosts_->hosts) {
    all[h->priority].push_back(h);
    if (h->healthy()) healthy[h->priority].push_back(h);
  }
  std::vector<PriorityCounts> counts(n);
  for (uint32_t p = 0; p < n; ++p) {
    counts[p] = {static_cast<uint32_t>(all[p].size()), static_cast<uint32_t>(healthy[p].size())};
  }
  priority_load_ = computePriorityLoad(counts, hosts_->overprovisioning_factor, config_->healthy_panic_threshold);
  priorities_.resize(n);
  for (uint32_t p = 0; p < n; ++p) {
    PriorityLb& pr = priorities_[p];
    pr.panic = priority_load_.panic[p];
    bool everyone = pr.panic || healthy[p].size() == all[p].size();
    if (everyone && n == 1) {
      buildLbSet(pr.set, hosts_);  // the common case: no copy
    } else {
      buildLbSet(pr.set, makeHostSet(everyone ? all[p] : healthy[p]));
    }
    pr.localities.clear();
    if (config_->locality_weighted && !pr.panic) buildLocalities(pr, p, all[p]);
  }
}

// Envoy's locality-weighted balancing: each locality of the priority gets its weight times
// its healthy share (times the overprovisioning factor, at most 1).
void WorkerCluster::buildLocalities(PriorityLb& pr, uint32_t priority,
                                    const std::vector<std::shared_ptr<const Host>>& all) {
  std::vector<std::string_view> names;
  std::vector<std::vector<std::shared_ptr<const Host>>> members, healthy;
  for (const auto& h : all) {
    size_t i = std::find(names.begin(), names.end(), h->locality) - names.begin();
    if (i == names.size()) {
      names.push_back(h->locality);
      members.emplace_back();
      healthy.emplace_back();
    }
    members[i].push_back(h);
    if (h->healthy()) healthy[i].push_back(h);
  }
  double total = 0;
  pr.locality_weight.assign(names.size(), 0);
  pr.locality_current.assign(names.size(), 0);
  pr.localities.resize(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    uint32_t weight = 0;
    for (const auto& lw : hosts_->locality_weights) {
      if (lw.priority == priority && lw.locality == names[i]) weight = lw.weight;
    }
    pr.locality_weight[i] =
        effectiveLocalityWeight(weight, static_cast<uint32_t>(healthy[i].size()),
                                static_cast<uint32_t>(members[i].size()), hosts_->overprovisioning_factor);
    total += pr.locality_weight[i];
    buildLbSet(pr.localities[i], makeHostSet(std::move(healthy[i])));
  }
  // No locality can take load: pick among the priority's healthy hosts, as Envoy falls back.
  if (total <= 0) pr.localities.clear();
}

WorkerCluster::LbSet& WorkerCluster::pickLocality(PriorityLb& pr) {
  size_t best = 0;
  double total = 0;
  for (size_t i = 0; i < pr.localities.size(); ++i) {
    total += pr.locality_weight[i];
    pr.locality_current[i] += pr.locality_weight[i];
    if (pr.locality_current[i] > pr.locality_current[best]) best = i;
  }
  pr.locality_current[best] -= total;
  return pr.localities[best];
}

const std::shared_ptr<const Host>& WorkerCluster::pickRoundRobin(LbSet& set) {
  const auto& hosts = set.hosts->hosts;
  if (set.hosts->equal_weights) return hosts[set.rr_next++ % hosts.size()];
  // Smooth weighted round robin: every pick adds each weight, takes the largest and
  // subtracts the total, which interleaves hosts in proportion to their weights.
  size_t best = 0;
  for (size_t i = 0; i < hosts.size(); ++i) {
    set.rr_current[i] += hosts[i]->weight;
    if (set.rr_current[i] > set.rr_current[best]) best = i;
  }
  set.rr_current[best] -= static_cast<int64_t>(set.hosts->total_weight);
  return hosts[best];
}

// Envoy's LEAST_REQUEST with requests in flight counted across every worker: equal weights,
// the least loaded of choice_count random hosts; unequal weights, weighted round robin on
// weight / (active + 1)^active_request_bias.
const std::shared_ptr<const Host>& WorkerCluster::pickLeastRequest(LbSet& set) {
  const auto& hosts = set.hosts->hosts;
  auto active = [](const Host& h) { return h.stats->gaugeValue(HostStats::rq_active); };
  if (set.hosts->equal_weights) {
    const std::shared_ptr<const Host>* best = &hosts[random_.below(hosts.size())];
    int64_t best_active = active(**best);
    for (uint32_t i = 1; i < config_->lr_choice_count; ++i) {
      const auto& c = hosts[random_.below(hosts.size())];
      int64_t a = active(*c);
      if (a < best_active) {
        best = &c;
        best_active = a;
      }
    }
    return *best;
  }
  double bias = config_->lr_active_request_bias;
  double total = 0;
  size_t best = 0;
  for (size_t i = 0; i < hosts.size(); ++i) {
    double a = static_cast<double>(std::max<int64_t>(0, active(*hosts[i])));
    double w = hosts[i]->weight / (bias == 1.0 ? a + 1 : std::pow(a + 1, bias));
    total += w;
    set.lr_current[i] += w;
    if (set.lr_current[i] > set.lr_current[best]) best = i;
  }
  set.lr_current[best] -= total;
  return hosts[best];
}

const std::shared_ptr<const Host>& WorkerCluster::pickWeightedRandom(LbSet& set) {
  const auto& hosts = set.hosts->hosts;
  if (set.hosts->equal_weights) return hosts[random_.below(hosts.size())];
  uint64_t r = random_.below(set.hosts->total_weight);
  for (const auto& h : hosts) {
    if (r < h->weight) return h;
    r -= h->weight;
  }
  return hosts.back();
}

std::shared_ptr<const Host> WorkerCluster::chooseHost(const net::Address* original_dst, std::string_view override_host,
                                                      std::optional<uint64_t> hash, uint32_t attempt,
                                                      uint64_t excluded_priorities) {
  if (config_->type == ClusterConfig::Type::OriginalDst) {
    std::optional<net::Address> addr;
    if (!override_host.empty()) {
      auto colon = override_host.rfind(':');
      if (colon != std::string_view::npos) {
        std::string_view ip = override_host.substr(0, colon);
        if (ip.size() > 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
        int port = 0;
        for (char c : override_host.substr(colon + 1))
          port = (c >= '0' && c <= '9' && port < 65536) ? port * 10 + (c - '0') : 70000;
        if (port > 0 && port < 65536) addr = net::Address::parse(ip, static_cast<uint16_t>(port));
      }
    } else if (original_dst != nullptr) {
      addr = *original_dst;
    }
    if (!addr) return nullptr;
    std::string key = addr->toString();
    auto it = original_dst_hosts_.find(key);
    if (it != original_dst_hosts_.end()) return it->second;
    auto host = makeHost(*addr, 1, config_->name, "", config_->stat_rows);
    original_dst_hosts_.emplace(key, host);
    return host;
  }
  if (health::generation().load(std::memory_order_relaxed) != health_generation_) refreshHealth();
  if (hosts_->hosts.empty()) return nullptr;
  PriorityLb* pr = &priorities_[0];
  if (priorities_.size() > 1) {
    // Consistent hashing picks the priority from the request's hash too, as Envoy's.
    uint64_t value = config_->consistentHash() && hash ? *hash : random_.next();
    std::vector<uint32_t> adjusted;
    bool use_adjusted =
        excluded_priorities != 0 && excludePriorities(priority_load_.health, excluded_priorities, adjusted);
    pr = &priorities_[choosePriority(use_adjusted ? adjusted : priority_load_.load, value)];
  }
  if (pr->panic) config_->stats->inc(ClusterStats::lb_healthy_panic);
  LbSet& set = pr->localities.empty() ? pr->set : pickLocality(*pr);
  if (set.hosts->hosts.empty()) return nullptr;
  switch (config_->lb) {
    case ClusterConfig::Lb::RoundRobin:
      return pickRoundRobin(set);
    case ClusterConfig::Lb::Random:
      return pickWeightedRandom(set);
    case ClusterConfig::Lb::LeastRequest:
      return pickLeastRequest(set);
    case ClusterConfig::Lb::RingHash:
    case ClusterConfig::Lb::Maglev:
      return set.hosts->hosts[set.hash->pick(hash ? *hash : random_.next(), attempt)];
    case ClusterConfig::Lb::ClusterProvided:
      return nullptr;
  }
  return nullptr;
}

std::optional<bool> WorkerCluster::knownHttp2(const Host& host) const {
  auto it = alpn_h2_.find(host.address_string);
  if (it == alpn_h2_.end()) return std::nullopt;
  return it->second;
}

std::unique_ptr<net::Connection> WorkerCluster::takeIdle(const Host& host, std::string_view server_name) {
  // Most recently used first: it is the least likely to have been closed by the peer.
  for (size_t i = idle_.size(); i-- > 0;) {
    if ((idle_[i].host.get() == &host || idle_[i].host->address == host.address) &&
        idle_[i].conn->tlsServerName() == server_name && !tooOld(*idle_[i].conn)) {
      auto conn = std::move(idle_[i].conn);
      idle_.erase(idle_.begin() + static_cast<std::ptrdiff_t>(i));
      conn->setCallbacks(nullptr);
      return conn;
    }
  }
  return nullptr;
}

bool WorkerCluster::tooOld(const net::Connection& conn) const {
  if (config_->max_connection_duration.count() <= 0) return false;
  auto it = served_.find(&conn);
  return it != served_.end() && reactor_.now() - it->second.born >= config_->max_connection_duration;
}

void WorkerCluster::releaseIdle(std::shared_ptr<const Host> host, std::unique_ptr<net::Connection> conn) {
  uint32_t max = config_->max_requests_per_connection;
  if (max > 0 && ++served_[conn.get()].served >= max) {
    config_->stats->inc(ClusterStats::upstream_cx_max_requests);
    destroy(*host, std::move(conn));
    return;
  }
  if (tooOld(*conn)) {
    config_->stats->inc(ClusterStats::upstream_cx_max_duration_reached);
    destroy(*host, std::move(conn));
    return;
  }
  conn->setCallbacks(this);
  idle_.push_back({std::move(host), std::move(conn), reactor_.now()});
  armIdleTimer();
  servePending();
}

// The next time an idle connection must close: its idle_timeout, or its max_connection_duration.
void WorkerCluster::armIdleTimer() {
  // A newer idle connection never moves the oldest's idle deadline: keep the armed timer (a
  // re-arm per request would be a timer update per keep-alive request).
  if (config_->max_connection_duration.count() <= 0 && idle_timer_.armed()) return;
  auto next = event::TimePoint::max();
  if (config_->idle_timeout.count() > 0 && !idle_.empty()) next = idle_.front().since + config_->idle_timeout;
  if (config_->max_connection_duration.count() > 0) {
    for (const auto& e : idle_) {
      auto it = served_.find(e.conn.get());
      if (it != served_.end()) next = std::min(next, it->second.born + config_->max_connection_duration);
    }
  }
  if (next == event::TimePoint::max()) {
    idle_timer_.disarm();
  } else {
    idle_timer_.armAt(next);
  }
}

void WorkerCluster::closeIdleExpired() {
  auto now = reactor_.now();
  for (size_t i = 0; i < idle_.size();) {
    bool idle_expired = config_->idle_timeout.count() > 0 && now - idle_[i].since >= config_->idle_timeout;
    bool too_old = !idle_expired && tooOld(*idle_[i].conn);
    if (!idle_expired && !too_old) {
      ++i;
      continue;
    }
    IdleEntry e = std::move(idle_[i]);
    idle_.erase(idle_.begin() + static_cast<std::ptrdiff_t>(i));  // keeps the oldest first
    config_->stats->inc(idle_expired ? ClusterStats::upstream_cx_idle_timeout
                                     : ClusterStats::upstream_cx_max_duration_reached);
    destroy(*e.host, std::move(e.conn));
  }
  // At the next exact expiry: a deadline rounded down would fire again at once, unexpired.
  armIdleTimer();
}

bool WorkerCluster::canConnect(const Host& host, std::string_view server_name) {
  if (!limits().connections.canCreate()) return false;
  if (!limits().limitsPools() || limits().connection_pools.canCreate()) return true;
  if (pool_conns_.count(host.address_string + "|" + std::string(server_name))) return true;  // its pool is open
  config_->stats->inc(ClusterStats::upstream_cx_pool_overflow);
  return false;
}

bool WorkerCluster::connectionAvailable(const Host& host) {
  if (canConnect(host, {})) return true;
  for (const auto& e : idle_) {
    if (e.host.get() == &host || e.host->address == host.address) return true;
  }
  return false;
}

void WorkerCluster::addWaiter(ConnectionWaiter* w) {
  waiters_.push_back(w);
  if (!waiter_poll_.armed()) waiter_poll_.arm(std::chrono::milliseconds(20));
}

void WorkerCluster::removeWaiter(ConnectionWaiter* w) {
  for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
    if (*it == w) {
      waiters_.erase(it);
      break;
    }
  }
  if (waiters_.empty()) waiter_poll_.disarm();
}

void WorkerCluster::servePending() {
  if (serving_) return;
  serving_ = true;
  while (!waiters_.empty()) {
    ConnectionWaiter* w = waiters_.front();
    if (!connectionAvailable(w->waitingFor())) {
      if (idle_.empty()) break;
      // Only idle connections to other hosts hold the slots: close the oldest for this one.
      IdleEntry e = std::move(idle_.front());
      idle_.erase(idle_.begin());
      destroy(*e.host, std::move(e.conn));
      continue;
    }
    waiters_.pop_front();
    w->onConnectionAvailable();
  }
  serving_ = false;
  if (waiters_.empty()) {
    waiter_poll_.disarm();
  } else if (!waiter_poll_.armed()) {
    waiter_poll_.arm(std::chrono::milliseconds(20));
  }
}

std::unique_ptr<net::Connection> WorkerCluster::connect(const Host& host, std::string_view server_name) {
  config_->limits->connections.acquire();
  config_->stats->inc(ClusterStats::upstream_cx_total);
  bool track = config_->max_requests_per_connection > 0 || config_->max_connection_duration.count() > 0;
  config_->stats->inc(ClusterStats::upstream_cx_active);
  host.stats->inc(HostStats::cx_total);
  host.stats->inc(HostStats::cx_active);
  auto conn = net::Connection::connect(reactor_, host.address, config_->bind_source ? &*config_->bind_source : nullptr);
  conn->setReadLimit(config_->buffer_limit);
  conn->setWriteLimit(config_->buffer_limit);
  if (const auto& k = config_->tcp_keepalive) conn->setTcpKeepalive(k->probes, k->time, k->interval);
  if (const auto& f = config_->cx_connect_ms) {
    conn->onConnectTime([f, series = f->series(config_->name)](std::chrono::nanoseconds d) {
      f->observe(series, std::chrono::duration<double, std::milli>(d).count());
    });
  }
  if (const auto* tls = config_->tlsFor(host))
    conn->startTls(tls->current(), std::string(server_name), config_->auto_san_validation);
  if (track) served_[conn.get()] = {0, reactor_.now()};
  if (limits().limitsPools()) {
    std::string key = host.address_string + "|" + std::string(server_name);
    if (pool_conns_[key]++ == 0) limits().connection_pools.acquire();
    conn_pool_[conn.get()] = std::move(key);
  }
  return conn;
}

void WorkerCluster::dropIdle(net::Connection& conn) {
  for (size_t i = 0; i < idle_.size(); ++i) {
    if (idle_[i].conn.get() != &conn) continue;
    destroy(*idle_[i].host, std::move(idle_[i].conn));
    idle_.erase(idle_.begin() + static_cast<std::ptrdiff_t>(i));
    return;
  }
}

void WorkerCluster::destroy(const Host& host, std::unique_ptr<net::Connection> conn) {
  if (!conn) return;
  if (!served_.empty()) served_.erase(conn.get());
  if (auto it = conn_pool_.find(conn.get()); it != conn_pool_.end()) {
    if (--pool_conns_[it->second] == 0) {
      pool_conns_.erase(it->second);
      limits().connection_pools.release();
    }
    conn_pool_.erase(it);
  }
  config_->limits->connections.release();
  config_->stats->dec(ClusterStats::upstream_cx_active);
  config_->stats->inc(ClusterStats::upstream_cx_destroy);
  config_->stats->add(ClusterStats::upstream_cx_rx_bytes_total, conn->bytesRead());
  config_->stats->add(ClusterStats::upstream_cx_tx_bytes_total, conn->bytesWritten());
  host.stats->dec(HostStats::cx_active);
  conn->setCallbacks(nullptr);
  if (!conn->closed() && !conn->output().empty() && linger_) {
    conn->close(net::Connection::CloseMode::FlushWrite);
    linger_(std::move(conn));
  } else {
    conn->close();
    reactor_.deferDelete(std::move(conn));
  }
  if (!waiters_.empty()) servePending();
}

}  // namespace weft::proxy::upstream
