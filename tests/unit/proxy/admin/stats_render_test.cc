#include "proxy/admin/stats_render.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "proxy/http/hcm_config.h"
#include "proxy/network/listener_config.h"
#include "proxy/upstream/cluster_config.h"

namespace weft::proxy::admin {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using upstream::ClusterStats;

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

class StatsRenderTest : public ::testing::Test {
 protected:
  StatsRenderTest() {
    auto x = store_.scope("cluster.x.", ClusterStats::kDefs, ClusterStats::kCount, {{"envoy_cluster_name", "x"}});
    auto y = store_.scope("cluster.y.", ClusterStats::kDefs, ClusterStats::kCount, {{"envoy_cluster_name", "y"}});
    x->inc(ClusterStats::upstream_rq_2xx, 3);
    x->inc(ClusterStats::upstream_rq_5xx);
    x->inc(ClusterStats::upstream_cx_active);
    x->inc(ClusterStats::upstream_cx_active);
    x->inc(ClusterStats::upstream_rq_total, 4);
    y->inc(ClusterStats::upstream_rq_2xx, 7);
    auto hcm = store_.scope("http.ingress.", http::HcmStats::kDefs, http::HcmStats::kCount,
                            {{"envoy_http_conn_manager_prefix", "ingress"}});
    hcm->inc(http::HcmStats::downstream_rq_4xx, 2);
    auto listener = store_.scope("listener.0.0.0.0_10000.", network::ListenerStats::kDefs,
                                 network::ListenerStats::kCount, {{"envoy_listener_address", "0.0.0.0_10000"}});
    listener->inc(network::ListenerStats::downstream_cx_total, 9);
    store_.setValue("server.state", 0);
    store_.setValue("server.live", 1);
  }
  stats::Store store_{1};
};

TEST_F(StatsRenderTest, PrometheusUsesEnvoyNamesAndLabels) {
  std::string out = renderPrometheus(store_);
  auto l = lines(out);
  auto has = [&](const std::string& line) { return std::find(l.begin(), l.end(), line) != l.end(); };
  EXPECT_TRUE(has("envoy_cluster_upstream_rq_xx{envoy_response_code_class=\"2\",envoy_cluster_name=\"x\"} 3")) << out;
  EXPECT_TRUE(has("envoy_cluster_upstream_rq_xx{envoy_response_code_class=\"5\",envoy_cluster_name=\"x\"} 1")) << out;
  EXPECT_TRUE(has("envoy_cluster_upstream_rq_xx{envoy_response_code_class=\"2\",envoy_cluster_name=\"y\"} 7")) << out;
  EXPECT_TRUE(has("envoy_cluster_upstream_rq_total{envoy_cluster_name=\"x\"} 4")) << out;
  EXPECT_TRUE(has("envoy_cluster_upstream_cx_active{envoy_cluster_name=\"x\"} 2")) << out;
  EXPECT_TRUE(
      has("envoy_http_downstream_rq_xx{envoy_response_code_class=\"4\",envoy_http_conn_manager_prefix=\"ingress\"} 2"))
      << out;
  EXPECT_TRUE(has("envoy_listener_downstream_cx_total{envoy_listener_address=\"0.0.0.0_10000\"} 9")) << out;
  EXPECT_TRUE(has("envoy_server_state 0")) << out;
  EXPECT_TRUE(has("envoy_server_live 1")) << out;
  EXPECT_TRUE(has("# TYPE envoy_cluster_upstream_rq_xx counter")) << out;
  EXPECT_TRUE(has("# TYPE envoy_cluster_upstream_cx_active gauge")) << out;
  EXPECT_TRUE(has("# TYPE envoy_server_state gauge")) << out;
  // No Envoy stat name leaks through unconverted.
  EXPECT_THAT(out, Not(HasSubstr("upstream_rq_2xx")));
  EXPECT_THAT(out, Not(HasSubstr("cluster.x")));
}

// The router's per-status gRPC counters (cluster.<name>.grpc.<status>, success, failure, total):
// Envoy's tag extraction leaves the status in the name, so envoy_cluster_grpc_0, not
// envoy_cluster_0 with the "grpc" part lost.
TEST(StatsRenderGrpcTest, ClusterGrpcStatusSeries) {
  stats::Store store(1);
  auto g = store.scope("cluster.echo.grpc.", upstream::GrpcStats::kDefs, upstream::GrpcStats::kCount,
                       {{"envoy_cluster_name", "echo"}});
  g->inc(0, 2);
  g->inc(upstream::GrpcStats::kTotal, 2);
  std::string out = renderPrometheus(store);
  EXPECT_THAT(out, HasSubstr("envoy_cluster_grpc_0{envoy_cluster_name=\"echo\"} 2\n")) << out;
  EXPECT_THAT(out, HasSubstr("envoy_cluster_grpc_total{envoy_cluster_name=\"echo\"} 2\n")) << out;
  EXPECT_THAT(out, Not(HasSubstr("envoy_cluster_0")));
}

TEST_F(StatsRenderTest, PrometheusHasOneTypeLinePerFamilyWithItsSamplesTogether) {
  std::string out = renderPrometheus(store_);
  std::set<std::string> families;
  std::string current;
  size_t samples = 0;
  for (const auto& line : lines(out)) {
    ASSERT_FALSE(line.empty());
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream in(line.substr(7));
      std::string name, type;
      in >> name >> type;
      EXPECT_TRUE(type == "counter" || type == "gauge") << line;
      EXPECT_TRUE(families.insert(name).second) << "second TYPE line for " << name;
      current = name;
      continue;
    }
    ASSERT_NE(line[0], '#') << line;
    std::string metric = line.substr(0, line.find_first_of("{ "));
    EXPECT_EQ(metric, current) << "sample outside its family: " << line;
    ++samples;
  }
  // 23 cluster stats x 2 clusters, where upstream_rq_{1..5}xx fold into one family.
  EXPECT_EQ(samples, store_.samples().size());
  EXPECT_EQ(families.count("envoy_cluster_upstream_rq_xx"), 1u);
  EXPECT_EQ(families.count("envoy_cluster_upstream_rq_2xx"), 0u);
}

