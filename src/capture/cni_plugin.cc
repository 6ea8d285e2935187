#include "capture/cni_plugin.h"

#include "common/json_shape.h"

#include <nlohmann/json.hpp>

#include <set>

namespace weft::capture {

namespace {

using json = nlohmann::json;

const std::set<std::string> kSupportedVersions = {"0.3.0", "0.3.1", "0.4.0", "1.0.0"};

// CNI spec error codes.
constexpr int kIncompatibleVersion = 1;
constexpr int kUnsupportedField = 2;
constexpr int kInvalidEnv = 4;
constexpr int kIoFailure = 5;
constexpr int kDecodeFailure = 6;
constexpr int kInvalidConfig = 7;

CniOutcome error(int code, const std::string& msg, const std::string& details, const std::string& version = "1.0.0") {
  CniOutcome o;
  o.exit_code = 1;
  json e = {{"cniVersion", version}, {"code", code}, {"msg", msg}};
  if (!details.empty()) e["details"] = details;
  o.stdout_json = e.dump();
  o.log = "weft-cni: error " + std::to_string(code) + ": " + msg + (details.empty() ? "" : ": " + details);
  return o;
}

std::map<std::string, std::string> parseCniArgs(const std::string& s) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t semi = s.find(';', pos);
    std::string kv = s.substr(pos, semi == std::string::npos ? std::string::npos : semi - pos);
    auto eq = kv.find('=');
    if (eq != std::string::npos) out[kv.substr(0, eq)] = kv.substr(eq + 1);
    if (semi == std::string::npos) break;
    pos = semi + 1;
  }
  return out;
}

std::string envOr(const CniCall& call, const std::string& name) {
  auto it = call.env.find(name);
  return it == call.env.end() ? std::string() : it->second;
}

std::string passThrough(const json& conf, const std::string& version) {
  if (conf.contains("prevResult") && conf["prevResult"].is_object()) {
    json r = conf["prevResult"];
    r["cniVersion"] = version;
    return r.dump();
  }
  return json{{"cniVersion", version}}.dump();
}

std::vector<std::string> withDefaults(std::vector<std::string> list, const std::vector<std::string>& always) {
  for (const auto& a : always) {
    bool have = false;
    for (const auto& x : list) have = have || x == a;
    if (!have) list.push_back(a);
  }
  return list;
}

}  // namespace

std::optional<CaptureConfig> captureForPod(const std::map<std::string, std::string>& annotations,
                                           std::string& skip_reason, std::string& error_out) {
  auto get = [&](const std::string& k) -> std::optional<std::string> {
    auto it = annotations.find(k);
    if (it == annotations.end()) return std::nullopt;
    return it->second;
  };
  if (auto inject = get("sidecar.istio.io/inject"); inject && (*inject == "false" || *inject == "False")) {
    skip_reason = "annotation sidecar.istio.io/inject is false";
    return std::nullopt;
  }
  if (!get("sidecar.istio.io/status")) {
    skip_reason = "no sidecar.istio.io/status annotation (no sidecar injected)";
    return std::nullopt;
  }
  CaptureConfig c;
  if (auto v = get("sidecar.istio.io/interceptionMode")) c.mode = *v;
  if (auto v = get("traffic.sidecar.istio.io/includeOutboundIPRanges")) c.include_ips = splitList(*v);
  if (auto v = get("traffic.sidecar.istio.io/excludeOutboundIPRanges")) c.exclude_ips = splitList(*v);
  if (auto v = get("traffic.sidecar.istio.io/includeInboundPorts")) c.include_inbound_ports = splitList(*v);
  // As istio-cni: 15020 unless told otherwise, and the sidecar's own ports always.
  c.exclude_inbound_ports = splitList(get("traffic.sidecar.istio.io/excludeInboundPorts").value_or("15020"));
  c.exclude_inbound_ports = withDefaults(c.exclude_inbound_ports, {"15020", "15021", "15090"});
  c.exclude_outbound_ports = splitList(get("traffic.sidecar.istio.io/excludeOutboundPorts").value_or("15020"));
  if (auto v = get("traffic.sidecar.istio.io/includeOutboundPorts")) c.include_outbound_ports = splitList(*v);
  for (const char* unsupported :
       {"traffic.sidecar.istio.io/kubevirtInterfaces", "traffic.sidecar.istio.io/excludeInterfaces"}) {
    if (auto v = get(unsupported); v && !v->empty()) {
      error_out = std::string("annotation ") + unsupported + " is not supported by weft-cni";
      return std::nullopt;
    }
  }
  if (auto e = validate(c)) {
    error_out = "pod annotations: " + *e;
    return std::nullopt;
  }
  return c;
}

