#pragma once
// Istio's TCP metadata exchange (envoy.filters.network.metadata_exchange, ALPN
// "istio-peer-exchange"): before any application byte, each side of a mutual TLS connection
// sends one frame: the magic 0x3D230467 and the payload's size (both 32-bit big-endian), then a
// google.protobuf.Any of a Struct {"x-envoy-peer-metadata": <node metadata Struct>,
// "x-envoy-peer-metadata-id": <node id>}. Encoded once per process, decoded once per
// connection with the hand decoder (common/proto/wire.h).
#include <memory>
#include <string>
#include <string_view>

#include <google/protobuf/any.pb.h>

#include "common/net/connection.h"
#include "proxy/telemetry/peer_metadata.h"

namespace weft::proxy::telemetry {

inline constexpr uint32_t kMxMagic = 0x3D230467;
inline constexpr size_t kMxMaxPayload = 64 * 1024;  // a peer's metadata is a few hundred bytes

// This proxy's frame, from the exchanged node metadata Struct's bytes and the node id.
std::string encodeMxFrame(std::string_view metadata_struct_bytes, std::string_view node_id);

enum class MxDecode { NeedMore, Done, Bad };
// The peer's frame at the start of `in`: Done sets `consumed` (its length) and `peer` (null when
// the frame carried no metadata); Bad for a wrong magic, an oversized or malformed payload.
MxDecode decodeMxFrame(std::string_view in, size_t& consumed, std::shared_ptr<const PeerMetadata>& peer);

// The `protocol` (ALPN) of a MetadataExchange config (a TypedStruct of
// envoy.tcp.metadataexchange.config.MetadataExchange); throws ConfigError naming `path`.
std::string mxProtocol(const google::protobuf::Any& typed_config, const std::string& path);

// What the exchange leaves on a downstream connection for the filters after it.
struct PeerState final : net::ConnectionState {
  std::shared_ptr<const PeerMetadata> peer;
};

}  // namespace weft::proxy::telemetry
