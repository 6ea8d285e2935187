#include "proxy/upstream/worker_cluster.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <string>

#include "test_support.h"

namespace weft::proxy::upstream {
namespace {

std::shared_ptr<const Host> host(const std::string& ip, uint32_t weight = 1) {
  return makeHost(*net::Address::parse(ip, 80), weight, "c", "", 1);
}

std::shared_ptr<const Host> placed(const std::string& ip, uint32_t priority, const std::string& locality = "") {
  auto h = makeHost(*net::Address::parse(ip, 80), 1, "c", "", 1);
  h->priority = priority;
  h->locality = locality;
  return h;
}

struct Env {
  event::Reactor reactor;
  Random random{42};
  stats::Store store{1};

  std::shared_ptr<ClusterConfig> config(ClusterConfig::Lb lb, ClusterConfig::Type type = ClusterConfig::Type::Static) {
    auto c = std::make_shared<ClusterConfig>();
    c->name = "c";
    c->type = type;
    c->lb = lb;
    c->stats = store.scope("cluster.c.", ClusterStats::kDefs, ClusterStats::kCount, {{"envoy_cluster_name", "c"}});
    return c;
  }
  std::unique_ptr<WorkerCluster> cluster(ClusterConfig::Lb lb, std::vector<std::shared_ptr<const Host>> hosts,
                                         ClusterConfig::Type type = ClusterConfig::Type::Static) {
    return std::make_unique<WorkerCluster>(config(lb, type), makeHostSet(std::move(hosts)), reactor, random, nullptr);
  }
};

std::map<std::string, int> pickCounts(WorkerCluster& wc, int picks, std::vector<std::string>* order = nullptr) {
  std::map<std::string, int> counts;
  for (int i = 0; i < picks; ++i) {
    auto h = wc.chooseHost(nullptr, "");
    if (!h) {
      ADD_FAILURE() << "no host on pick " << i;
      break;
    }
    ++counts[h->address_string];
    if (order) order->push_back(h->address_string);
  }
  return counts;
}

TEST(WorkerClusterTest, RoundRobinIsEvenAndCycles) {
  Env env;
  auto wc = env.cluster(ClusterConfig::Lb::RoundRobin, {host("10.0.0.1"), host("10.0.0.2"), host("10.0.0.3")});
  std::vector<std::string> order;
  auto counts = pickCounts(*wc, 300, &order);
  EXPECT_EQ(counts["10.0.0.1:80"], 100);
  EXPECT_EQ(counts["10.0.0.2:80"], 100);
  EXPECT_EQ(counts["10.0.0.3:80"], 100);
  for (size_t i = 3; i < order.size(); ++i) EXPECT_EQ(order[i], order[i - 3]) << "pick " << i;
  EXPECT_NE(order[0], order[1]);
}

TEST(WorkerClusterTest, SmoothWeightedRoundRobinIsExactAndInterleaved) {
  Env env;
  auto wc = env.cluster(ClusterConfig::Lb::RoundRobin, {host("10.0.0.1", 1), host("10.0.0.2", 3)});
  std::vector<std::string> order;
  auto counts = pickCounts(*wc, 400, &order);
  EXPECT_EQ(counts["10.0.0.1:80"], 100);
  EXPECT_EQ(counts["10.0.0.2:80"], 300);
  // Smooth: every window of 4 picks has exactly one pick of the weight-1 host.
  for (size_t w = 0; w + 4 <= order.size(); w += 4) {
    int light = 0;
    for (size_t i = w; i < w + 4; ++i) light += order[i] == "10.0.0.1:80";
    EXPECT_EQ(light, 1) << "window at " << w;
  }
}

TEST(WorkerClusterTest, WeightedRoundRobinThreeHosts) {
  Env env;
  auto wc = env.cluster(ClusterConfig::Lb::RoundRobin, {host("10.0.0.1", 5), host("10.0.0.2", 1), host("10.0.0.3", 1)});
  std::vector<std::string> order;
  auto counts = pickCounts(*wc, 700, &order);
  EXPECT_EQ(counts["10.0.0.1:80"], 500);
  EXPECT_EQ(counts["10.0.0.2:80"], 100);
  EXPECT_EQ(counts["10.0.0.3:80"], 100);
  // Smooth WRR never sends the heavy host more than its share in a row (5 of 7 here: a,a,b,a,c,a,a).
  int run = 0, longest = 0;
  for (const auto& a : order) {
    run = a == "10.0.0.1:80" ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  EXPECT_LE(longest, 4);
}

TEST(WorkerClusterTest, RandomCoversAllHosts) {
  Env env;
  auto wc =
      env.cluster(ClusterConfig::Lb::Random, {host("10.0.0.1"), host("10.0.0.2"), host("10.0.0.3"), host("10.0.0.4")});
  auto counts = pickCounts(*wc, 4000);
  ASSERT_EQ(counts.size(), 4u);
  for (const auto& [addr, n] : counts) {
    EXPECT_GT(n, 800) << addr;
    EXPECT_LT(n, 1200) << addr;
  }
}

TEST(WorkerClusterTest, RandomHonoursWeights) {
  Env env;
  auto wc = env.cluster(ClusterConfig::Lb::Random, {host("10.0.0.1", 1), host("10.0.0.2", 3)});
  auto counts = pickCounts(*wc, 8000);
  EXPECT_GT(counts["10.0.0.1:80"], 1700);
  EXPECT_LT(counts["10.0.0.1:80"], 2300);
  EXPECT_EQ(counts["10.0.0.1:80"] + counts["10.0.0.2:80"], 8000);
}

TEST(WorkerClusterTest, LeastRequestPrefersTheLessBusyHost) {
  Env env;
  auto busy = host("10.0.0.1");
  auto idle = host("10.0.0.2");
  for (int i = 0; i < 10; ++i) busy->stats->inc(HostStats::rq_active);
  auto wc = env.cluster(ClusterConfig::Lb::LeastRequest, {busy, idle});
  auto counts = pickCounts(*wc, 4000);
  // Two random choices, the less busy wins: the busy host only when both choices are it (1/4).
  EXPECT_GT(counts["10.0.0.2:80"], 2700);
  EXPECT_LT(counts["10.0.0.1:80"], 1300);
  EXPECT_GT(counts["10.0.0.1:80"], 0);
}

TEST(WorkerClusterTest, EmptyHostSetGivesNoHost) {
  Env env;
  for (auto lb : {ClusterConfig::Lb::RoundRobin, ClusterConfig::Lb::Random, ClusterConfig::Lb::LeastRequest}) {
    auto wc = env.cluster(lb, {});
    EXPECT_EQ(wc->chooseHost(nullptr, ""), nullptr);
  }
  auto none = std::make_unique<WorkerCluster>(env.config(ClusterConfig::Lb::RoundRobin), nullptr, env.reactor,
                                              env.random, nullptr);
  EXPECT_EQ(none->chooseHost(nullptr, ""), nullptr);
  EXPECT_TRUE(none->hosts().hosts.empty());
}

TEST(WorkerClusterTest, UpdateHostsReplacesTheSet) {
  Env env;
  auto wc = env.cluster(ClusterConfig::Lb::RoundRobin, {host("10.0.0.1")});
  EXPECT_EQ(wc->chooseHost(nullptr, "")->address_string, "10.0.0.1:80");
  wc->updateHosts(makeHostSet({host("10.0.0.8"), host("10.0.0.9")}));
  auto counts = pickCounts(*wc, 10);
  EXPECT_EQ(counts.count("10.0.0.1:80"), 0u);
  EXPECT_EQ(counts["10.0.0.8:80"], 5);
  EXPECT_EQ(counts["10.0.0.9:80"], 5);
  wc->updateHosts(makeHostSet({}));
  EXPECT_EQ(wc->chooseHost(nullptr, ""), nullptr);
}

TEST(WorkerClusterTest, OriginalDstUsesTheDestinationOrTheOverrideHeader) {
  Env env;
  auto wc = env.cluster(ClusterConfig::Lb::ClusterProvided, {}, ClusterConfig::Type::OriginalDst);
  net::Address dst = *net::Address::parse("10.1.2.3", 8080);
  auto a = wc->chooseHost(&dst, "");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->address_string, "10.1.2.3:8080");
  EXPECT_EQ(wc->chooseHost(&dst, "").get(), a.get());  // one host per destination

  auto o = wc->chooseHost(&dst, "192.168.1.1:9000");  // the header wins over the socket
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->address_string, "192.168.1.1:9000");
  auto v6 = wc->chooseHost(nullptr, "[2001:db8::1]:443");
  ASSERT_NE(v6, nullptr);
  EXPECT_EQ(v6->address_string, "[2001:db8::1]:443");