TEST(StatsRenderLabelsTest, LabelValuesAreEscapedAndNamesSanitized) {
  stats::Store store(1);
  static constexpr stats::StatDef kDefs[] = {{"rq-total", stats::Kind::Counter}};
  auto s = store.scope("cluster.we\"ird\\name\nx.", kDefs, 1, {{"envoy_cluster_name", "we\"ird\\name\nx"}});
  s->inc(0, 1);
  store.setValue("server.hot-restart.epoch", 2);
  std::string out = renderPrometheus(store);
  EXPECT_THAT(out, HasSubstr("envoy_cluster_rq_total{envoy_cluster_name=\"we\\\"ird\\\\name\\nx\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("envoy_server_hot_restart_epoch 2\n"));
}

TEST(StatsRenderLabelsTest, TheNameKeepsWhatFollowsTheTaggedPart) {
  stats::Store store(1);
  static constexpr stats::StatDef kDefs[] = {{"ejections_active", stats::Kind::Gauge}};
  auto s = store.scope("cluster.outbound|80||a.b.svc.cluster.local.outlier_detection.", kDefs, 1,
                       {{"envoy_cluster_name", "outbound|80||a.b.svc.cluster.local"}});
  s->inc(0, 1);
  EXPECT_THAT(renderPrometheus(store),
              HasSubstr("envoy_cluster_outlier_detection_ejections_active{envoy_cluster_name=\"outbound|80||a.b.svc."
                        "cluster.local\"} 1\n"));
}

TEST_F(StatsRenderTest, TextFormat) {
  std::string out = renderStatsText(store_, "", false);
  auto l = lines(out);
  EXPECT_EQ(l.size(), store_.samples().size());
  EXPECT_TRUE(std::is_sorted(l.begin(), l.end()));
  EXPECT_EQ(l.front(), "cluster.x.lb_healthy_panic: 0");
  EXPECT_THAT(out, HasSubstr("\ncluster.x.upstream_rq_2xx: 3\n"));
  EXPECT_THAT(out, HasSubstr("\ncluster.y.upstream_rq_2xx: 7\n"));
  EXPECT_THAT(out, HasSubstr("\nlistener.0.0.0.0_10000.downstream_cx_total: 9\n"));
  EXPECT_EQ(l.back(), "server.state: 0");
}

TEST_F(StatsRenderTest, TextFilterAndUsedOnly) {
  EXPECT_EQ(renderStatsText(store_, "upstream_rq_2xx", false),
            "cluster.x.upstream_rq_2xx: 3\ncluster.y.upstream_rq_2xx: 7\n");
  EXPECT_EQ(renderStatsText(store_, "^cluster\\.x\\..*_[0-9]xx$", true),
            "cluster.x.upstream_rq_2xx: 3\ncluster.x.upstream_rq_5xx: 1\n");
  std::string used = renderStatsText(store_, "", true);
  EXPECT_EQ(lines(used).size(), 8u);
  EXPECT_THAT(used, Not(HasSubstr(": 0\n")));
}

TEST_F(StatsRenderTest, JsonFormat) {
  auto j = nlohmann::json::parse(renderStatsJson(store_, "cluster\\.y\\.upstream_rq_2xx", false));
  EXPECT_EQ(j, nlohmann::json::parse(R"({"stats": [{"name": "cluster.y.upstream_rq_2xx", "value": 7}]})"));
  auto all = nlohmann::json::parse(renderStatsJson(store_, "", true));
  EXPECT_EQ(all["stats"].size(), 8u);
}

}  // namespace
}  // namespace weft::proxy::admin

