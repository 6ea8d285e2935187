// istio.metadata_exchange: Istio's peer metadata filter (io.istio.http.peer_metadata.Config, sent
// by istiod as a TypedStruct). A sidecar learns who its peer is from the peer's
// x-envoy-peer-metadata(-id) headers and tells the peer who it is with its own:
//   inbound  (downstream_discovery / downstream_propagation): the request's headers name the
//            client; they are removed before the application sees them; the response carries
//            this workload's;
//   outbound (upstream_discovery / upstream_propagation): the request carries this workload's
//            (not to clusters outside the mesh); the response's name the server and are removed.
// `workload_discovery` (a lookup by address in workload metadata weft-proxy is not given) finds
// nothing, as Envoy's does without that provider; a peer is then `unknown` to the stats.
#include <nlohmann/json.hpp>

#include "common/config/error.h"
#include "common/strings.h"
#include "proxy/config/typed_struct.h"
#include "proxy/http/filter_registry.h"
#include "proxy/http/route_table.h"
#include "proxy/stream_info.h"
#include "proxy/telemetry/peer_metadata.h"
#include "proxy/upstream/worker_cluster.h"
#include "proxy/worker_context.h"

namespace weft::proxy::http::peer_metadata {

namespace {

constexpr std::string_view kIdHeader = "x-envoy-peer-metadata-id";
constexpr std::string_view kHeader = "x-envoy-peer-metadata";

struct Config {
  bool downstream_discovery = false, downstream_propagation = false;
  bool upstream_discovery = false, upstream_propagation = false;
  bool skip_external_clusters = false;
};

// Reads and removes the exchange headers from `headers`; the peer when they decode.
std::shared_ptr<const telemetry::PeerMetadata> takePeer(std::vector<Header>& headers) {
  std::string_view id, value;
  for (const auto& h : headers) {
    if (equalsIgnoreCase(h.name, kIdHeader)) id = h.value;
    if (equalsIgnoreCase(h.name, kHeader)) value = h.value;
  }
  std::shared_ptr<const telemetry::PeerMetadata> peer;
  if (!value.empty()) peer = telemetry::cachedPeer(id, value);
  std::erase_if(headers, [](const Header& h) {
    return equalsIgnoreCase(h.name, kIdHeader) || equalsIgnoreCase(h.name, kHeader);
  });
  return peer;
}

void addOwn(std::vector<Header>& headers) {
  const auto& self = telemetry::localPeer();
  if (self.header.empty()) return;
  headers.push_back({kIdHeader, self.id});
  headers.push_back({kHeader, self.header});
}

class PeerMetadataFilter final : public StreamFilterBase, public StreamDecoderFilter, public StreamEncoderFilter {
 public:
  explicit PeerMetadataFilter(const Config& c) : c_(c) {}
  void setDecoderFilterCallbacks(StreamDecoderFilterCallbacks& cb) override { dec_ = &cb; }
  void setEncoderFilterCallbacks(StreamEncoderFilterCallbacks& cb) override { enc_ = &cb; }

  FilterStatus decodeHeaders(RequestHead& head, bool) override {
    if (c_.downstream_discovery) dec_->streamInfo().downstream_peer = takePeer(head.headers);
    if (c_.upstream_propagation && inMesh()) {
      // A client's own exchange headers never pass through as if they were this workload's.
      std::erase_if(head.headers, [](const Header& h) {
        return equalsIgnoreCase(h.name, kIdHeader) || equalsIgnoreCase(h.name, kHeader);
      });
      addOwn(head.headers);
    }
    return FilterStatus::Continue;
  }
  FilterStatus encodeHeaders(ResponseHead& head, bool) override {
    if (c_.upstream_discovery) enc_->streamInfo().upstream_peer = takePeer(head.headers);
    if (c_.downstream_propagation) addOwn(head.headers);
    return FilterStatus::Continue;
  }

 private:
  // Whether the routed cluster is in the mesh (peer metadata is not sent to the outside).
  bool inMesh() {
    const WeightedTarget* t = dec_->target();
    if (t == nullptr) return false;
    if (t->cluster == "PassthroughCluster" || t->cluster == "BlackHoleCluster") return false;
    if (!c_.skip_external_clusters) return true;
    auto cluster = dec_->worker().cluster(t->cluster);
    return cluster && !cluster->config().istio_external;
  }

  const Config& c_;
  StreamDecoderFilterCallbacks* dec_ = nullptr;
  StreamEncoderFilterCallbacks* enc_ = nullptr;
};

// [{istio_headers: {...}}, {workload_discovery: {}}] -> whether istio_headers is there.
bool methods(const nlohmann::json& list, const std::string& path, bool propagation, bool* skip_external) {
  if (!list.is_array()) throw ConfigError(path + ": must be a list of methods");
  bool headers = false;
  for (size_t i = 0; i < list.size(); ++i) {
    std::string p = path + "[" + std::to_string(i) + "]";
    if (!list[i].is_object() || list[i].size() != 1) throw ConfigError(p + ": must be one method");
    if (list[i].contains("istio_headers")) {
      headers = true;
      const auto& h = list[i]["istio_headers"];
      for (const auto& [k, v] : h.items()) {
        if (propagation && k == "skip_external_clusters" && skip_external) {
          *skip_external = v.is_boolean() && v.get<bool>();
          continue;
        }
        throw ConfigError(p + ".istio_headers." + k + ": not supported by weft-proxy");
      }
    } else if (!propagation && list[i].contains("workload_discovery")) {
      continue;  // no workload metadata provider: finds nothing
    } else {
      throw ConfigError(p + ": '" + list[i].begin().key() + "' is not supported by weft-proxy (istio_headers" +
                        (propagation ? "" : ", workload_discovery") + " are)");
    }
  }
  return headers;
}

class PeerMetadataFactory final : public HttpFilterFactory {
 public:
  std::string_view name() const override { return "istio.metadata_exchange"; }
  std::vector<std::string_view> configTypes() const override { return {"io.istio.http.peer_metadata.Config"}; }
  config::FieldTable supportedFields() const override {
    return {{"xds.type.v3.TypedStruct", {"type_url", "value"}}, {"udpa.type.v1.TypedStruct", {"type_url", "value"}}};
  }
  FilterFactoryCb compile(const google::protobuf::Any& any, const std::string& path,
                          FilterFactoryContext&) const override {
    nlohmann::json j = config::typedStructJson(any, path);
    auto c = std::make_shared<Config>();
    for (const auto& [k, v] : j.items()) {
      std::string p = path + ".value." + k;
      if (k == "downstream_discovery")
        c->downstream_discovery = methods(v, p, false, nullptr);
      else if (k == "downstream_propagation")
        c->downstream_propagation = methods(v, p, true, nullptr);
      else if (k == "upstream_discovery")
        c->upstream_discovery = methods(v, p, false, nullptr);
      else if (k == "upstream_propagation")
        c->upstream_propagation = methods(v, p, true, &c->skip_external_clusters);
      else if (k == "shared_with_upstream" || k == "additional_labels")
        continue;  // for waypoints' upstream filters and extra labels, which weft-proxy's stats do not read
      else
        throw ConfigError(p + ": not supported by weft-proxy");
    }
    return [c](FilterChainBuilder& chain) { chain.addBoth<PeerMetadataFilter>(*c); };
  }
};

}  // namespace

WEFT_REGISTER_HTTP_FILTER(PeerMetadataFactory);

}  // namespace weft::proxy::http::peer_metadata