  EXPECT_EQ(wc->chooseHost(nullptr, ""), nullptr);
  EXPECT_EQ(wc->chooseHost(nullptr, "not-an-address"), nullptr);
  EXPECT_EQ(wc->chooseHost(nullptr, "10.0.0.1"), nullptr);
  EXPECT_EQ(wc->chooseHost(nullptr, "10.0.0.1:70000"), nullptr);
  EXPECT_EQ(wc->chooseHost(nullptr, "10.0.0.1:0"), nullptr);
  EXPECT_EQ(wc->chooseHost(nullptr, "10.0.0.1:8x"), nullptr);
  EXPECT_EQ(wc->chooseHost(nullptr, "host.example:80"), nullptr);
}

TEST(WorkerClusterTest, IdlePoolTakeReleaseAndDropOnPeerClose) {
  Env env;
  // A loopback listener for the cluster's host.
  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  net::Address any = *net::Address::parse("127.0.0.1", 0);
  ASSERT_EQ(::bind(lfd, any.sockaddr_ptr(), any.length), 0);
  ASSERT_EQ(::listen(lfd, 4), 0);
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(lfd, reinterpret_cast<sockaddr*>(&ss), &len);
  net::Address addr = net::Address::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  auto h = makeHost(addr, 1, "c", "", 1);
  auto other = host("10.9.9.9");
  auto wc = env.cluster(ClusterConfig::Lb::RoundRobin, {h});
  stats::Scope& cs = wc->stats();

  std::unique_ptr<net::Connection> conn = wc->connect(*h);
  EXPECT_EQ(cs.gaugeValue(ClusterStats::upstream_cx_active), 1);
  EXPECT_EQ(cs.value(ClusterStats::upstream_cx_total), 1u);
  EXPECT_EQ(h->stats->gaugeValue(HostStats::cx_active), 1);
  net::Connection* raw = conn.get();
  int accepted = -1;
  bool ok = weft::testing::runSteps(
      env.reactor, {
                       {"accept",
                        [&] {
                          accepted = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
                          return accepted >= 0;
                        },
                        nullptr},
                       {"connected", [&] { return raw->connected(); },
                        [&] {
                          wc->releaseIdle(h, std::move(conn));
                          EXPECT_EQ(wc->takeIdle(*other), nullptr);
                          conn = wc->takeIdle(*h);
                          EXPECT_EQ(conn.get(), raw);
                          EXPECT_EQ(wc->takeIdle(*h), nullptr);  // taken: no longer idle
                          wc->releaseIdle(h, std::move(conn));
                          ::close(accepted);  // the server closes the idle connection
                        }},
                       {"dropped", [&] { return cs.value(ClusterStats::upstream_cx_destroy) == 1; }, nullptr},
                   });
  ASSERT_TRUE(ok);
  EXPECT_EQ(wc->takeIdle(*h), nullptr);
  EXPECT_EQ(cs.gaugeValue(ClusterStats::upstream_cx_active), 0);
  EXPECT_EQ(h->stats->gaugeValue(HostStats::cx_active), 0);
  ::close(lfd);
}

}  // namespace
}  // namespace weft::proxy::upstream

