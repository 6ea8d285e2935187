#pragma once
// The mutual TLS a workload accepts, from PeerAuthentication as Istio composes it: PERMISSIVE by
// default, then the mesh-wide policy (root namespace, no selector), the namespace's, then the
// workload's (selector), each overriding unless UNSET; port-level modes from the workload's
// policy, UNSET inheriting. Where several apply at one level Istio takes the oldest; files have
// no creation time, so the first by name wins.
#include <map>
#include <string>
#include <vector>

#include "control/config/kinds.h"

namespace weft::control {

struct MtlsPolicy {
  MtlsMode mode = MtlsMode::Permissive;
  std::map<uint32_t, MtlsMode> ports;
  MtlsMode forPort(uint32_t port) const {
    auto it = ports.find(port);
    return it == ports.end() ? mode : it->second;
  }
};

MtlsPolicy effectiveMtls(const std::vector<PeerAuthentication>& policies, const std::string& root_namespace,
                         const std::string& ns, const Labels& labels);

}  // namespace weft::control
