#include "proxy/upstream/worker_cluster.h"

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
  refreshHealth();
  rr_next_ = lb_hosts_->hosts.empty() ? 0 : random_.below(lb_hosts_->hosts.size());
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

void WorkerCluster::refreshHealth() {
  health_generation_ = health::generation().load(std::memory_order_acquire);
  std::vector<std::shared_ptr<const Host>> healthy;
  for (const auto& h : hosts_->hosts) {
    if (h->healthy()) healthy.push_back(h);
  }
  panic_ = false;
  if (healthy.size() == hosts_->hosts.size()) {
    lb_hosts_ = hosts_;
  } else if (100.0 * static_cast<double>(healthy.size()) <
             config_->healthy_panic_threshold * static_cast<double>(hosts_->hosts.size())) {
    panic_ = true;
    lb_hosts_ = hosts_;
  } else {
    lb_hosts_ = makeHostSet(std::move(healthy));
  }
  rr_current_.assign(lb_hosts_->hosts.size(), 0);
  lr_current_.assign(lb_hosts_->hosts.size(), 0);
  if (config_->lb == ClusterConfig::Lb::RingHash) {
    hash_table_ = buildRingHash(*lb_hosts_, config_->ring_min_size, config_->ring_max_size);
  } else if (config_->lb == ClusterConfig::Lb::Maglev) {
    hash_table_ = buildMaglev(*lb_hosts_, config_->maglev_table_size);
  }
}

const std::shared_ptr<const Host>& WorkerCluster::pickRoundRobin() {
  const auto& hosts = lb_hosts_->hosts;
  if (lb_hosts_->equal_weights) return hosts[rr_next_++ % hosts.size()];
  // Smooth weighted round robin: every pick adds each weight, takes the largest and
  // subtracts the total, which interleaves hosts in proportion to their weights.
  size_t best = 0;
  for (size_t i = 0; i < hosts.size(); ++i) {
    rr_current_[i] += hosts[i]->weight;
    if (rr_current_[i] > rr_current_[best]) best = i;
  }
  rr_current_[best] -= static_cast<int64_t>(lb_hosts_->total_weight);
  return hosts[best];
}

// Envoy's LEAST_REQUEST with requests in flight counted across every worker: equal weights,
// the least loaded of choice_count random hosts; unequal weights, weighted round robin on
// weight / (active + 1)^active_request_bias.
const std::shared_ptr<const Host>& WorkerCluster::pickLeastRequest() {
  const auto& hosts = lb_hosts_->hosts;
  auto active = [](const Host& h) { return h.stats->gaugeValue(HostStats::rq_active); };
  if (lb_hosts_->equal_weights) {
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
  lr_current_.resize(hosts.size(), 0);
  for (size_t i = 0; i < hosts.size(); ++i) {
    double a = static_cast<double>(std::max<int64_t>(0, active(*hosts[i])));
    double w = hosts[i]->weight / (bias == 1.0 ? a + 1 : std::pow(a + 1, bias));
    total += w;
    lr_current_[i] += w;
    if (lr_current_[i] > lr_current_[best]) best = i;
  }
  lr_current_[best] -= total;
  return hosts[best];
}

const std::shared_ptr<const Host>& WorkerCluster::pickWeightedRandom() {
  const auto& hosts = lb_hosts_->hosts;
  if (lb_hosts_->equal_weights) return hosts[random_.below(hosts.size())];
  uint64_t r = random_.below(lb_hosts_->total_weight);
  for (const auto& h : hosts) {
    if (r < h->weight) return h;
    r -= h->weight;
  }
  return hosts.back();
}

std::shared_ptr<const Host> WorkerCluster::chooseHost(const net::Address* original_dst, std::string_view override_host,
                                                      std::optional<uint64_t> hash, uint32_t attempt) {
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
  if (lb_hosts_->hosts.empty()) return nullptr;
  if (panic_) config_->stats->inc(ClusterStats::lb_healthy_panic);
  switch (config_->lb) {
    case ClusterConfig::Lb::RoundRobin:
      return pickRoundRobin();
    case ClusterConfig::Lb::Random:
      return pickWeightedRandom();
    case ClusterConfig::Lb::LeastRequest:
      return pickLeastRequest();
    case ClusterConfig::Lb::RingHash:
    case ClusterConfig::Lb::Maglev:
      return lb_hosts_->hosts[hash_table_->pick(hash ? *hash : random_.next(), attempt)];
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
        idle_[i].conn->tlsServerName() == server_name) {
      auto conn = std::move(idle_[i].conn);
      idle_.erase(idle_.begin() + static_cast<std::ptrdiff_t>(i));
      conn->setCallbacks(nullptr);
      return conn;
    }
  }
  return nullptr;
}

void WorkerCluster::releaseIdle(std::shared_ptr<const Host> host, std::unique_ptr<net::Connection> conn) {
  uint32_t max = config_->max_requests_per_connection;
  if (max > 0 && ++served_[conn.get()] >= max) {
    config_->stats->inc(ClusterStats::upstream_cx_max_requests);
    destroy(*host, std::move(conn));
    return;
  }
  conn->setCallbacks(this);
  idle_.push_back({std::move(host), std::move(conn), reactor_.now()});
  if (config_->idle_timeout.count() > 0 && !idle_timer_.armed()) idle_timer_.arm(config_->idle_timeout);
  servePending();
}

void WorkerCluster::closeIdleExpired() {
  auto now = reactor_.now();
  while (!idle_.empty() && now - idle_.front().since >= config_->idle_timeout) {
    IdleEntry e = std::move(idle_.front());
    idle_.erase(idle_.begin());
    config_->stats->inc(ClusterStats::upstream_cx_idle_timeout);
    destroy(*e.host, std::move(e.conn));
  }
  // At the oldest's exact expiry: a deadline rounded down would fire again at once, unexpired.
  if (!idle_.empty()) idle_timer_.armAt(idle_.front().since + config_->idle_timeout);
}

bool WorkerCluster::connectionAvailable(const Host& host) const {
  if (limits().connections.canCreate()) return true;
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
  config_->stats->inc(ClusterStats::upstream_cx_active);
  host.stats->inc(HostStats::cx_total);
  host.stats->inc(HostStats::cx_active);
  auto conn = net::Connection::connect(reactor_, host.address, config_->bind_source ? &*config_->bind_source : nullptr);
  conn->setReadLimit(config_->buffer_limit);
  conn->setWriteLimit(config_->buffer_limit);
  if (const auto& k = config_->tcp_keepalive) conn->setTcpKeepalive(k->probes, k->time, k->interval);
  if (config_->tls) conn->startTls(config_->tls, std::string(server_name), config_->auto_san_validation);
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
