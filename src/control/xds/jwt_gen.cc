#include "control/xds/jwt_gen.h"
#include "control/xds/pack.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>
#include <set>

namespace weft::control::xds {

namespace hcmv3 = envoy::extensions::filters::network::http_connection_manager::v3;
using nlohmann::json;

std::optional<hcmv3::HttpFilter> jwtHttpFilter(const MeshModel& model, const ProxyInfo& proxy) {
  if (!model.config) return std::nullopt;
  json providers = json::object(), requirements = json::array();
  int n = 0;
  for (const auto& ra : model.config->request_authentications) {
    bool mesh_wide = ra.meta.ns == model.root_namespace && ra.selector.empty();
    bool selected = ra.meta.ns == proxy.ns;
    for (const auto& [k, v] : ra.selector) {
      auto it = proxy.labels.find(k);
      selected = selected && it != proxy.labels.end() && it->second == v;
    }
    if (!mesh_wide && !selected) continue;
    for (const auto& r : ra.jwt_rules) {
      std::string name = "origins-" + std::to_string(n++);
      // Istio's: the payload under "payload" for AuthorizationPolicy's JWT matchers, with
      // "permission" and "scope" (and the rule's spaceDelimitedClaims) split into lists.
      std::set<std::string> spaced(r.space_delimited_claims.begin(), r.space_delimited_claims.end());
      spaced.insert({"permission", "scope"});
      json p = {{"issuer", r.issuer},
                {"local_jwks", {{"inline_string", r.jwks}}},
                {"forward", r.forward_original_token},
                {"payload_in_metadata", "payload"},
                {"normalize_payload_in_metadata", {{"space_delimited_claims", spaced}}}};
      if (!r.audiences.empty()) p["audiences"] = r.audiences;
      for (const auto& [h, prefix] : r.from_headers)
        p["from_headers"].push_back({{"name", h}, {"value_prefix", prefix}});
      if (!r.from_params.empty()) p["from_params"] = r.from_params;
      if (!r.from_cookies.empty()) p["from_cookies"] = r.from_cookies;
      if (!r.output_payload_to_header.empty()) p["forward_payload_header"] = r.output_payload_to_header;
      for (const auto& [h, claim] : r.output_claim_to_headers)
        p["claim_to_headers"].push_back({{"header_name", h}, {"claim_name", claim}});
      providers[name] = p;
      requirements.push_back({{"provider_name", name}});
    }
  }
  if (providers.empty()) return std::nullopt;
  requirements.push_back({{"allow_missing", json::object()}});
  json config = {{"providers", providers},
                 {"rules", json::array({{{"match", {{"prefix", "/"}}},
                                         {"requires", {{"requires_any", {{"requirements", requirements}}}}}}})}};
  // Built through reflection: the message's generated C++ has a field named `requires`, a C++20
  // keyword, and is compiled apart (api/CMakeLists.txt).
  const auto* desc = google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(
      "envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication");
  if (desc == nullptr) return std::nullopt;
  std::unique_ptr<google::protobuf::Message> msg(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(desc)->New());
  google::protobuf::util::JsonParseOptions o;
  if (!google::protobuf::util::JsonStringToMessage(config.dump(), msg.get(), o).ok()) return std::nullopt;
  hcmv3::HttpFilter f;
  f.set_name("envoy.filters.http.jwt_authn");
  pack(*f.mutable_typed_config(), *msg);
  return f;
}

}  // namespace weft::control::xds
