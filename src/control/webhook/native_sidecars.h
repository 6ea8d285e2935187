#pragma once
// Istio's ENABLE_NATIVE_SIDECARS=auto (DetectNativeSidecar): native sidecars when every node's
// kubelet is 1.33 or later (where Kubernetes' sidecar containers are stable). A node whose
// version cannot be read counts as too old.
#include <string>
#include <vector>

#include "control/config/kinds.h"

namespace weft::control::webhook {

bool kubeletSupportsNativeSidecars(const std::string& kubelet_version);  // "v1.33.1" -> true
bool nativeSidecarsEverywhere(const std::vector<Node>& nodes);

}  // namespace weft::control::webhook
