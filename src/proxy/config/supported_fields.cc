#include "proxy/config/supported_fields.h"

namespace weft::proxy::config {

const FieldTable& supportedFields() {
  static const FieldTable table = {
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

      {"envoy.config.bootstrap.v3.Bootstrap", {"node", "static_resources", "admin"}},
      {"envoy.config.bootstrap.v3.Bootstrap.StaticResources", {"listeners", "clusters"}},
      {"envoy.config.bootstrap.v3.Admin", {"address", "access_log_path", "profile_path"}},
      {"envoy.config.core.v3.Address", {"socket_address"}},
      {"envoy.config.core.v3.SocketAddress", {"address", "port_value", "protocol", "ipv4_compat"}},
      {"envoy.config.core.v3.CidrRange", {"address_prefix", "prefix_len"}},
      {"envoy.config.core.v3.DataSource", {"inline_string", "inline_bytes", "filename"}},
      {"envoy.config.core.v3.HeaderValueOption", {"header", "append", "append_action", "keep_empty_value"}},
      {"envoy.config.core.v3.HeaderValue", {"key", "value"}},
      {"envoy.config.core.v3.HttpProtocolOptions", {"idle_timeout"}},
      {"envoy.config.core.v3.Http1ProtocolOptions", {"accept_http_10"}},

      // Listeners.
      {"envoy.config.listener.v3.Listener",
       {"name", "address", "filter_chains", "default_filter_chain", "per_connection_buffer_limit_bytes",
        "traffic_direction", "stat_prefix", "metadata"}},
      {"envoy.config.listener.v3.FilterChain", {"filter_chain_match", "filters", "name", "metadata"}},
      {"envoy.config.listener.v3.FilterChainMatch",
       {"destination_port", "prefix_ranges", "source_prefix_ranges", "source_ports", "source_type"}},
      {"envoy.config.listener.v3.Filter", {"name", "typed_config"}},

      // HTTP connection manager and routing.
      {"envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
       {"codec_type", "stat_prefix", "route_config", "http_filters", "access_log", "use_remote_address",
        "skip_xff_append", "stream_idle_timeout", "request_timeout", "common_http_protocol_options",
        "http_protocol_options", "max_request_headers_kb", "generate_request_id",
        "preserve_external_request_id", "upgrade_configs", "server_name", "strip_matching_host_port",
        "strip_any_host_port", "drain_timeout", "delayed_close_timeout"}},
      {"envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.UpgradeConfig",
       {"upgrade_type", "enabled"}},
      {"envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter", {"name", "typed_config"}},
      {"envoy.extensions.filters.http.router.v3.Router", {"suppress_envoy_headers"}},
      {"envoy.config.route.v3.RouteConfiguration",
       {"name", "virtual_hosts", "request_headers_to_add", "request_headers_to_remove",
        "response_headers_to_add", "response_headers_to_remove", "validate_clusters"}},
      {"envoy.config.route.v3.VirtualHost",
       {"name", "domains", "routes", "request_headers_to_add", "request_headers_to_remove",
        "response_headers_to_add", "response_headers_to_remove"}},
      {"envoy.config.route.v3.Route",
       {"name", "match", "route", "redirect", "direct_response", "request_headers_to_add",
        "request_headers_to_remove", "response_headers_to_add", "response_headers_to_remove", "metadata",
        "decorator"}},
      {"envoy.config.route.v3.Decorator", {"*"}},
      {"envoy.config.route.v3.RouteMatch",
       {"prefix", "path", "safe_regex", "path_separated_prefix", "case_sensitive", "headers",
        "query_parameters"}},
      {"envoy.config.route.v3.HeaderMatcher",
       {"name", "exact_match", "safe_regex_match", "present_match", "prefix_match", "suffix_match",
        "contains_match", "string_match", "invert_match", "treat_missing_header_as_empty"}},
      {"envoy.config.route.v3.QueryParameterMatcher", {"name", "string_match", "present_match"}},
      {"envoy.type.matcher.v3.StringMatcher", {"exact", "prefix", "suffix", "contains", "safe_regex", "ignore_case"}},
      {"envoy.type.matcher.v3.RegexMatcher", {"regex", "google_re2"}},
      {"envoy.type.matcher.v3.RegexMatcher.GoogleRE2", {"*"}},
      {"envoy.config.route.v3.RouteAction",
       {"cluster", "weighted_clusters", "prefix_rewrite", "host_rewrite_literal", "timeout"}},
      {"envoy.config.route.v3.WeightedCluster", {"clusters", "total_weight"}},
      {"envoy.config.route.v3.WeightedCluster.ClusterWeight",
       {"name", "weight", "request_headers_to_add", "request_headers_to_remove", "response_headers_to_add",
        "response_headers_to_remove"}},
      {"envoy.config.route.v3.RedirectAction",
       {"https_redirect", "scheme_redirect", "host_redirect", "port_redirect", "path_redirect",
        "prefix_rewrite", "response_code", "strip_query"}},
      {"envoy.config.route.v3.DirectResponseAction", {"status", "body"}},

      // TCP proxy.
      {"envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
       {"stat_prefix", "cluster", "weighted_clusters", "idle_timeout", "access_log"}},
      {"envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy.WeightedCluster", {"clusters"}},
      {"envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy.WeightedCluster.ClusterWeight",
       {"name", "weight"}},

      // Access logs.
      {"envoy.config.accesslog.v3.AccessLog", {"name", "typed_config"}},
      {"envoy.extensions.access_loggers.file.v3.FileAccessLog", {"path", "format", "log_format"}},
      {"envoy.extensions.access_loggers.stream.v3.StdoutAccessLog", {"log_format"}},
      {"envoy.extensions.access_loggers.stream.v3.StderrAccessLog", {"log_format"}},
      {"envoy.config.core.v3.SubstitutionFormatString", {"text_format", "text_format_source", "content_type"}},

      // Clusters.
      {"envoy.config.cluster.v3.Cluster",
       {"name", "type", "connect_timeout", "lb_policy", "load_assignment", "dns_lookup_family",
        "dns_refresh_rate", "per_connection_buffer_limit_bytes", "original_dst_lb_config", "cleanup_interval",
        "alt_stat_name", "metadata"}},
      {"envoy.config.cluster.v3.Cluster.OriginalDstLbConfig", {"use_http_header", "http_header_name"}},
      {"envoy.config.endpoint.v3.ClusterLoadAssignment", {"cluster_name", "endpoints"}},
      {"envoy.config.endpoint.v3.LocalityLbEndpoints",
       {"locality", "lb_endpoints", "load_balancing_weight", "priority"}},
      {"envoy.config.endpoint.v3.LbEndpoint", {"endpoint", "load_balancing_weight", "health_status", "metadata"}},
      {"envoy.config.endpoint.v3.Endpoint", {"address", "hostname"}},
  };
  return table;
}

}  // namespace weft::proxy::config
