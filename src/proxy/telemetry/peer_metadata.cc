#include "proxy/telemetry/peer_metadata.h"

#include <unordered_map>

#include "common/base64.h"
#include "common/proto/wire.h"
#include "proxy/telemetry/tcp_metadata_exchange.h"

namespace weft::proxy::telemetry {

namespace {

// google.protobuf.Struct: fields = 1 (map entries: key = 1, value = 2);
// Value: null = 1, number = 2, string = 3, bool = 4, struct = 5, list = 6.
template <typename F>
bool eachField(std::string_view struct_bytes, F on_field) {
  proto::Reader r(struct_bytes);
  while (r.next()) {
    if (r.field() != 1 || r.wireType() != 2) continue;
    proto::Reader entry(r.bytes());
    std::string_view key, value;
    while (entry.next()) {
      if (entry.field() == 1 && entry.wireType() == 2) key = entry.bytes();
      if (entry.field() == 2 && entry.wireType() == 2) value = entry.bytes();
    }
    if (!entry.ok()) return false;
    on_field(key, value);
  }
  return r.ok();
}

// A Value's string (or nested struct bytes when `nested`); nullopt for other kinds.
std::optional<std::string_view> valueOf(std::string_view value, uint32_t kind) {
  proto::Reader v(value);
  while (v.next())
    if (v.field() == kind && v.wireType() == 2) return v.bytes();
  return std::nullopt;
}

std::shared_ptr<const LocalPeer>& current() {
  static std::shared_ptr<const LocalPeer> peer = std::make_shared<LocalPeer>();
  return peer;
}

// The node metadata keys Istio's sidecars put in the exchange.
const char* const kExchanged[] = {"NAME",         "NAMESPACE",     "CLUSTER_ID",        "LABELS",
                                  "OWNER",        "WORKLOAD_NAME", "PLATFORM_METADATA", "APP_CONTAINERS",
                                  "INSTANCE_IPS", "MESH_ID",       "ISTIO_VERSION",     "SERVICE_ACCOUNT"};

}  // namespace

std::string_view PeerMetadata::canonicalService() const {
  if (!canonical_service.empty()) return canonical_service;
  if (!app.empty()) return app;
  return workload_name;
}

std::string_view PeerMetadata::canonicalRevision() const {
  if (!canonical_revision.empty()) return canonical_revision;
  if (!version.empty()) return version;
  return "latest";
}

std::optional<PeerMetadata> decodePeerMetadata(std::string_view struct_bytes) {
  PeerMetadata m;
  auto str = [](std::string_view value) { return std::string(valueOf(value, 3).value_or("")); };
  bool ok = eachField(struct_bytes, [&](std::string_view key, std::string_view value) {
    if (key == "NAME")
      m.name = str(value);
    else if (key == "NAMESPACE")
      m.ns = str(value);
    else if (key == "CLUSTER_ID")
      m.cluster_id = str(value);
    else if (key == "WORKLOAD_NAME")
      m.workload_name = str(value);
    else if (key == "OWNER")
      m.owner = str(value);
    else if (key == "SERVICE_ACCOUNT")
      m.service_account = str(value);
    else if (key == "LABELS") {
      auto labels = valueOf(value, 5);
      if (!labels) return;
      eachField(*labels, [&](std::string_view k, std::string_view v) {
        if (k == "app")
          m.app = str(v);
        else if (k == "version")
          m.version = str(v);
        else if (k == "service.istio.io/canonical-name")
          m.canonical_service = str(v);
        else if (k == "service.istio.io/canonical-revision")
          m.canonical_revision = str(v);
      });
    }
  });
  if (!ok) return std::nullopt;
  return m;
}

std::optional<PeerMetadata> peerMetadataFromHeader(std::string_view b64) {
  if (b64.empty() || b64.size() > 64 * 1024) return std::nullopt;
  auto raw = base64Decode(b64);
  if (!raw) return std::nullopt;
  return decodePeerMetadata(*raw);
}

std::shared_ptr<const PeerMetadata> cachedPeer(std::string_view id, std::string_view b64) {
  constexpr size_t kMaxEntries = 256;
  thread_local std::unordered_map<std::string, std::shared_ptr<const PeerMetadata>> cache;
  thread_local std::string key;
  key.assign(id);
  key += '\n';
  key += b64;
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  auto m = peerMetadataFromHeader(b64);
  if (!m) return nullptr;
  m->id = std::string(id);
  auto peer = std::make_shared<const PeerMetadata>(std::move(*m));
  if (cache.size() >= kMaxEntries) cache.clear();  // bounded: a peer inventing values only costs decodes
  cache.emplace(key, peer);
  return peer;
}

std::shared_ptr<const LocalPeer> makeLocalPeer(const envoy::config::core::v3::Node& node) {
  auto p = std::make_shared<LocalPeer>();
  p->id = node.id();
  p->cluster = node.cluster();
  p->zone = node.locality().zone();
  google::protobuf::Struct exchanged;
  for (const char* key : kExchanged) {
    auto it = node.metadata().fields().find(key);
    if (it != node.metadata().fields().end()) (*exchanged.mutable_fields())[key] = it->second;
  }
  std::string bytes = exchanged.SerializeAsString();
  p->header = base64Encode(bytes);
  p->mx_frame = encodeMxFrame(bytes, p->id);
  p->metadata = decodePeerMetadata(bytes).value_or(PeerMetadata{});
  p->metadata.id = p->id;
  return p;
}

void setLocalPeer(std::shared_ptr<const LocalPeer> peer) { current() = std::move(peer); }
const LocalPeer& localPeer() { return *current(); }

}  // namespace weft::proxy::telemetry
