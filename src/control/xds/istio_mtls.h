#pragma once
// Istio's mutual TLS between sidecars, as Envoy config: the workload certificate (`default`) and
// root (`ROOTCA`) come over SDS from the agent (`sds-grpc`); ALPN marks mesh traffic
// (istio-peer-exchange, istio). Client side: ISTIO_MUTUAL and auto mTLS's
// transport_socket_matches on the endpoint's tlsMode. Server side: the inbound TLS context.
#include <string>
#include <vector>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/core/v3/base.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"

namespace weft::control::xds {

// Istio's ALPNs: what a sidecar offers upstream, and what an inbound mTLS chain matches.
extern const std::vector<std::string> kAlpnInMeshWithMxc;    // istio-peer-exchange, istio
extern const std::vector<std::string> kAlpnInMeshH2WithMxc;  // ... and h2
extern const std::vector<std::string> kAllIstioMtlsAlpns;    // istio, istio-peer-exchange, istio-http/*

// Istio's ConstructSdsSecretConfig: secret `name` from the agent's SDS server (sds-grpc).
envoy::extensions::transport_sockets::tls::v3::SdsSecretConfig sdsSecret(const std::string& name);
// envoy.transport_sockets.tls around a TLS context.
envoy::config::core::v3::TransportSocket tlsSocket(const google::protobuf::Message& context);

// UpstreamTlsContext for ISTIO_MUTUAL: SNI, the peer's SPIFFE SANs (exact), HTTP/2 or not.
envoy::config::core::v3::TransportSocket istioMutualUpstream(const std::vector<std::string>& sans,
                                                             const std::string& sni, bool http2);
// Auto mTLS: endpoints labelled tlsMode=istio get `mutual`, the others plaintext.
void setAutoMtlsMatches(envoy::config::cluster::v3::Cluster& c, const envoy::config::core::v3::TransportSocket& mutual);
// DownstreamTlsContext of an inbound mTLS chain: a client certificate from the mesh's root is
// required; `http`: ALPN h2 / http/1.1 for the HTTP connection manager.
envoy::config::core::v3::TransportSocket istioMutualDownstream(bool http);
// Istio's SNI for a cluster: outbound_.PORT_.SUBSET_.HOST.
std::string istioSni(uint32_t port, const std::string& subset, const std::string& host);

}  // namespace weft::control::xds