namespace weft::proxy::upstream {
namespace {

TEST(ResourceCountTest, TryAcquireStopsAtTheLimitAndReleaseMakesRoom) {
  ResourceCount c(2);
  EXPECT_TRUE(c.tryAcquire());
  EXPECT_TRUE(c.tryAcquire());
  EXPECT_FALSE(c.tryAcquire());
  EXPECT_FALSE(c.canCreate());
  EXPECT_EQ(c.count(), 2u);
  c.release();
  EXPECT_TRUE(c.canCreate());
  EXPECT_TRUE(c.tryAcquire());
}

struct Waiter : ConnectionWaiter {
  explicit Waiter(std::shared_ptr<const Host> h) : h_(std::move(h)) {}
  const Host& waitingFor() const override { return *h_; }
  void onConnectionAvailable() override { ++served; }
  std::shared_ptr<const Host> h_;
  int served = 0;
};

TEST(ResourceCountTest, RetryBudgetFollowsTheRequestsInFlight) {
  ResourceLimits l(1024, 1024, 1024, 3);
  l.has_retry_budget = true;  // Envoy's defaults: 20%, at least 3
  EXPECT_EQ(l.maxRetries(), 3u);
  for (int i = 0; i < 40; ++i) l.requests.acquire();
  for (int i = 0; i < 10; ++i) l.pending_requests.acquire();
  EXPECT_EQ(l.maxRetries(), 10u);  // 20% of 50
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(l.tryAcquireRetry());
  EXPECT_FALSE(l.tryAcquireRetry());
  l.budget_percent = 0;
  l.min_retry_concurrency = 0;
  EXPECT_EQ(l.maxRetries(), 0u);
  l.has_retry_budget = false;
  EXPECT_EQ(l.maxRetries(), 3u);  // max_retries again
}

TEST(WorkerClusterTest, WaitersAreServedInOrderWhenAConnectionSlotFrees) {
  Env env;
  auto cfg = env.config(ClusterConfig::Lb::RoundRobin);
  cfg->limits = std::make_shared<ResourceLimits>(1, 10, 10);
  auto h = host("127.0.0.1");
  WorkerCluster wc(cfg, makeHostSet({h}), env.reactor, env.random, nullptr);
  auto conn = wc.connect(*h);  // takes the only connection slot
  EXPECT_FALSE(wc.connectionAvailable(*h));
  Waiter a(h), b(h);
  wc.addWaiter(&a);
  wc.addWaiter(&b);
  wc.destroy(*h, std::move(conn));  // frees it: the first waiter is told
  EXPECT_EQ(a.served, 1);
  EXPECT_EQ(b.served, 1);  // the slot is still free (a did not take it), so b is told too
  wc.removeWaiter(&b);
}

TEST(WorkerClusterTest, UnhealthyHostsAreSkippedUntilPanic) {
  Env env;
  auto hosts =
      std::vector<std::shared_ptr<const Host>>{host("10.0.0.1"), host("10.0.0.2"), host("10.0.0.3"), host("10.0.0.4")};
  auto wc = env.cluster(ClusterConfig::Lb::RoundRobin, hosts);
  // Two of four unhealthy (50%, not below the 50% panic threshold): the other two only.
  health::set(hosts[0]->health_flags, health::kFailedOutlierCheck, true);
  health::set(hosts[1]->health_flags, health::kFailedEdsHealth, true);
  auto counts = pickCounts(*wc, 100);
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts["10.0.0.3:80"], 50);
  EXPECT_EQ(
      env.store.scope("cluster.c.", ClusterStats::kDefs, ClusterStats::kCount)->value(ClusterStats::lb_healthy_panic),
      0u);
  // Three of four: panic, every host again, counted.
  health::set(hosts[2]->health_flags, health::kFailedActiveHc, true);
  counts = pickCounts(*wc, 100);
  EXPECT_EQ(counts.size(), 4u);
  EXPECT_EQ(
      env.store.scope("cluster.c.", ClusterStats::kDefs, ClusterStats::kCount)->value(ClusterStats::lb_healthy_panic),
      100u);
  // Back to health: the host is picked again.
  for (const auto& h : hosts) health::set(h->health_flags, health::kUnhealthy | health::kFailedActiveHc, false);
  counts = pickCounts(*wc, 100);
  EXPECT_EQ(counts["10.0.0.1:80"], 25);
}

TEST(WorkerClusterTest, NoPanicWithAZeroThreshold) {
  Env env;
  auto hosts = std::vector<std::shared_ptr<const Host>>{host("10.0.0.1"), host("10.0.0.2"), host("10.0.0.3")};
  auto config = env.config(ClusterConfig::Lb::LeastRequest);
  config->healthy_panic_threshold = 0;
  WorkerCluster wc(config, makeHostSet(hosts), env.reactor, env.random, nullptr);
  health::set(hosts[0]->health_flags, health::kFailedOutlierCheck, true);
  health::set(hosts[1]->health_flags, health::kFailedOutlierCheck, true);
  auto counts = pickCounts(wc, 30);
  EXPECT_EQ(counts["10.0.0.3:80"], 30);
  health::set(hosts[2]->health_flags, health::kFailedOutlierCheck, true);
  EXPECT_EQ(wc.chooseHost(nullptr, ""), nullptr);  // 503 UH, as Envoy with panic mode off
  for (const auto& h : hosts) health::set(h->health_flags, health::kFailedOutlierCheck, false);
}

TEST(WorkerClusterTest, LeastRequestCountsRequestsOfEveryWorker) {
  Env env;
  auto hosts = std::vector<std::shared_ptr<const Host>>{host("10.0.0.1"), host("10.0.0.2")};
  auto config = env.config(ClusterConfig::Lb::LeastRequest);
  config->lr_choice_count = 6;
  WorkerCluster wc(config, makeHostSet(hosts), env.reactor, env.random, nullptr);
  // Requests in flight on the first host (from any worker: the gauge sums every row).
  hosts[0]->stats->add(HostStats::rq_active, 5);
  auto counts = pickCounts(wc, 200);
  EXPECT_LT(counts["10.0.0.1:80"], 20);  // chosen only when all 6 draws hit it: 1/64
  hosts[0]->stats->add(HostStats::rq_active, static_cast<uint64_t>(-5));
}

TEST(WorkerClusterTest, WeightedLeastRequestDividesWeightByLoad) {
  Env env;
  auto hosts = std::vector<std::shared_ptr<const Host>>{host("10.0.0.1", 2), host("10.0.0.2", 1)};
  WorkerCluster wc(env.config(ClusterConfig::Lb::LeastRequest), makeHostSet(hosts), env.reactor, env.random, nullptr);
  // Idle: 2:1 by weight.
  auto counts = pickCounts(wc, 300);
  EXPECT_EQ(counts["10.0.0.1:80"], 200);
  // Three requests in flight on the heavy host: 2 / (3 + 1) against 1 / 1, so 1:2.
  hosts[0]->stats->add(HostStats::rq_active, 3);
  counts = pickCounts(wc, 300);
  EXPECT_NEAR(counts["10.0.0.1:80"], 100, 2);
  hosts[0]->stats->add(HostStats::rq_active, static_cast<uint64_t>(-3));
}

TEST(WorkerClusterTest, PrioritiesFailOverAsHostsTurnUnhealthy) {
  Env env;
  auto hosts = std::vector<std::shared_ptr<const Host>>{placed("10.0.0.1", 0), placed("10.0.0.2", 0),
                                                        placed("10.0.1.1", 1), placed("10.0.1.2", 1)};
  WorkerCluster wc(env.config(ClusterConfig::Lb::RoundRobin), makeHostSet(hosts), env.reactor, env.random, nullptr);
  EXPECT_EQ(wc.priorityLoad(), (std::vector<uint32_t>{100, 0}));
  auto counts = pickCounts(wc, 100);
  EXPECT_EQ(counts["10.0.0.1:80"] + counts["10.0.0.2:80"], 100);
  // Half of P0 down: 50% x 1.4 = 70% stays, 30% spills to P1.
  health::set(hosts[0]->health_flags, health::kFailedOutlierCheck, true);
  counts = pickCounts(wc, 1000);
  EXPECT_EQ(wc.priorityLoad(), (std::vector<uint32_t>{70, 30}));
  EXPECT_EQ(counts["10.0.0.1:80"], 0);
  EXPECT_NEAR(counts["10.0.1.1:80"] + counts["10.0.1.2:80"], 300, 60);
  // All of P0 down: everything to P1, and no panic (P1 covers the whole load).
  health::set(hosts[1]->health_flags, health::kFailedOutlierCheck, true);
  counts = pickCounts(wc, 100);
  EXPECT_EQ(counts["10.0.1.1:80"] + counts["10.0.1.2:80"], 100);
  // The excluded priority of a retry (previous_priorities) moves load off a healthy P0.
  for (const auto& h : hosts) health::set(h->health_flags, health::kFailedOutlierCheck, false);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(wc.chooseHost(nullptr, "", std::nullopt, 0, 0b1)->priority, 1u);
  // Excluding every priority falls back to the normal load.
  EXPECT_EQ(wc.chooseHost(nullptr, "", std::nullopt, 0, 0b11)->priority, 0u);
}

TEST(WorkerClusterTest, EmptyPriorityLevelsInBetweenAreSkipped) {
  Env env;
  auto hosts = std::vector<std::shared_ptr<const Host>>{placed("10.0.0.1", 0), placed("10.0.2.1", 2)};
  WorkerCluster wc(env.config(ClusterConfig::Lb::LeastRequest), makeHostSet(hosts), env.reactor, env.random, nullptr);
  health::set(hosts[0]->health_flags, health::kFailedActiveHc, true);
  EXPECT_EQ(wc.priorityLoad(), (std::vector<uint32_t>{100, 0, 0}));  // before the next pick
  EXPECT_EQ(wc.chooseHost(nullptr, "")->address_string, "10.0.2.1:80");
  EXPECT_EQ(wc.priorityLoad(), (std::vector<uint32_t>{0, 0, 100}));
  health::set(hosts[0]->health_flags, health::kFailedActiveHc, false);
}

TEST(WorkerClusterTest, LocalityWeightsSplitLoadAndFollowHealth) {
  Env env;
  auto hosts = std::vector<std::shared_ptr<const Host>>{placed("10.0.0.1", 0, "r/a/"), placed("10.0.0.2", 0, "r/a/"),
                                                        placed("10.0.1.1", 0, "r/b/"), placed("10.0.1.2", 0, "r/b/")};
  auto config = env.config(ClusterConfig::Lb::RoundRobin);
  config->locality_weighted = true;
  std::vector<LocalityWeight> weights{{0, "r/a/", 3}, {0, "r/b/", 1}};
  WorkerCluster wc(config, makeHostSet(hosts, weights), env.reactor, env.random, nullptr);
  auto counts = pickCounts(wc, 400);
  EXPECT_EQ(counts["10.0.0.1:80"] + counts["10.0.0.2:80"], 300);
  EXPECT_EQ(counts["10.0.0.1:80"], 150);
  // One of a's two hosts down: a's weight 3 x min(1, 1.4 x 0.5) = 2.1 against b's 1.
  health::set(hosts[0]->health_flags, health::kFailedOutlierCheck, true);
  counts = pickCounts(wc, 310);
  EXPECT_EQ(counts["10.0.0.1:80"], 0);
  EXPECT_NEAR(counts["10.0.0.2:80"], 210, 2);
  health::set(hosts[0]->health_flags, health::kFailedOutlierCheck, false);
  // Without locality_weighted_lb_config the weights are ignored: an even split.
  WorkerCluster plain(env.config(ClusterConfig::Lb::RoundRobin), makeHostSet(hosts, weights), env.reactor, env.random,
                      nullptr);
  counts = pickCounts(plain, 400);
  EXPECT_EQ(counts["10.0.0.1:80"] + counts["10.0.0.2:80"], 200);
}

TEST(WorkerClusterTest, LocalityWithoutWeightGetsNoLoad) {
  Env env;
  auto hosts = std::vector<std::shared_ptr<const Host>>{placed("10.0.0.1", 0, "r/a/"), placed("10.0.1.1", 0, "r/b/")};
  auto config = env.config(ClusterConfig::Lb::Random);
  config->locality_weighted = true;
  WorkerCluster wc(config, makeHostSet(hosts, {{0, "r/a/", 5}}), env.reactor, env.random, nullptr);
  auto counts = pickCounts(wc, 50);
  EXPECT_EQ(counts["10.0.0.1:80"], 50);
}

TEST(WorkerClusterTest, RingHashChoosesThePriorityByHashToo) {
  Env env;
  auto hosts = std::vector<std::shared_ptr<const Host>>{placed("10.0.0.1", 0), placed("10.0.0.2", 0),
                                                        placed("10.0.1.1", 1), placed("10.0.1.2", 1)};
  WorkerCluster wc(env.config(ClusterConfig::Lb::RingHash), makeHostSet(hosts), env.reactor, env.random, nullptr);
  health::set(hosts[0]->health_flags, health::kFailedOutlierCheck, true);  // 70 / 30
  for (uint64_t key = 0; key < 50; ++key) {
    auto first = wc.chooseHost(nullptr, "", key * 7919);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(wc.chooseHost(nullptr, "", key * 7919), first) << "key " << key;
  }
  health::set(hosts[0]->health_flags, health::kFailedOutlierCheck, false);
}

}  // namespace
}  // namespace weft::proxy::upstream
