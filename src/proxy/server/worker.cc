#include "proxy/server/worker.h"

#include <ctime>
#include <unordered_set>

#include "proxy/server/listener_socket.h"

namespace weft::proxy::server {

// Holds connections that are closing with bytes still to write, until the kernel took
// them (or 5 s passed), so a response is never cut short because its session ended.
class Worker::Lingerer : public net::ConnectionCallbacks {
 public:
  explicit Lingerer(event::Reactor& reactor) : reactor_(reactor), timer_(reactor, [this] { expire(); }) {}
  ~Lingerer() override {
    for (auto& [c, deadline] : conns_) {
      c->setCallbacks(nullptr);
      c->close();
      delete c;
    }
  }
  // A FIN goes after the last byte; then what the peer still sends is read and dropped until
  // it closes too (or 5 s pass). Closing with unread input would make the kernel answer with
  // RST, and an RST can make the peer discard our last bytes (a GOAWAY, a 400) unread.
  void add(std::unique_ptr<net::Connection> conn) {
    if (conn->closed()) {
      reactor_.deferDelete(std::move(conn));
      return;
    }
    net::Connection* c = conn.release();
    conns_.emplace_back(c, reactor_.now() + std::chrono::seconds(5));
    if (!timer_.armed()) timer_.arm(std::chrono::seconds(1));
    c->setCallbacks(this);
    c->input().clear();
    c->shutdownWrite();
    c->flush();
    c->readDisable(false);
  }
  void onData(net::Connection& c) override { c.input().clear(); }
  void onEvent(net::Connection& c, net::ConnectionEvent event) override {
    if (c.closed() || (event == net::ConnectionEvent::RemoteHalfClosed && c.output().empty())) remove(&c);
  }

 private:
  void remove(net::Connection* c) {
    for (size_t i = 0; i < conns_.size(); ++i) {
      if (conns_[i].first == c) {
        c->setCallbacks(nullptr);
        reactor_.deferDelete(std::unique_ptr<net::Connection>(c));
        conns_[i] = conns_.back();
        conns_.pop_back();
        return;
      }
    }
  }
  void expire() {
    auto now = reactor_.now();
    for (size_t i = 0; i < conns_.size();) {
      if (conns_[i].second <= now || conns_[i].first->closed()) {
        auto* c = conns_[i].first;
        c->setCallbacks(nullptr);
        c->close();
        reactor_.deferDelete(std::unique_ptr<net::Connection>(c));
        conns_[i] = conns_.back();
        conns_.pop_back();
      } else {
        ++i;
      }
    }
    if (!conns_.empty()) timer_.arm(std::chrono::seconds(1));
  }

