#include "control/xds/istio_mtls.h"
#include "control/xds/pack.h"

#include "envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"

namespace weft::control::xds {

namespace tlsv3 = envoy::extensions::transport_sockets::tls::v3;
namespace corev3 = envoy::config::core::v3;

const std::vector<std::string> kAlpnInMeshWithMxc = {"istio-peer-exchange", "istio"};
const std::vector<std::string> kAlpnInMeshH2WithMxc = {"istio-peer-exchange", "istio", "h2"};
const std::vector<std::string> kAllIstioMtlsAlpns = {"istio", "istio-peer-exchange", "istio-http/1.0", "istio-http/1.1",
                                                     "istio-h2"};

tlsv3::SdsSecretConfig sdsSecret(const std::string& name) {
  tlsv3::SdsSecretConfig s;
  s.set_name(name);
  auto* src = s.mutable_sds_config();
  src->set_resource_api_version(corev3::V3);
  src->mutable_initial_fetch_timeout()->set_seconds(0);
  auto* api = src->mutable_api_config_source();
  api->set_api_type(corev3::ApiConfigSource::GRPC);
  api->set_transport_api_version(corev3::V3);
  api->set_set_node_on_first_message_only(true);
  api->add_grpc_services()->mutable_envoy_grpc()->set_cluster_name("sds-grpc");
  return s;
}

namespace {

// The workload certificate, the root over SDS, and the peers' SANs.
void meshCommon(tlsv3::CommonTlsContext& c, const std::vector<std::string>& sans) {
  c.mutable_tls_params()->set_tls_minimum_protocol_version(tlsv3::TlsParameters::TLSv1_2);
  c.mutable_tls_params()->set_tls_maximum_protocol_version(tlsv3::TlsParameters::TLSv1_3);
  *c.add_tls_certificate_sds_secret_configs() = sdsSecret("default");
  auto* combined = c.mutable_combined_validation_context();
  for (const auto& san : sans)
    combined->mutable_default_validation_context()->add_match_subject_alt_names()->set_exact(san);
  *combined->mutable_validation_context_sds_secret_config() = sdsSecret("ROOTCA");
}

}  // namespace

corev3::TransportSocket tlsSocket(const google::protobuf::Message& context) {
  corev3::TransportSocket ts;
  ts.set_name("envoy.transport_sockets.tls");
  pack(*ts.mutable_typed_config(), context);
  return ts;
}

std::string istioSni(uint32_t port, const std::string& subset, const std::string& host) {
  return "outbound_." + std::to_string(port) + "_." + subset + "_." + host;
}

corev3::TransportSocket istioMutualUpstream(const std::vector<std::string>& sans, const std::string& sni, bool http2) {
  tlsv3::UpstreamTlsContext u;
  meshCommon(*u.mutable_common_tls_context(), sans);
  for (const auto& a : http2 ? kAlpnInMeshH2WithMxc : kAlpnInMeshWithMxc)
    u.mutable_common_tls_context()->add_alpn_protocols(a);
  u.set_sni(sni);
  return tlsSocket(u);
}

void setAutoMtlsMatches(envoy::config::cluster::v3::Cluster& c, const corev3::TransportSocket& mutual) {
  auto* istio = c.add_transport_socket_matches();
  istio->set_name("tlsMode-istio");
  (*istio->mutable_match()->mutable_fields())["tlsMode"].set_string_value("istio");
  *istio->mutable_transport_socket() = mutual;
  auto* plain = c.add_transport_socket_matches();
  plain->set_name("tlsMode-disabled");
  plain->mutable_match();
  plain->mutable_transport_socket()->set_name("envoy.transport_sockets.raw_buffer");
  pack(*plain->mutable_transport_socket()->mutable_typed_config(),
       envoy::extensions::transport_sockets::raw_buffer::v3::RawBuffer());
}

corev3::TransportSocket istioMutualDownstream(bool http) {
  tlsv3::DownstreamTlsContext d;
  meshCommon(*d.mutable_common_tls_context(), {});
  for (const auto& a : http ? std::vector<std::string>{"h2", "http/1.1"} : kAlpnInMeshWithMxc)
    d.mutable_common_tls_context()->add_alpn_protocols(a);
  d.mutable_require_client_certificate()->set_value(true);
  return tlsSocket(d);
}

}  // namespace weft::control::xds
