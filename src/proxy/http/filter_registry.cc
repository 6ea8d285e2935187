#include "proxy/http/filter_registry.h"

#include <google/protobuf/util/json_util.h>

#include <optional>

#include <nlohmann/json.hpp>

#include "common/config/error.h"
#include "envoy/config/route/v3/route_components.pb.h"
#include "proxy/config/typed_struct.h"
#include "proxy/http/per_filter_config.h"

namespace weft::proxy::http {

namespace {
std::vector<const HttpFilterFactory*>& registry() {
  static std::vector<const HttpFilterFactory*> r;
  return r;
}

std::string_view typeName(std::string_view type_url) {
  auto slash = type_url.rfind('/');
  return slash == std::string_view::npos ? type_url : type_url.substr(slash + 1);
}
}  // namespace

std::shared_ptr<const RouteSpecificFilterConfig> HttpFilterFactory::compilePerRoute(const google::protobuf::Any&,
                                                                                    const std::string& path,
                                                                                    stats::Store*) const {
  throw ConfigError(path + ": " + std::string(name()) + " takes no per-route config in weft-proxy");
}

void registerHttpFilter(const HttpFilterFactory* factory) {
  registry().push_back(factory);
  config::registerSupportedFields(factory->supportedFields());
}

const std::vector<const HttpFilterFactory*>& httpFilters() { return registry(); }

const HttpFilterFactory* findHttpFilter(std::string_view type_or_name) {
  std::string_view type = typeName(type_or_name);
  for (const HttpFilterFactory* f : registry()) {
    for (std::string_view t : f->configTypes()) {
      if (t == type) return f;
    }
  }
  for (const HttpFilterFactory* f : registry()) {
    if (f->name() == type_or_name) return f;
  }
  return nullptr;
}

const HttpFilterFactory* findHttpFilter(const google::protobuf::Any& typed_config) {
  return findHttpFilter(config::configuredType(typed_config));
}

std::shared_ptr<const RouteSpecificFilterConfig> compilePerFilterConfig(const std::string& filter_name,
                                                                        const google::protobuf::Any& config,
                                                                        const std::string& path, stats::Store* store) {
  std::string_view type = typeName(config.type_url());
  if (type == "envoy.config.route.v3.FilterConfig") {
    envoy::config::route::v3::FilterConfig wrapper;
    if (!config.UnpackTo(&wrapper)) throw ConfigError(path + ": cannot decode a FilterConfig");
    if (wrapper.disabled()) {
      throw ConfigError(path + ".disabled: disabling a filter per route is not supported by weft-proxy");
    }
    const HttpFilterFactory* f = findHttpFilter(wrapper.config().type_url());
    if (f == nullptr) {
      if (wrapper.is_optional()) return nullptr;  // Envoy ignores an optional config it does not know
      throw ConfigError(path + ".config: type '" + std::string(typeName(wrapper.config().type_url())) +
                        "' is not supported by weft-proxy");
    }
    return f->compilePerRoute(wrapper.config(), path + ".config", store);
  }
  const HttpFilterFactory* f = findHttpFilter(config.type_url());
  if (f == nullptr) {
    throw ConfigError(path + ": type '" + std::string(type) + "' (filter '" + filter_name +
                      "') is not supported by weft-proxy");
  }
  return f->compilePerRoute(config, path, store);
}

PerFilterConfigs PerFilterConfigs::compile(const google::protobuf::Map<std::string, google::protobuf::Any>& configs,
                                           const std::string& path, stats::Store* store) {
  PerFilterConfigs out;
  for (const auto& [name, any] : configs) {
    auto compiled = compilePerFilterConfig(name, any, path + ".typed_per_filter_config['" + name + "']", store);
    if (compiled) out.entries.emplace_back(name, std::move(compiled));
  }
  return out;
}

}  // namespace weft::proxy::http
