#include "proxy/upstream/outlier_detector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/config/error.h"
#include "proxy/proxy_test_support.h"

namespace weft::proxy::upstream {
namespace {

using envoy::config::cluster::v3::OutlierDetection;
using std::chrono::milliseconds;
using weft::testing::fromYaml;

struct Env {
  event::Reactor reactor;
  stats::Store store{1};
  std::shared_ptr<stats::Scope> stats =
      store.scope("cluster.c.outlier_detection.", OutlierStats::kDefs, OutlierStats::kCount, {});
  std::vector<std::shared_ptr<const Host>> hosts;
  std::shared_ptr<OutlierDetector> od;
  event::TimePoint t0 = event::Clock::now();

  Env(const std::string& yaml, int n = 2) {
    od = OutlierDetector::compile(fromYaml<OutlierDetection>(yaml), "od", stats);
    for (int i = 0; i < n; ++i)
      hosts.push_back(makeHost(*net::Address::parse("10.0.0." + std::to_string(i + 1), 80), 1, "c", "", 1));
    od->attach(reactor);
    od->setHosts(*makeHostSet(hosts), t0);
  }
  // Runs what the workers posted to the main thread.
  void drain() {
    reactor.post([this] { reactor.stop(); });
    reactor.run();
  }
  void statuses(int host, std::initializer_list<int> codes) {
    for (int c : codes) od->putHttpStatus(*hosts[static_cast<size_t>(host)], static_cast<uint64_t>(c));
    drain();
  }
  bool ejected(int host) const {
    return hosts[static_cast<size_t>(host)]->health_flags.load() & health::kFailedOutlierCheck;
  }
  uint64_t stat(size_t s) const { return stats->value(s); }
};

TEST(OutlierDetectorTest, Consecutive5xxEjectsThenEjectionTimeGrows) {
  Env env("consecutive_5xx: 3\nmax_ejection_percent: 100\nbase_ejection_time: 1s\ninterval: 0.1s\n");
  env.statuses(0, {503, 500});
  EXPECT_FALSE(env.ejected(0));
  env.statuses(0, {502});
  EXPECT_TRUE(env.ejected(0));
  EXPECT_FALSE(env.hosts[0]->healthy());
  EXPECT_EQ(env.stat(OutlierStats::ejections_active), 1u);
  EXPECT_EQ(env.stat(OutlierStats::ejections_enforced_consecutive_5xx), 1u);
  EXPECT_EQ(env.stat(OutlierStats::ejections_detected_consecutive_5xx), 1u);
  // base_ejection_time x 1 on the first ejection.
  env.od->onInterval(env.t0 + milliseconds(900));
  EXPECT_TRUE(env.ejected(0));
  env.od->onInterval(env.t0 + milliseconds(1100));
  EXPECT_FALSE(env.ejected(0));
  EXPECT_EQ(env.stat(OutlierStats::ejections_active), 0u);
  // Ejected again before the backoff decays: twice base_ejection_time now.
  auto t1 = event::Clock::now();
  env.statuses(0, {503, 503, 503});
  ASSERT_TRUE(env.ejected(0));
  env.od->onInterval(t1 + milliseconds(1500));
  EXPECT_TRUE(env.ejected(0));
  env.od->onInterval(t1 + milliseconds(2100));
  EXPECT_FALSE(env.ejected(0));
  EXPECT_EQ(env.stat(OutlierStats::ejections_enforced_total), 2u);
}

TEST(OutlierDetectorTest, ASuccessResetsTheRun) {
  Env env("consecutive_5xx: 3\nmax_ejection_percent: 100\n");
  env.statuses(0, {503, 503, 200, 503, 503});
  EXPECT_FALSE(env.ejected(0));
  env.statuses(0, {503});
  EXPECT_TRUE(env.ejected(0));
}

TEST(OutlierDetectorTest, MaxEjectionPercentOverflows) {
  // Envoy's default 10%: one of two hosts is 50%, so nothing is ejected.
  Env env("consecutive_5xx: 2\n");
  env.statuses(0, {503, 503});
  EXPECT_FALSE(env.ejected(0));
  EXPECT_EQ(env.stat(OutlierStats::ejections_overflow), 1u);
  Env one("consecutive_5xx: 2\nalways_eject_one_host: true\n");
  one.statuses(0, {503, 503});
  EXPECT_TRUE(one.ejected(0));
}

TEST(OutlierDetectorTest, GatewayFailuresAreDetectedButNotEnforcedByDefault) {
  Env env("consecutive_gateway_failure: 2\nmax_ejection_percent: 100\n");
  env.statuses(0, {504, 502});
  EXPECT_FALSE(env.ejected(0));
  EXPECT_EQ(env.stat(OutlierStats::ejections_detected_consecutive_gateway_failure), 1u);
  EXPECT_EQ(env.stat(OutlierStats::ejections_enforced_consecutive_gateway_failure), 0u);
  Env enforced(
      "consecutive_gateway_failure: 2\nenforcing_consecutive_gateway_failure: 100\nmax_ejection_percent: 100\n");
  enforced.statuses(0, {500, 503});  // a 500 is no gateway error
  EXPECT_FALSE(enforced.ejected(0));
  enforced.statuses(0, {503});
  EXPECT_TRUE(enforced.ejected(0));
}

TEST(OutlierDetectorTest, LocalOriginFailuresCountAs5xxUnlessSplit) {
  Env merged("consecutive_5xx: 2\nmax_ejection_percent: 100\n");
  merged.od->putResult(*merged.hosts[0], OutlierDetector::Result::kConnectFailed);
  merged.od->putResult(*merged.hosts[0], OutlierDetector::Result::kTimeout);
  merged.drain();
  EXPECT_TRUE(merged.ejected(0));

  Env split(
      "consecutive_5xx: 2\nsplit_external_local_origin_errors: true\nconsecutive_local_origin_failure: 3\n"
      "max_ejection_percent: 100\n");
  split.od->putResult(*split.hosts[0], OutlierDetector::Result::kConnectFailed);
  split.od->putResult(*split.hosts[0], OutlierDetector::Result::kConnectFailed);
  split.drain();
  EXPECT_FALSE(split.ejected(0));
  split.od->putResult(*split.hosts[0], OutlierDetector::Result::kTimeout);
  split.drain();
  EXPECT_TRUE(split.ejected(0));
  EXPECT_EQ(split.stat(OutlierStats::ejections_enforced_consecutive_local_origin_failure), 1u);
}

TEST(OutlierDetectorTest, FailurePercentageEjectsOnTheInterval) {
  Env env(
      "consecutive_5xx: 1000\nfailure_percentage_minimum_hosts: 2\nfailure_percentage_request_volume: 10\n"
      "failure_percentage_threshold: 50\nenforcing_failure_percentage: 100\nmax_ejection_percent: 100\n");
  for (int i = 0; i < 10; ++i) {
    env.od->putHttpStatus(*env.hosts[0], i < 6 ? 500 : 200);
    env.od->putHttpStatus(*env.hosts[1], 200);
  }
  env.od->onInterval(env.t0 + milliseconds(10000));
  EXPECT_TRUE(env.ejected(0));
  EXPECT_FALSE(env.ejected(1));
  EXPECT_EQ(env.stat(OutlierStats::ejections_enforced_failure_percentage), 1u);
  EXPECT_DOUBLE_EQ(env.od->successRate(*env.hosts[1], false), 100.0);
}

TEST(OutlierDetectorTest, SuccessRateEjectsBelowMeanMinusStdev) {
  Env env(
      "consecutive_5xx: 1000\nsuccess_rate_minimum_hosts: 3\nsuccess_rate_request_volume: 10\n"
      "success_rate_stdev_factor: 1000\nmax_ejection_percent: 100\n",
      3);
  for (int i = 0; i < 20; ++i) {
    env.od->putHttpStatus(*env.hosts[0], i % 2 ? 503 : 200);
    env.od->putHttpStatus(*env.hosts[1], 200);
    env.od->putHttpStatus(*env.hosts[2], 200);
  }
  env.od->onInterval(env.t0 + milliseconds(10000));
  EXPECT_TRUE(env.ejected(0));
  EXPECT_EQ(env.stat(OutlierStats::ejections_enforced_success_rate), 1u);
  // Too few requests in the next interval: no rate, no ejection.
  env.od->putHttpStatus(*env.hosts[1], 503);
  env.od->onInterval(env.t0 + milliseconds(20000));
  EXPECT_FALSE(env.ejected(1));
  EXPECT_EQ(env.od->successRate(*env.hosts[1], false), -1);
}

TEST(OutlierDetectorTest, ConfigErrorsNameTheField) {
  stats::Store store(1);
  auto err = [&](const std::string& yaml) -> std::string {
    try {
      OutlierDetector::compile(fromYaml<OutlierDetection>(yaml), "c.outlier_detection",
                               store.scope("x.", OutlierStats::kDefs, OutlierStats::kCount, {}));
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "<accepted>";
  };
  EXPECT_EQ(err("base_ejection_time: 60s\nmax_ejection_time: 10s\n"),
            "c.outlier_detection: outlier detector's max_ejection_time cannot be smaller than base_ejection_time");
  EXPECT_EQ(err("enforcing_consecutive_5xx: 101\n"), "c.outlier_detection.enforcing_consecutive_5xx: must be 0-100");
  EXPECT_EQ(err("interval: 0s\n"), "c.outlier_detection.interval: must be greater than 0");
  // A base_ejection_time above the default maximum raises the maximum, as Envoy.
  EXPECT_EQ(err("base_ejection_time: 600s\n"), "<accepted>");
}

TEST(OutlierDetectorTest, AHostThatLeavesTakesItsEjectionWithIt) {
  Env env("consecutive_5xx: 1\nmax_ejection_percent: 100\n", 3);
  env.statuses(0, {503});
  ASSERT_TRUE(env.ejected(0));
  env.od->setHosts(*makeHostSet({env.hosts[1], env.hosts[2]}), env.t0);
  EXPECT_EQ(env.stat(OutlierStats::ejections_active), 0u);
}

}  // namespace
}  // namespace weft::proxy::upstream
