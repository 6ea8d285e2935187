#include "common/stats/stats.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace weft::stats {
namespace {

#define TEST_STATS(COUNTER, GAUGE) COUNTER(rq_total) GAUGE(cx_active) COUNTER(rq_2xx)
WEFT_STATS_STRUCT(TestStats, TEST_STATS)

// Restores the calling thread's row when a test moves it around.
class RowGuard {
 public:
  RowGuard() : saved_(tls_row) {}
  ~RowGuard() { tls_row = saved_; }

 private:
  uint32_t saved_;
};

TEST(StatsTest, MacroBuildsIndexesAndDefinitions) {
  EXPECT_EQ(TestStats::kCount, 3u);
  EXPECT_EQ(TestStats::rq_total, 0u);
  EXPECT_EQ(TestStats::cx_active, 1u);
  EXPECT_STREQ(TestStats::kDefs[TestStats::rq_2xx].name, "rq_2xx");
  EXPECT_EQ(TestStats::kDefs[TestStats::cx_active].kind, Kind::Gauge);
  EXPECT_EQ(TestStats::kDefs[TestStats::rq_total].kind, Kind::Counter);
}

TEST(StatsTest, CountersSumOverRows) {
  RowGuard guard;
  Scope s("test.", TestStats::kDefs, TestStats::kCount, 3, {});
  tls_row = 0;
  s.inc(TestStats::rq_total);
  tls_row = 1;
  s.inc(TestStats::rq_total, 5);
  s.add(TestStats::rq_2xx, 2);
  tls_row = 2;
  s.inc(TestStats::rq_total, 10);
  EXPECT_EQ(s.value(TestStats::rq_total), 16u);
  EXPECT_EQ(s.value(TestStats::rq_2xx), 2u);
  EXPECT_EQ(s.value(TestStats::cx_active), 0u);
  EXPECT_EQ(s.localValue(TestStats::rq_total), 10);
  tls_row = 1;
  EXPECT_EQ(s.localValue(TestStats::rq_total), 5);
}

TEST(StatsTest, GaugesIncAndDecAcrossRows) {
  RowGuard guard;
  Scope s("test.", TestStats::kDefs, TestStats::kCount, 2, {});
  tls_row = 0;
  s.inc(TestStats::cx_active);
  s.inc(TestStats::cx_active);
  tls_row = 1;
  s.dec(TestStats::cx_active);  // a connection opened on row 0 closed on row 1
  EXPECT_EQ(s.gaugeValue(TestStats::cx_active), 1);
  EXPECT_EQ(s.localValue(TestStats::cx_active), -1);
  s.dec(TestStats::cx_active);
  s.dec(TestStats::cx_active);
  EXPECT_EQ(s.gaugeValue(TestStats::cx_active), -1);
}

TEST(StatsTest, EachThreadWritesItsOwnRow) {
  constexpr int kThreads = 4;
  constexpr int kIncrements = 20000;
  Scope s("test.", TestStats::kDefs, TestStats::kCount, kThreads, {});
  std::vector<int64_t> local(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      tls_row = static_cast<uint32_t>(t);
      for (int i = 0; i < kIncrements; ++i) s.inc(TestStats::rq_total);
      local[t] = s.localValue(TestStats::rq_total);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(s.value(TestStats::rq_total), static_cast<uint64_t>(kThreads) * kIncrements);
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(local[t], kIncrements);
}

TEST(StatsTest, ScopeKeepsPrefixDefsAndTags) {
  Scope s("cluster.x.", TestStats::kDefs, TestStats::kCount, 1, {{"envoy_cluster_name", "x"}});
  EXPECT_EQ(s.prefix(), "cluster.x.");
  EXPECT_EQ(s.size(), 3u);
  EXPECT_STREQ(s.def(2).name, "rq_2xx");
  ASSERT_EQ(s.tags().size(), 1u);
  EXPECT_EQ(s.tags()[0].first, "envoy_cluster_name");
  EXPECT_EQ(s.tags()[0].second, "x");
}

TEST(StoreTest, ScopeIsSharedByPrefix) {
  Store store(2);
  auto a = store.scope("cluster.a.", TestStats::kDefs, TestStats::kCount);
  auto again = store.scope("cluster.a.", TestStats::kDefs, TestStats::kCount);
  auto b = store.scope("cluster.b.", TestStats::kDefs, TestStats::kCount);
  EXPECT_EQ(a.get(), again.get());
  EXPECT_NE(a.get(), b.get());
  EXPECT_EQ(store.rows(), 2u);
  a->inc(TestStats::rq_total);
  EXPECT_EQ(again->value(TestStats::rq_total), 1u);
}

TEST(StoreTest, SamplesAreSortedByFullName) {
  RowGuard guard;
  tls_row = 0;
  Store store(1);
  auto b = store.scope("cluster.b.", TestStats::kDefs, TestStats::kCount);
  auto a = store.scope("cluster.a.", TestStats::kDefs, TestStats::kCount);
  auto l = store.scope("listener.0.0.0.0_80.", TestStats::kDefs, TestStats::kCount);
  store.setValue("server.state", 0);
  store.setValue("server.live", 1);
  a->inc(TestStats::rq_total, 7);
  b->inc(TestStats::cx_active);
  b->dec(TestStats::cx_active);
  b->dec(TestStats::cx_active);

  auto samples = store.samples();
  std::vector<std::string> names;
  for (const auto& s : samples) names.push_back(s.name);
  EXPECT_EQ(names, (std::vector<std::string>{"cluster.a.cx_active", "cluster.a.rq_2xx", "cluster.a.rq_total",
                                             "cluster.b.cx_active", "cluster.b.rq_2xx", "cluster.b.rq_total",
                                             "listener.0.0.0.0_80.cx_active", "listener.0.0.0.0_80.rq_2xx",
                                             "listener.0.0.0.0_80.rq_total", "server.live", "server.state"}));
  EXPECT_EQ(samples[2].value, 7);
  EXPECT_EQ(samples[2].kind, Kind::Counter);
  EXPECT_EQ(samples[2].scope, a.get());
  EXPECT_EQ(samples[2].stat, "rq_total");
  EXPECT_EQ(samples[3].kind, Kind::Gauge);
  EXPECT_EQ(samples[3].value, -1);  // gauges are signed
  EXPECT_EQ(samples[9].scope, nullptr);
  EXPECT_EQ(samples[9].kind, Kind::Gauge);
  EXPECT_EQ(samples[9].value, 1);
  EXPECT_EQ(samples[9].stat, "server.live");
}

TEST(StoreTest, SetValueOverwrites) {
  Store store(1);
  store.setValue("server.state", 1);
  store.setValue("server.state", 3);
  auto samples = store.samples();
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_EQ(samples[0].value, 3);
}

}  // namespace
}  // namespace weft::stats
