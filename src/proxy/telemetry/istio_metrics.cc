#include "proxy/telemetry/istio_metrics.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <map>
#include <optional>
#include <span>

#include "common/config/error.h"
#include "common/tls/subject_alt_names.h"
#include "proxy/cel/stream_attributes.h"
#include "proxy/stream_info.h"

namespace weft::proxy::telemetry {

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

namespace {

constexpr size_t kMaxSeries = 2000;

// A certificate's first URI SAN without "spiffe://", as Istio's principal labels write it;
// "unknown" without one.
std::string principalOf(X509* cert) {
  auto uris = weft::tls::subjectAltNames(cert, GEN_URI);
  if (uris.empty()) return "unknown";
  std::string out = std::move(uris.front());
  if (out.rfind("spiffe://", 0) == 0) out.erase(0, 9);
  return out;
}

std::string_view known(std::string_view s) { return s.empty() ? std::string_view("unknown") : s; }

bool validLabelName(std::string_view n) {
  if (n.empty() || (n[0] >= '0' && n[0] <= '9')) return false;
  for (char c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return n.substr(0, 2) != "__";
}

void side(const PeerMetadata* p, Labels& l, size_t workload, size_t canonical, size_t revision, size_t ns, size_t app,
          size_t version, size_t cluster) {
  l.v[workload] = p ? known(p->workload_name) : "unknown";
  l.v[canonical] = p ? known(p->canonicalService()) : "unknown";
  l.v[revision] = p ? p->canonicalRevision() : "latest";
  l.v[ns] = p ? known(p->ns) : "unknown";
  l.v[app] = p ? known(p->app) : "unknown";
  l.v[version] = p ? known(p->version) : "unknown";
  l.v[cluster] = p ? known(p->cluster_id) : "unknown";
}

}  // namespace

std::shared_ptr<const TlsPrincipals> upstreamPrincipals(net::Connection& upstream) {
  if (auto known = std::dynamic_pointer_cast<const TlsPrincipals>(upstream.state())) return known;
  SSL* ssl = upstream.ssl();
  if (ssl == nullptr) return nullptr;
  auto p = std::make_shared<TlsPrincipals>();
  p->local = principalOf(SSL_get_certificate(ssl));
  bool verified = SSL_get_verify_result(ssl) == X509_V_OK;
  p->peer = verified ? principalOf(SSL_get0_peer_certificate(ssl)) : "unknown";
  upstream.setState(p);
  return p;
}

void computeLabels(const Observation& o, Labels& l) {
  const PeerMetadata* self = &localPeer().metadata;
  l.v[kReporter] = o.inbound ? "destination" : "source";
  side(o.inbound ? o.peer : self, l, kSourceWorkload, kSourceCanonicalService, kSourceCanonicalRevision,
       kSourceWorkloadNamespace, kSourceApp, kSourceVersion, kSourceCluster);
  side(o.inbound ? self : o.peer, l, kDestinationWorkload, kDestinationCanonicalService, kDestinationCanonicalRevision,
       kDestinationWorkloadNamespace, kDestinationApp, kDestinationVersion, kDestinationCluster);
  if (o.inbound) {
    SSL* ssl = o.downstream_ssl;
    bool verified = ssl && SSL_get_verify_result(ssl) == X509_V_OK;
    l.owned[0] = verified ? principalOf(SSL_get0_peer_certificate(ssl)) : "unknown";
    l.owned[1] = principalOf(ssl ? SSL_get_certificate(ssl) : nullptr);
    l.v[kSourcePrincipal] = l.owned[0];
    l.v[kDestinationPrincipal] = l.owned[1];
    l.v[kConnectionSecurityPolicy] = l.owned[0] != "unknown" ? "mutual_tls" : "none";
  } else {
    // The source reporter: the identities of its upstream mutual TLS; no security policy, as Istio.
    l.v[kSourcePrincipal] = o.upstream_tls ? std::string_view(o.upstream_tls->local) : "unknown";
    l.v[kDestinationPrincipal] = o.upstream_tls ? std::string_view(o.upstream_tls->peer) : "unknown";
    l.v[kConnectionSecurityPolicy] = "unknown";
  }
  // The destination service: the cluster's Istio metadata, else the Host header.
  std::string_view host = o.host.substr(0, o.host.rfind(':'));
  l.v[kDestinationService] = o.service_host ? std::string_view(*o.service_host) : known(host);
  l.v[kDestinationServiceName] = o.service_name ? known(*o.service_name) : l.v[kDestinationService];
  l.v[kDestinationServiceNamespace] = o.service_ns ? known(*o.service_ns) : "unknown";
  l.v[kRequestProtocol] = o.protocol;
  l.v[kResponseCode] = std::string_view(
      l.numbers[0], static_cast<size_t>(snprintf(l.numbers[0], sizeof(l.numbers[0]), "%d", o.response_code)));
  l.v[kGrpcResponseStatus] =
      o.grpc_status >= 0
          ? std::string_view(l.numbers[1],
                             static_cast<size_t>(snprintf(l.numbers[1], sizeof(l.numbers[1]), "%d", o.grpc_status)))
          : std::string_view();
  if (o.response_flags) {
    l.owned[2] = responseFlagsString(o.response_flags);
    l.v[kResponseFlags] = l.owned[2];
  } else {
    l.v[kResponseFlags] = "-";
  }
}

config::FieldTable MetricSet::supportedFields() {
  return {
      // debug, max_peer_cache_size and the separators are deprecated and change nothing.
      {"stats.PluginConfig",
       {"debug", "max_peer_cache_size", "stat_prefix", "field_separator", "value_separator",
        "disable_host_header_fallback", "tcp_reporting_duration", "metrics", "reporter"}},
      {"stats.MetricConfig", {"name", "tags_to_remove", "drop", "dimensions"}},
  };
}

std::shared_ptr<const MetricSet> MetricSet::compile(const ::stats::PluginConfig& p, Kind kind, stats::Store& store,
                                                    const std::string& path) {
  std::chrono::milliseconds tcp_interval{5000};
  if (p.has_tcp_reporting_duration()) {
    const auto& d = p.tcp_reporting_duration();
    tcp_interval = std::chrono::milliseconds(d.seconds() * 1000 + d.nanos() / 1000000);
    if (d.seconds() < 0 || d.nanos() < 0 || tcp_interval.count() < 1)
      throw ConfigError(path + ".tcp_reporting_duration: must be at least 1ms");
  }
  if (p.reporter() != ::stats::UNSPECIFIED)
    throw ConfigError(path + ".reporter: SERVER_GATEWAY (waypoints) is not supported by weft-proxy");
  auto set = std::make_shared<MetricSet>();
  set->tcp_reporting_interval_ = tcp_interval;
  set->disable_host_header_fallback_ = p.disable_host_header_fallback();
  std::string prefix = p.stat_prefix().empty() ? "istio_" : p.stat_prefix();
  struct Standard {
    const char* name;
    Value value;
    stats::Family::Type type;
  };
  static const Standard kHttp[] = {
      {"requests_total", Value::Requests, stats::Family::Type::Counter},
      {"request_duration_milliseconds", Value::Duration, stats::Family::Type::Histogram},
      {"request_bytes", Value::RequestBytes, stats::Family::Type::Histogram},
      {"response_bytes", Value::ResponseBytes, stats::Family::Type::Histogram},
      {"request_messages_total", Value::RequestMessages, stats::Family::Type::Counter},
      {"response_messages_total", Value::ResponseMessages, stats::Family::Type::Counter},
  };
  static const Standard kTcp[] = {
      {"tcp_connections_opened_total", Value::Opened, stats::Family::Type::Counter},
      {"tcp_connections_closed_total", Value::Closed, stats::Family::Type::Counter},
      {"tcp_sent_bytes_total", Value::SentBytes, stats::Family::Type::Counter},
      {"tcp_received_bytes_total", Value::ReceivedBytes, stats::Family::Type::Counter},
  };
  // The CEL dimensions, each expression compiled once however many metrics use it.
  std::map<std::string, size_t> by_text;
  std::vector<std::map<std::string, size_t>> dimensions(static_cast<size_t>(p.metrics_size()));
  for (int i = 0; i < p.metrics_size(); ++i) {
    const std::string mp = path + ".metrics[" + std::to_string(i) + "].dimensions";
    for (const auto& [tag, text] : p.metrics(i).dimensions()) {
      if (!validLabelName(tag)) throw ConfigError(mp + "[" + tag + "]: not a valid Prometheus label name");
      auto [it, added] = by_text.emplace(text, set->expressions_.size());
      if (added) set->expressions_.push_back(compileStreamExpression(text, mp + "[" + tag + "]", set->capture_));
      dimensions[static_cast<size_t>(i)][tag] = it->second;
    }
  }
  for (const auto& s : kind == Kind::Http ? std::span<const Standard>(kHttp) : std::span<const Standard>(kTcp)) {
    std::vector<bool> keep(kLabelCount, true);
    if (kind == Kind::Tcp) keep[kResponseCode] = keep[kGrpcResponseStatus] = false;
    bool drop = false;
    std::map<std::string, std::optional<size_t>> tags;  // CEL dimension by tag; nullopt: removed
    for (int i = 0; i < p.metrics_size(); ++i) {
      const auto& o = p.metrics(i);
      if (!o.name().empty() && o.name() != s.name) continue;
      drop = drop || o.drop();
      for (const auto& [tag, e] : dimensions[static_cast<size_t>(i)]) tags[tag] = e;
      for (const auto& t : o.tags_to_remove()) {
        bool found = tags.count(t) != 0;
        if (found) tags[t] = std::nullopt;
        for (size_t l = 0; l < kLabelCount; ++l) {
          if (t == kLabelNames[l]) keep[l] = !(found = true);
        }
        if (!found)
          throw ConfigError(path + ".metrics[" + std::to_string(i) + "].tags_to_remove: '" + t +
                            "' is not one of Istio's labels");
      }
    }
    if (drop) continue;
    Metric m;
    m.value = s.value;
    std::vector<std::string> names;
    for (size_t l = 0; l < kLabelCount; ++l) {
      if (!keep[l]) continue;
      auto t = tags.find(kLabelNames[l]);
      bool replaced = t != tags.end() && t->second;
      m.labels.push_back(replaced ? kLabelCount + *t->second : l);
      names.push_back(kLabelNames[l]);
      if (t != tags.end()) tags.erase(t);
    }
    for (const auto& [tag, e] : tags) {  // new labels, by name, after Istio's
      if (!e) continue;
      bool standard = false;
      for (const char* n : kLabelNames) standard |= tag == n;
      if (standard) continue;  // a label this metric does not have (TCP's response_code)
      m.labels.push_back(kLabelCount + *e);
      names.push_back(tag);
    }
    m.family = store.family(prefix + s.name, names, s.type, kMaxSeries);
    set->metrics_.push_back(std::move(m));
  }
  return set;
}

void MetricSet::evaluate(const weft::cel::Activation& activation, Labels& labels) const {
  labels.cel.resize(expressions_.size());
  for (size_t i = 0; i < expressions_.size(); ++i) labels.cel[i] = celLabelValue(expressions_[i]->evaluate(activation));
}

void MetricSet::record(const Labels& labels, std::initializer_list<std::pair<Value, double>> amounts) const {
  // One key per label subset; the standard metrics share one unless a config removes labels.
  thread_local std::string key;
  const std::vector<size_t>* built = nullptr;
  for (const Metric& m : metrics_) {
    const double* amount = nullptr;
    for (const auto& [value, a] : amounts)
      if (value == m.value) amount = &a;
    if (amount == nullptr) continue;
    if (built == nullptr || *built != m.labels) {
      key.clear();
      for (size_t i = 0; i < m.labels.size(); ++i) {
        if (i) key += stats::Family::kSeparator;
        size_t l = m.labels[i];
        key += l < kLabelCount ? labels.v[l] : std::string_view(labels.cel[l - kLabelCount]);
      }
      built = &m.labels;
    }
    auto* series = m.family->series(key);
    if (m.family->type() == stats::Family::Type::Histogram)
      m.family->observe(series, *amount);
    else
      m.family->add(series, static_cast<uint64_t>(*amount));
  }
}

}  // namespace weft::proxy::telemetry
