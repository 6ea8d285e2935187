#include "common/stats/stats.h"

#include <algorithm>

namespace weft::stats {

thread_local constinit uint32_t tls_row = 0;

Scope::Scope(std::string prefix, const StatDef* defs, size_t count, uint32_t rows,
             std::vector<std::pair<std::string, std::string>> tags)
    : prefix_(std::move(prefix)),
      defs_(defs),
      count_(count),
      // Round each row up to a cache line so two workers never write the same line.
      stride_((count + 7) / 8 * 8),
      tags_(std::move(tags)),
      cells_(new std::atomic<uint64_t>[stride_ * rows]),
      rows_(rows) {
  for (size_t i = 0; i < stride_ * rows; ++i) cells_[i].store(0, std::memory_order_relaxed);
}

uint64_t Scope::value(size_t stat) const {
  uint64_t sum = 0;
  for (size_t r = 0; r < rows_; ++r) sum += cells_[r * stride_ + stat].load(std::memory_order_relaxed);
  return sum;
}

std::shared_ptr<Scope> Store::scope(const std::string& prefix, const StatDef* defs, size_t count,
                                    std::vector<std::pair<std::string, std::string>> tags) {
  std::lock_guard<std::mutex> lock(mu_);
  // Two sets of stats may share a prefix (cluster.X.grpc. holds the router's per-status
  // counters and the grpc_stats filter's message counts): a scope is one prefix and one table.
  auto key = std::make_pair(prefix, defs);
  auto it = scopes_.find(key);
  if (it != scopes_.end()) return it->second;
  auto s = std::make_shared<Scope>(prefix, defs, count, rows_, std::move(tags));
  scopes_.emplace(key, s);
  return s;
}

std::shared_ptr<Family> Store::family(const std::string& name, const std::vector<std::string>& labels,
                                      Family::Type type, size_t max_series) {
  // One family per name and label set: listeners may label a metric differently (Istio's
  // tag overrides per direction), as Prometheus allows within one metric.
  std::string key = name;
  for (const auto& l : labels) key += Family::kSeparator + l;
  std::lock_guard<std::mutex> lock(mu_);
  auto& f = families_[key];
  if (!f) {
    f = std::make_shared<Family>(name, labels, type,
                                 type == Family::Type::Histogram ? Family::defaultBuckets() : std::vector<double>{},
                                 rows_, max_series);
  }
  return f;
}

std::vector<std::shared_ptr<const Family>> Store::families() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<const Family>> out;
  for (const auto& [name, f] : families_) out.push_back(f);
  return out;
}

std::vector<Store::Sample> Store::samples() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Sample> out;
  for (const auto& [key, scope] : scopes_) {
    for (size_t i = 0; i < scope->size(); ++i) {
      const StatDef& d = scope->def(i);
      out.push_back({scope->prefix() + d.name, d.kind, static_cast<int64_t>(scope->value(i)), scope.get(), d.name});
    }
  }
  for (const auto& [name, v] : values_) out.push_back({name, Kind::Gauge, v, nullptr, name});
  std::sort(out.begin(), out.end(), [](const Sample& a, const Sample& b) { return a.name < b.name; });
  return out;
}

}  // namespace weft::stats
