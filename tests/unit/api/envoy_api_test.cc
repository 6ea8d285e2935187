// The generated Envoy API library: every type in it must be resolvable by name at run time,
// because Envoy configuration names types only in Any "@type" / type_url strings.

#include <chrono>
#include <string>

#include <google/protobuf/any.pb.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "envoy/config/bootstrap/v3/bootstrap.pb.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"

namespace {

using envoy::config::bootstrap::v3::Bootstrap;
using envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;
using google::protobuf::util::JsonStringToMessage;

constexpr const char* kHcmType =
    "type.googleapis.com/"
    "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";

// A listener with an HCM network filter (routing to a static route config, router filter), a
// tls_inspector listener filter and a file access log. The last two types are never named in this
// file's C++ code, so parsing them shows the library registers types nobody references.
constexpr const char* kBootstrapJson = R"json({
  "node": {"id": "sidecar~10.0.0.1~app.default~default.svc.cluster.local", "cluster": "app"},
  "static_resources": {
    "listeners": [{
      "name": "ingress_http",
      "address": {"socket_address": {"address": "127.0.0.1", "port_value": 10000}},
      "listener_filters": [{
        "name": "envoy.filters.listener.tls_inspector",
        "typed_config": {
          "@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"
        }
      }],
      "filter_chains": [{
        "filters": [{
          "name": "envoy.filters.network.http_connection_manager",
          "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            "stat_prefix": "ingress_http",
            "codec_type": "AUTO",
            "access_log": [{
              "name": "envoy.access_loggers.file",
              "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                "path": "/dev/stdout"
              }
            }],
            "route_config": {
              "name": "local_route",
              "virtual_hosts": [{
                "name": "backend",
                "domains": ["*"],
                "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "backend", "timeout": "5s"}}]
              }]
            },
            "http_filters": [{
              "name": "envoy.filters.http.router",
              "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}
            }]
          }
        }]
      }]
    }],
    "clusters": [{
      "name": "backend",
      "type": "STATIC",
      "connect_timeout": "0.25s",
      "load_assignment": {
        "cluster_name": "backend",
        "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {
          "socket_address": {"address": "127.0.0.1", "port_value": 8080}}}}]}]
      }
    }]
  }
})json";

TEST(EnvoyApi, BootstrapJsonWithTypedConfigParsesAndUnpacks) {
  Bootstrap bootstrap;
  const auto status = JsonStringToMessage(kBootstrapJson, &bootstrap);
  ASSERT_TRUE(status.ok()) << status.ToString();

  ASSERT_EQ(bootstrap.static_resources().listeners_size(), 1);
  const auto& listener = bootstrap.static_resources().listeners(0);
  EXPECT_EQ(listener.name(), "ingress_http");
  EXPECT_EQ(listener.address().socket_address().port_value(), 10000u);
  ASSERT_EQ(listener.listener_filters_size(), 1);
  EXPECT_EQ(listener.listener_filters(0).typed_config().type_url(),
            "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector");

  ASSERT_EQ(listener.filter_chains_size(), 1);
  ASSERT_EQ(listener.filter_chains(0).filters_size(), 1);
  const google::protobuf::Any& any = listener.filter_chains(0).filters(0).typed_config();
  EXPECT_EQ(any.type_url(), kHcmType);
  ASSERT_TRUE(any.Is<HttpConnectionManager>());

  HttpConnectionManager hcm;
  ASSERT_TRUE(any.UnpackTo(&hcm));
  EXPECT_EQ(hcm.stat_prefix(), "ingress_http");
  EXPECT_EQ(hcm.codec_type(), HttpConnectionManager::AUTO);
  ASSERT_EQ(hcm.route_config().virtual_hosts_size(), 1);
  const auto& route = hcm.route_config().virtual_hosts(0).routes(0);
  EXPECT_EQ(route.match().prefix(), "/");
  EXPECT_EQ(route.route().cluster(), "backend");
  EXPECT_EQ(route.route().timeout().seconds(), 5);
  ASSERT_EQ(hcm.access_log_size(), 1);

  ASSERT_EQ(hcm.http_filters_size(), 1);
  envoy::extensions::filters::http::router::v3::Router router;
  EXPECT_TRUE(hcm.http_filters(0).typed_config().UnpackTo(&router));

  // Clusters: Duration in JSON form.
  ASSERT_EQ(bootstrap.static_resources().clusters_size(), 1);
  EXPECT_EQ(bootstrap.static_resources().clusters(0).connect_timeout().nanos(), 250000000);

  // And back: the JSON printer must also resolve the nested Any types.
  std::string json;
  const auto print_status = google::protobuf::util::MessageToJsonString(bootstrap, &json);
  ASSERT_TRUE(print_status.ok()) << print_status.ToString();
  EXPECT_NE(json.find("envoy.access_loggers.file"), std::string::npos);
  EXPECT_NE(json.find("/dev/stdout"), std::string::npos);
}

