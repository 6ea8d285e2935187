#include "control/xds/proxy_info.h"

#include "control/model/mesh_model.h"

#include <sstream>
#include <vector>

namespace weft::control {

ProxyInfo ProxyInfo::fromNode(const envoy::config::core::v3::Node& node) {
  ProxyInfo p;
  p.id = node.id();
  std::vector<std::string> parts;
  std::stringstream ss(node.id());
  for (std::string part; std::getline(ss, part, '~');) parts.push_back(part);
  if (parts.size() == 4) {
    p.type = parts[0];
    p.ip = parts[1];
    auto dot = parts[2].rfind('.');
    p.pod = dot == std::string::npos ? parts[2] : parts[2].substr(0, dot);
    if (dot != std::string::npos) p.ns = parts[2].substr(dot + 1);
  }
  const auto& md = node.metadata().fields();
  if (auto it = md.find("NAMESPACE"); it != md.end() && it->second.has_string_value()) p.ns = it->second.string_value();
  if (auto it = md.find("LABELS"); it != md.end() && it->second.has_struct_value()) {
    for (const auto& [k, v] : it->second.struct_value().fields()) {
      if (v.has_string_value()) p.labels[k] = v.string_value();
    }
  }
  if (auto it = md.find("CLUSTER_ID"); it != md.end() && it->second.has_string_value())
    p.cluster_id = it->second.string_value();
  if (auto it = md.find("MESH_ID"); it != md.end() && it->second.has_string_value())
    p.mesh_id = it->second.string_value();
  if (auto it = md.find("GENERATOR"); it != md.end() && it->second.has_string_value()) {
    p.proxyless_grpc = it->second.string_value() == "grpc";
  }
  if (auto it = md.find("INTERCEPTION_MODE"); it != md.end() && it->second.has_string_value()) {
    p.capture_none = it->second.string_value() == "NONE";
  }
  if (auto it = md.find("WEFT_SDS"); it != md.end() && it->second.has_string_value()) {
    p.sds = it->second.string_value() == "true";
  }
  if (md.count("ISTIO_VERSION")) p.sds = true;
  if (auto it = md.find("WORKLOAD_NAME"); it != md.end() && it->second.has_string_value() && p.pod.empty()) {
    p.pod = it->second.string_value();
  }
  const auto& l = node.locality();
  if (!l.region().empty() || !l.zone().empty() || !l.sub_zone().empty()) {
    p.locality = l.region() + "/" + l.zone() + "/" + l.sub_zone();
    while (!p.locality.empty() && p.locality.back() == '/') p.locality.pop_back();
  } else {
    p.locality = localityFromLabels(p.labels);
  }
  return p;
}

}  // namespace weft::control
