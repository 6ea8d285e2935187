#include "control/xds/telemetry_gen.h"
#include "control/xds/pack.h"

#include <google/protobuf/util/json_util.h>

#include "envoy/extensions/stats/config.pb.h"
#include "xds/type/v3/typed_struct.pb.h"

namespace weft::control::xds {

namespace hcmv3 = envoy::extensions::filters::network::http_connection_manager::v3;

hcmv3::HttpFilter peerMetadataFilter(bool inbound) {
  // Istio's SidecarInboundMetadataFilter / SidecarOutboundMetadataFilterSkipHeaders.
  const char* config = inbound ? R"({"downstream_discovery": [{"istio_headers": {}}, {"workload_discovery": {}}],
                                     "downstream_propagation": [{"istio_headers": {}}]})"
                               : R"({"upstream_discovery": [{"istio_headers": {}}, {"workload_discovery": {}}],
                                     "upstream_propagation": [{"istio_headers": {"skip_external_clusters": true}}]})";
  ::xds::type::v3::TypedStruct ts;
  ts.set_type_url("type.googleapis.com/io.istio.http.peer_metadata.Config");
  (void)google::protobuf::util::JsonStringToMessage(config, ts.mutable_value());
  hcmv3::HttpFilter f;
  f.set_name("istio.metadata_exchange");
  pack(*f.mutable_typed_config(), ts);
  return f;
}

hcmv3::HttpFilter istioStatsFilter(bool inbound) {
  ::stats::PluginConfig p;
  p.set_disable_host_header_fallback(inbound);
  hcmv3::HttpFilter f;
  f.set_name("istio.stats");
  pack(*f.mutable_typed_config(), p);
  return f;
}

envoy::config::listener::v3::Filter istioTcpStatsFilter(bool inbound) {
  ::stats::PluginConfig p;
  p.set_disable_host_header_fallback(inbound);
  envoy::config::listener::v3::Filter f;
  f.set_name("istio.stats");
  pack(*f.mutable_typed_config(), p);
  return f;
}

void setIstioServiceMetadata(envoy::config::cluster::v3::Cluster& c, const MeshService& svc) {
  auto& istio = (*c.mutable_metadata()->mutable_filter_metadata())["istio"];
  auto* entry = (*istio.mutable_fields())["services"].mutable_list_value()->add_values()->mutable_struct_value();
  (*entry->mutable_fields())["host"].set_string_value(svc.hostname);
  (*entry->mutable_fields())["name"].set_string_value(svc.name.empty() ? svc.hostname : svc.name);
  (*entry->mutable_fields())["namespace"].set_string_value(svc.ns);
  if (svc.external) (*istio.mutable_fields())["external"].set_bool_value(true);
}

}  // namespace weft::control::xds
