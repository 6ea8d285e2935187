#include "proxy/upstream/outlier_detector.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/config/error.h"
#include "common/strings.h"

namespace weft::proxy::upstream {

using std::chrono::milliseconds;
using Type = OutlierDetector::Type;

namespace {
constexpr size_t kDetected[] = {
    OutlierStats::ejections_detected_consecutive_5xx,
    OutlierStats::ejections_detected_consecutive_gateway_failure,
    OutlierStats::ejections_detected_consecutive_local_origin_failure,
    OutlierStats::ejections_detected_success_rate,
    OutlierStats::ejections_detected_local_origin_success_rate,
    OutlierStats::ejections_detected_failure_percentage,
    OutlierStats::ejections_detected_local_origin_failure_percentage,
};
constexpr size_t kEnforced[] = {
    OutlierStats::ejections_enforced_consecutive_5xx,
    OutlierStats::ejections_enforced_consecutive_gateway_failure,
    OutlierStats::ejections_enforced_consecutive_local_origin_failure,
    OutlierStats::ejections_enforced_success_rate,
    OutlierStats::ejections_enforced_local_origin_success_rate,
    OutlierStats::ejections_enforced_failure_percentage,
    OutlierStats::ejections_enforced_local_origin_failure_percentage,
};

bool gatewayError(uint64_t status) { return status == 502 || status == 503 || status == 504; }
}  // namespace

std::shared_ptr<OutlierDetector> OutlierDetector::compile(const envoy::config::cluster::v3::OutlierDetection& p,
                                                          const std::string& path,
                                                          std::shared_ptr<stats::Scope> stats) {
  Config c;
  auto ms = [&](bool has, const google::protobuf::Duration& d, milliseconds& out, const char* field, bool positive) {
    if (!has) return;
    out = weft::toMillis(d);
    if (out.count() < 0 || (positive && out.count() == 0)) {
      throw ConfigError(path + "." + field + ": must be " + (positive ? "greater than 0" : "0 or more"));
    }
  };
  ms(p.has_interval(), p.interval(), c.interval, "interval", true);
  ms(p.has_base_ejection_time(), p.base_ejection_time(), c.base_ejection_time, "base_ejection_time", true);
  c.max_ejection_time = std::max(c.max_ejection_time, c.base_ejection_time);
  ms(p.has_max_ejection_time(), p.max_ejection_time(), c.max_ejection_time, "max_ejection_time", true);
  ms(p.has_max_ejection_time_jitter(), p.max_ejection_time_jitter(), c.max_ejection_time_jitter,
     "max_ejection_time_jitter", false);
  if (c.max_ejection_time < c.base_ejection_time) {
    // Envoy's words.
    throw ConfigError(path + ": outlier detector's max_ejection_time cannot be smaller than base_ejection_time");
  }
  auto u32 = [](bool has, uint32_t v, uint32_t& out) {
    if (has) out = v;
  };
  u32(p.has_consecutive_5xx(), p.consecutive_5xx().value(), c.consecutive_5xx);
  u32(p.has_consecutive_gateway_failure(), p.consecutive_gateway_failure().value(), c.consecutive_gateway_failure);
  u32(p.has_consecutive_local_origin_failure(), p.consecutive_local_origin_failure().value(),
      c.consecutive_local_origin_failure);
  u32(p.has_max_ejection_percent(), p.max_ejection_percent().value(), c.max_ejection_percent);
  c.always_eject_one_host = p.always_eject_one_host().value();
  c.split_external_local_origin_errors = p.split_external_local_origin_errors();
  u32(p.has_success_rate_minimum_hosts(), p.success_rate_minimum_hosts().value(), c.success_rate_minimum_hosts);
  u32(p.has_success_rate_request_volume(), p.success_rate_request_volume().value(), c.success_rate_request_volume);
  u32(p.has_success_rate_stdev_factor(), p.success_rate_stdev_factor().value(), c.success_rate_stdev_factor);
  u32(p.has_failure_percentage_threshold(), p.failure_percentage_threshold().value(), c.failure_percentage_threshold);
  u32(p.has_failure_percentage_minimum_hosts(), p.failure_percentage_minimum_hosts().value(),
      c.failure_percentage_minimum_hosts);
  u32(p.has_failure_percentage_request_volume(), p.failure_percentage_request_volume().value(),
      c.failure_percentage_request_volume);
  struct Percent {
    bool has;
    uint32_t value;
    uint32_t* out;
    const char* field;
  };
  for (const Percent& e : {
           Percent{p.has_enforcing_consecutive_5xx(), p.enforcing_consecutive_5xx().value(),
                   &c.enforcing_consecutive_5xx, "enforcing_consecutive_5xx"},
           Percent{p.has_enforcing_consecutive_gateway_failure(), p.enforcing_consecutive_gateway_failure().value(),
                   &c.enforcing_consecutive_gateway_failure, "enforcing_consecutive_gateway_failure"},
           Percent{p.has_enforcing_consecutive_local_origin_failure(),
                   p.enforcing_consecutive_local_origin_failure().value(),
                   &c.enforcing_consecutive_local_origin_failure, "enforcing_consecutive_local_origin_failure"},
           Percent{p.has_enforcing_success_rate(), p.enforcing_success_rate().value(), &c.enforcing_success_rate,
                   "enforcing_success_rate"},
           Percent{p.has_enforcing_local_origin_success_rate(), p.enforcing_local_origin_success_rate().value(),
                   &c.enforcing_local_origin_success_rate, "enforcing_local_origin_success_rate"},
           Percent{p.has_enforcing_failure_percentage(), p.enforcing_failure_percentage().value(),
                   &c.enforcing_failure_percentage, "enforcing_failure_percentage"},
           Percent{p.has_enforcing_failure_percentage_local_origin(),
                   p.enforcing_failure_percentage_local_origin().value(), &c.enforcing_failure_percentage_local_origin,
                   "enforcing_failure_percentage_local_origin"},
           Percent{p.has_max_ejection_percent(), p.max_ejection_percent().value(), &c.max_ejection_percent,
                   "max_ejection_percent"},
           Percent{p.has_failure_percentage_threshold(), p.failure_percentage_threshold().value(),
                   &c.failure_percentage_threshold, "failure_percentage_threshold"},
       }) {
    if (!e.has) continue;
    if (e.value > 100) throw ConfigError(path + "." + e.field + ": must be 0-100");
    *e.out = e.value;
  }
  return std::make_shared<OutlierDetector>(c, std::move(stats));
}

OutlierDetector::OutlierDetector(Config config, std::shared_ptr<stats::Scope> stats)
    : config_(config), stats_(std::move(stats)), random_(reinterpret_cast<uintptr_t>(this)) {}

// ---- the request path -----------------------------------------------------------------------

void OutlierDetector::putHttpStatus(const Host& host, uint64_t status) {
  httpStatus(host, status);
  if (config_.split_external_local_origin_errors) localOrigin(host, false);
}

void OutlierDetector::putResult(const Host& host, Result result) {
  if (config_.split_external_local_origin_errors) {
    localOrigin(host, result != Result::kConnectSuccess);
    return;
  }
  // Without the split, local failures count as the HTTP status Envoy maps them to.
  if (result == Result::kConnectFailed) httpStatus(host, 503);
  if (result == Result::kTimeout) httpStatus(host, 504);
}

void OutlierDetector::httpStatus(const Host& host, uint64_t status) {
  OutlierCounters& c = host.outlier;
  c.ext_total.fetch_add(1, std::memory_order_relaxed);
  if (status < 500 || status > 599) {
    c.ext_success.fetch_add(1, std::memory_order_relaxed);
    c.consecutive_5xx.store(0, std::memory_order_relaxed);
    c.consecutive_gateway.store(0, std::memory_order_relaxed);
    return;
  }
  if (gatewayError(status)) {
    if (c.consecutive_gateway.fetch_add(1, std::memory_order_relaxed) + 1 == config_.consecutive_gateway_failure) {
      notify(host, Type::kConsecutiveGateway);
    }
  } else {
    c.consecutive_gateway.store(0, std::memory_order_relaxed);
  }
  if (c.consecutive_5xx.fetch_add(1, std::memory_order_relaxed) + 1 == config_.consecutive_5xx) {
    notify(host, Type::kConsecutive5xx);
  }
}

void OutlierDetector::localOrigin(const Host& host, bool failed) {
  OutlierCounters& c = host.outlier;
  c.local_total.fetch_add(1, std::memory_order_relaxed);
  if (!failed) {
    c.local_success.fetch_add(1, std::memory_order_relaxed);
    c.consecutive_local.store(0, std::memory_order_relaxed);
    return;
  }
  if (c.consecutive_local.fetch_add(1, std::memory_order_relaxed) + 1 == config_.consecutive_local_origin_failure) {
    notify(host, Type::kConsecutiveLocalOrigin);
  }
}

// Ejections are decided on the main thread only; a detector or host gone by then is ignored.
void OutlierDetector::notify(const Host& host, Type type) {
  if (main_ == nullptr) return;
  std::weak_ptr<OutlierDetector> self = weak_from_this();
  std::weak_ptr<const Host> weak_host = host.weak_from_this();
  event::Reactor* main = main_;
  main_->post([self, weak_host, type, main] {
    auto d = self.lock();
    auto h = weak_host.lock();
    if (d && h) d->onConsecutiveError(h, type, main->now());
  });
}

// ---- the main thread ------------------------------------------------------------------------

void OutlierDetector::onConsecutiveError(const std::shared_ptr<const Host>& host, Type type, event::TimePoint now) {
  auto it = monitors_.find(host.get());
  if (it == monitors_.end() || ejected(it->second)) return;
  stats_->inc(kDetected[static_cast<size_t>(type)]);
  if (type == Type::kConsecutive5xx) stats_->inc(OutlierStats::ejections_consecutive_5xx);
  eject(it->second, type, now);
  // Reset so that a new run of errors is needed, even with no success in between.
  OutlierCounters& c = host->outlier;
  if (type == Type::kConsecutive5xx) c.consecutive_5xx.store(0, std::memory_order_relaxed);
  if (type == Type::kConsecutiveGateway) c.consecutive_gateway.store(0, std::memory_order_relaxed);
  if (type == Type::kConsecutiveLocalOrigin) c.consecutive_local.store(0, std::memory_order_relaxed);
}

bool OutlierDetector::ejected(const Monitor& m) const { return m.ejected; }

void OutlierDetector::detach() {
  monitors_.clear();
  ejected_ = 0;
}

bool OutlierDetector::enforce(Type type) {
  // enforcing_* by Type.
  static constexpr uint32_t Config::*kEnforcing[] = {
      &Config::enforcing_consecutive_5xx,
      &Config::enforcing_consecutive_gateway_failure,
      &Config::enforcing_consecutive_local_origin_failure,
      &Config::enforcing_success_rate,
      &Config::enforcing_local_origin_success_rate,
      &Config::enforcing_failure_percentage,
      &Config::enforcing_failure_percentage_local_origin,
  };
  return random_.below(100) < config_.*kEnforcing[static_cast<size_t>(type)];
}

// As Envoy's DetectorImpl::ejectHost: within max_ejection_percent (or the one host
// always_eject_one_host allows), and only as often as enforcing_* says.
void OutlierDetector::eject(Monitor& m, Type type, event::TimePoint now) {
  double percent = 100.0 * (ejected_ + 1) / static_cast<double>(monitors_.size());
  bool allowed = percent <= std::min<uint32_t>(100, config_.max_ejection_percent);
  if (config_.always_eject_one_host) allowed = allowed || ejected_ == 0;
  if (!allowed) {
    stats_->inc(OutlierStats::ejections_overflow);
    return;
  }
  if (type == Type::kConsecutive5xx || type == Type::kSuccessRate) stats_->inc(OutlierStats::ejections_total);
  if (!enforce(type)) return;
  ++ejected_;
  m.ejected = true;
  stats_->inc(OutlierStats::ejections_active);
  stats_->inc(OutlierStats::ejections_enforced_total);
  stats_->inc(kEnforced[static_cast<size_t>(type)]);
  health::set(m.host->health_flags, health::kFailedOutlierCheck, true);
  ++m.num_ejections;
  m.last_ejection = now;
  m.jitter = milliseconds(random_.below(static_cast<uint64_t>(config_.max_ejection_time_jitter.count()) + 1));
  if (m.backoff * config_.base_ejection_time < config_.max_ejection_time + config_.base_ejection_time) ++m.backoff;
}

void OutlierDetector::uneject(Monitor& m, event::TimePoint now) {
  m.ejected = false;
  if (ejected_ > 0) --ejected_;
  stats_->dec(OutlierStats::ejections_active);
  health::set(m.host->health_flags, health::kFailedOutlierCheck, false);
  OutlierCounters& c = m.host->outlier;
  c.consecutive_5xx.store(0, std::memory_order_relaxed);
  c.consecutive_gateway.store(0, std::memory_order_relaxed);
  c.consecutive_local.store(0, std::memory_order_relaxed);
  m.last_unejection = now;
  m.unejected_once = true;
}

void OutlierDetector::setHosts(const HostSet& hosts, event::TimePoint now) {
  if (next_interval_ == event::TimePoint{}) next_interval_ = now + config_.interval;
  std::unordered_map<const Host*, Monitor> next;
  for (const auto& h : hosts.hosts) {
    auto it = monitors_.find(h.get());
    if (it != monitors_.end()) {
      next.emplace(h.get(), std::move(it->second));
      monitors_.erase(it);
      continue;
    }
    // A host this detector has not ejected carries no ejection (say, from a replaced cluster).
    health::set(h->health_flags, health::kFailedOutlierCheck, false);
    next.emplace(h.get(), Monitor{h});
  }
  for (auto& [host, m] : monitors_) {
    if (ejected(m)) {
      if (ejected_ > 0) --ejected_;
      stats_->dec(OutlierStats::ejections_active);
    }
  }
  monitors_ = std::move(next);
}

void OutlierDetector::onInterval(event::TimePoint now) {
  for (auto& [host, m] : monitors_) {
    if (ejected(m) && std::min(config_.base_ejection_time * m.backoff, config_.max_ejection_time) + m.jitter <=
                          now - m.last_ejection) {
      uneject(m, now);
    }
  }
  processSuccessRate(false, now);
  processSuccessRate(true, now);
  // A host healthy for a whole interval since its last un-ejection comes down one step.
  for (auto& [host, m] : monitors_) {
    if (!ejected(m) && m.unejected_once && now - m.last_unejection >= config_.interval && m.backoff > 0) --m.backoff;
  }
  next_interval_ = now + config_.interval;
}

// Envoy's success rate (mean - stdev x factor) and failure percentage over the interval that
// just ended; both skip hosts already ejected.
void OutlierDetector::processSuccessRate(bool local, event::TimePoint now) {
  struct Rate {
    Monitor* m;
    double rate;
  };
  std::vector<Rate> sr, fp;
  double sum = 0;
  for (auto& [host, m] : monitors_) {
    OutlierCounters& c = m.host->outlier;
    uint64_t total = (local ? c.local_total : c.ext_total).exchange(0, std::memory_order_relaxed);
    uint64_t ok = (local ? c.local_success : c.ext_success).exchange(0, std::memory_order_relaxed);
    double& shown = local ? m.local_success_rate : m.success_rate;
    shown = -1;
    if (ejected(m) || total == 0) continue;
    double rate = 100.0 * static_cast<double>(std::min(ok, total)) / static_cast<double>(total);
    if (total >= std::min(config_.success_rate_request_volume, config_.failure_percentage_request_volume)) {
      shown = rate;
    }
    if (total >= config_.success_rate_request_volume) {
      sr.push_back({&m, rate});
      sum += rate;
    }
    if (total >= config_.failure_percentage_request_volume) fp.push_back({&m, rate});
  }
  if (!sr.empty() && sr.size() >= config_.success_rate_minimum_hosts) {
    double mean = sum / static_cast<double>(sr.size());
    double variance = 0;
    for (const Rate& r : sr) variance += (r.rate - mean) * (r.rate - mean);
    double stdev = std::sqrt(variance / static_cast<double>(sr.size()));
    double threshold = mean - (config_.success_rate_stdev_factor / 1000.0) * stdev;
    Type type = local ? Type::kLocalOriginSuccessRate : Type::kSuccessRate;
    for (const Rate& r : sr) {
      if (r.rate >= threshold || ejected(*r.m)) continue;
      stats_->inc(OutlierStats::ejections_success_rate);
      stats_->inc(kDetected[static_cast<size_t>(type)]);
      eject(*r.m, type, now);
    }
  }
  if (!fp.empty() && fp.size() >= config_.failure_percentage_minimum_hosts) {
    Type type = local ? Type::kLocalOriginFailurePercentage : Type::kFailurePercentage;
    for (const Rate& r : fp) {
      if (100.0 - r.rate < config_.failure_percentage_threshold || ejected(*r.m)) continue;
      stats_->inc(kDetected[static_cast<size_t>(type)]);
      eject(*r.m, type, now);
    }
  }
}

double OutlierDetector::successRate(const Host& host, bool local_origin) const {
  auto it = monitors_.find(&host);
  if (it == monitors_.end()) return -1;
  return local_origin ? it->second.local_success_rate : it->second.success_rate;
}

}  // namespace weft::proxy::upstream