CniOutcome runCni(const CniCall& call, const CniActions& actions) {
  std::string command = envOr(call, "CNI_COMMAND");
  if (command == "VERSION") {
    CniOutcome o;
    o.stdout_json = json{{"cniVersion", "1.0.0"}, {"supportedVersions", {"0.3.0", "0.3.1", "0.4.0", "1.0.0"}}}.dump();
    return o;
  }
  if (command != "ADD" && command != "DEL" && command != "CHECK") {
    return error(kInvalidEnv, "invalid CNI_COMMAND",
                 "CNI_COMMAND is '" + command + "'; expected ADD, DEL, CHECK or VERSION");
  }
  json conf;
  try {
    conf = json::parse(call.stdin_json);
  } catch (const std::exception& e) {
    return error(kDecodeFailure, "failed to decode the network configuration on stdin", e.what());
  }
  if (!conf.is_object())
    return error(kDecodeFailure, "failed to decode the network configuration", "stdin is not a JSON object");
  // The fields read below, with their types (the runtime, or whoever wrote the conflist, may
  // send anything).
  static const json shape = {{"cniVersion", "string"},
                             {"name", "string"},
                             {"type", "string"},
                             {"prevResult", json::object()},
                             {"exclude_namespaces", json::array({"string"})},
                             {"kubernetes", {{"kubeconfig", "string"}}},
                             {"args", {{"cni", {{"annotations", {{"*", "string"}}}}}}}};
  if (auto e = jsonShapeError(conf, shape, ""))
    return error(kInvalidConfig, "invalid network configuration", *e,
                 conf.contains("cniVersion") && conf["cniVersion"].is_string() ? conf["cniVersion"].get<std::string>()
                                                                               : std::string("1.0.0"));
  std::string version = conf.value("cniVersion", "");
  if (!kSupportedVersions.count(version)) {
    return error(kIncompatibleVersion, "incompatible CNI version",
                 "cniVersion '" + version + "' is not one of 0.3.0, 0.3.1, 0.4.0, 1.0.0");
  }
  std::vector<std::string> missing;
  for (const char* v : {"CNI_CONTAINERID", "CNI_IFNAME"}) {
    if (envOr(call, v).empty()) missing.push_back(v);
  }
  if (command != "DEL" && envOr(call, "CNI_NETNS").empty()) missing.push_back("CNI_NETNS");
  if (!missing.empty()) {
    std::string names;
    for (const auto& m : missing) names += (names.empty() ? "" : ", ") + m;
    return error(kInvalidEnv, "missing required environment variables", names, version);
  }
  if (conf.contains("exclude_namespaces") && !conf["exclude_namespaces"].is_array()) {
    return error(kInvalidConfig, "invalid network configuration", "exclude_namespaces must be a list of names",
                 version);
  }
  std::string netns = envOr(call, "CNI_NETNS");
  auto args = parseCniArgs(envOr(call, "CNI_ARGS"));
  std::string pod = args["K8S_POD_NAME"], ns = args["K8S_POD_NAMESPACE"];
  CniOutcome out;

  // Which pods are in the mesh: CNI_ARGS names the pod; its annotations come with the call
  // (args.cni.annotations, filled by the runtime or weftctl), as istio-cni reads them from
  // the API server.
  std::string skip;
  std::string bad;
  std::optional<CaptureConfig> capture;
  if (pod.empty() || ns.empty()) {
    skip = "CNI_ARGS has no K8S_POD_NAME/K8S_POD_NAMESPACE";
  } else {
    if (conf.contains("exclude_namespaces")) {
      for (const auto& x : conf["exclude_namespaces"]) {
        if (x.is_string() && x.get<std::string>() == ns) skip = "namespace " + ns + " is excluded";
      }
    }
    if (skip.empty()) {
      std::map<std::string, std::string> annotations;
      const json* a = nullptr;
      if (conf.contains("args") && conf["args"].is_object() && conf["args"].contains("cni") &&
          conf["args"]["cni"].is_object() && conf["args"]["cni"].contains("annotations")) {
        a = &conf["args"]["cni"]["annotations"];
      }
      std::string kubeconfig;
      if (a == nullptr && conf.contains("kubernetes") && conf["kubernetes"].is_object() &&
          conf["kubernetes"].contains("kubeconfig")) {
        if (!conf["kubernetes"]["kubeconfig"].is_string())
          return error(kInvalidConfig, "invalid network configuration", "kubernetes.kubeconfig must be a string",
                       version);
        kubeconfig = conf["kubernetes"]["kubeconfig"].get<std::string>();
      }
      if (!kubeconfig.empty() && command != "DEL") {
        if (!actions.pod_annotations)
          return error(kInvalidConfig, "invalid network configuration", "kubernetes.kubeconfig is not supported here",
                       version);
        if (auto e = actions.pod_annotations(kubeconfig, ns, pod, annotations))
          return error(kIoFailure, "cannot read the pod from the Kubernetes API", *e, version);
      } else if (!kubeconfig.empty()) {
        // DEL: the pod may be gone from the API already; the rules go with the namespace anyway.
        annotations["sidecar.istio.io/status"] = "{}";
      }
      if (a != nullptr) {
        if (!a->is_object())
          return error(kInvalidConfig, "invalid network configuration", "args.cni.annotations must be an object",
                       version);
        for (const auto& [k, v] : a->items()) {
          if (!v.is_string())
            return error(kInvalidConfig, "invalid network configuration",
                         "args.cni.annotations['" + k + "'] must be a string", version);
          annotations[k] = v.get<std::string>();
        }
      }
      capture = captureForPod(annotations, skip, bad);
      if (!bad.empty()) return error(kUnsupportedField, "unsupported pod annotation", bad, version);
    }
  }
  std::string who = ns.empty() ? envOr(call, "CNI_CONTAINERID") : ns + "/" + pod;

  if (command == "DEL") {
    // Idempotent, and fine when the namespace is already gone.
    if (!netns.empty() && capture) {
      if (auto e = actions.apply(nullptr, netns)) out.log = "weft-cni: DEL " + who + ": ignored: " + *e;
    }
    return out;
  }
  if (!capture) {
    out.log = "weft-cni: " + command + " " + who + ": skipped: " + skip;
    out.stdout_json = command == "ADD" ? passThrough(conf, version) : "";
    return out;
  }
  if (command == "CHECK") {
    if (auto e = actions.check(*capture, netns))
      return error(kIoFailure, "capture rules are not in place", *e, version);
    out.log = "weft-cni: CHECK " + who + ": rules in place";
    return out;
  }
  if (auto e = actions.apply(&*capture, netns))
    return error(kIoFailure, "cannot install the capture rules", *e, version);
  out.log = "weft-cni: ADD " + who + ": capture rules installed in " + netns;
  out.stdout_json = passThrough(conf, version);
  return out;
}

}  // namespace weft::capture
