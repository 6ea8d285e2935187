#pragma once
// A compiled envoy.config.route.v3.RouteConfiguration: virtual hosts found by Host, routes
// matched in order, each with a prebuilt action. Immutable once built; shared by workers.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "envoy/config/route/v3/route.pb.h"
#include "proxy/http/fractional_percent.h"
#include "proxy/http/hash_policy.h"
#include "proxy/http/header_mutations.h"
#include "proxy/http/matchers.h"
#include "proxy/http/per_filter_config.h"
#include "proxy/http/retry_policy.h"

namespace weft::proxy::http {

struct WeightedTarget {
  std::string cluster;
  uint32_t weight;
  HeaderMutations request_mutations;
  HeaderMutations response_mutations;
};

struct Redirect {
  std::string scheme;  // empty: keep
  std::string host;
  uint32_t port = 0;
  std::string path;
  std::string prefix_rewrite;
  bool has_prefix_rewrite = false;
  bool strip_query = false;
  int status = 301;
};

// request_mirror_policies: a copy of the request to another cluster, fire and forget.
struct MirrorPolicy {
  std::string cluster;
  std::optional<Percent> fraction;  // runtime_fraction; none: every request
  bool host_suffix = true;          // not disable_shadow_host_suffix_append
};

struct Route {
  enum class PathKind { Prefix, Path, Regex, SeparatedPrefix };
  enum class ActionKind { Cluster, Redirect, DirectResponse };

  std::string name;
  std::string decorator_operation;  // decorator.operation: the span's name (empty: Envoy's default)
  PathKind path_kind = PathKind::Prefix;
  std::string path_value;
  std::shared_ptr<const RE2> path_regex;
  bool case_sensitive = true;
  std::vector<HeaderMatcher> headers;
  std::vector<QueryMatcher> query;

  ActionKind action = ActionKind::Cluster;
  std::vector<WeightedTarget> targets;  // one entry for a plain `cluster`
  uint64_t total_weight = 0;
  std::string prefix_rewrite;
  bool has_prefix_rewrite = false;
  std::string host_rewrite;
  std::chrono::milliseconds timeout{15000};  // 0: none
  bool grpc_only = false;                    // match.grpc
  std::optional<Percent> runtime_fraction;   // match.runtime_fraction
  // max_grpc_timeout / grpc_timeout_header_max: gRPC requests use their grpc-timeout,
  // capped by this (0: uncapped), instead of `timeout`.
  std::optional<std::chrono::milliseconds> grpc_timeout_max;
  std::chrono::milliseconds grpc_timeout_offset{0};
  std::shared_ptr<const RetryPolicy> retry;  // the route's retry_policy, else its virtual host's; null: none
  std::shared_ptr<const HashPolicy> hash_policy;
  bool high_priority = false;         // priority HIGH: the clusters' HIGH circuit breakers and pools
  std::vector<MirrorPolicy> mirrors;  // null: none (consistent-hash clusters pick at random)
  Redirect redirect;
  int direct_status = 200;
  std::string direct_body;
  HeaderMutations request_mutations;
  HeaderMutations response_mutations;
  PerFilterConfigs per_filter_config;

  // `random_value`: the stream's, for runtime_fraction.
  bool matches(const RequestHead& req, std::string_view scheme, const runtime::Snapshot& rt,
               uint64_t random_value) const;
};

struct VirtualHost {
  std::string name;
  bool include_request_attempt_count = false;      // x-envoy-attempt-count to the upstream
  bool include_attempt_count_in_response = false;  // ... and to the client
  std::vector<Route> routes;
  HeaderMutations request_mutations;
  HeaderMutations response_mutations;
  PerFilterConfigs per_filter_config;
};

class RouteTable {
 public:
  // Throws ConfigError naming `path` (e.g. "...route_config.virtual_hosts[1].routes[0].match").
  // `store`: for the stats of per-route filter configs (null: none may ask for stats).
  static std::shared_ptr<const RouteTable> compile(const envoy::config::route::v3::RouteConfiguration& rc,
                                                   const std::string& path, stats::Store* store = nullptr);

  const VirtualHost* findVirtualHost(std::string_view host) const;
  // The first route of the host's virtual host that matches, or null (Envoy's NR).
  const Route* route(const RequestHead& req, std::string_view scheme, const VirtualHost** vh_out,
                     const runtime::Snapshot& rt, uint64_t random_value) const;

  const std::string& name() const { return name_; }
  const HeaderMutations& requestMutations() const { return request_mutations_; }
  const HeaderMutations& responseMutations() const { return response_mutations_; }
  const PerFilterConfigs& perFilterConfig() const { return per_filter_config_; }
  // Every cluster a route may send to, with the config path that names it.
  std::vector<std::pair<std::string, std::string>> referencedClusters() const { return referenced_; }

 private:
  std::string name_;
  std::vector<std::unique_ptr<VirtualHost>> hosts_;
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, const VirtualHost*, StringHash, std::equal_to<>> exact_;
  std::vector<std::pair<std::string, const VirtualHost*>> suffixes_;  // "*.foo.com" -> ".foo.com", longest first
  std::vector<std::pair<std::string, const VirtualHost*>> prefixes_;  // "foo.*" -> "foo.", longest first
  const VirtualHost* default_ = nullptr;
  HeaderMutations request_mutations_;
  HeaderMutations response_mutations_;
  PerFilterConfigs per_filter_config_;
  std::vector<std::pair<std::string, std::string>> referenced_;
};

}  // namespace weft::proxy::http
