#include "proxy/filters/http/grpc_stats/grpc_stats_filter.h"

#include <algorithm>
#include <unordered_map>

#include "common/config/error.h"
#include "envoy/extensions/filters/http/grpc_stats/v3/config.pb.h"
#include "proxy/http/filter_registry.h"
#include "proxy/http/route_table.h"

namespace weft::proxy::http::grpc_stats {

namespace {
// This worker's scopes by prefix: the store's lock is taken once per name and worker.
template <typename Stats>
stats::Scope& scopeFor(stats::Store& store, const std::string& prefix) {
  thread_local std::unordered_map<std::string, std::shared_ptr<stats::Scope>> cache;
  auto it = cache.find(prefix);
  if (it == cache.end()) it = cache.emplace(prefix, store.scope(prefix, Stats::kDefs, Stats::kCount)).first;
  return *it->second;
}
}  // namespace

FilterStatus GrpcStatsFilter::decodeHeaders(RequestHead& req, bool) {
  const WeightedTarget* target = dec_->target();
  if (!dec_->isGrpc() || target == nullptr || config_.store == nullptr) return FilterStatus::Continue;
  active_ = true;
  prefix_ = "cluster." + target->cluster + ".grpc.";
  // :path is /<service>/<method>
  std::string_view path = req.path;
  size_t slash = path.size() > 1 ? path.find('/', 1) : std::string_view::npos;
  if (slash == std::string_view::npos || slash + 1 >= path.size()) return FilterStatus::Continue;
  std::string service(path.substr(1, slash - 1));
  std::string method(path.substr(slash + 1));
  if (!config_.all_methods && config_.allowed.count({service, method}) == 0) return FilterStatus::Continue;
  if (config_.replace_dots) std::replace(service.begin(), service.end(), '.', '_');
  per_method_ = true;
  prefix_ += service + "." + method + ".";
  return FilterStatus::Continue;
}

FilterStatus GrpcStatsFilter::decodeData(std::string_view data, bool) {
  if (active_) requests_.feed(data);
  return FilterStatus::Continue;
}

FilterStatus GrpcStatsFilter::encodeData(std::string_view data, bool) {
  if (active_) responses_.feed(data);
  return FilterStatus::Continue;
}

void GrpcStatsFilter::onStreamComplete() {
  if (!active_) return;
  if (!per_method_) {
    stats::Scope& s = scopeFor<GrpcMessageStats>(*config_.store, prefix_);
    s.add(GrpcMessageStats::request_message_count, requests_.count());
    s.add(GrpcMessageStats::response_message_count, responses_.count());
    return;
  }
  stats::Scope& s = scopeFor<GrpcMethodStats>(*config_.store, prefix_);
  s.inc(GrpcMethodStats::total);
  s.inc(dec_->grpcStatus() == 0 ? GrpcMethodStats::success : GrpcMethodStats::failure);
  s.add(GrpcMethodStats::request_message_count, requests_.count());
  s.add(GrpcMethodStats::response_message_count, responses_.count());
}

// ---- registration ---------------------------------------------------------------------------

namespace {
namespace gsv3 = envoy::extensions::filters::http::grpc_stats::v3;

class GrpcStatsFactory final : public HttpFilterFactory {
 public:
  std::string_view name() const override { return "envoy.filters.http.grpc_stats"; }
  std::vector<std::string_view> configTypes() const override {
    return {"envoy.extensions.filters.http.grpc_stats.v3.FilterConfig"};
  }
  config::FieldTable supportedFields() const override {
    return {
        {"envoy.extensions.filters.http.grpc_stats.v3.FilterConfig",
         {"individual_method_stats_allowlist", "stats_for_all_methods", "replace_dots_in_grpc_service_name",
          "emit_filter_state"}},
        {"envoy.config.core.v3.GrpcMethodList", {"services"}},
        {"envoy.config.core.v3.GrpcMethodList.Service", {"name", "method_names"}},
    };
  }
  FilterFactoryCb compile(const google::protobuf::Any& any, const std::string& path,
                          FilterFactoryContext& ctx) const override {
    gsv3::FilterConfig p;
    if (!any.type_url().empty() && !any.UnpackTo(&p))
      throw ConfigError(path + ": cannot decode a grpc_stats FilterConfig");
    if (p.emit_filter_state()) {
      throw ConfigError(path + ".emit_filter_state: not supported by weft-proxy (no filter state yet)");
    }
    auto c = std::make_shared<GrpcStatsConfig>();
    c->store = &ctx.store;
    c->all_methods = p.has_stats_for_all_methods() && p.stats_for_all_methods().value();
    c->replace_dots = p.replace_dots_in_grpc_service_name();
    const auto& list = p.individual_method_stats_allowlist();
    for (int i = 0; i < list.services_size(); ++i) {
      const auto& s = list.services(i);
      std::string spath = path + ".individual_method_stats_allowlist.services[" + std::to_string(i) + "]";
      if (s.name().empty()) throw ConfigError(spath + ".name: must not be empty");
      if (s.method_names_size() == 0) throw ConfigError(spath + ".method_names: at least one is required");
      for (const auto& m : s.method_names()) c->allowed.emplace(s.name(), m);
    }
    return [c](FilterChainBuilder& chain) { chain.addBoth<GrpcStatsFilter>(*c); };
  }
};
}  // namespace

WEFT_REGISTER_HTTP_FILTER(GrpcStatsFactory);

}  // namespace weft::proxy::http::grpc_stats
