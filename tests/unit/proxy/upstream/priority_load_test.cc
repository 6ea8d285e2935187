#include "proxy/upstream/priority_load.h"

#include <gtest/gtest.h>

namespace weft::proxy::upstream {
namespace {

TEST(PriorityLoadTest, HealthyFirstPriorityTakesEverything) {
  auto l = computePriorityLoad({{10, 10}, {10, 10}}, 140, 50);
  EXPECT_EQ(l.load, (std::vector<uint32_t>{100, 0}));
  EXPECT_EQ(l.panic, (std::vector<bool>{false, false}));
}

TEST(PriorityLoadTest, OverprovisioningKeepsLoadUntilBelowSeventyOnePercent) {
  // 8 of 10 healthy: 80% x 1.4 = 112%, capped at 100: no spill.
  EXPECT_EQ(computePriorityLoad({{10, 8}, {10, 10}}, 140, 50).load, (std::vector<uint32_t>{100, 0}));
  // 5 of 10: 70% health, the rest spills to P1 (Envoy's documented example).
  EXPECT_EQ(computePriorityLoad({{10, 5}, {10, 10}}, 140, 50).load, (std::vector<uint32_t>{70, 30}));
  // A factor of 100 spills as soon as a host fails.
  EXPECT_EQ(computePriorityLoad({{10, 9}, {10, 10}}, 100, 50).load, (std::vector<uint32_t>{90, 10}));
}

TEST(PriorityLoadTest, AllOfAPriorityDownFailsOverCompletely) {
  auto l = computePriorityLoad({{3, 0}, {2, 2}, {4, 4}}, 140, 50);
  EXPECT_EQ(l.load, (std::vector<uint32_t>{0, 100, 0}));
  EXPECT_EQ(l.panic, (std::vector<bool>{false, false, false}));  // total health is 100
}

TEST(PriorityLoadTest, LoadScalesWhenTotalHealthIsShort) {
  // 20% x 1.4 = 28 and 20% x 1.4 = 28: total 56, so each gets 50.
  auto l = computePriorityLoad({{10, 2}, {10, 2}}, 140, 50);
  EXPECT_EQ(l.load, (std::vector<uint32_t>{50, 50}));
  EXPECT_EQ(l.panic, (std::vector<bool>{true, true}));
}

TEST(PriorityLoadTest, TotalPanicSplitsByHostCount) {
  auto l = computePriorityLoad({{1, 0}, {3, 0}}, 140, 50);
  EXPECT_EQ(l.load, (std::vector<uint32_t>{25, 75}));
  EXPECT_EQ(l.panic, (std::vector<bool>{true, true}));
}

TEST(PriorityLoadTest, NoHealthyHostAndPanicOffSendsAllToPriorityZero) {
  auto l = computePriorityLoad({{2, 0}, {2, 0}}, 140, 0);
  EXPECT_EQ(l.load, (std::vector<uint32_t>{100, 0}));
  EXPECT_EQ(l.panic, (std::vector<bool>{false, false}));
}

TEST(PriorityLoadTest, PanicOnlyWhereTotalHealthIsShort) {
  // P0 has 1 of 4 healthy (25% < 50%) but P1 covers the rest: total 100, no panic anywhere.
  auto l = computePriorityLoad({{4, 1}, {4, 4}}, 140, 50);
  EXPECT_EQ(l.load, (std::vector<uint32_t>{35, 65}));
  EXPECT_EQ(l.panic, (std::vector<bool>{false, false}));
}

TEST(PriorityLoadTest, ExcludedPrioritiesTakeNoLoad) {
  std::vector<uint32_t> load;
  ASSERT_TRUE(excludePriorities({100, 100, 100}, 0b001, load));
  EXPECT_EQ(load, (std::vector<uint32_t>{0, 100, 0}));
  ASSERT_TRUE(excludePriorities({100, 100, 100}, 0b011, load));
  EXPECT_EQ(load, (std::vector<uint32_t>{0, 0, 100}));
  EXPECT_FALSE(excludePriorities({100, 0}, 0b01, load));
}

TEST(PriorityLoadTest, ChoosePriorityFollowsLoad) {
  std::vector<uint32_t> load{70, 30};
  int p1 = 0;
  for (uint64_t v = 0; v < 100; ++v) p1 += choosePriority(load, v) == 1;
  EXPECT_EQ(p1, 30);
  EXPECT_EQ(choosePriority({0, 100}, 0), 1u);
}

TEST(PriorityLoadTest, EffectiveLocalityWeight) {
  EXPECT_DOUBLE_EQ(effectiveLocalityWeight(10, 4, 4, 140), 10);
  EXPECT_DOUBLE_EQ(effectiveLocalityWeight(10, 3, 4, 140), 10);  // 75% x 1.4 > 1
  EXPECT_DOUBLE_EQ(effectiveLocalityWeight(10, 1, 2, 140), 7);
  EXPECT_DOUBLE_EQ(effectiveLocalityWeight(10, 0, 2, 140), 0);
  EXPECT_DOUBLE_EQ(effectiveLocalityWeight(0, 2, 2, 140), 0);
}

}  // namespace
}  // namespace weft::proxy::upstream