  event::Reactor& reactor_;
  event::Timer timer_;
  std::vector<std::pair<net::Connection*, event::TimePoint>> conns_;
};

Worker::Worker(uint32_t index, ServerState& state)
    : index_(index),
      state_(state),
      random_(static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^ (index * 0x9e37ULL)),
      runtime_(std::make_shared<runtime::Snapshot>()),
      log_timer_(reactor_, [this] { flushLogs(); }),
      lingerer_(std::make_unique<Lingerer>(reactor_)) {}

Worker::~Worker() { stopAndJoin(); }

void Worker::start() {
  thread_ = std::thread([this] { run(); });
}

void Worker::run() {
  stats::tls_row = index_;
  reactor_.run();
  // Shutting down: whatever is left is closed here, on the worker's own thread.
  while (sessions_ != nullptr) {
    network::ActiveSession* s = sessions_;
    s->closeNow();
    if (sessions_ == s) removeSession(s);  // a session that did not unlink itself
  }
  reactor_.runDeferredDeletes();
  listeners_.clear();
  clusters_.clear();
  flushLogs();
  lingerer_.reset();
  reactor_.runDeferredDeletes();
}

void Worker::stopAndJoin() {
  if (!thread_.joinable()) return;
  reactor_.stop();
  thread_.join();
}

void Worker::applySnapshot(std::shared_ptr<const Snapshot> snapshot) {
  reactor_.post([this, snapshot] {
    snapshot_ = snapshot;
    // Keep the accept socket of a listener whose config is unchanged; re-register the same
    // socket under a changed config (connections accepted so far keep the old one).
    std::vector<std::unique_ptr<ListenerSocket>> next_listeners;
    for (const auto& l : snapshot->listeners) {
      if (!l.sockets || index_ >= l.sockets->fds.size()) continue;
      std::unique_ptr<ListenerSocket> kept;
      for (auto& old : listeners_) {
        if (old && old->sockets() == l.sockets && &old->config() == l.config.get()) kept = std::move(old);
      }
      if (kept) {
        next_listeners.push_back(std::move(kept));
        continue;
      }
      for (auto& old : listeners_) {
        if (old && old->sockets() == l.sockets) old.reset();  // unregisters the fd before re-adding
      }
      if (!draining_) next_listeners.push_back(std::make_unique<ListenerSocket>(*this, l.config, l.sockets));
    }
    listeners_ = std::move(next_listeners);
    // Connections of a listener that was replaced or removed finish what they are doing and
    // close (HTTP: after the current response, with "connection: close"); new connections
    // get the new config.
    std::unordered_set<const void*> current;
    for (const auto& l : snapshot->listeners) current.insert(l.config.get());
    for (network::ActiveSession* s = sessions_; s != nullptr;) {
      network::ActiveSession* next = s->next_session;
      if (s->listener != nullptr && current.count(s->listener) == 0) s->drain();
      s = next;
    }
    decltype(clusters_) next;
    for (const auto& [name, config] : snapshot->clusters) {
      auto it = clusters_.find(name);
      if (it != clusters_.end() && it->second->configPtr() == config) {
        auto h = snapshot->hosts.find(name);
        if (h != snapshot->hosts.end() && h->second != it->second->hostsPtr()) it->second->updateHosts(h->second);
        next.emplace(name, std::move(it->second));
        continue;
      }
      std::shared_ptr<const upstream::HostSet> hosts = config->static_hosts;
      auto h = snapshot->hosts.find(name);
      if (h != snapshot->hosts.end()) hosts = h->second;
      next.emplace(name, std::make_shared<upstream::WorkerCluster>(
                             config, hosts, reactor_, random_,
                             [this](std::unique_ptr<net::Connection> c) { lingerClose(std::move(c)); }));
    }
    clusters_.swap(next);
    // HIGH views follow their cluster: dropped with it or when its config changed, new hosts else.
    for (auto it = high_clusters_.begin(); it != high_clusters_.end();) {
      auto c = clusters_.find(it->first);
      if (c == clusters_.end() || it->second->configPtr() != c->second->config().high_priority) {
        it = high_clusters_.erase(it);
        continue;
      }
      if (it->second->hostsPtr() != c->second->hostsPtr()) it->second->updateHosts(c->second->hostsPtr());
      ++it;
    }
  });
}

void Worker::updateRuntime(std::shared_ptr<const runtime::Snapshot> runtime) {
  reactor_.post([this, runtime] { runtime_ = runtime; });
}

void Worker::updateHosts(const std::string& cluster, std::shared_ptr<const upstream::HostSet> hosts) {
  reactor_.post([this, cluster, hosts] {
    auto it = clusters_.find(cluster);
    if (it != clusters_.end()) it->second->updateHosts(hosts);
    auto h = high_clusters_.find(cluster);
    if (h != high_clusters_.end()) h->second->updateHosts(hosts);
  });
}

void Worker::drain() {
  reactor_.post([this] {
    draining_ = true;
    for (auto& l : listeners_) l->close();
    // drain() may unlink the session; walk with the next pointer taken first.
    for (network::ActiveSession* s = sessions_; s != nullptr;) {
      network::ActiveSession* next = s->next_session;
      s->drain();
      s = next;
    }
  });
}

void Worker::drainInbound() {
  reactor_.post([this] {
    std::unordered_set<const void*> inbound;
    for (auto& l : listeners_) {
      if (l->config().source.traffic_direction() != envoy::config::core::v3::INBOUND) continue;
      inbound.insert(&l->config());
      l->close(true);
    }
    for (network::ActiveSession* s = sessions_; s != nullptr;) {
      network::ActiveSession* next = s->next_session;
      if (inbound.count(s->listener)) s->drain();
      s = next;
    }
  });
}

void Worker::closeAll() {
  reactor_.post([this] {
    for (network::ActiveSession* s = sessions_; s != nullptr;) {
      network::ActiveSession* next = s->next_session;
      s->closeNow();
      s = next;
    }
  });
}

std::shared_ptr<upstream::WorkerCluster> Worker::cluster(std::string_view name, bool high) {
  auto it = clusters_.find(name);
  if (it == clusters_.end()) return nullptr;
  if (!high) return it->second;
  auto h = high_clusters_.find(name);
  if (h != high_clusters_.end() && h->second->configPtr() == it->second->config().high_priority) return h->second;
  auto made = std::make_shared<upstream::WorkerCluster>(
      it->second->config().high_priority, it->second->hostsPtr(), reactor_, random_,
      [this](std::unique_ptr<net::Connection> c) { lingerClose(std::move(c)); });
  high_clusters_[std::string(name)] = made;
  return made;
}

std::shared_ptr<const http::RouteTable> Worker::routeTable(const std::string& name) const {
  if (!snapshot_) return nullptr;
  auto it = snapshot_->routes.find(name);
  return it == snapshot_->routes.end() ? nullptr : it->second;
}

std::shared_ptr<const network::ListenerConfig> Worker::listenerForAddress(const net::Address& addr) const {
  if (!snapshot_) return nullptr;
  std::shared_ptr<const network::ListenerConfig> wildcard;
  for (const auto& l : snapshot_->listeners) {
    const net::Address& a = l.config->address;
    if (a.port() != addr.port() || a.family() != addr.family()) continue;
    if (a.ip() == addr.ip()) return l.config;
    if (!wildcard && a.isAnyAddress()) wildcard = l.config;
  }
  return wildcard;
}

std::string_view Worker::httpDate() {
  time_t now = time(nullptr);
  if (now != date_second_) {
    date_second_ = now;
    tm t{};
    gmtime_r(&now, &t);
    char buf[64];
    size_t n = strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &t);
    date_.assign(buf, n);
  }
  return date_;
}

