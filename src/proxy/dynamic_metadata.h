#pragma once
// Envoy's per-request dynamic metadata (StreamInfo's filter_metadata): what one filter learns,
// such as jwt_authn's verified payload, kept under the filter's name for a later filter to match
// on, such as RBAC's metadata matcher. Values are JSON, which is what google.protobuf.Struct
// holds. Nothing is allocated until a filter writes.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace weft::proxy {

class DynamicMetadata {
 public:
  DynamicMetadata();
  ~DynamicMetadata();
  DynamicMetadata(DynamicMetadata&&) noexcept;
  DynamicMetadata& operator=(DynamicMetadata&&) noexcept;

  // The value under `filter`, then each key of `path` in turn; null when any step is missing
  // or is not a struct.
  const nlohmann::json* find(std::string_view filter, const std::vector<std::string>& path) const;
  // Sets `key` in `filter`'s struct, replacing what was there.
  void set(std::string_view filter, const std::string& key, nlohmann::json value);
  void clear();
  bool empty() const { return root_ == nullptr; }

 private:
  std::unique_ptr<nlohmann::json> root_;  // {filter: {key: value}}
};

}  // namespace weft::proxy
