// stats.PluginConfig's CEL dimensions: a standard label's value replaced, a new label after
// Istio's, removed tags gone; each expression compiled once; errors name the dimension.
#include "proxy/telemetry/istio_metrics.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <google/protobuf/util/json_util.h>

#include "common/config/error.h"
#include "proxy/cel/stream_attributes.h"

namespace weft::proxy::telemetry {
namespace {

std::shared_ptr<const MetricSet> compileJson(const std::string& json, stats::Store& store) {
  ::stats::PluginConfig p;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &p).ok()) << json;
  return MetricSet::compile(p, MetricSet::Kind::Http, store, "istio.stats");
}

TEST(IstioMetricsTest, CelDimensions) {
  stats::Store store(1);
  auto m = compileJson(R"json({"metrics": [
      {"name": "requests_total", "tags_to_remove": ["source_principal"],
       "dimensions": {"request_host": "request.host", "response_code": "'c' + string(response.code)"}},
      {"dimensions": {"request_host": "request.host"}}]})json",
                       store);
  ASSERT_TRUE(m->hasExpressions());
  EXPECT_EQ(m->capture().request, std::vector<std::string>{":authority"});
  std::shared_ptr<const stats::Family> requests;
  for (const auto& f : store.families())
    if (f->name() == "istio_requests_total") requests = f;
  ASSERT_TRUE(requests);
  const auto& names = requests->labels();
  EXPECT_EQ(std::count(names.begin(), names.end(), "source_principal"), 0);
  EXPECT_EQ(names.back(), "request_host");  // new labels after Istio's
  size_t code = std::find(names.begin(), names.end(), "response_code") - names.begin();
  ASSERT_LT(code, names.size());

  Observation o;
  o.response_code = 200;
  o.protocol = "http";
  Labels labels;
  computeLabels(o, labels);
  StreamInfo info;
  info.response_code = 200;
  std::vector<StreamInfo::Captured> req = {{true, "reviews:9080"}}, resp;
  m->evaluate(StreamActivation(info, req, resp), labels);
  m->record(labels, {{MetricSet::Value::Requests, 1}});
  auto totals = requests->totals();
  ASSERT_EQ(totals.size(), 1u);
  std::vector<std::string> values;
  std::string key = totals[0].first;
  for (size_t at = 0;;) {
    size_t sep = key.find(stats::Family::kSeparator, at);
    values.push_back(key.substr(at, sep - at));
    if (sep == std::string::npos) break;
    at = sep + 1;
  }
  ASSERT_EQ(values.size(), names.size());
  EXPECT_EQ(values[code], "c200");
  EXPECT_EQ(values.back(), "reviews:9080");
  // An absent header is Istio's "unknown".
  req[0].present = false;
  m->evaluate(StreamActivation(info, req, resp), labels);
  std::sort(labels.cel.begin(), labels.cel.end());
  EXPECT_EQ(labels.cel, (std::vector<std::string>{"c200", "unknown"}));
}

TEST(IstioMetricsTest, DimensionErrorsNameTheTag) {
  stats::Store store(1);
  try {
    compileJson(R"({"metrics": [{"dimensions": {"bad-name": "request.host"}}]})", store);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "istio.stats.metrics[0].dimensions[bad-name]: not a valid Prometheus label name");
  }
  try {
    compileJson(R"({"metrics": [{"dimensions": {"x": "request.nope"}}]})", store);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(
        std::string(e.what()).rfind("istio.stats.metrics[0].dimensions[x]: invalid CEL expression 'request.nope'", 0),
        0u)
        << e.what();
  }
}

}  // namespace
}  // namespace weft::proxy::telemetry
