#pragma once
// Envoy's MetadataMatcher (envoy.type.matcher.v3): the value at a filter's dynamic metadata
// path, tested by a ValueMatcher (null, double, string, bool, present, list one_of, or), then
// inverted if asked. A missing value is "not set": only a false present_match or an inverted
// matcher takes it, as Envoy.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "envoy/type/matcher/v3/metadata.pb.h"
#include "proxy/dynamic_metadata.h"

namespace weft::proxy::http {

class ValueMatcher {
 public:
  virtual ~ValueMatcher() = default;
  // `value` null: nothing at the path.
  virtual bool match(const nlohmann::json* value) const = 0;
  // Throws ConfigError naming `path`.
  static std::unique_ptr<ValueMatcher> compile(const envoy::type::matcher::v3::ValueMatcher& m,
                                               const std::string& path);
};

class MetadataMatcher {
 public:
  static MetadataMatcher compile(const envoy::type::matcher::v3::MetadataMatcher& m, const std::string& path);
  bool match(const DynamicMetadata* metadata) const;

 private:
  std::string filter_;
  std::vector<std::string> path_;
  std::shared_ptr<const ValueMatcher> value_;
  bool invert_ = false;
};

}  // namespace weft::proxy::http
