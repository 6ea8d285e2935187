// The runtime: static layers flattened as Envoy flattens them, the admin layer, the merged
// snapshot features read, and /runtime's rendering.
#include "proxy/runtime/runtime_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/config/error.h"
#include "proxy/proxy_test_support.h"

namespace weft::proxy::runtime {
namespace {

using envoy::config::bootstrap::v3::Bootstrap;
using weft::testing::fromYaml;

Loader load(const std::string& yaml) { return Loader(fromYaml<Bootstrap>(yaml)); }

TEST(RuntimeLoaderTest, StaticLayerIsFlattenedAndTyped) {
  auto l = load(R"(
layered_runtime:
  layers:
  - name: base
    static_layer:
      fault: {http: {abort: {abort_percent: 10}}}
      flag: true
      ratio: 0.25
      text: "42"
      word: hello
      canary: {numerator: 5, denominator: TEN_THOUSAND}
      empty: {}
)");
  auto s = l.snapshot();
  ASSERT_NE(s->get("fault.http.abort.abort_percent"), nullptr);
  EXPECT_EQ(*s->get("fault.http.abort.abort_percent")->integer, 10u);
  EXPECT_EQ(*s->get("flag")->boolean, true);
  EXPECT_DOUBLE_EQ(*s->get("ratio")->number, 0.25);
  EXPECT_FALSE(s->get("ratio")->integer);
  EXPECT_EQ(*s->get("text")->integer, 42u);  // a string that is a number is one
  EXPECT_EQ(s->get("word")->text, "hello");
  EXPECT_EQ(s->get("canary")->fraction, std::make_pair(5u, 10000u));
  EXPECT_EQ(s->get("empty")->fraction, std::make_pair(0u, 100u));
  EXPECT_EQ(s->getInteger("fault.http.abort.abort_percent", 99), 10u);
  EXPECT_EQ(s->getInteger("missing", 99), 99u);
  EXPECT_FALSE(l.hasAdminLayer());
}

TEST(RuntimeLoaderTest, LaterLayersAndTheAdminLayerOverride) {
  auto l = load(R"(
layered_runtime:
  layers:
  - {name: one, static_layer: {a: 1, b: 1}}
  - {name: two, static_layer: {b: 2}}
  - {name: admin, admin_layer: {}}
)");
  EXPECT_EQ(l.snapshot()->getInteger("b", 0), 2u);
  l.modify({{"a", "7"}, {"c", "x"}});
  EXPECT_EQ(l.snapshot()->getInteger("a", 0), 7u);
  EXPECT_EQ(l.adminOverrides(), 2u);
  l.modify({{"a", ""}});  // removed from the admin layer: the static value shows again
  EXPECT_EQ(l.snapshot()->getInteger("a", 0), 1u);
  auto j = nlohmann::json::parse(l.renderJson());
  EXPECT_EQ(j["layers"], nlohmann::json::array({"one", "two", "admin"}));
  EXPECT_EQ(j["entries"]["b"]["final_value"], "2");
  EXPECT_EQ(j["entries"]["b"]["layer_values"], nlohmann::json::array({"1", "2", ""}));
  EXPECT_EQ(j["entries"]["c"]["layer_values"], nlohmann::json::array({"", "", "x"}));
}

TEST(RuntimeLoaderTest, WithoutLayersAsEnvoy) {
  auto none = load("{}");
  EXPECT_FALSE(none.hasAdminLayer());
  EXPECT_EQ(none.layerCount(), 0u);
  auto empty = load("layered_runtime: {}");
  EXPECT_TRUE(empty.hasAdminLayer());
  EXPECT_EQ(empty.layerCount(), 1u);
}

TEST(RuntimeLoaderTest, BadEntriesNameTheirPath) {
  EXPECT_THROW(
      {
        try {
          load("layered_runtime: {layers: [{name: s, static_layer: {a: {b: [1]}}}]}");
        } catch (const ConfigError& e) {
          EXPECT_THAT(e.what(), ::testing::HasSubstr("layered_runtime.layers[0].static_layer.a.b: invalid runtime"));
          throw;
        }
      },
      ConfigError);
  EXPECT_THROW(load("layered_runtime: {layers: [{name: s, static_layer: {f: {numerator: 1, denominator: HALF}}}]}"),
               ConfigError);
  EXPECT_THROW(load("layered_runtime: {layers: [{name: a, admin_layer: {}}, {name: a, static_layer: {}}]}"),
               ConfigError);
}

TEST(RuntimeSnapshotTest, FeatureEnabledAsEnvoy) {
  Snapshot s;
  s.values["int"] = Value::parse("30");
  s.values["big"] = Value::parse("150");
  Value frac;
  frac.fraction = std::make_pair(1u, 1000000u);
  s.values["frac"] = frac;
  // The key's integer is a percentage, whatever the default's denominator (as Envoy).
  EXPECT_TRUE(s.featureEnabled("int", 0, 100, uint64_t{29}));
  EXPECT_FALSE(s.featureEnabled("int", 0, 100, uint64_t{30}));
  EXPECT_TRUE(s.featureEnabled("int", 0, 1000000, uint64_t{129}));   // 129 % 100 < 30
  EXPECT_FALSE(s.featureEnabled("int", 0, 1000000, uint64_t{131}));
  EXPECT_TRUE(s.featureEnabled("big", 0, 100, uint64_t{99}));  // above 100: always
  EXPECT_TRUE(s.featureEnabled("frac", 100, 100, uint64_t{0}));
  EXPECT_FALSE(s.featureEnabled("frac", 100, 100, uint64_t{1}));
  // Absent (or no key at all): the default.
  EXPECT_TRUE(s.featureEnabled("missing", 50, 100, uint64_t{49}));
  EXPECT_FALSE(s.featureEnabled("", 50, 100, uint64_t{50}));
  EXPECT_FALSE(s.featureEnabled("missing", 0, 100, uint64_t{0}));
}

}  // namespace
}  // namespace weft::proxy::runtime
