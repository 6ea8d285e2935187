#include "common/stats/family.h"

#include <algorithm>
#include <map>

#include "common/stats/stats.h"

namespace weft::stats {

const std::vector<double>& Family::defaultBuckets() {
  static const std::vector<double> b = {0.5,  1,    5,     10,    25,    50,     100,    250,     500,    1000,
                                        2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000};
  return b;
}

Family::Family(std::string name, std::vector<std::string> labels, Type type, std::vector<double> buckets, uint32_t rows,
               size_t max_series)
    : name_(std::move(name)),
      labels_(std::move(labels)),
      type_(type),
      buckets_(std::move(buckets)),
      max_series_(max_series),
      rows_(new Row[rows]),
      row_count_(rows) {}

Family::~Family() {
  for (uint32_t r = 0; r < row_count_; ++r) {
    Series* s = rows_[r].head.load(std::memory_order_acquire);
    while (s) {
      Series* next = s->next;
      delete s;
      s = next;
    }
  }
}

Family::Series* Family::series(std::string_view key) {
  Row& row = rows_[tls_row];
  auto it = row.index.find(key);
  if (it != row.index.end()) return it->second;
  if (row.size >= max_series_) {
    row.overflow.store(row.overflow.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return nullptr;
  }
  auto* s = new Series;
  s->key = std::string(key);
  if (type_ == Type::Histogram) {
    s->buckets.reset(new std::atomic<uint64_t>[buckets_.size() + 1]);
    for (size_t i = 0; i <= buckets_.size(); ++i) s->buckets[i].store(0, std::memory_order_relaxed);
  }
  s->next = row.head.load(std::memory_order_relaxed);
  row.head.store(s, std::memory_order_release);  // a scrape sees the series whole
  row.index.emplace(std::string_view(s->key), s);
  ++row.size;
  return s;
}

void Family::observe(Series* s, double v) {
  if (!s) return;
  size_t i = static_cast<size_t>(std::lower_bound(buckets_.begin(), buckets_.end(), v) - buckets_.begin());
  auto bump = [](std::atomic<uint64_t>& c) {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  };
  bump(s->buckets[i]);
  bump(s->count);
  s->sum.store(s->sum.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
}

uint64_t Family::overflow() const {
  uint64_t n = 0;
  for (uint32_t r = 0; r < row_count_; ++r) n += rows_[r].overflow.load(std::memory_order_relaxed);
  return n;
}

std::vector<std::pair<std::string, Family::Total>> Family::totals() const {
  std::map<std::string, Total> merged;
  for (uint32_t r = 0; r < row_count_; ++r) {
    for (Series* s = rows_[r].head.load(std::memory_order_acquire); s; s = s->next) {
      Total& t = merged[s->key];
      t.count += s->count.load(std::memory_order_relaxed);
      t.sum += s->sum.load(std::memory_order_relaxed);
      if (s->buckets) {
        t.buckets.resize(buckets_.size() + 1);
        for (size_t i = 0; i <= buckets_.size(); ++i) t.buckets[i] += s->buckets[i].load(std::memory_order_relaxed);
      }
    }
  }
  return {merged.begin(), merged.end()};
}

}  // namespace weft::stats
