#pragma once
// weft-cni's installer (Istio's install-cni), run by the CNI DaemonSet on every node: puts
// weft-cni at the end of the node's primary CNI config chain (the first *.conflist / *.conf of
// the config directory by name; a single-plugin .conf becomes a .conflist), and takes it out
// again. Files are replaced atomically (write, then rename).
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace weft::capture {

// The chain's file after the change, or an error naming the file. `plugin` is weft-cni's entry
// (type "weft-cni"); an entry already there is replaced, so running again changes nothing.
struct InstallResult {
  std::string file;
  std::string error;
  bool changed = false;
};
InstallResult addToChain(const std::string& net_dir, const nlohmann::json& plugin);
InstallResult removeFromChain(const std::string& net_dir);

// The kubeconfig weft-cni uses to read pods: the in-cluster service account's server, CA and
// token (as install-cni writes ZZZ-istio-cni-kubeconfig). Empty with `error` set when not in
// a pod.
std::string inClusterKubeconfig(const std::string& secrets_dir, std::string& error);

}  // namespace weft::capture
