#include "proxy/upstream/hash_lb.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "common/hash.h"

namespace weft::proxy::upstream {
namespace {

std::shared_ptr<const HostSet> hosts(int n, uint32_t first_weight = 1) {
  std::vector<std::shared_ptr<const Host>> v;
  for (int i = 0; i < n; ++i) {
    v.push_back(
        makeHost(*net::Address::parse("10.0.0." + std::to_string(i + 1), 80), i == 0 ? first_weight : 1, "c", "", 1));
  }
  return makeHostSet(std::move(v));
}

std::map<uint32_t, int> spread(const HashTable& t, int keys) {
  std::map<uint32_t, int> out;
  for (int k = 0; k < keys; ++k) ++out[t.pick(xxHash64("key-" + std::to_string(k)), 0)];
  return out;
}

// A host that leaves takes its own keys with it; of the others, few move: on the ring, the
// remaining hosts get more points each (minimum_ring_size is kept), as in Envoy.
void expectStableWhenAHostLeaves(bool maglev, int max_moved_percent) {
  auto all = hosts(5);
  auto four = makeHostSet({all->hosts.begin(), all->hosts.end() - 1});
  auto a = maglev ? buildMaglev(*all, 65537) : buildRingHash(*all, 1024, 8 << 20);
  auto b = maglev ? buildMaglev(*four, 65537) : buildRingHash(*four, 1024, 8 << 20);
  int moved = 0, kept = 0;
  for (int k = 0; k < 5000; ++k) {
    uint64_t h = xxHash64("key-" + std::to_string(k));
    uint32_t before = a->pick(h, 0);
    if (before == 4) continue;  // its host left
    (b->pick(h, 0) == before ? kept : moved)++;
  }
  EXPECT_LT(moved * 100, (kept + moved) * max_moved_percent) << "moved " << moved << " of " << kept + moved;
}

TEST(HashLbTest, RingHashSpreadsKeysEvenlyAndStably) {
  auto set = hosts(4);
  auto ring = buildRingHash(*set, 1024, 8 << 20);
  for (auto [host, count] : spread(*ring, 8000)) {
    EXPECT_GT(count, 1400) << host;
    EXPECT_LT(count, 2600) << host;
  }
  // The same hash always gives the same host; a retry's attempt moves along the ring.
  uint64_t h = xxHash64("user-42");
  EXPECT_EQ(ring->pick(h, 0), buildRingHash(*set, 1024, 8 << 20)->pick(h, 0));
  expectStableWhenAHostLeaves(false, 25);
}

TEST(HashLbTest, RingHashFollowsWeights) {
  auto ring = buildRingHash(*hosts(2, 3), 1024, 8 << 20);
  auto s = spread(*ring, 8000);
  EXPECT_NEAR(static_cast<double>(s[0]) / 8000, 0.75, 0.08);
}

TEST(HashLbTest, MaglevSpreadsKeysEvenlyAndStably) {
  auto set = hosts(4);
  auto table = buildMaglev(*set, 65537);
  for (auto [host, count] : spread(*table, 8000)) {
    EXPECT_GT(count, 1700) << host;
    EXPECT_LT(count, 2300) << host;
  }
  uint64_t h = xxHash64("user-42");
  EXPECT_NE(table->pick(h, 0), table->pick(h, 1));
  expectStableWhenAHostLeaves(true, 5);
}

TEST(HashLbTest, MaglevFollowsWeights) {
  auto s = spread(*buildMaglev(*hosts(2, 3), 65537), 8000);
  EXPECT_NEAR(static_cast<double>(s[0]) / 8000, 0.75, 0.03);
}

TEST(HashLbTest, XxHash64IsEnvoys) {
  // xxHash64 test vectors (seed 0), which Envoy's HashUtil::xxHash64 also gives.
  EXPECT_EQ(xxHash64(""), 0xef46db3751d8e999ULL);
  EXPECT_EQ(xxHash64("a"), 0xd24ec4f1a98c6e5bULL);
}

// Adding a fifth host to four moves about 1/5 of the keys: Maglev close to that, the ring a
// little more (each host's share of a ring of minimum_ring_size points shrinks, as in Envoy).
double movedWhenAHostIsAdded(bool maglev) {
  auto five = hosts(5);
  auto four = makeHostSet({five->hosts.begin(), five->hosts.end() - 1});
  auto a = maglev ? buildMaglev(*four, 65537) : buildRingHash(*four, 1024, 8 << 20);
  auto b = maglev ? buildMaglev(*five, 65537) : buildRingHash(*five, 1024, 8 << 20);
  int moved = 0;
  for (int k = 0; k < 10000; ++k) {
    uint64_t h = xxHash64("key-" + std::to_string(k));
    moved += four->hosts[a->pick(h, 0)] != five->hosts[b->pick(h, 0)];
  }
  return moved / 10000.0;
}

TEST(HashLbTest, AddingAHostMovesAboutOneNthOfTheKeys) {
  double maglev = movedWhenAHostIsAdded(true), ring = movedWhenAHostIsAdded(false);
  EXPECT_LT(maglev, 0.24) << maglev;
  EXPECT_LT(ring, 0.32) << ring;
  EXPECT_GT(maglev, 0.16) << maglev;  // the new host does get its share
  RecordProperty("maglev_moved", std::to_string(maglev));
  RecordProperty("ring_moved", std::to_string(ring));
}

}  // namespace
}  // namespace weft::proxy::upstream
