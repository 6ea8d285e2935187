#include "proxy/config/field_support.h"

#include <google/protobuf/any.pb.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>

#include <memory>
#include <string_view>
#include <vector>

#include "common/config/error.h"
#include "proxy/config/supported_fields.h"

namespace weft::proxy::config {

namespace pb = google::protobuf;

namespace {

void walk(const pb::Message& msg, const std::string& path, std::vector<std::string>& errors);

void walkAny(const pb::Any& any, const std::string& path, std::vector<std::string>& errors,
             const std::string& owner_name) {
  std::string type = any.type_url();
  auto slash = type.rfind('/');
  if (slash != std::string::npos) type = type.substr(slash + 1);
  const pb::Descriptor* desc = pb::DescriptorPool::generated_pool()->FindMessageTypeByName(type);
  if (desc == nullptr || supportedFields().count(desc->full_name()) == 0) {
    errors.push_back(unsupportedTypeError(path, type, owner_name));
    return;
  }
  std::unique_ptr<pb::Message> inner(pb::MessageFactory::generated_factory()->GetPrototype(desc)->New());
  if (!any.UnpackTo(inner.get())) {
    errors.push_back(path + ": cannot decode a " + type);
    return;
  }
  walk(*inner, path, errors);
}

// `owner_name`: the "name" field of the message holding a typed_config, for errors.
void walkField(const pb::Message& value, const std::string& path, std::vector<std::string>& errors,
               const std::string& owner_name = {}) {
  if (value.GetDescriptor()->full_name() == "google.protobuf.Any") {
    walkAny(static_cast<const pb::Any&>(value), path, errors, owner_name);
  } else if (value.GetDescriptor()->full_name() == "google.protobuf.Empty") {
    return;  // a marker field (jwt_authn's allow_missing): set or not is all it says
  } else {
    walk(value, path, errors);
  }
}

// Fields that change nothing unless another field of the same message has one of some values
// (Envoy reads ring_hash_lb_config only with lb_policy RING_HASH): set while that setting is
// off, they are accepted and not looked into.
struct InertUnless {
  std::string_view type;
  std::string_view field;
  std::string_view governing;  // an enum field of the same message
  std::vector<std::string_view> values;
};

const std::vector<InertUnless>& inertRules() {
  static const std::vector<InertUnless> rules = [] {
    std::vector<InertUnless> r = {
        {"envoy.config.cluster.v3.Cluster", "ring_hash_lb_config", "lb_policy", {"RING_HASH"}},
        {"envoy.config.cluster.v3.Cluster", "maglev_lb_config", "lb_policy", {"MAGLEV"}},
        {"envoy.config.cluster.v3.Cluster", "least_request_lb_config", "lb_policy", {"LEAST_REQUEST"}},
        {"envoy.config.cluster.v3.Cluster", "round_robin_lb_config", "lb_policy", {"ROUND_ROBIN"}},
        {"envoy.config.cluster.v3.Cluster", "original_dst_lb_config", "type", {"ORIGINAL_DST"}},
        {"envoy.config.cluster.v3.Cluster", "eds_cluster_config", "type", {"EDS"}},
    };
    for (std::string_view dns :
         {"dns_refresh_rate", "dns_failure_refresh_rate", "respect_dns_ttl", "dns_resolvers", "use_tcp_for_dns_lookups",
          "dns_resolution_config", "typed_dns_resolver_config", "dns_jitter", "dns_lookup_family"}) {
      r.push_back({"envoy.config.cluster.v3.Cluster", dns, "type", {"STRICT_DNS", "LOGICAL_DNS"}});
    }
    return r;
  }();
  return rules;
}

bool inert(const pb::Message& msg, const pb::FieldDescriptor* f) {
  for (const InertUnless& rule : inertRules()) {
    if (rule.type != msg.GetDescriptor()->full_name() || rule.field != f->name()) continue;
    const pb::FieldDescriptor* g = msg.GetDescriptor()->FindFieldByName(std::string(rule.governing));
    if (g == nullptr || g->cpp_type() != pb::FieldDescriptor::CPPTYPE_ENUM) return false;
    // A governing field in an unset oneof (Cluster.type vs cluster_type) is not "on".
    if (g->containing_oneof() && !msg.GetReflection()->HasField(msg, g)) return true;
    const std::string& value = msg.GetReflection()->GetEnum(msg, g)->name();
    for (std::string_view v : rule.values) {
      if (v == value) return false;
    }
    return true;
  }
  return false;
}

// For an unsupported field holding named things (filters, listener filters ...), the names:
// "listener_filters: not supported by weft-proxy (names: 'envoy.filters.listener.foo')".
std::string describeNames(const pb::Message& msg, const pb::FieldDescriptor* f) {
  if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) return "";
  const pb::FieldDescriptor* name = f->message_type()->FindFieldByName("name");
  if (name == nullptr || name->cpp_type() != pb::FieldDescriptor::CPPTYPE_STRING || name->is_repeated()) return "";
  const pb::Reflection* refl = msg.GetReflection();
  std::string names;
  int n = f->is_repeated() ? refl->FieldSize(msg, f) : 1;
  for (int i = 0; i < n; ++i) {
    const pb::Message& m = f->is_repeated() ? refl->GetRepeatedMessage(msg, f, i) : refl->GetMessage(msg, f);
    std::string v = m.GetReflection()->GetString(m, name);
    if (!v.empty()) names += (names.empty() ? "'" : ", '") + v + "'";
  }
  return names.empty() ? "" : " (names: " + names + ")";
}

void walk(const pb::Message& msg, const std::string& path, std::vector<std::string>& errors) {
  const auto& table = supportedFields();
  const std::string& type = msg.GetDescriptor()->full_name();
  auto it = table.find(type);
  if (it == table.end()) {
    errors.push_back(path + ": " + type + " is not supported by weft-proxy");
    return;
  }
  if (it->second.count("*")) return;
  const pb::Reflection* refl = msg.GetReflection();
  std::vector<const pb::FieldDescriptor*> fields;
  refl->ListFields(msg, &fields);
  for (const pb::FieldDescriptor* f : fields) {
    std::string field_path = path.empty() ? f->name() : path + "." + f->name();
    if (inert(msg, f)) continue;
    if (it->second.count(f->name()) == 0) {
      errors.push_back(field_path + ": not supported by weft-proxy" + describeNames(msg, f));
      continue;
    }
    if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_map()) {
      // map<string, Message> (typed_extension_protocol_options ...): walk each value.
      const pb::FieldDescriptor* key = f->message_type()->FindFieldByName("key");
      const pb::FieldDescriptor* val = f->message_type()->FindFieldByName("value");
      if (val == nullptr || val->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) continue;
      int n = refl->FieldSize(msg, f);
      for (int i = 0; i < n; ++i) {
        const pb::Message& entry = refl->GetRepeatedMessage(msg, f, i);
        std::string k = key && key->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING
                            ? entry.GetReflection()->GetString(entry, key)
                            : std::to_string(i);
        walkField(entry.GetReflection()->GetMessage(entry, val), field_path + "['" + k + "']", errors);
      }
      continue;
    }
    std::string owner_name;
    if (f->name() == "typed_config") {
      const pb::FieldDescriptor* name = msg.GetDescriptor()->FindFieldByName("name");
      if (name && name->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING && !name->is_repeated()) {
        owner_name = refl->GetString(msg, name);
      }
    }
    if (f->is_repeated()) {
      int n = refl->FieldSize(msg, f);
      for (int i = 0; i < n; ++i) {
        walkField(refl->GetRepeatedMessage(msg, f, i), field_path + "[" + std::to_string(i) + "]", errors);
      }
    } else {
      walkField(refl->GetMessage(msg, f), field_path, errors, owner_name);
    }
  }
}

}  // namespace

std::string unsupportedTypeError(const std::string& path, const std::string& type, const std::string& owner_name) {
  return path + ": type '" + type + "'" + (owner_name.empty() ? "" : " (name '" + owner_name + "')") +
         " is not supported by weft-proxy";
}

std::vector<std::string> unsupportedFields(const pb::Message& msg, const std::string& path) {
  std::vector<std::string> errors;
  walk(msg, path, errors);
  return errors;
}

void requireSupportedFields(const pb::Message& msg, const std::string& path) {
  auto errors = unsupportedFields(msg, path);
  if (errors.empty()) return;
  std::string text;
  for (const auto& e : errors) text += (text.empty() ? "" : "\n") + e;
  throw ConfigError(text);
}

}  // namespace weft::proxy::config
