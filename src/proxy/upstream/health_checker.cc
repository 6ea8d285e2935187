#include "proxy/upstream/health_checker.h"

#include <charconv>

#include "common/config/error.h"
#include "common/strings.h"
#include "proxy/upstream/grpc_health_probe.h"

namespace weft::proxy::upstream {

using std::chrono::milliseconds;
namespace cv3 = envoy::config::core::v3;

namespace {
std::string fromHex(const std::string& hex, const std::string& path) {
  if (hex.size() % 2 != 0) throw ConfigError(path + ": '" + hex + "' is not hex (an odd number of digits)");
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(hex.data() + i, hex.data() + i + 2, v, 16);
    if (ec != std::errc() || p != hex.data() + i + 2) throw ConfigError(path + ": '" + hex + "' is not hex");
    out.push_back(static_cast<char>(v));
  }
  return out;
}
}  // namespace

std::shared_ptr<const HealthCheckConfig> HealthCheckConfig::compile(const cv3::HealthCheck& hc,
                                                                    const std::string& path) {
  auto c = std::make_shared<HealthCheckConfig>();
  if (!hc.has_timeout() || !hc.has_interval()) throw ConfigError(path + ": timeout and interval are required");
  if (!hc.has_unhealthy_threshold() || !hc.has_healthy_threshold()) {
    throw ConfigError(path + ": unhealthy_threshold and healthy_threshold are required");
  }
  c->timeout = weft::toMillis(hc.timeout());
  c->interval = weft::toMillis(hc.interval());
  if (c->timeout.count() <= 0) throw ConfigError(path + ".timeout: must be greater than 0");
  if (c->interval.count() <= 0) throw ConfigError(path + ".interval: must be greater than 0");
  if (hc.has_interval_jitter()) c->interval_jitter = weft::toMillis(hc.interval_jitter());
  if (hc.has_initial_jitter()) c->initial_jitter = weft::toMillis(hc.initial_jitter());
  if (hc.has_no_traffic_interval()) c->no_traffic_interval = weft::toMillis(hc.no_traffic_interval());
  if (c->no_traffic_interval.count() <= 0) throw ConfigError(path + ".no_traffic_interval: must be greater than 0");
  c->interval_jitter_percent = hc.interval_jitter_percent();
  c->unhealthy_threshold = std::max<uint32_t>(1, hc.unhealthy_threshold().value());
  c->healthy_threshold = std::max<uint32_t>(1, hc.healthy_threshold().value());
  switch (hc.health_checker_case()) {
    case cv3::HealthCheck::kHttpHealthCheck: {
      const auto& h = hc.http_health_check();
      c->kind = Kind::Http;
      c->path = h.path();
      if (c->path.empty() || c->path[0] != '/') throw ConfigError(path + ".http_health_check.path: must start with /");
      c->host = h.host();
      if (h.expected_statuses_size() > 0) c->expected_statuses.clear();
      for (int i = 0; i < h.expected_statuses_size(); ++i) {
        const auto& r = h.expected_statuses(i);
        if (r.start() < 100 || r.end() > 600 || r.start() >= r.end()) {
          throw ConfigError(path + ".http_health_check.expected_statuses[" + std::to_string(i) +
                            "]: must be a range [start, end) within [100, 600)");
        }
        c->expected_statuses.emplace_back(static_cast<uint32_t>(r.start()), static_cast<uint32_t>(r.end()));
      }
      break;
    }
    case cv3::HealthCheck::kTcpHealthCheck: {
      const auto& t = hc.tcp_health_check();
      c->kind = Kind::Tcp;
      auto payload = [&](const cv3::HealthCheck::Payload& p, const std::string& ppath) {
        if (p.has_binary()) return p.binary();
        return fromHex(p.text(), ppath + ".text");
      };
      if (t.has_send()) c->send = payload(t.send(), path + ".tcp_health_check.send");
      for (int i = 0; i < t.receive_size(); ++i) {
        c->receive.push_back(payload(t.receive(i), path + ".tcp_health_check.receive[" + std::to_string(i) + "]"));
      }
      break;
    }
    case cv3::HealthCheck::kGrpcHealthCheck: {
      const auto& g = hc.grpc_health_check();
      c->kind = Kind::Grpc;
      c->service_name = g.service_name();
      c->host = g.authority();
      break;
    }
    default:
      throw ConfigError(path +
                        ": only http_health_check, tcp_health_check and grpc_health_check are supported by "
                        "weft-proxy");
  }
  return c;
}

