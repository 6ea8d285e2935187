#pragma once
// Istio's workload metadata, as sidecars exchange it: `x-envoy-peer-metadata-id` is the node id
// and `x-envoy-peer-metadata` the base64 of a serialized google.protobuf.Struct of node metadata
// (NAME, NAMESPACE, CLUSTER_ID, WORKLOAD_NAME, OWNER, LABELS, ...). This proxy's own pair is made
// once from the bootstrap node; a peer's is decoded per request with the hand decoder of
// common/proto/wire.h (no libprotobuf on the request path) into the fields Istio's metrics use.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "envoy/config/core/v3/base.pb.h"

namespace weft::proxy::telemetry {

struct PeerMetadata {
  std::string id;  // x-envoy-peer-metadata-id (empty when not sent)
  std::string name, ns, cluster_id, workload_name, owner, service_account;
  std::string app, version, canonical_service, canonical_revision;  // from LABELS

  // Istio's canonical service and revision: the labels, else app / version, else the workload
  // and "latest".
  std::string_view canonicalService() const;
  std::string_view canonicalRevision() const;
};

// The Struct's wire bytes -> the fields above; nullopt when they are not a Struct.
std::optional<PeerMetadata> decodePeerMetadata(std::string_view struct_bytes);
// A header value (base64 of the Struct) -> metadata; nullopt when it is not one.
std::optional<PeerMetadata> peerMetadataFromHeader(std::string_view base64);
// The same through the calling thread's cache of recent peers (a sidecar sees the same few
// peers again and again): null when the value is not metadata. The cache is bounded.
std::shared_ptr<const PeerMetadata> cachedPeer(std::string_view id, std::string_view base64);

// This proxy's identity for the exchange, from the bootstrap node.
struct LocalPeer {
  std::string id;        // x-envoy-peer-metadata-id, and the node id
  std::string cluster;   // the node's cluster (a Zipkin span's serviceName)
  std::string zone;      // the node's locality zone
  std::string header;    // x-envoy-peer-metadata
  std::string mx_frame;  // the TCP metadata exchange's frame (tcp_metadata_exchange.h)
  PeerMetadata metadata;
};
std::shared_ptr<const LocalPeer> makeLocalPeer(const envoy::config::core::v3::Node& node);

// The process's own, set once from the bootstrap before workers start.
void setLocalPeer(std::shared_ptr<const LocalPeer> peer);
const LocalPeer& localPeer();

}  // namespace weft::proxy::telemetry