TEST(EnvoyApi, UnknownTypeUrlIsAnError) {
  constexpr const char* kJson = R"json({
    "static_resources": {"listeners": [{
      "name": "l",
      "filter_chains": [{"filters": [{
        "name": "bogus",
        "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.network.nope.v3.Nope",
                         "x": 1}
      }]}]
    }]}
  })json";
  Bootstrap bootstrap;
  const auto status = JsonStringToMessage(kJson, &bootstrap);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.ToString().find("envoy.extensions.filters.network.nope.v3.Nope"), std::string::npos)
      << status.ToString();
}

TEST(EnvoyApi, AllRootTypesAreInTheGeneratedPool) {
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const char* name : {
           "envoy.config.bootstrap.v3.Bootstrap",
           "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
           "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
           "envoy.extensions.filters.http.router.v3.Router",
           "envoy.extensions.filters.http.fault.v3.HTTPFault",
           "envoy.extensions.access_loggers.file.v3.FileAccessLog",
           "envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
           "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
           "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
           "envoy.extensions.transport_sockets.tls.v3.Secret",
           "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
           "envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector",
           "envoy.extensions.filters.listener.original_dst.v3.OriginalDst",
           "envoy.service.discovery.v3.DiscoveryRequest",
           "envoy.service.discovery.v3.DeltaDiscoveryResponse",
           "envoy.admin.v3.ConfigDump",
           "envoy.admin.v3.ServerInfo",
           "envoy.admin.v3.Clusters",
           "envoy.config.cluster.v3.Cluster",
           "envoy.config.endpoint.v3.ClusterLoadAssignment",
           "envoy.config.route.v3.RouteConfiguration",
           "envoy.config.listener.v3.Listener",
       }) {
    EXPECT_NE(pool->FindMessageTypeByName(name), nullptr) << name;
  }
  EXPECT_NE(pool->FindServiceByName("envoy.service.discovery.v3.AggregatedDiscoveryService"), nullptr);
  EXPECT_NE(pool->FindServiceByName("envoy.service.secret.v3.SecretDiscoveryService"), nullptr);
}

// weft_envoy_grpc: the ADS stub links and fails cleanly when nobody listens.
TEST(EnvoyGrpc, AdsStubReportsUnavailableWithoutServer) {
  using envoy::service::discovery::v3::AggregatedDiscoveryService;
  EXPECT_STREQ(AggregatedDiscoveryService::service_full_name(),
               "envoy.service.discovery.v3.AggregatedDiscoveryService");

  auto channel = grpc::CreateChannel("unix:/nonexistent/weft-envoy-api-test.sock", grpc::InsecureChannelCredentials());
  auto stub = AggregatedDiscoveryService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  auto stream = stub->StreamAggregatedResources(&ctx);
  envoy::service::discovery::v3::DiscoveryRequest req;
  req.set_type_url("type.googleapis.com/envoy.config.cluster.v3.Cluster");
  stream->Write(req);  // may fail; the status below tells why
  stream->WritesDone();
  const grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

}  // namespace