// One host's checks: a connection per check (closed after it), the interval and timeout timers,
// and the run of results.
class HealthChecker::Session final : public net::ConnectionCallbacks {
 public:
  Session(HealthChecker& parent, std::shared_ptr<const Host> host)
      : parent_(parent),
        host_(std::move(host)),
        interval_timer_(parent.reactor_, [this] { start(); }),
        timeout_timer_(parent.reactor_, [this] { finish(false, true); }) {}
  ~Session() override { closeConnection(); }

  const Host& host() const { return *host_; }
  uint32_t successes = 0, failures = 0;

  void schedule(milliseconds delay) { interval_timer_.arm(delay); }

  void start() {
    const HealthCheckConfig& c = parent_.config_;
    parent_.stats_->inc(HealthCheckStats::attempt);
    const ClusterConfig& cluster = *parent_.cluster_;
    conn_ = net::Connection::connect(parent_.reactor_, host_->address,
                                     cluster.bind_source ? &*cluster.bind_source : nullptr);
    conn_->setCallbacks(this);
    conn_->setReadLimit(64 * 1024);  // a health answer is small; more is not read
    if (const auto* tls = cluster.tlsFor(*host_)) conn_->startTls(tls->current(), "", false);
    if (c.kind == HealthCheckConfig::Kind::Http) {
      std::string host = c.host.empty() ? cluster.name : c.host;
      conn_->output().append("GET " + c.path + " HTTP/1.1\r\nhost: " + host +
                             "\r\nuser-agent: Envoy/HC\r\nconnection: close\r\n\r\n");
    } else if (c.kind == HealthCheckConfig::Kind::Grpc) {
      grpc_ = std::make_unique<GrpcHealthProbe>(c.host.empty() ? cluster.name : c.host, c.service_name);
      conn_->output().append(grpc_->start());
    } else {
      conn_->output().append(c.send);
    }
    timeout_timer_.arm(c.timeout);
  }

  void onEvent(net::Connection&, net::ConnectionEvent event) override {
    switch (event) {
      case net::ConnectionEvent::Connected:
        // A TCP check without payloads passes once connected.
        if (parent_.config_.kind == HealthCheckConfig::Kind::Tcp && parent_.config_.receive.empty()) {
          finish(true, false);
          return;
        }
        conn_->flush();
        return;
      case net::ConnectionEvent::ConnectFailed:
      case net::ConnectionEvent::Closed:
      case net::ConnectionEvent::RemoteHalfClosed:
        onData(*conn_);
        if (conn_) finish(false, true);
        return;
    }
  }

  void onData(net::Connection& conn) override {
    std::string_view in = conn.input().view();
    const HealthCheckConfig& c = parent_.config_;
    if (c.kind == HealthCheckConfig::Kind::Grpc) {
      std::string out;
      auto result = grpc_->feed(in, out);
      conn.input().clear();
      if (result == GrpcHealthProbe::Result::Pending) {
        if (!out.empty()) {
          conn.output().append(out);
          conn.flush();
        }
        return;
      }
      // As Envoy: an answer that is not SERVING fails the host at once; a reset is a network failure.
      finish(result == GrpcHealthProbe::Result::Serving, result == GrpcHealthProbe::Result::ProtocolError);
      return;
    }
    if (c.kind == HealthCheckConfig::Kind::Http) {
      // "HTTP/1.x NNN": the status decides; the rest is not needed.
      auto eol = in.find("\r\n");
      if (eol == std::string_view::npos) return;
      uint32_t status = 0;
      if (in.size() >= 12 && in.substr(0, 5) == "HTTP/") {
        std::from_chars(in.data() + 9, in.data() + 12, status);
      }
      bool ok = false;
      for (auto [start, end] : c.expected_statuses) ok = ok || (status >= start && status < end);
      finish(ok, status == 0);
      return;
    }
    // TCP: every expected payload, in order.
    size_t at = 0;
    for (const auto& r : c.receive) {
      at = in.find(r, at);
      if (at == std::string_view::npos) return;
      at += r.size();
    }
    finish(true, false);
  }

