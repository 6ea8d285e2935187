#include "common/inject/sidecar_injection.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <stdexcept>

#include "common/config/yaml_typed.h"
#include "common/json_shape.h"

namespace weft::inject {

using nlohmann::json;

namespace {

constexpr int kProxyUid = 1337;
constexpr int kStatusPort = 15020;
const char* const kVolumes[] = {"workload-socket", "credential-socket", "workload-certs", "istio-envoy",
                                "istio-data",      "istio-podinfo",     "istio-token",    "istiod-ca-cert"};

std::string annotation(const json& meta, const std::string& key, const std::string& fallback = "") {
  if (meta.contains("annotations") && meta["annotations"].is_object() && meta["annotations"].contains(key) &&
      meta["annotations"][key].is_string())
    return meta["annotations"][key];
  return fallback;
}

std::string label(const json& meta, const std::string& key) {
  if (meta.contains("labels") && meta["labels"].is_object() && meta["labels"].contains(key) &&
      meta["labels"][key].is_string())
    return meta["labels"][key];
  return "";
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

json fieldRef(const char* path) { return {{"valueFrom", {{"fieldRef", {{"apiVersion", "v1"}, {"fieldPath", path}}}}}}; }

json env(const char* name, json value) {
  if (value.is_object()) {
    value["name"] = name;
    return value;
  }
  return {{"name", name}, {"value", value}};
}

// A probe's port by name or number, as the container declares it.
json resolvePort(const json& container, const json& port) {
  if (!port.is_string()) return port;
  for (const auto& p : container.value("ports", json::array()))
    if (p.value("name", "") == port.get<std::string>() && p.contains("containerPort")) return p["containerPort"];
  return port;
}

// Istio's probe rewrite: the kubelet asks the agent (15020, /app-health/<container>/<kind>),
// which asks the application as the original HTTP, TCP or gRPC probe said (ISTIO_KUBE_APP_PROBERS).
void rewriteProbes(json& container, json& probers) {
  static const std::pair<const char*, const char*> kProbes[] = {
      {"livenessProbe", "livez"}, {"readinessProbe", "readyz"}, {"startupProbe", "startupz"}};
  const std::string name = container.value("name", "");
  for (const auto& [field, kind] : kProbes) {
    if (!container.contains(field) || !container[field].is_object()) continue;
    json& probe = container[field];
    const char* how = probe.contains("httpGet")     ? "httpGet"
                      : probe.contains("tcpSocket") ? "tcpSocket"
                      : probe.contains("grpc")      ? "grpc"
                                                    : nullptr;
    if (how == nullptr || !probe[how].is_object()) continue;  // exec: as it is
    const std::string path = "/app-health/" + name + "/" + kind;
    json original = probe[how];
    original["port"] = resolvePort(container, original.value("port", json(80)));
    probers[path] = {{how, original}, {"timeoutSeconds", probe.value("timeoutSeconds", 1)}};
    probe.erase(how);
    probe["httpGet"] = {{"path", path}, {"port", kStatusPort}, {"scheme", "HTTP"}};
  }
}

json resources(const json& meta) {
  json r = {{"requests",
             {{"cpu", annotation(meta, "sidecar.istio.io/proxyCPU", "100m")},
              {"memory", annotation(meta, "sidecar.istio.io/proxyMemory", "128Mi")}}},
            {"limits",
             {{"cpu", annotation(meta, "sidecar.istio.io/proxyCPULimit", "2000m")},
              {"memory", annotation(meta, "sidecar.istio.io/proxyMemoryLimit", "1024Mi")}}}};
  return r;
}

std::string csvWithDefaults(const std::string& user, const std::string& defaults) {
  return user.empty() ? defaults : defaults + "," + user;
}

}  // namespace

// The ProxyConfig fields the injector and weft-agent read, with their types.
static const json& proxyConfigShape() {
  static const json shape = {{"discoveryAddress", "string"},
                             {"drainDuration", "string"},
                             {"concurrency", "integer"},
                             {"holdApplicationUntilProxyStarts", "boolean"},
                             {"proxyMetadata", {{"*", "string"}}}};
  return shape;
}

// What the injector reads of a pod, and the type each must have.
static const json& podShape() {
  static const json shape = [] {
    json probe = {{"httpGet", {{"port", "port"}, {"path", "string"}, {"host", "string"}, {"scheme", "string"}}},
                  {"tcpSocket", {{"port", "port"}}},
                  {"grpc", {{"port", "integer"}, {"service", "string"}}},
                  {"timeoutSeconds", "integer"}};
    json container = {
        {"name", "string"},        {"ports", json::array({{{"name", "string"}, {"containerPort", "integer"}}})},
        {"readinessProbe", probe}, {"livenessProbe", probe},
        {"startupProbe", probe},   {"securityContext", json::object()}};
    return json{
        {"metadata",
         {{"name", "string"},
          {"generateName", "string"},
          {"namespace", "string"},
          {"labels", {{"*", "string"}}},
          {"annotations", {{"*", "string"}}},
          {"ownerReferences",
           json::array(
               {{{"apiVersion", "string"}, {"kind", "string"}, {"name", "string"}, {"controller", "boolean"}}})}}},
        {"spec",
         {{"hostNetwork", "boolean"},
          {"serviceAccountName", "string"},
          {"securityContext", json::object()},
          {"containers", json::array({container})},
          {"initContainers", json::array({container})},
          {"volumes", json::array({json::object()})}}}};
  }();
  return shape;
}

std::optional<std::string> podShapeError(json& meta, json& spec) {
  if (auto e = jsonShapeError(meta, podShape()["metadata"], "metadata")) return e;
  return jsonShapeError(spec, podShape()["spec"], "spec");
}

static bool hostNetwork(const json& spec) {
  auto it = spec.find("hostNetwork");
  return it != spec.end() && it->is_boolean() && it->get<bool>();
}

std::optional<std::string> skipReason(const json& meta, const json& spec) {
  if (hostNetwork(spec)) return "hostNetwork pods are never injected";
  if (!annotation(meta, "sidecar.istio.io/status").empty()) return "already injected (sidecar.istio.io/status)";
  // The label wins over the annotation, as in Istio 1.2x.
  std::string choice = label(meta, "sidecar.istio.io/inject");
  if (choice.empty()) choice = annotation(meta, "sidecar.istio.io/inject");
  choice = lower(choice);
  if (choice == "false" || choice == "n" || choice == "no" || choice == "off")
    return "sidecar.istio.io/inject is " + choice;
  return std::nullopt;
}

void injectPod(json& meta, json& spec, const Workload& workload, const InjectionConfig& config) {
  if (!meta.is_object()) meta = json::object();
  if (auto e = podShapeError(meta, spec)) throw std::invalid_argument(*e);
  if (!meta.contains("annotations") || !meta["annotations"].is_object()) meta["annotations"] = json::object();
  if (!meta.contains("labels") || !meta["labels"].is_object()) meta["labels"] = json::object();
  if (!spec.contains("containers") || !spec["containers"].is_array() || spec["containers"].empty())
    throw std::invalid_argument("spec.containers: a pod needs at least one container");
  json& annotations = meta["annotations"];
  json& labels = meta["labels"];

  // The application's containers: names, ports, probes.
  std::string app_containers;
  json pod_ports = json::array();
  json probers = json::object();
  const bool rewrite = lower(annotation(meta, "sidecar.istio.io/rewriteAppHTTPProbers", "true")) != "false";
  for (size_t i = 0; i < spec["containers"].size(); ++i) {
    json& c = spec["containers"][i];
    if (!c.contains("name") || !c["name"].is_string())
      throw std::invalid_argument("spec.containers[" + std::to_string(i) + "].name: is required");
    if (c["name"] == "istio-proxy")
      throw std::invalid_argument("spec.containers[" + std::to_string(i) +
                                  "]: a container is already named istio-proxy");
    app_containers += (app_containers.empty() ? "" : ",") + c["name"].get<std::string>();
    for (const auto& p : c.value("ports", json::array())) pod_ports.push_back(p);
    if (rewrite) rewriteProbes(c, probers);
  }
  const std::string first_container = spec["containers"][0]["name"];

  // PROXY_CONFIG: the mesh's defaultConfig with proxy.istio.io/config (YAML or JSON) over it.
  json proxy_config = config.mesh_proxy_config.is_object() ? config.mesh_proxy_config : json::object();
  if (std::string pc = annotation(meta, "proxy.istio.io/config"); !pc.empty()) {
    json pod_config;
    try {
      pod_config = config::yamlToTypedJson(YAML::Load(pc));
    } catch (const YAML::Exception& e) {
      throw std::invalid_argument("metadata.annotations[proxy.istio.io/config]: not YAML: " + e.msg);
    }
    if (!pod_config.is_object())
      throw std::invalid_argument("metadata.annotations[proxy.istio.io/config]: must be a ProxyConfig map");
    if (auto e = jsonShapeError(pod_config, proxyConfigShape(), "metadata.annotations[proxy.istio.io/config]"))
      throw std::invalid_argument(*e);
    for (const auto& [k, v] : pod_config.items()) {
      if (k == "proxyMetadata" && v.is_object() && proxy_config.contains(k) && proxy_config[k].is_object()) {
        for (const auto& [mk, mv] : v.items()) proxy_config[k][mk] = mv;
      } else {
        proxy_config[k] = v;
      }
    }
  }
  if (auto e = jsonShapeError(proxy_config, proxyConfigShape(), "meshConfig.defaultConfig"))
    throw std::invalid_argument(*e);
  std::string discovery = config.discovery_address;
  if (proxy_config.contains("discoveryAddress") && proxy_config["discoveryAddress"].is_string())
    discovery = proxy_config["discoveryAddress"];
  std::string drain = "5";
  if (proxy_config.contains("drainDuration") && proxy_config["drainDuration"].is_string()) {
    std::string d = proxy_config["drainDuration"];
    if (d.size() < 2 || d.back() != 's' || d.find_first_not_of("0123456789") != d.size() - 1)
      throw std::invalid_argument("drainDuration: '" + d + "' is not whole seconds such as \"45s\"");
    drain = d.substr(0, d.size() - 1);
  }
  const std::string mode = annotation(meta, "sidecar.istio.io/interceptionMode", "REDIRECT");
  if (mode != "REDIRECT")
    throw std::invalid_argument("metadata.annotations[sidecar.istio.io/interceptionMode]: '" + mode +
                                "' is not supported by weft (REDIRECT is)");

  // Metrics merging: the application's own prometheus.io annotations go to the agent, which
  // serves both on 15020.
  json app_prometheus = json::object();
  for (const char* k : {"prometheus.io/scrape", "prometheus.io/path", "prometheus.io/port"}) {
    std::string v = annotation(meta, k);
    if (!v.empty()) app_prometheus[std::string(k).substr(14)] = v;
  }
  const bool merge_metrics = app_prometheus.value("scrape", "true") != "false";

  const std::string canonical_name =
      !label(meta, "service.istio.io/canonical-name").empty() ? label(meta, "service.istio.io/canonical-name")
      : !label(meta, "app.kubernetes.io/name").empty()        ? label(meta, "app.kubernetes.io/name")
      : !label(meta, "app").empty()                           ? label(meta, "app")
                                                              : workload.name;
  const std::string canonical_revision =
      !label(meta, "service.istio.io/canonical-revision").empty() ? label(meta, "service.istio.io/canonical-revision")
      : !label(meta, "app.kubernetes.io/version").empty()         ? label(meta, "app.kubernetes.io/version")
      : !label(meta, "version").empty()                           ? label(meta, "version")
                                                                  : "latest";
  labels["security.istio.io/tlsMode"] = "istio";
  labels["service.istio.io/canonical-name"] = canonical_name;
  labels["service.istio.io/canonical-revision"] = canonical_revision;

  std::string group_version = workload.api_version;
  std::string owner = "kubernetes://api" + std::string(group_version == "v1" ? "" : "s") + "/" + group_version +
                      "/namespaces/" + workload.ns + "/" + lower(workload.kind) + "s/" + workload.name;
  json env_list = json::array({
      env("PILOT_CERT_PROVIDER", "istiod"),
      env("CA_ADDR", config.ca_address),
      env("PILOT_ADDRESS", discovery),
      env("POD_NAME", fieldRef("metadata.name")),
      env("POD_NAMESPACE", fieldRef("metadata.namespace")),
      env("INSTANCE_IP", fieldRef("status.podIP")),
      env("SERVICE_ACCOUNT", fieldRef("spec.serviceAccountName")),
      env("HOST_IP", fieldRef("status.hostIP")),
      env("ISTIO_CPU_LIMIT", {{"valueFrom", {{"resourceFieldRef", {{"resource", "limits.cpu"}, {"divisor", "0"}}}}}}),
      env("PROXY_CONFIG", proxy_config.dump()),
      env("ISTIO_META_POD_PORTS", pod_ports.dump()),
      env("ISTIO_META_APP_CONTAINERS", app_containers),
      env("ISTIO_META_CLUSTER_ID", config.cluster_id),
      env("ISTIO_META_NODE_NAME", fieldRef("spec.nodeName")),
      env("ISTIO_META_INTERCEPTION_MODE", mode),
      env("ISTIO_META_WORKLOAD_NAME", workload.name),
      env("ISTIO_META_OWNER", owner),
      env("ISTIO_META_MESH_ID", config.mesh_id),
      env("TRUST_DOMAIN", config.trust_domain),
      env("ISTIO_METAJSON_LABELS", labels.dump()),
  });
  if (proxy_config.contains("proxyMetadata") && proxy_config["proxyMetadata"].is_object())
    for (const auto& [k, v] : proxy_config["proxyMetadata"].items())
      env_list.push_back({{"name", k}, {"value", v.is_string() ? v.get<std::string>() : v.dump()}});
  if (!probers.empty()) env_list.push_back(env("ISTIO_KUBE_APP_PROBERS", probers.dump()));
  if (merge_metrics && !app_prometheus.empty())
    env_list.push_back(env("ISTIO_PROMETHEUS_ANNOTATIONS", app_prometheus.dump()));

  json proxy = {
      {"name", "istio-proxy"},
      {"image", annotation(meta, "sidecar.istio.io/proxyImage", config.image)},
      {"command", {"weft-agent"}},
      {"args",
       {"proxy", "--concurrency", std::to_string(proxy_config.value("concurrency", 2)), "--status-port",
        std::to_string(kStatusPort), "--drain-duration", drain}},
      {"env", env_list},
      {"ports", {{{"containerPort", 15090}, {"name", "http-envoy-prom"}, {"protocol", "TCP"}}}},
      {"readinessProbe",
       {{"httpGet", {{"path", "/healthz/ready"}, {"port", 15021}}},
        {"failureThreshold", 4},
        {"periodSeconds", 15},
        {"timeoutSeconds", 3}}},
      {"startupProbe",
       {{"httpGet", {{"path", "/healthz/ready"}, {"port", 15021}}},
        {"failureThreshold", 600},
        {"periodSeconds", 1},
        {"timeoutSeconds", 3}}},
      {"resources", resources(meta)},
      {"securityContext",
       {{"allowPrivilegeEscalation", false},
        {"capabilities", {{"drop", {"ALL"}}}},
        {"privileged", false},
        {"readOnlyRootFilesystem", true},
        {"runAsGroup", kProxyUid},
        {"runAsNonRoot", true},
        {"runAsUser", kProxyUid}}},
      {"volumeMounts",
       {{{"name", "workload-socket"}, {"mountPath", "/var/run/secrets/workload-spiffe-uds"}},
        {{"name", "credential-socket"}, {"mountPath", "/var/run/secrets/credential-uds"}},
        {{"name", "workload-certs"}, {"mountPath", "/var/run/secrets/workload-spiffe-credentials"}},
        {{"name", "istiod-ca-cert"}, {"mountPath", "/var/run/secrets/istio"}},
        {{"name", "istio-data"}, {"mountPath", "/var/lib/istio/data"}},
        {{"name", "istio-envoy"}, {"mountPath", "/etc/istio/proxy"}},
        {{"name", "istio-token"}, {"mountPath", "/var/run/secrets/tokens"}},
        {{"name", "istio-podinfo"}, {"mountPath", "/etc/istio/pod"}}}},
  };
  // A native sidecar (as Istio's template: the annotation, else the injector's setting) starts
  // before the app by itself; else holdApplicationUntilProxyStarts puts it first and makes the
  // app wait for it.
  const std::string native_annotation = annotation(meta, "sidecar.istio.io/nativeSidecar");
  const bool native = native_annotation.empty() ? config.native_sidecar : native_annotation != "false";
  json init_names = json::array();
  const bool had_init = spec.contains("initContainers");
  if (!spec.contains("initContainers") || !spec["initContainers"].is_array()) spec["initContainers"] = json::array();
  if (native) {
    proxy["restartPolicy"] = "Always";
    spec["initContainers"].insert(spec["initContainers"].begin(), proxy);
    init_names.push_back("istio-proxy");
  } else if (proxy_config.value("holdApplicationUntilProxyStarts", false)) {
    proxy["lifecycle"] = {{"postStart", {{"exec", {{"command", {"weft-agent", "wait"}}}}}}};
    spec["containers"].insert(spec["containers"].begin(), proxy);
  } else {
    spec["containers"].push_back(proxy);
  }

  if (!config.cni) {
    const std::string exclude_inbound =
        csvWithDefaults(annotation(meta, "traffic.sidecar.istio.io/excludeInboundPorts"), "15090,15021,15020");
    json args = {"-p", "15001",
                 "-z", "15006",
                 "-u", std::to_string(kProxyUid),
                 "-m", mode,
                 "-i", annotation(meta, "traffic.sidecar.istio.io/includeOutboundIPRanges", "*"),
                 "-x", annotation(meta, "traffic.sidecar.istio.io/excludeOutboundIPRanges", ""),
                 "-b", annotation(meta, "traffic.sidecar.istio.io/includeInboundPorts", "*"),
                 "-d", exclude_inbound};
    if (std::string o = annotation(meta, "traffic.sidecar.istio.io/excludeOutboundPorts"); !o.empty()) {
      args.push_back("-o");
      args.push_back(o);
    }
    if (std::string q = annotation(meta, "traffic.sidecar.istio.io/includeOutboundPorts"); !q.empty()) {
      args.push_back("-q");
      args.push_back(q);
    }
    json init = {{"name", "istio-init"},
                 {"image", annotation(meta, "sidecar.istio.io/proxyImage", config.image)},
                 {"command", {"weft-iptables"}},
                 {"args", args},
                 {"resources", resources(meta)},
                 {"securityContext",
                  {{"allowPrivilegeEscalation", false},
                   {"capabilities", {{"add", {"NET_ADMIN", "NET_RAW"}}, {"drop", {"ALL"}}}},
                   {"privileged", false},
                   {"readOnlyRootFilesystem", false},
                   {"runAsGroup", 0},
                   {"runAsNonRoot", false},
                   {"runAsUser", 0}}}};
    spec["initContainers"].insert(spec["initContainers"].begin(), init);
    init_names.insert(init_names.begin(), "istio-init");
  }
  if (!had_init && spec["initContainers"].empty()) spec.erase("initContainers");

  if (!spec.contains("volumes") || !spec["volumes"].is_array()) spec["volumes"] = json::array();
  json& volumes = spec["volumes"];
  volumes.push_back({{"name", "workload-socket"}, {"emptyDir", json::object()}});
  volumes.push_back({{"name", "credential-socket"}, {"emptyDir", json::object()}});
  volumes.push_back({{"name", "workload-certs"}, {"emptyDir", json::object()}});
  volumes.push_back({{"name", "istio-envoy"}, {"emptyDir", {{"medium", "Memory"}}}});
  volumes.push_back({{"name", "istio-data"}, {"emptyDir", json::object()}});
  volumes.push_back(json::parse(R"({"name": "istio-podinfo", "downwardAPI": {"items": [
      {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
      {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}}]}})"));
  volumes.push_back(json::parse(R"({"name": "istio-token", "projected": {"sources": [
      {"serviceAccountToken": {"audience": "istio-ca", "expirationSeconds": 43200, "path": "istio-token"}}]}})"));
  volumes.push_back({{"name", "istiod-ca-cert"}, {"configMap", {{"name", "istio-ca-root-cert"}}}});

  json status = {{"initContainers", init_names.empty() ? json(nullptr) : init_names},
                 {"containers", native ? json(nullptr) : json::array({"istio-proxy"})},
                 {"volumes", json(std::vector<std::string>(std::begin(kVolumes), std::end(kVolumes)))},
                 {"imagePullSecrets", nullptr},
                 {"revision", config.revision}};
  annotations["sidecar.istio.io/status"] = status.dump();
  annotations["kubectl.kubernetes.io/default-container"] = first_container;
  annotations["kubectl.kubernetes.io/default-logs-container"] = first_container;
  annotations["istio.io/rev"] = config.revision;
  if (merge_metrics) {
    annotations["prometheus.io/path"] = "/stats/prometheus";
    annotations["prometheus.io/port"] = std::to_string(kStatusPort);
    annotations["prometheus.io/scrape"] = "true";
  }
}

}  // namespace weft::inject
