#pragma once
// typed_per_filter_config of a route, virtual host or route configuration, compiled by the
// filters' own factories; looked up by the filter's configured name.
#include <google/protobuf/any.pb.h>
#include <google/protobuf/map.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/stats/stats.h"
#include "proxy/http/filter.h"

namespace weft::proxy::http {

struct PerFilterConfigs {
  std::vector<std::pair<std::string, std::shared_ptr<const RouteSpecificFilterConfig>>> entries;

  const RouteSpecificFilterConfig* find(std::string_view filter_name) const {
    for (const auto& [name, config] : entries) {
      if (name == filter_name) return config.get();
    }
    return nullptr;
  }
  // Throws ConfigError naming `path`.typed_per_filter_config['name'].
  static PerFilterConfigs compile(const google::protobuf::Map<std::string, google::protobuf::Any>& configs,
                                  const std::string& path, stats::Store* store);
};

}  // namespace weft::proxy::http
