#include "proxy/dynamic_metadata.h"

#include <nlohmann/json.hpp>

namespace weft::proxy {

DynamicMetadata::DynamicMetadata() = default;
DynamicMetadata::~DynamicMetadata() = default;
DynamicMetadata::DynamicMetadata(DynamicMetadata&&) noexcept = default;
DynamicMetadata& DynamicMetadata::operator=(DynamicMetadata&&) noexcept = default;

const nlohmann::json* DynamicMetadata::find(std::string_view filter, const std::vector<std::string>& path) const {
  if (!root_) return nullptr;
  auto it = root_->find(filter);
  if (it == root_->end()) return nullptr;
  const nlohmann::json* at = &*it;
  for (const auto& key : path) {
    if (!at->is_object()) return nullptr;
    auto next = at->find(key);
    if (next == at->end()) return nullptr;
    at = &*next;
  }
  return at;
}

void DynamicMetadata::set(std::string_view filter, const std::string& key, nlohmann::json value) {
  if (!root_) root_ = std::make_unique<nlohmann::json>(nlohmann::json::object());
  (*root_)[std::string(filter)][key] = std::move(value);
}

void DynamicMetadata::clear() { root_.reset(); }

}  // namespace weft::proxy
