// istio.stats: Istio's standard HTTP metrics (stats.PluginConfig), counted when a stream ends:
// istio_requests_total, and the histograms istio_request_duration_milliseconds,
// istio_request_bytes and istio_response_bytes, with Istio's labels in Istio's order. The
// reporter follows the listener: an inbound listener reports as `destination` (the peer is the
// client, from the request's exchange headers), an outbound one as `source` (the peer is the
// server, from the response's). What is not known is "unknown", as Istio writes it. Each metric
// counts per worker without locks, at most kMaxSeries label sets per worker (see stats::Family).
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <chrono>

#include "common/config/error.h"
#include "envoy/extensions/stats/config.pb.h"
#include "proxy/http/filter_registry.h"
#include "proxy/http/hcm_config.h"
#include "proxy/stream_info.h"
#include "proxy/telemetry/peer_metadata.h"
#include "proxy/upstream/worker_cluster.h"
#include "proxy/worker_context.h"

namespace weft::proxy::http::istio_stats {

namespace {

constexpr size_t kMaxSeries = 2000;

enum Label : size_t {
  kReporter,
  kSourceWorkload,
  kSourceCanonicalService,
  kSourceCanonicalRevision,
  kSourceWorkloadNamespace,
  kSourcePrincipal,
  kSourceApp,
  kSourceVersion,
  kSourceCluster,
  kDestinationWorkload,
  kDestinationWorkloadNamespace,
  kDestinationPrincipal,
  kDestinationApp,
  kDestinationVersion,
  kDestinationService,
  kDestinationCanonicalService,
  kDestinationCanonicalRevision,
  kDestinationServiceName,
  kDestinationServiceNamespace,
  kDestinationCluster,
  kRequestProtocol,
  kResponseCode,
  kGrpcResponseStatus,
  kResponseFlags,
  kConnectionSecurityPolicy,
  kLabelCount
};

const char* const kLabelNames[kLabelCount] = {
    "reporter",
    "source_workload",
    "source_canonical_service",
    "source_canonical_revision",
    "source_workload_namespace",
    "source_principal",
    "source_app",
    "source_version",
    "source_cluster",
    "destination_workload",
    "destination_workload_namespace",
    "destination_principal",
    "destination_app",
    "destination_version",
    "destination_service",
    "destination_canonical_service",
    "destination_canonical_revision",
    "destination_service_name",
    "destination_service_namespace",
    "destination_cluster",
    "request_protocol",
    "response_code",
    "grpc_response_status",
    "response_flags",
    "connection_security_policy",
};

enum class Value { Requests, Duration, RequestBytes, ResponseBytes };

struct Metric {
  Value value;
  std::shared_ptr<stats::Family> family;
  std::vector<size_t> labels;  // indexes into kLabelNames, in order
};

struct Config {
  bool disable_host_header_fallback = false;
  std::vector<Metric> metrics;
};

// A certificate's first URI SAN without "spiffe://", as Istio's principal labels write it;
// "unknown" without one.
std::string principalOf(X509* cert) {
  std::string out = "unknown";
  if (cert == nullptr) return out;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type != GEN_URI) continue;
    const ASN1_STRING* s = n->d.uniformResourceIdentifier;
    out.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), static_cast<size_t>(ASN1_STRING_length(s)));
    break;
  }
  GENERAL_NAMES_free(names);
  if (out.rfind("spiffe://", 0) == 0) out.erase(0, 9);
  return out;
}

