#include "ctl/local_mesh.h"

#include "capture/cni_plugin.h"

#include "common/labels.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <stdexcept>

namespace weft::ctl {

namespace fs = std::filesystem;

namespace {

std::map<std::string, std::string> stringMap(const YAML::Node& n) {
  std::map<std::string, std::string> out;
  if (n && n.IsMap()) {
    for (const auto& kv : n) out[kv.first.as<std::string>()] = kv.second.as<std::string>();
  }
  return out;
}

}  // namespace

MeshPlan planFromDirectory(const std::string& dir, const std::string& subnet_prefix) {
  MeshPlan plan;
  plan.source_dir = fs::absolute(dir).string();
  if (!fs::is_directory(dir)) throw std::runtime_error(dir + ": not a directory");
  std::vector<fs::path> paths;
  for (const auto& e : fs::directory_iterator(dir)) {
    auto ext = e.path().extension();
    if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml")) paths.push_back(e.path());
  }
  std::sort(paths.begin(), paths.end());
  if (paths.empty()) throw std::runtime_error(dir + ": no .yaml files");
  int next_ip = 2;
  for (const auto& p : paths) {
    plan.files.push_back(fs::absolute(p).string());
    std::vector<YAML::Node> docs;
    try {
      docs = YAML::LoadAllFromFile(p.string());
    } catch (const YAML::Exception& e) {
      throw std::runtime_error(p.string() + ": " + e.what());
    }
    for (size_t i = 0; i < docs.size(); ++i) {
      const YAML::Node& d = docs[i];
      if (!d || !d.IsMap()) continue;
      std::string where = p.string() + " document " + std::to_string(i + 1);
      std::string kind = d["kind"] ? d["kind"].as<std::string>() : "";
      const YAML::Node meta = d["metadata"];
      std::string name = meta && meta["name"] ? meta["name"].as<std::string>() : "";
      std::string ns = meta && meta["namespace"] ? meta["namespace"].as<std::string>() : "default";
      if (kind == "Pod") {
        LocalPod pod;
        pod.name = name;
        pod.ns = ns;
        pod.labels = stringMap(meta["labels"]);
        pod.annotations = stringMap(meta["annotations"]);
        if (d["spec"]["serviceAccountName"]) pod.service_account = d["spec"]["serviceAccountName"].as<std::string>();
        const YAML::Node c = d["spec"]["containers"];
        if (!c || !c.IsSequence() || c.size() == 0)
          throw std::runtime_error(where + " (Pod " + name + "): spec.containers is empty");
        for (const char* key : {"command", "args"}) {
          if (c[0][key]) {
            for (const auto& a : c[0][key]) pod.command.push_back(a.as<std::string>());
          }
        }
        if (pod.command.empty()) {
          throw std::runtime_error(where + " (Pod " + name +
                                   "): spec.containers[0].command is required: weftctl runs it as the workload");
        }
        if (c[0]["ports"]) {
          for (const auto& port : c[0]["ports"]) {
            if (port["containerPort"]) pod.ports.push_back(port["containerPort"].as<int>());
          }
        }
        if (c[0]["env"]) {
          for (const auto& e : c[0]["env"])
            pod.env[e["name"].as<std::string>()] = e["value"] ? e["value"].as<std::string>() : "";
        }
        if (next_ip > 254) throw std::runtime_error("more than 253 pods: the local subnet is full");
        pod.ip = subnet_prefix + std::to_string(next_ip++);
        plan.pods.push_back(std::move(pod));
      } else if (kind == "WorkloadEntry") {
        LocalPod we;
        we.workload_entry = true;
        we.name = name;
        we.ns = ns;
        we.labels = stringMap(d["spec"]["labels"]);
        if (d["spec"]["serviceAccount"]) we.service_account = d["spec"]["serviceAccount"].as<std::string>();
        if (d["spec"]["ports"] && d["spec"]["ports"].IsMap()) {
          for (const auto& kv : d["spec"]["ports"]) we.ports.push_back(kv.second.as<int>());
        }
        we.annotations = stringMap(meta["annotations"]);
        auto cmd = we.annotations.find("weft.io/command");
        if (cmd == we.annotations.end()) continue;  // a workload running elsewhere: weftd's business only
        const std::string& text = cmd->second;
        if (!text.empty() && text[0] == '[') {
          try {
            for (const auto& a : YAML::Load(text)) we.command.push_back(a.as<std::string>());
          } catch (const YAML::Exception& e) {
            throw std::runtime_error(where + " (WorkloadEntry " + name + "): annotation weft.io/command: " + e.what());
          }
        } else {
          std::istringstream words(text);
          for (std::string w; words >> w;) we.command.push_back(w);
        }
        if (we.command.empty())
          throw std::runtime_error(where + " (WorkloadEntry " + name + "): annotation weft.io/command is empty");
        if (next_ip > 254) throw std::runtime_error("more than 253 workloads: the local subnet is full");
        we.ip = subnet_prefix + std::to_string(next_ip++);
        plan.pods.push_back(std::move(we));
      } else if (kind == "Service") {
        LocalService s;
        s.name = name;
        s.ns = ns;
        const YAML::Node spec = d["spec"];
        s.vip = spec["clusterIP"] ? spec["clusterIP"].as<std::string>() : "";
        s.selector = stringMap(spec["selector"]);
        if (spec["ports"]) {
          for (const auto& port : spec["ports"]) {
            LocalService::Port sp;
            sp.name = port["name"] ? port["name"].as<std::string>() : "";
            sp.port = port["port"].as<int>();
            sp.target_port = port["targetPort"] ? port["targetPort"].as<int>() : sp.port;
            s.ports.push_back(sp);
          }
        }
        plan.services.push_back(std::move(s));
      }
    }
  }
  if (plan.pods.empty()) {
    throw std::runtime_error(dir +
                             ": nothing to run (a Pod with spec.containers[0].command, or a WorkloadEntry with a "
                             "weft.io/command annotation)");
  }
  return plan;
}

bool hasSidecar(const LocalPod& pod) {
  auto annotations = pod.annotations;
  annotations.emplace("sidecar.istio.io/status", "{\"injectedBy\":\"weftctl\"}");
  std::string skip, bad;
  return capture::captureForPod(annotations, skip, bad).has_value();
}

std::string generatedConfig(const MeshPlan& plan) {
  std::ostringstream out;
  out << "# Generated by weftctl up: the Pods' addresses and the Services' endpoints.\n";
  for (const auto& p : plan.pods) {
    if (p.workload_entry) continue;  // weftd has the WorkloadEntry itself, with its address
    YAML::Emitter e;
    e << YAML::BeginMap << YAML::Key << "apiVersion" << YAML::Value << "v1" << YAML::Key << "kind" << YAML::Value
      << "Pod";
    e << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap << YAML::Key << "name" << YAML::Value << p.name
      << YAML::Key << "namespace" << YAML::Value << p.ns << YAML::Key << "labels" << YAML::Value << YAML::BeginMap;
    for (const auto& [k, v] : p.labels) e << YAML::Key << k << YAML::Value << v;
    if (hasSidecar(p) && !p.labels.count("security.istio.io/tlsMode"))
      e << YAML::Key << "security.istio.io/tlsMode" << YAML::Value << "istio";
    e << YAML::EndMap << YAML::EndMap;
    e << YAML::Key << "spec" << YAML::Value << YAML::BeginMap << YAML::Key << "serviceAccountName" << YAML::Value
      << p.service_account << YAML::EndMap;
    e << YAML::Key << "status" << YAML::Value << YAML::BeginMap << YAML::Key << "podIP" << YAML::Value << p.ip
      << YAML::EndMap;
    e << YAML::EndMap;
    out << "---\n" << e.c_str() << "\n";
  }
  for (const auto& s : plan.services) {
    YAML::Emitter e;
    e << YAML::BeginMap << YAML::Key << "apiVersion" << YAML::Value << "v1" << YAML::Key << "kind" << YAML::Value
      << "Endpoints";
    e << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap << YAML::Key << "name" << YAML::Value << s.name
      << YAML::Key << "namespace" << YAML::Value << s.ns << YAML::EndMap;
    e << YAML::Key << "subsets" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
    e << YAML::Key << "addresses" << YAML::Value << YAML::BeginSeq;
    for (const auto& p : plan.pods) {
      // WorkloadEntries the Service selects are weftd's to add (it reads them with their address).
      if (p.workload_entry || p.ns != s.ns || !selectorMatches(s.selector, p.labels)) continue;
      e << YAML::BeginMap << YAML::Key << "ip" << YAML::Value << p.ip << YAML::Key << "targetRef" << YAML::Value
        << YAML::BeginMap << YAML::Key << "kind" << YAML::Value << "Pod" << YAML::Key << "name" << YAML::Value << p.name
        << YAML::EndMap << YAML::EndMap;
    }
    e << YAML::EndSeq << YAML::Key << "ports" << YAML::Value << YAML::BeginSeq;
    for (const auto& port : s.ports) {
      e << YAML::BeginMap;
      if (!port.name.empty()) e << YAML::Key << "name" << YAML::Value << port.name;
      e << YAML::Key << "port" << YAML::Value << port.target_port << YAML::EndMap;
    }
    e << YAML::EndSeq << YAML::EndMap << YAML::EndSeq << YAML::EndMap;
    out << "---\n" << e.c_str() << "\n";
  }
  return out.str();
}

std::string hostsFile(const MeshPlan& plan) {
  std::ostringstream out;
  out << "127.0.0.1 localhost\n";
  for (const auto& s : plan.services) {
    if (s.vip.empty() || s.vip == "None") continue;
    out << s.vip << " " << s.name << "." << s.ns << ".svc.cluster.local " << s.name << "." << s.ns << ".svc " << s.name
        << "." << s.ns << " " << s.name << "\n";
  }
  return out.str();
}

}  // namespace weft::ctl
