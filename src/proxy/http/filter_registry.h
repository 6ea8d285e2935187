#pragma once
// HTTP filters register here by name and config type (Envoy's NamedHttpFilterConfigFactory).
// A factory compiles its listener config once (throwing ConfigError naming the path) into a
// function that adds the filter to each new stream, compiles per-route config
// (typed_per_filter_config), and declares the config fields it implements, so the
// allow-list lives with the filter. Registration is one line in the filter's own .cc:
//   WEFT_REGISTER_HTTP_FILTER(FaultFilterFactory);
#include <google/protobuf/any.pb.h>

#include <nlohmann/json_fwd.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/stats/stats.h"
#include "proxy/config/supported_fields.h"
#include "proxy/http/filter.h"

namespace weft::proxy::http {

using FilterFactoryCb = std::function<void(FilterChainBuilder&)>;

struct FilterFactoryContext {
  stats::Store& store;
  std::string_view stat_prefix;  // the connection manager's
  std::string_view filter_name;  // the HttpFilter's name: the key of its typed_per_filter_config
  bool inbound = false;          // the listener's traffic_direction is INBOUND
};

class HttpFilterFactory {
 public:
  virtual ~HttpFilterFactory() = default;
  // "envoy.filters.http.fault"
  virtual std::string_view name() const = 0;
  // Full names of the config messages this factory takes ("envoy.extensions.filters.http.fault.v3.HTTPFault").
  virtual std::vector<std::string_view> configTypes() const = 0;
  // The fields of its config messages this filter implements (message full name -> fields).
  virtual config::FieldTable supportedFields() const = 0;
  // `config` is empty when the HttpFilter has no typed_config.
  virtual FilterFactoryCb compile(const google::protobuf::Any& config, const std::string& path,
                                  FilterFactoryContext& ctx) const = 0;
  // typed_per_filter_config; the default refuses it. `store` may be null (no stats then).
  virtual std::shared_ptr<const RouteSpecificFilterConfig> compilePerRoute(const google::protobuf::Any& config,
                                                                           const std::string& path,
                                                                           stats::Store* store) const;
  // The router is the terminal filter: last in every chain, and only last.
  virtual bool terminal() const { return false; }
};

// By the config's type (type URL or full name), else by name; null when unknown.
const HttpFilterFactory* findHttpFilter(std::string_view type_or_name);
// By a typed_config's type; a TypedStruct (xds.type.v3 or udpa.type.v1, as Istio sends its own
// filters' configs) by the type it names.
const HttpFilterFactory* findHttpFilter(const google::protobuf::Any& typed_config);
const std::vector<const HttpFilterFactory*>& httpFilters();
void registerHttpFilter(const HttpFilterFactory* factory);

template <typename F>
struct HttpFilterRegistration {
  HttpFilterRegistration() {
    static const F factory;
    registerHttpFilter(&factory);
  }
};

#define WEFT_REGISTER_HTTP_FILTER(F) static const ::weft::proxy::http::HttpFilterRegistration<F> weft_registered_##F

// Compiles a typed_per_filter_config map entry (the key is the filter name; the value a
// filter config, or an envoy.config.route.v3.FilterConfig wrapping one).
std::shared_ptr<const RouteSpecificFilterConfig> compilePerFilterConfig(const std::string& filter_name,
                                                                        const google::protobuf::Any& config,
                                                                        const std::string& path, stats::Store* store);

}  // namespace weft::proxy::http