namespace weft::proxy::admin {
namespace {

// Labeled families (Istio's istio_* metrics): counters per label set summed over workers,
// histograms as cumulative _bucket with le, _sum and _count, the label-set cap's overflow.
TEST(StatsRenderFamiliesTest, CountersHistogramsAndTheCap) {
  stats::Store store(2);
  auto requests = store.family("istio_requests_total", {"reporter", "response_code"}, stats::Family::Type::Counter, 2);
  auto duration = store.family("istio_request_duration_milliseconds", {"reporter"}, stats::Family::Type::Histogram, 2);
  EXPECT_EQ(store.family("istio_requests_total", {"reporter", "response_code"}, stats::Family::Type::Counter, 2),
            requests);  // the same one
  std::string key = std::string("source") + stats::Family::kSeparator + "200";
  for (uint32_t row : {0u, 1u}) {
    stats::tls_row = row;
    requests->add(requests->series(key), 2);
    duration->observe(duration->series("source"), 3.0);
  }
  stats::tls_row = 0;
  duration->observe(duration->series("source"), 70000);
  // Two label sets fit; the third is only counted as overflow.
  requests->add(requests->series(std::string("source") + stats::Family::kSeparator + "503"), 1);
  EXPECT_EQ(requests->series(std::string("source") + stats::Family::kSeparator + "404"), nullptr);
  std::string out = renderPrometheus(store);
  EXPECT_THAT(out, HasSubstr("# TYPE istio_requests_total counter\n"));
  EXPECT_THAT(out, HasSubstr("istio_requests_total{reporter=\"source\",response_code=\"200\"} 4\n"));
  EXPECT_THAT(out, HasSubstr("istio_requests_total{reporter=\"source\",response_code=\"503\"} 1\n"));
  EXPECT_THAT(out, Not(HasSubstr("response_code=\"404\"")));
  EXPECT_THAT(out, HasSubstr("weft_istio_requests_total_overflow_total 1\n"));
  EXPECT_THAT(out, HasSubstr("# TYPE istio_request_duration_milliseconds histogram\n"));
  EXPECT_THAT(out, HasSubstr("istio_request_duration_milliseconds_bucket{reporter=\"source\",le=\"1\"} 0\n"));
  EXPECT_THAT(out, HasSubstr("istio_request_duration_milliseconds_bucket{reporter=\"source\",le=\"5\"} 2\n"));
  EXPECT_THAT(out, HasSubstr("istio_request_duration_milliseconds_bucket{reporter=\"source\",le=\"60000\"} 2\n"));
  EXPECT_THAT(out, HasSubstr("istio_request_duration_milliseconds_bucket{reporter=\"source\",le=\"300000\"} 3\n"));
  EXPECT_THAT(out, HasSubstr("istio_request_duration_milliseconds_bucket{reporter=\"source\",le=\"+Inf\"} 3\n"));
  EXPECT_THAT(out, HasSubstr("istio_request_duration_milliseconds_sum{reporter=\"source\"} 70006\n"));
  EXPECT_THAT(out, HasSubstr("istio_request_duration_milliseconds_count{reporter=\"source\"} 3\n"));
}

// Listeners may label one metric differently (a tag override on one direction only): each label
// set is a family of its own, rendered under the name's one TYPE line.
TEST(StatsRenderFamiliesTest, OneNameWithTwoLabelSets) {
  stats::Store store(1);
  auto in = store.family("istio_requests_total", {"reporter"}, stats::Family::Type::Counter, 1);
  auto out_fam = store.family("istio_requests_total", {"reporter", "request_host"}, stats::Family::Type::Counter, 1);
  ASSERT_NE(in, out_fam);
  stats::tls_row = 0;
  in->add(in->series("destination"), 1);
  out_fam->add(out_fam->series(std::string("source") + stats::Family::kSeparator + "shop"), 2);
  in->add(in->series("overflowing"), 1);
  out_fam->add(out_fam->series("overflowing"), 1);
  std::string out = renderPrometheus(store);
  EXPECT_EQ(out.find("# TYPE istio_requests_total counter\n"), out.rfind("# TYPE istio_requests_total counter\n"));
  EXPECT_THAT(out, HasSubstr("istio_requests_total{reporter=\"destination\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("istio_requests_total{reporter=\"source\",request_host=\"shop\"} 2\n"));
  EXPECT_THAT(out, HasSubstr("# TYPE weft_istio_requests_total_overflow_total counter\n"
                             "weft_istio_requests_total_overflow_total 2\n"));
}

}  // namespace
}  // namespace weft::proxy::admin
