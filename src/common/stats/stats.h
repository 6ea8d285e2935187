#pragma once
// Stats with Envoy's names. Each worker thread writes its own row of plain counters (a
// relaxed load and store, no locked instruction, no shared cache line); a scrape sums the
// rows. Scopes are created on the main thread and live in the Store as long as the process,
// so a counter survives a config update that replaces the object using it.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/stats/family.h"

namespace weft::stats {

// Index of the calling thread's row: workers are 0..N-1, the main thread is N.
// constinit: no per-access TLS init check on the hot path.
extern thread_local constinit uint32_t tls_row;

enum class Kind { Counter, Gauge };

struct StatDef {
  const char* name;
  Kind kind;
};

class Scope {
 public:
  // `prefix` ends with '.', e.g. "cluster.backend."; `tags` are Prometheus labels.
  Scope(std::string prefix, const StatDef* defs, size_t count, uint32_t rows,
        std::vector<std::pair<std::string, std::string>> tags);

  void inc(size_t stat, uint64_t n = 1) { add(stat, n); }
  void dec(size_t stat) { add(stat, static_cast<uint64_t>(-1)); }
  void add(size_t stat, uint64_t n) {
    auto& cell = cells_[tls_row * stride_ + stat];
    cell.store(cell.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  // Summed over all rows; gauges are returned as signed values cast to uint64.
  uint64_t value(size_t stat) const;
  int64_t gaugeValue(size_t stat) const { return static_cast<int64_t>(value(stat)); }
  // The calling thread's own row only.
  int64_t localValue(size_t stat) const {
    return static_cast<int64_t>(cells_[tls_row * stride_ + stat].load(std::memory_order_relaxed));
  }

  const std::string& prefix() const { return prefix_; }
  size_t size() const { return count_; }
  const StatDef& def(size_t i) const { return defs_[i]; }
  const std::vector<std::pair<std::string, std::string>>& tags() const { return tags_; }

 private:
  std::string prefix_;
  const StatDef* defs_;
  size_t count_;
  size_t stride_;
  std::vector<std::pair<std::string, std::string>> tags_;
  std::unique_ptr<std::atomic<uint64_t>[]> cells_;
  size_t rows_;
};

// Text gauges set by the main thread (e.g. server.state) live as plain values in the Store.
// Scopes are made at config time on the main thread, and by workers for names known only per
// request (gRPC methods): the map is locked; a scope, once made, is never freed or moved, and
// its counters take no lock.
class Store {
 public:
  explicit Store(uint32_t rows) : rows_(rows) {}
  // Returns the existing scope for the prefix and table, or a new one. Any thread.
  std::shared_ptr<Scope> scope(const std::string& prefix, const StatDef* defs, size_t count,
                               std::vector<std::pair<std::string, std::string>> tags = {});
  void setValue(const std::string& name, int64_t v) {
    std::lock_guard<std::mutex> lock(mu_);
    values_[name] = v;
  }

  struct Sample {
    std::string name;  // full Envoy name, e.g. cluster.backend.upstream_rq_total
    Kind kind;
    int64_t value;
    const Scope* scope;  // null for plain values
    std::string stat;    // the stat's own name within its scope
  };
  std::vector<Sample> samples() const;
  uint32_t rows() const { return rows_; }

  // The labeled metric `name`, made on first use (main thread); the same one afterwards, so
  // its series outlive config updates.
  std::shared_ptr<Family> family(const std::string& name, const std::vector<std::string>& labels, Family::Type type,
                                 size_t max_series);
  std::vector<std::shared_ptr<const Family>> families() const;

 private:
  uint32_t rows_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, const StatDef*>, std::shared_ptr<Scope>> scopes_;
  std::map<std::string, int64_t> values_;
  std::map<std::string, std::shared_ptr<Family>> families_;
};

// Declares an enum of stat indexes and a definition table from one X-macro list:
//   #define MY_STATS(COUNTER, GAUGE) COUNTER(rq_total) GAUGE(cx_active)
//   WEFT_STATS_STRUCT(MyStats, MY_STATS)
#define WEFT_STAT_ENUM(n) n,
#define WEFT_STAT_COUNTER_DEF(n) {#n, ::weft::stats::Kind::Counter},
#define WEFT_STAT_GAUGE_DEF(n) {#n, ::weft::stats::Kind::Gauge},
#define WEFT_STATS_STRUCT(Name, LIST)                                                                     \
  struct Name {                                                                                           \
    enum Index : size_t { LIST(WEFT_STAT_ENUM, WEFT_STAT_ENUM) kCount };                                  \
    static constexpr ::weft::stats::StatDef kDefs[] = {LIST(WEFT_STAT_COUNTER_DEF, WEFT_STAT_GAUGE_DEF)}; \
  };

}  // namespace weft::stats
