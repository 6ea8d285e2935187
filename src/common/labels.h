#pragma once
// Kubernetes label selection: a Service's selector picks the Pods whose labels include all of
// its key/value pairs (an empty selector picks none).
#include <map>
#include <string>

namespace weft {

inline bool selectorMatches(const std::map<std::string, std::string>& selector,
                            const std::map<std::string, std::string>& labels) {
  if (selector.empty()) return false;
  for (const auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

}  // namespace weft
