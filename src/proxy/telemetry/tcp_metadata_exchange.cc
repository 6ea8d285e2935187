#include "proxy/telemetry/tcp_metadata_exchange.h"

#include "common/config/error.h"
#include "common/proto/wire.h"
#include "proxy/config/typed_struct.h"

namespace weft::proxy::telemetry {

namespace {

constexpr std::string_view kStructTypeUrl = "type.googleapis.com/google.protobuf.Struct";
constexpr std::string_view kMetadataKey = "x-envoy-peer-metadata";
constexpr std::string_view kIdKey = "x-envoy-peer-metadata-id";

void putU32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

uint32_t getU32(std::string_view in) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

// google.protobuf.Struct: repeated fields (map<string, Value>) = 1; MapEntry: key = 1, value = 2.
// google.protobuf.Value: string_value = 3, struct_value = 5.
proto::Writer entry(std::string_view key, uint32_t value_field, std::string_view value_bytes) {
  proto::Writer value;
  value.bytes(value_field, value_bytes);
  proto::Writer e;
  e.bytes(1, key);
  e.message(2, value);
  return e;
}

}  // namespace

std::string encodeMxFrame(std::string_view metadata_struct_bytes, std::string_view node_id) {
  proto::Writer data;
  data.message(1, entry(kMetadataKey, 5, metadata_struct_bytes));
  if (!node_id.empty()) data.message(1, entry(kIdKey, 3, node_id));
  proto::Writer any;
  any.bytes(1, kStructTypeUrl);
  any.bytes(2, data.data());
  std::string out;
  putU32(out, kMxMagic);
  putU32(out, static_cast<uint32_t>(any.data().size()));
  out += any.data();
  return out;
}

MxDecode decodeMxFrame(std::string_view in, size_t& consumed, std::shared_ptr<const PeerMetadata>& peer) {
  if (in.size() < 4) return MxDecode::NeedMore;
  if (getU32(in) != kMxMagic) return MxDecode::Bad;
  if (in.size() < 8) return MxDecode::NeedMore;
  uint32_t size = getU32(in.substr(4));
  if (size > kMxMaxPayload) return MxDecode::Bad;
  if (in.size() < 8 + size) return MxDecode::NeedMore;
  consumed = 8 + size;
  std::string_view type_url, value;
  for (proto::Reader any(in.substr(8, size)); any.next();) {
    if (any.field() == 1) type_url = any.bytes();
    if (any.field() == 2) value = any.bytes();
  }
  if (type_url != kStructTypeUrl) return MxDecode::Bad;
  std::string_view metadata, id;
  proto::Reader fields(value);
  while (fields.next()) {
    if (fields.field() != 1) continue;
    std::string_view key, v;
    for (proto::Reader e(fields.bytes()); e.next();) {
      if (e.field() == 1) key = e.bytes();
      if (e.field() == 2) v = e.bytes();
    }
    for (proto::Reader val(v); val.next();) {
      if (key == kMetadataKey && val.field() == 5) metadata = val.bytes();
      if (key == kIdKey && val.field() == 3) id = val.bytes();
    }
  }
  if (!fields.ok()) return MxDecode::Bad;
  peer.reset();
  if (metadata.empty()) return MxDecode::Done;
  auto decoded = decodePeerMetadata(metadata);
  if (!decoded) return MxDecode::Bad;
  decoded->id = std::string(id);
  peer = std::make_shared<const PeerMetadata>(std::move(*decoded));
  return MxDecode::Done;
}

std::string mxProtocol(const google::protobuf::Any& typed_config, const std::string& path) {
  nlohmann::json j = config::typedStructJson(typed_config, path);
  for (const auto& [k, v] : j.items()) {
    if (k == "protocol") continue;
    // enable_discovery (ambient's workload discovery) and additional_labels have nothing to
    // find here: refused rather than ignored.
    throw ConfigError(path + ".value." + k + ": not supported by weft-proxy");
  }
  auto p = j.find("protocol");
  if (p == j.end() || !p->is_string() || p->get<std::string>().empty())
    throw ConfigError(path + ".value.protocol: must name the ALPN protocol (Istio: istio-peer-exchange)");
  return p->get<std::string>();
}

}  // namespace weft::proxy::telemetry
