#include "control/webhook/native_sidecars.h"

#include <cstdlib>

namespace weft::control::webhook {

bool kubeletSupportsNativeSidecars(const std::string& kubelet_version) {
  std::string v = kubelet_version;
  if (!v.empty() && v[0] == 'v') v.erase(0, 1);
  auto dot = v.find('.');
  if (dot == std::string::npos || dot == 0) return false;
  char* end = nullptr;
  long major = std::strtol(v.c_str(), &end, 10);
  if (end != v.c_str() + dot) return false;
  const char* minor_start = v.c_str() + dot + 1;
  long minor = std::strtol(minor_start, &end, 10);
  if (end == minor_start) return false;
  return major > 1 || (major == 1 && minor >= 33);
}

bool nativeSidecarsEverywhere(const std::vector<Node>& nodes) {
  for (const auto& n : nodes)
    if (!kubeletSupportsNativeSidecars(n.kubelet_version)) return false;
  return true;
}

}  // namespace weft::control::webhook
