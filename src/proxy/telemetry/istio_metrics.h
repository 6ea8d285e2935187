#pragma once
// Istio's standard metrics (stats.PluginConfig), shared by the HTTP filter and the TCP one:
// Istio's labels in Istio's order, computed the same way for a request and for a connection, and
// the metric families a config selects (drop, tags_to_remove) in a stats::Family each.
//   HTTP: istio_requests_total; histograms istio_request_duration_milliseconds,
//         istio_request_bytes, istio_response_bytes; for gRPC, istio_request_messages_total and
//         istio_response_messages_total.
//   TCP:  istio_tcp_connections_opened_total, istio_tcp_connections_closed_total,
//         istio_tcp_sent_bytes_total, istio_tcp_received_bytes_total (no response_code /
//         grpc_response_status labels).
#include <chrono>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/cel/program.h"
#include "common/net/connection.h"
#include "common/stats/stats.h"
#include "envoy/extensions/stats/config.pb.h"
#include "proxy/access_log/formatter.h"
#include "proxy/config/supported_fields.h"
#include "proxy/telemetry/peer_metadata.h"

typedef struct ssl_st SSL;

namespace weft::proxy::telemetry {

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
extern const char* const kLabelNames[kLabelCount];

// What a finished request (or an opened / closed connection) says about itself.
// An upstream mutual TLS connection's identities as Istio's labels write them (no "spiffe://"),
// worked out once per connection and kept on it.
struct TlsPrincipals final : net::ConnectionState {
  std::string local, peer;
};
std::shared_ptr<const TlsPrincipals> upstreamPrincipals(net::Connection& upstream);

struct Observation {
  bool inbound = false;                         // reporter destination (else source)
  const PeerMetadata* peer = nullptr;           // the other side, when the exchange found it
  SSL* downstream_ssl = nullptr;                // for principals and the security policy (inbound)
  const TlsPrincipals* upstream_tls = nullptr;  // for principals (outbound)
  const std::string* service_host = nullptr;    // the cluster's istio metadata, when it has some
  const std::string* service_name = nullptr;
  const std::string* service_ns = nullptr;
  std::string_view host;      // the Host header (the destination service otherwise); may be empty
  std::string_view protocol;  // "http", "grpc", "tcp"
  int response_code = 0;
  int grpc_status = -1;
  uint32_t response_flags = 0;
};

// The label values of `o`, as views into `o`'s strings or `owned`; `cel`: the values of the
// config's CEL dimensions (MetricSet::evaluate), when it has any.
struct Labels {
  std::string_view v[kLabelCount];
  std::string owned[4];
  char numbers[2][12];
  std::vector<std::string> cel;
};
void computeLabels(const Observation& o, Labels& out);

class MetricSet {
 public:
  enum class Kind { Http, Tcp };
  enum class Value {
    Requests,
    Duration,
    RequestBytes,
    ResponseBytes,
    RequestMessages,
    ResponseMessages,
    Opened,
    Closed,
    SentBytes,
    ReceivedBytes
  };
  struct Metric {
    Value value;
    std::shared_ptr<stats::Family> family;
    // In label order: an index into kLabelNames, or kLabelCount + the index of a CEL dimension
    // (a standard label's value replaced, or a new label after the standard ones).
    std::vector<size_t> labels;
  };
  // Throws ConfigError naming `path`.
  static std::shared_ptr<const MetricSet> compile(const ::stats::PluginConfig& p, Kind kind, stats::Store& store,
                                                  const std::string& path);
  // The CEL dimensions (stats.MetricConfig.dimensions), and the header values they read, to be
  // captured while the headers are there.
  bool hasExpressions() const { return !expressions_.empty(); }
  const access_log::CaptureList& capture() const { return capture_; }
  void evaluate(const weft::cel::Activation& activation, Labels& labels) const;
  // Adds each amount to (or observes it in) the selected metrics of its value.
  void record(const Labels& labels, std::initializer_list<std::pair<Value, double>> amounts) const;
  bool disableHostHeaderFallback() const { return disable_host_header_fallback_; }
  // How often open TCP connections report their bytes (tcp_reporting_duration; Istio's 5 s).
  std::chrono::milliseconds tcpReportingInterval() const { return tcp_reporting_interval_; }
  // The stats.PluginConfig fields compile() takes.
  static config::FieldTable supportedFields();

 private:
  std::vector<Metric> metrics_;
  std::vector<std::shared_ptr<const weft::cel::Program>> expressions_;
  access_log::CaptureList capture_;
  bool disable_host_header_fallback_ = false;
  std::chrono::milliseconds tcp_reporting_interval_{5000};
};

}  // namespace weft::proxy::telemetry
