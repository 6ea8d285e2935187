#pragma once
// weft-cni, a chained CNI plugin (CNI spec 1.0): ADD writes the sidecar capture rules into the
// pod's network namespace, DEL removes them, CHECK verifies them, VERSION lists the versions.
// Pods outside the mesh are passed through untouched. Pure logic over the call's inputs; the
// rules are applied through `Apply`, so tests can observe the decision without a namespace.
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "capture/capture_config.h"

namespace weft::capture {

struct CniCall {
  std::map<std::string, std::string> env;  // CNI_COMMAND, CNI_NETNS, CNI_ARGS ...
  std::string stdin_json;
};

struct CniOutcome {
  int exit_code = 0;
  std::string stdout_json;  // the result, or the CNI error object
  std::string log;          // for stderr: what was decided and why
};

struct CniActions {
  // config null: remove. Returns an error message.
  std::function<std::optional<std::string>(const CaptureConfig*, const std::string& netns)> apply;
  std::function<std::optional<std::string>(const CaptureConfig&, const std::string& netns)> check;
  // In Kubernetes (the network config's kubernetes.kubeconfig): the pod's annotations from the
  // API server, as istio-cni reads them. Returns an error message.
  std::function<std::optional<std::string>(const std::string& kubeconfig, const std::string& ns, const std::string& pod,
                                           std::map<std::string, std::string>& annotations)>
      pod_annotations;
};

CniOutcome runCni(const CniCall& call, const CniActions& actions);

// The capture settings for a pod from its annotations (Istio's names), or why it is not in
// the mesh (nullopt with `skip_reason` set), or an error (`error` set: a bad annotation).
std::optional<CaptureConfig> captureForPod(const std::map<std::string, std::string>& annotations,
                                           std::string& skip_reason, std::string& error);

}  // namespace weft::capture