// The verified peer's identity.
std::string peerPrincipal(SSL* ssl) {
  if (ssl == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return "unknown";
  return principalOf(SSL_get0_peer_certificate(ssl));
}

// This proxy's own identity on the connection.
std::string localPrincipal(SSL* ssl) { return principalOf(ssl ? SSL_get_certificate(ssl) : nullptr); }

class IstioStatsFilter final : public StreamFilterBase, public StreamDecoderFilter {
 public:
  explicit IstioStatsFilter(const Config& c) : c_(c) {}
  void setDecoderFilterCallbacks(StreamDecoderFilterCallbacks& cb) override { dec_ = &cb; }
  FilterStatus decodeHeaders(RequestHead& head, bool) override {
    if (!c_.disable_host_header_fallback) host_ = std::string(head.host);
    return FilterStatus::Continue;
  }

  void onStreamComplete() override {
    const StreamInfo& info = dec_->streamInfo();
    bool inbound = dec_->hcm().inbound;
    const telemetry::PeerMetadata& self = telemetry::localPeer().metadata;
    const telemetry::PeerMetadata* peer = inbound ? info.downstream_peer.get() : info.upstream_peer.get();
    const telemetry::PeerMetadata* src = inbound ? peer : &self;
    const telemetry::PeerMetadata* dst = inbound ? &self : peer;
    // Views into long-lived strings (the peers' metadata, the cluster's config) or the locals
    // below: no allocation per request but the ones a TLS principal needs.
    std::string_view v[kLabelCount];
    v[kReporter] = inbound ? "destination" : "source";
    auto known = [](std::string_view s) { return s.empty() ? std::string_view("unknown") : s; };
    auto side = [&](const telemetry::PeerMetadata* p, size_t workload, size_t canonical, size_t revision, size_t ns,
                    size_t app, size_t version, size_t cluster) {
      v[workload] = p ? known(p->workload_name) : "unknown";
      v[canonical] = p ? known(p->canonicalService()) : "unknown";
      v[revision] = p ? p->canonicalRevision() : "latest";
      v[ns] = p ? known(p->ns) : "unknown";
      v[app] = p ? known(p->app) : "unknown";
      v[version] = p ? known(p->version) : "unknown";
      v[cluster] = p ? known(p->cluster_id) : "unknown";
    };
    side(src, kSourceWorkload, kSourceCanonicalService, kSourceCanonicalRevision, kSourceWorkloadNamespace, kSourceApp,
         kSourceVersion, kSourceCluster);
    side(dst, kDestinationWorkload, kDestinationCanonicalService, kDestinationCanonicalRevision,
         kDestinationWorkloadNamespace, kDestinationApp, kDestinationVersion, kDestinationCluster);
    std::string source_principal, destination_principal;
    if (inbound) {
      SSL* ssl = dec_->downstreamConnection().ssl();
      source_principal = peerPrincipal(ssl);
      destination_principal = localPrincipal(ssl);
      v[kConnectionSecurityPolicy] = source_principal != "unknown" ? "mutual_tls" : "none";
      v[kSourcePrincipal] = source_principal;
      v[kDestinationPrincipal] = destination_principal;
    } else {
      v[kSourcePrincipal] = v[kDestinationPrincipal] = v[kConnectionSecurityPolicy] = "unknown";
    }
    // The destination service: the cluster's Istio metadata, else the Host header.
    std::shared_ptr<upstream::WorkerCluster> cluster;
    if (!info.upstream_cluster.empty()) cluster = dec_->worker().cluster(info.upstream_cluster);
    const auto* svc = cluster && cluster->config().istio_service ? &*cluster->config().istio_service : nullptr;
    std::string_view host = std::string_view(host_).substr(0, host_.rfind(':'));
    v[kDestinationService] = svc ? std::string_view(svc->host) : known(host);
    v[kDestinationServiceName] = svc ? known(svc->name) : v[kDestinationService];
    v[kDestinationServiceNamespace] = svc ? known(svc->ns) : "unknown";
    bool grpc = dec_->isGrpc();
    v[kRequestProtocol] = grpc ? "grpc" : "http";
    char code[12], grpc_status[12];
    v[kResponseCode] =
        std::string_view(code, static_cast<size_t>(snprintf(code, sizeof(code), "%d", info.response_code)));
    v[kGrpcResponseStatus] =
        grpc && dec_->grpcStatus() >= 0
            ? std::string_view(grpc_status, static_cast<size_t>(
                                                snprintf(grpc_status, sizeof(grpc_status), "%d", dec_->grpcStatus())))
            : std::string_view();
    std::string flags = info.response_flags ? responseFlagsString(info.response_flags) : std::string();
    v[kResponseFlags] = info.response_flags ? std::string_view(flags) : std::string_view("-");

    double duration_ms = std::chrono::duration<double, std::milli>(info.end - info.start).count();
    // One key per label subset; the standard metrics share the full one unless overridden.
    thread_local std::string key;
    const std::vector<size_t>* built = nullptr;
    for (const Metric& m : c_.metrics) {
      if (built == nullptr || *built != m.labels) {
        key.clear();
        for (size_t i = 0; i < m.labels.size(); ++i) {
          if (i) key += stats::Family::kSeparator;
          key += v[m.labels[i]];
        }
        built = &m.labels;
      }
      auto* series = m.family->series(key);
      switch (m.value) {
        case Value::Requests:
          m.family->add(series, 1);
          break;
        case Value::Duration:
          m.family->observe(series, duration_ms);
          break;
        case Value::RequestBytes:
          m.family->observe(series, static_cast<double>(info.bytes_received));
          break;
        case Value::ResponseBytes:
          m.family->observe(series, static_cast<double>(info.bytes_sent));
          break;
      }
    }
  }

 private:
  const Config& c_;
  StreamDecoderFilterCallbacks* dec_ = nullptr;
  std::string host_;
};

class IstioStatsFactory final : public HttpFilterFactory {
 public:
  std::string_view name() const override { return "istio.stats"; }
  std::vector<std::string_view> configTypes() const override { return {"stats.PluginConfig"}; }
  config::FieldTable supportedFields() const override {
    return {
        // debug, max_peer_cache_size and the separators are deprecated and change nothing.
        {"stats.PluginConfig",
         {"debug", "max_peer_cache_size", "stat_prefix", "field_separator", "value_separator",
          "disable_host_header_fallback", "tcp_reporting_duration", "metrics", "reporter"}},
        {"stats.MetricConfig", {"name", "tags_to_remove", "drop", "dimensions"}},
    };
  }
  FilterFactoryCb compile(const google::protobuf::Any& any, const std::string& path,
                          FilterFactoryContext& ctx) const override {
    ::stats::PluginConfig p;
    if (!any.UnpackTo(&p)) throw ConfigError(path + ": cannot decode a stats.PluginConfig");
    if (p.reporter() != ::stats::UNSPECIFIED)
      throw ConfigError(path + ".reporter: SERVER_GATEWAY (waypoints) is not supported by weft-proxy");
    auto c = std::make_shared<Config>();
    c->disable_host_header_fallback = p.disable_host_header_fallback();
    std::string prefix = p.stat_prefix().empty() ? "istio_" : p.stat_prefix();
    struct Standard {
      const char* name;
      Value value;
      stats::Family::Type type;
    };
    const Standard standard[] = {
        {"requests_total", Value::Requests, stats::Family::Type::Counter},
        {"request_duration_milliseconds", Value::Duration, stats::Family::Type::Histogram},
        {"request_bytes", Value::RequestBytes, stats::Family::Type::Histogram},
        {"response_bytes", Value::ResponseBytes, stats::Family::Type::Histogram},
    };
    for (const auto& s : standard) {
      std::vector<bool> keep(kLabelCount, true);
      bool drop = false;
      for (int i = 0; i < p.metrics_size(); ++i) {
        const auto& o = p.metrics(i);
        std::string op = path + ".metrics[" + std::to_string(i) + "]";
        if (!o.dimensions().empty())
          throw ConfigError(op + ".dimensions: CEL expressions are not supported by weft-proxy");
        if (!o.name().empty() && o.name() != s.name) continue;
        drop = drop || o.drop();
        for (const auto& t : o.tags_to_remove()) {
          bool found = false;
          for (size_t l = 0; l < kLabelCount; ++l) {
            if (t == kLabelNames[l]) keep[l] = !(found = true);
          }
          if (!found) throw ConfigError(op + ".tags_to_remove: '" + t + "' is not one of Istio's labels");
        }
      }
      if (drop) continue;
      Metric m;
      m.value = s.value;
      std::vector<std::string> names;
      for (size_t l = 0; l < kLabelCount; ++l) {
        if (!keep[l]) continue;
        m.labels.push_back(l);
        names.push_back(kLabelNames[l]);
      }
      m.family = ctx.store.family(prefix + s.name, names, s.type, kMaxSeries);
      c->metrics.push_back(std::move(m));
    }
    return [c](FilterChainBuilder& chain) { chain.addDecoder<IstioStatsFilter>(*c); };
  }
};

}  // namespace

WEFT_REGISTER_HTTP_FILTER(IstioStatsFactory);

}  // namespace weft::proxy::http::istio_stats