 private:
  void finish(bool ok, bool network) {
    if (!conn_) return;
    timeout_timer_.disarm();
    closeConnection();
    parent_.onResult(*this, ok, network);
  }
  void closeConnection() {
    if (!conn_) return;
    conn_->setCallbacks(nullptr);
    conn_->close();
    parent_.reactor_.deferDelete(std::move(conn_));
  }

  HealthChecker& parent_;
  std::shared_ptr<const Host> host_;
  std::unique_ptr<net::Connection> conn_;
  std::unique_ptr<GrpcHealthProbe> grpc_;
  event::Timer interval_timer_;
  event::Timer timeout_timer_;
};

HealthChecker::HealthChecker(std::shared_ptr<const ClusterConfig> cluster, event::Reactor& reactor)
    : cluster_(std::move(cluster)),
      config_(*cluster_->health_check),
      reactor_(reactor),
      stats_(cluster_->health_check_stats),
      random_(reinterpret_cast<uintptr_t>(this)) {}

HealthChecker::~HealthChecker() = default;

milliseconds HealthChecker::nextInterval() {
  // While the cluster has carried no request, no_traffic_interval (Envoy's).
  bool traffic = cluster_->stats->value(ClusterStats::upstream_rq_total) > 0;
  milliseconds base = traffic ? config_.interval : config_.no_traffic_interval;
  uint64_t jitter = static_cast<uint64_t>(config_.interval_jitter.count());
  jitter += static_cast<uint64_t>(base.count()) * config_.interval_jitter_percent / 100;
  return base + milliseconds(jitter ? random_.below(jitter + 1) : 0);
}

void HealthChecker::setHosts(const HostSet& hosts) {
  std::unordered_map<const Host*, std::unique_ptr<Session>> next;
  for (const auto& h : hosts.hosts) {
    auto it = sessions_.find(h.get());
    if (it != sessions_.end()) {
      next.emplace(h.get(), std::move(it->second));
      continue;
    }
    // Unhealthy until the first check passes; that check runs now (after initial_jitter).
    health::set(h->health_flags, health::kFailedActiveHc | health::kPendingActiveHc, true);
    auto s = std::make_unique<Session>(*this, h);
    uint64_t jitter = static_cast<uint64_t>(config_.initial_jitter.count());
    s->schedule(milliseconds(jitter ? random_.below(jitter + 1) : 0));
    next.emplace(h.get(), std::move(s));
  }
  sessions_ = std::move(next);
  int64_t healthy = 0;
  for (const auto& [h, s] : sessions_) healthy += h->healthy() ? 1 : 0;
  stats_->add(HealthCheckStats::healthy,
              static_cast<uint64_t>(healthy - stats_->localValue(HealthCheckStats::healthy)));
}

void HealthChecker::onResult(Session& s, bool ok, bool network) {
  const Host& h = s.host();
  uint32_t flags = h.health_flags.load(std::memory_order_relaxed);
  bool pending = flags & health::kPendingActiveHc;
  if (ok) {
    stats_->inc(HealthCheckStats::success);
    s.failures = 0;
    ++s.successes;
    // The first check of a new host needs one success; later, healthy_threshold in a row.
    if ((flags & health::kFailedActiveHc) && (pending || s.successes >= config_.healthy_threshold)) {
      health::set(h.health_flags, health::kFailedActiveHc | health::kPendingActiveHc, false);
      stats_->inc(HealthCheckStats::healthy);
    }
  } else {
    stats_->inc(network ? HealthCheckStats::network_failure : HealthCheckStats::failure);
    s.successes = 0;
    ++s.failures;
    if (pending) health::set(h.health_flags, health::kPendingActiveHc, false);
    // As Envoy: an HTTP answer outside expected_statuses fails the host at once; network
    // failures and timeouts wait for unhealthy_threshold.
    if (!(flags & health::kFailedActiveHc) && (!network || s.failures >= config_.unhealthy_threshold)) {
      health::set(h.health_flags, health::kFailedActiveHc, true);
      stats_->dec(HealthCheckStats::healthy);
    }
  }
  s.schedule(nextInterval());
}

}  // namespace weft::proxy::upstream