void Worker::addSession(network::ActiveSession* s) {
  s->prev_session = nullptr;
  s->next_session = sessions_;
  if (sessions_) sessions_->prev_session = s;
  sessions_ = s;
  session_count_.fetch_add(1, std::memory_order_relaxed);
}

void Worker::removeSession(network::ActiveSession* s) {
  if (s->prev_session) s->prev_session->next_session = s->next_session;
  if (s->next_session) s->next_session->prev_session = s->prev_session;
  if (sessions_ == s) sessions_ = s->next_session;
  s->prev_session = s->next_session = nullptr;
  session_count_.fetch_sub(1, std::memory_order_relaxed);
  reactor_.deferDelete(std::unique_ptr<event::Deferrable>(s));
}

void Worker::lingerClose(std::unique_ptr<net::Connection> conn) { lingerer_->add(std::move(conn)); }

void Worker::writeAccessLog(const access_log::AccessLogger& logger, const StreamInfo& info) {
  if (!logger.accepts(info)) return;
  log_line_.clear();
  logger.formatter().format(info, log_line_);
  if (logger.sink().append(log_line_)) dirty_logs_.push_back(logger.sinkPtr());
  if (logger.sink().rowNeedsFlushNow()) {
    logger.sink().flushRow();
  } else if (!log_timer_.armed()) {
    log_timer_.arm(std::chrono::milliseconds(100));
  }
}

void Worker::flushLogs() {
  for (auto& sink : dirty_logs_) sink->flushRow();
  dirty_logs_.clear();
}

}  // namespace weft::proxy::server
