#include "control/config/decode.h"

#include <algorithm>

#include "control/config/decode_util.h"
#include "control/config/kind_table.h"

namespace weft::control {

namespace {

using decode::Errors;

bool inGroup(ApiGroup group, const std::string& api) {
  switch (group) {
    case ApiGroup::CoreV1:
      return api == "v1";
    case ApiGroup::DiscoveryV1:
      return api == "discovery.k8s.io/v1";
    case ApiGroup::IstioNetworking:
      return api == "networking.istio.io/v1" || api == "networking.istio.io/v1beta1" ||
             api == "networking.istio.io/v1alpha3";
    case ApiGroup::IstioSecurity:
      return api == "security.istio.io/v1" || api == "security.istio.io/v1beta1";
    case ApiGroup::IstioTelemetry:
      return api == "telemetry.istio.io/v1" || api == "telemetry.istio.io/v1alpha1";
  }
  return false;
}

// The path of the node a yaml-cpp exception points at (by its position in the text), or "".
bool findPath(const YAML::Node& n, const YAML::Mark& mark, std::string& path) {
  if (n.Mark().line == mark.line && n.Mark().column == mark.column && !n.Mark().is_null()) return true;
  if (n.IsMap()) {
    for (const auto& kv : n) {
      std::string p = decode::join(path, kv.first.Scalar());
      if (findPath(kv.second, mark, p)) {
        path = p;
        return true;
      }
    }
  } else if (n.IsSequence()) {
    for (size_t i = 0; i < n.size(); ++i) {
      std::string p = decode::idx(path, i);
      if (findPath(n[i], mark, p)) {
        path = p;
        return true;
      }
    }
  }
  return false;
}

// A decoder that reads a field of a scalar or a list without checking it first: the error
// names the node, not a crash.
void shapeError(const YAML::Node& doc, const YAML::Exception& e, Errors& errs) {
  std::string path;
  if (!e.mark.is_null() && findPath(doc, e.mark, path) && !path.empty()) {
    errs.push_back(path + ": has the wrong shape (" + e.msg + ")");
  } else {
    errs.push_back("document: has the wrong shape (" + e.msg + ")");
  }
}

void dropRepeats(std::vector<std::string>& v) {
  std::vector<std::string> out;
  for (auto& s : v) {
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
  }
  v = std::move(out);
}

}  // namespace

bool isKnownKind(const std::string& api, const std::string& kind) {
  return std::apply([&](const auto&... row) { return ((inGroup(row.group, api) && row.kind == kind) || ...); }, kKinds);
}

DecodeResult decodeResource(const YAML::Node& doc) {
  DecodeResult r;
  if (!doc.IsMap()) {
    r.errors.push_back("document: must be a map with apiVersion, kind, metadata");
    return r;
  }
  Errors& errs = r.errors;
  std::string api = decode::str(doc, "apiVersion", "", errs);
  r.kind = decode::str(doc, "kind", "", errs);
  if (YAML::Node md = doc["metadata"]; md && md.IsMap()) {
    r.name = md["name"] && md["name"].IsScalar() ? md["name"].Scalar() : "";
    r.ns = md["namespace"] && md["namespace"].IsScalar() ? md["namespace"].Scalar() : "default";
  }
  if (api.empty() || r.kind.empty()) {
    errs.push_back("apiVersion and kind: are required");
    return r;
  }
  std::optional<Resource> res;
  bool known = false;
  try {
    std::apply(
        [&](const auto&... row) {
          ((!known && inGroup(row.group, api) && row.kind == r.kind ? (void)(known = true, res = row.decode(doc, errs))
                                                                    : (void)0),
           ...);
        },
        kKinds);
  } catch (const YAML::Exception& e) {
    shapeError(doc, e, errs);
    return r;
  }
  dropRepeats(errs);
  if (!known) {
    errs.push_back("kind: " + api + " " + r.kind + " is not supported by weftd");
    return r;
  }
  if (r.kind != "Namespace" && r.name.empty() && errs.empty()) errs.push_back("metadata.name: is required");
  // Istio's validateMetadata: annotations only Istio itself (or one kind) may carry.
  YAML::Node md = doc["metadata"];
  YAML::Node ann = md && md.IsMap() ? md["annotations"] : YAML::Node();
  if (ann && ann.IsMap() && api.find(".istio.io/") != std::string::npos) {
    const std::string who = r.ns + "/" + r.name;
    if (ann["istio.io/dry-run"] && r.kind != "AuthorizationPolicy")
      errs.push_back("metadata.annotations[istio.io/dry-run]: " + who +
                     " has unsupported annotation istio.io/dry-run, please remove the annotation");
    if (ann["internal.istio.io/webhook-always-reject"])
      errs.push_back("metadata.annotations: \"internal.istio.io/webhook-always-reject\" annotation found, rejecting");
    for (const char* internal : {"internal.istio.io/parent-namespace", "internal.istio.io/parents"})
      if (ann[internal])
        errs.push_back(std::string("metadata.annotations: \"") + internal +
                       "\" annotation found, this may not be set by users");
  }
  std::visit(
      [&](const auto& v) {
        if constexpr (requires { v.warnings; }) r.warnings = v.warnings;
      },
      *res);
  if (errs.empty()) r.resource = std::move(res);
  return r;
}

bool isWeftdLimitation(const std::string& error) { return error.find("not supported by weftd") != std::string::npos; }

}  // namespace weft::control
