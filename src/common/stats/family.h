#pragma once
// A metric with labels, as Istio's istio_requests_total{reporter=...,response_code=...}: a
// counter or a histogram per label set. Each worker finds its own series for a label set in an
// index only it touches and publishes a new series on a lock-free list that a scrape walks;
// values are relaxed atomics, as in Scope, so the request path takes no lock. Label sets are
// bounded per worker (max_series): past the cap, observations are only counted as overflow, so a
// peer cannot grow the proxy's memory by inventing label values.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace weft::stats {

class Family {
 public:
  enum class Type { Counter, Histogram };
  struct Series {
    std::string key;  // label values joined by kSeparator
    std::atomic<uint64_t> count{0};
    std::atomic<double> sum{0};
    std::unique_ptr<std::atomic<uint64_t>[]> buckets;  // histogram: per bucket, not cumulative
    Series* next = nullptr;
  };
  static constexpr char kSeparator = '\x1f';
  // Envoy's default histogram buckets, which Istio's metrics use.
  static const std::vector<double>& defaultBuckets();

  Family(std::string name, std::vector<std::string> labels, Type type, std::vector<double> buckets, uint32_t rows,
         size_t max_series);
  ~Family();
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  // The calling worker's series for `key` (label values joined by kSeparator, in labels()
  // order); null past the cap (counted as overflow).
  Series* series(std::string_view key);
  void add(Series* s, uint64_t n) {
    if (s) s->count.store(s->count.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void observe(Series* s, double v);

  const std::string& name() const { return name_; }
  const std::vector<std::string>& labels() const { return labels_; }
  Type type() const { return type_; }
  const std::vector<double>& buckets() const { return buckets_; }
  uint64_t overflow() const;
  // Each label set's totals over all workers, for a scrape.
  struct Total {
    uint64_t count = 0;
    double sum = 0;
    std::vector<uint64_t> buckets;  // per bucket
  };
  std::vector<std::pair<std::string, Total>> totals() const;

 private:
  struct Row {
    // The worker's own; keys view their series' `key` (a series is never freed before the family).
    std::unordered_map<std::string_view, Series*> index;
    std::atomic<Series*> head{nullptr};  // published for scrapes
    size_t size = 0;
    std::atomic<uint64_t> overflow{0};
  };
  std::string name_;
  std::vector<std::string> labels_;
  Type type_;
  std::vector<double> buckets_;
  size_t max_series_;
  std::unique_ptr<Row[]> rows_;
  uint32_t row_count_;
};

}  // namespace weft::stats
