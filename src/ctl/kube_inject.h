#pragma once
// `weftctl kube-inject -f FILE`: the sidecar added to the Pods and pod templates of Kubernetes
// YAML offline (Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs, Pods), as
// `istioctl kube-inject`; other documents pass through unchanged.
#include <iosfwd>

#include "common/inject/sidecar_injection.h"

namespace weft::ctl {

// Returns the exit code; errors (naming the document and field) go to `err`.
int kubeInject(std::istream& in, std::ostream& out, std::ostream& err, const inject::InjectionConfig& config);

}  // namespace weft::ctl
