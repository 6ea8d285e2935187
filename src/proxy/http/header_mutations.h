#pragma once
// Envoy's request/response headers_to_add and headers_to_remove, compiled.
#include <google/protobuf/repeated_field.h>

#include <string>
#include <vector>

#include "envoy/config/core/v3/base.pb.h"

namespace weft::proxy::http {

struct HeaderMutations {
  enum class Action { AppendOrAdd, AddIfAbsent, OverwriteOrAdd, OverwriteIfExists };
  struct Add {
    std::string name;  // lower case
    std::string value;
    Action action;
  };
  std::vector<Add> add;
  std::vector<std::string> remove;  // lower case

  bool empty() const { return add.empty() && remove.empty(); }
  // True when an existing header of this name must not be forwarded as it came.
  bool replaces(std::string_view name, bool* removed_only = nullptr) const;

  static HeaderMutations compile(
      const google::protobuf::RepeatedPtrField<envoy::config::core::v3::HeaderValueOption>& to_add,
      const google::protobuf::RepeatedPtrField<std::string>& to_remove, const std::string& path,
      const std::string& add_field, const std::string& remove_field);
};

}  // namespace weft::proxy::http
