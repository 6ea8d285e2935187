#include "proxy/config/supported_fields.h"

#include <vector>

namespace weft::proxy::config {

namespace {
std::vector<FieldTable>& extensionTables() {
  static std::vector<FieldTable> tables;
  return tables;
}
}  // namespace

void registerSupportedFields(const FieldTable& fields) { extensionTables().push_back(fields); }

const FieldTable& supportedFields() {
  static const FieldTable table = [] {
    FieldTable t = {
        // Plain data: accepted whole.
        {"google.protobuf.Duration", {"*"}},
        {"google.protobuf.UInt32Value", {"*"}},
        {"google.protobuf.UInt64Value", {"*"}},
        {"google.protobuf.BoolValue", {"*"}},
        {"google.protobuf.Struct", {"*"}},
        {"google.protobuf.Value", {"*"}},
        {"google.protobuf.ListValue", {"*"}},
        {"envoy.config.core.v3.Node", {"*"}},
        {"envoy.config.core.v3.Metadata", {"*"}},
        {"envoy.config.core.v3.Locality", {"*"}},

        {"envoy.config.bootstrap.v3.Bootstrap",
         {"node", "static_resources", "admin", "dynamic_resources", "layered_runtime", "cluster_manager"}},
        // Empty is Envoy's default; every field of it is something weft-proxy does not do.
        {"envoy.config.bootstrap.v3.ClusterManager", {}},
        {"envoy.config.bootstrap.v3.LayeredRuntime", {"layers"}},
        {"envoy.config.bootstrap.v3.RuntimeLayer", {"name", "static_layer", "admin_layer"}},
        {"envoy.config.bootstrap.v3.RuntimeLayer.AdminLayer", {}},
        {"envoy.config.bootstrap.v3.Bootstrap.DynamicResources", {"lds_config", "cds_config", "ads_config"}},
        {"envoy.config.core.v3.ApiConfigSource",
         {"api_type", "transport_api_version", "grpc_services", "set_node_on_first_message_only"}},
        {"envoy.config.core.v3.GrpcService", {"envoy_grpc", "timeout"}},
        {"envoy.config.core.v3.GrpcService.EnvoyGrpc", {"cluster_name", "authority"}},
        {"envoy.config.core.v3.ConfigSource", {"ads", "resource_api_version", "initial_fetch_timeout"}},
        {"envoy.config.core.v3.AggregatedConfigSource", {"*"}},
        {"envoy.config.bootstrap.v3.Bootstrap.StaticResources", {"listeners", "clusters"}},
        {"envoy.config.bootstrap.v3.Admin", {"address", "access_log_path", "profile_path"}},
        {"envoy.config.core.v3.Address", {"socket_address"}},
        {"envoy.config.core.v3.SocketAddress", {"address", "port_value", "protocol", "ipv4_compat"}},
        {"envoy.config.core.v3.CidrRange", {"address_prefix", "prefix_len"}},
        {"envoy.config.core.v3.DataSource", {"inline_string", "inline_bytes", "filename"}},
        {"envoy.config.core.v3.HeaderValueOption", {"header", "append", "append_action", "keep_empty_value"}},
        {"envoy.config.core.v3.HeaderValue", {"key", "value"}},
        {"envoy.config.core.v3.HttpProtocolOptions", {"idle_timeout", "max_headers_count"}},
        {"envoy.config.core.v3.Http1ProtocolOptions", {"accept_http_10"}},

        // Listeners.
        {"envoy.config.listener.v3.Listener",
         {"name", "address", "filter_chains", "default_filter_chain", "per_connection_buffer_limit_bytes",
          "traffic_direction", "stat_prefix", "metadata", "bind_to_port", "listener_filters",
          "listener_filters_timeout", "use_original_dst"}},
        {"envoy.extensions.filters.listener.original_dst.v3.OriginalDst", {}},
        {"envoy.config.listener.v3.ListenerFilter", {"name", "typed_config"}},
        {"envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector", {}},
        {"envoy.config.listener.v3.FilterChain",
         {"filter_chain_match", "filters", "name", "metadata", "transport_socket"}},
        {"envoy.config.listener.v3.FilterChainMatch",
         {"destination_port", "prefix_ranges", "source_prefix_ranges", "source_ports", "source_type", "server_names",
          "transport_protocol", "application_protocols"}},

        // TLS.
        {"envoy.config.core.v3.TransportSocket", {"name", "typed_config"}},
        {"envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer", {}},
        {"envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
         {"common_tls_context", "require_client_certificate"}},
        {"envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext", {"common_tls_context", "sni"}},
        {"envoy.extensions.transport_sockets.tls.v3.CommonTlsContext",
         {"tls_params", "tls_certificates", "validation_context", "alpn_protocols"}},
        {"envoy.extensions.transport_sockets.tls.v3.TlsParameters",
         {"tls_minimum_protocol_version", "tls_maximum_protocol_version", "cipher_suites", "ecdh_curves"}},
        {"envoy.extensions.transport_sockets.tls.v3.TlsCertificate", {"certificate_chain", "private_key"}},
        {"envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext",
         {"trusted_ca", "match_typed_subject_alt_names", "match_subject_alt_names"}},
        {"envoy.extensions.transport_sockets.tls.v3.SubjectAltNameMatcher", {"san_type", "matcher"}},
        {"envoy.config.listener.v3.Filter", {"name", "typed_config"}},

        // Routing (the HTTP connection manager and the filters declare their own fields).
        {"envoy.config.route.v3.FilterConfig", {"config", "is_optional"}},
        {"envoy.config.route.v3.RouteConfiguration",
         {"name", "virtual_hosts", "request_headers_to_add", "request_headers_to_remove", "response_headers_to_add",
          "response_headers_to_remove", "validate_clusters", "typed_per_filter_config"}},
        {"envoy.config.route.v3.VirtualHost",
         {"name", "domains", "routes", "request_headers_to_add", "request_headers_to_remove", "response_headers_to_add",
          "response_headers_to_remove", "typed_per_filter_config", "retry_policy", "include_request_attempt_count",
          "include_attempt_count_in_response"}},
        {"envoy.config.route.v3.RetryPolicy",
         {"retry_on", "num_retries", "per_try_timeout", "retry_back_off", "retriable_status_codes",
          "retry_host_predicate", "host_selection_retry_max_attempts"}},
        {"envoy.config.route.v3.RetryPolicy.RetryBackOff", {"base_interval", "max_interval"}},
        {"envoy.config.route.v3.RetryPolicy.RetryHostPredicate", {"name", "typed_config"}},
        {"envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate", {}},
        {"envoy.config.route.v3.Route",
         {"name", "match", "route", "redirect", "direct_response", "request_headers_to_add",
          "request_headers_to_remove", "response_headers_to_add", "response_headers_to_remove", "metadata", "decorator",
          "typed_per_filter_config"}},
        {"envoy.config.route.v3.Decorator", {"*"}},
        {"envoy.config.route.v3.RouteMatch",
         {"prefix", "path", "safe_regex", "path_separated_prefix", "case_sensitive", "headers", "query_parameters",
          "grpc", "runtime_fraction"}},
        {"envoy.config.route.v3.RouteMatch.GrpcRouteMatchOptions", {}},
        {"envoy.config.route.v3.RouteAction.MaxStreamDuration",
         {"grpc_timeout_header_max", "grpc_timeout_header_offset"}},
        {"envoy.config.route.v3.HeaderMatcher",
         {"name", "exact_match", "safe_regex_match", "present_match", "prefix_match", "suffix_match", "contains_match",
          "string_match", "invert_match", "treat_missing_header_as_empty"}},
        {"envoy.config.core.v3.RuntimeFractionalPercent", {"default_value", "runtime_key"}},
        {"envoy.type.v3.FractionalPercent", {"numerator", "denominator"}},
        {"envoy.config.route.v3.QueryParameterMatcher", {"name", "string_match", "present_match"}},
        {"envoy.type.matcher.v3.StringMatcher", {"exact", "prefix", "suffix", "contains", "safe_regex", "ignore_case"}},
        {"envoy.type.matcher.v3.RegexMatcher", {"regex", "google_re2"}},
        {"envoy.type.matcher.v3.RegexMatcher.GoogleRE2", {"*"}},
        {"envoy.config.route.v3.RouteAction",
         {"cluster", "weighted_clusters", "prefix_rewrite", "host_rewrite_literal", "timeout", "max_grpc_timeout",
          "grpc_timeout_offset", "max_stream_duration", "retry_policy"}},
        {"envoy.config.route.v3.WeightedCluster", {"clusters", "total_weight"}},
        {"envoy.config.route.v3.WeightedCluster.ClusterWeight",
         {"name", "weight", "request_headers_to_add", "request_headers_to_remove", "response_headers_to_add",
          "response_headers_to_remove"}},
        {"envoy.config.route.v3.RedirectAction",
         {"https_redirect", "scheme_redirect", "host_redirect", "port_redirect", "path_redirect", "prefix_rewrite",
          "response_code", "strip_query"}},
        {"envoy.config.route.v3.DirectResponseAction", {"status", "body"}},

        // Access logs.
        {"envoy.config.accesslog.v3.AccessLog", {"name", "typed_config"}},
        {"envoy.extensions.access_loggers.file.v3.FileAccessLog", {"path", "format", "log_format"}},
        {"envoy.extensions.access_loggers.stream.v3.StdoutAccessLog", {"log_format"}},
        {"envoy.extensions.access_loggers.stream.v3.StderrAccessLog", {"log_format"}},
        {"envoy.config.core.v3.SubstitutionFormatString",
         {"text_format", "text_format_source", "content_type", "json_format"}},

        // Clusters.
        {"envoy.config.cluster.v3.Cluster",
         {"name", "type", "connect_timeout", "lb_policy", "load_assignment", "dns_lookup_family", "dns_refresh_rate",
          "per_connection_buffer_limit_bytes", "original_dst_lb_config", "cleanup_interval", "alt_stat_name",
          "metadata", "eds_cluster_config", "transport_socket", "typed_extension_protocol_options",
          "upstream_bind_config", "circuit_breakers", "upstream_connection_options", "common_lb_config"}},
        {"envoy.config.cluster.v3.UpstreamConnectionOptions", {"tcp_keepalive"}},
        {"envoy.config.core.v3.TcpKeepalive", {"keepalive_probes", "keepalive_time", "keepalive_interval"}},
        // Empty is Envoy's default; its fields (panic threshold, zone aware ...) come with P7.
        {"envoy.config.cluster.v3.Cluster.CommonLbConfig", {}},
        {"envoy.config.core.v3.BindConfig", {"source_address"}},
        // max_retries: no retries yet, so it changes nothing; track_remaining: stats only.
        {"envoy.config.cluster.v3.CircuitBreakers", {"thresholds"}},
        {"envoy.config.cluster.v3.CircuitBreakers.Thresholds",
         {"priority", "max_connections", "max_pending_requests", "max_requests", "max_retries", "track_remaining"}},
        {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
         {"explicit_http_config", "use_downstream_protocol_config", "auto_config", "upstream_http_protocol_options"}},
        {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions.AutoHttpConfig",
         {"http_protocol_options", "http2_protocol_options"}},
        {"envoy.config.core.v3.UpstreamHttpProtocolOptions",
         {"auto_sni", "auto_san_validation", "override_auto_sni_header"}},
        {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions.ExplicitHttpConfig",
         {"http_protocol_options", "http2_protocol_options"}},
        {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions.UseDownstreamHttpConfig",
         {"http_protocol_options", "http2_protocol_options"}},
        {"envoy.config.core.v3.Http2ProtocolOptions",
         {"max_concurrent_streams", "initial_stream_window_size", "initial_connection_window_size",
          "connection_keepalive"}},
        {"envoy.config.core.v3.KeepaliveSettings", {"interval", "timeout"}},
        {"envoy.config.cluster.v3.Cluster.EdsClusterConfig", {"eds_config", "service_name"}},
        {"envoy.config.cluster.v3.Cluster.OriginalDstLbConfig", {"use_http_header", "http_header_name"}},
        {"envoy.config.endpoint.v3.ClusterLoadAssignment", {"cluster_name", "endpoints"}},
        {"envoy.config.endpoint.v3.LocalityLbEndpoints",
         {"locality", "lb_endpoints", "load_balancing_weight", "priority"}},
        {"envoy.config.endpoint.v3.LbEndpoint", {"endpoint", "load_balancing_weight", "health_status", "metadata"}},
        {"envoy.config.endpoint.v3.Endpoint", {"address", "hostname"}},
    };
    for (const FieldTable& ext : extensionTables()) {
      for (const auto& [type, fields] : ext) t[type].insert(fields.begin(), fields.end());
    }
    return t;
  }();
  return table;
}

}  // namespace weft::proxy::config
