#include "proxy/runtime/runtime_loader.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "common/config/error.h"

namespace weft::proxy::runtime {

namespace {
namespace pb = google::protobuf;

std::optional<uint32_t> denominatorOf(const pb::Value& v) {
  if (v.kind_case() == pb::Value::kStringValue) {
    if (v.string_value() == "HUNDRED") return 100;
    if (v.string_value() == "TEN_THOUSAND") return 10000;
    if (v.string_value() == "MILLION") return 1000000;
  }
  if (v.kind_case() == pb::Value::kNumberValue ||
      (v.kind_case() == pb::Value::kStringValue && Value::parse(v.string_value()).integer)) {
    double n = v.kind_case() == pb::Value::kNumberValue ? v.number_value() : *Value::parse(v.string_value()).number;
    switch (static_cast<int>(n)) {
      case 0:
        return 100;
      case 1:
        return 10000;
      case 2:
        return 1000000;
    }
  }
  return std::nullopt;
}

std::string numberText(double d) {
  if (d == std::floor(d) && std::fabs(d) < 1e15) return std::to_string(static_cast<int64_t>(d));
  std::string s = std::to_string(d);
  while (!s.empty() && s.back() == '0') s.pop_back();
  return s;
}

// Envoy's ProtoLayer::walkProtoValue: nested structs become dotted keys; a struct that is
// empty or has numerator/denominator is one FractionalPercent value; lists and nulls are errors.
void walk(const pb::Value& v, const std::string& key, const std::string& path,
          std::map<std::string, Value, std::less<>>& out) {
  switch (v.kind_case()) {
    case pb::Value::kStringValue:
      out[key] = Value::parse(v.string_value());
      return;
    case pb::Value::kBoolValue: {
      Value val;
      val.text = v.bool_value() ? "true" : "false";
      val.boolean = v.bool_value();
      out[key] = val;
      return;
    }
    case pb::Value::kNumberValue: {
      Value val;
      double d = v.number_value();
      val.text = numberText(d);
      val.number = d;
      if (d >= 0 && d == std::floor(d) && d < 1.8e19) val.integer = static_cast<uint64_t>(d);
      out[key] = val;
      return;
    }
    case pb::Value::kStructValue: {
      const auto& fields = v.struct_value().fields();
      if (fields.empty() || fields.count("numerator") || fields.count("denominator")) {
        Value val;
        uint32_t num = 0, den = 100;
        if (auto it = fields.find("numerator"); it != fields.end()) {
          // A YAML bootstrap's scalars arrive as strings: "5" is the number 5.
          Value n =
              it->second.kind_case() == pb::Value::kStringValue ? Value::parse(it->second.string_value()) : Value{};
          if (it->second.kind_case() == pb::Value::kNumberValue && it->second.number_value() >= 0)
            n.integer = static_cast<uint64_t>(it->second.number_value());
          if (!n.integer || *n.integer > UINT32_MAX)
            throw ConfigError(path + ".numerator: must be a non-negative whole number");
          num = static_cast<uint32_t>(*n.integer);
        }
        if (auto it = fields.find("denominator"); it != fields.end()) {
          auto d = denominatorOf(it->second);
          if (!d) throw ConfigError(path + ".denominator: must be HUNDRED, TEN_THOUSAND or MILLION");
          den = *d;
        }
        for (const auto& [k, unused] : fields) {
          if (k != "numerator" && k != "denominator")
            throw ConfigError(path + "." + k + ": a FractionalPercent has only numerator and denominator");
        }
        val.fraction = std::make_pair(std::min(num, den), den);
        val.text = "{\"numerator\":" + std::to_string(num) + ",\"denominator\":" + std::to_string(den) + "}";
        out[key] = val;
        return;
      }
      for (const auto& [k, child] : fields) walk(child, key.empty() ? k : key + "." + k, path + "." + k, out);
      return;
    }
    default:
      throw ConfigError(path + ": invalid runtime entry value (a list or null); use a string, number, bool or struct");
  }
}
}  // namespace

Loader::Loader(const envoy::config::bootstrap::v3::Bootstrap& bootstrap) {
  const auto& lr = bootstrap.layered_runtime();
  // Envoy: no layered_runtime, no layers (and /runtime_modify has nowhere to write); a
  // layered_runtime without layers gets one admin layer with an empty name.
  if (bootstrap.has_layered_runtime() && lr.layers_size() == 0) {
    layers_.push_back({"", {}});
    admin_index_ = 0;
  }
  for (int i = 0; i < lr.layers_size(); ++i) {
    const auto& l = lr.layers(i);
    std::string path = "layered_runtime.layers[" + std::to_string(i) + "]";
    Layer layer{l.name(), {}};
    for (const Layer& prev : layers_) {
      if (prev.name == l.name()) throw ConfigError(path + ".name: duplicate layer name: " + l.name());
    }
    if (l.has_static_layer()) {
      for (const auto& [k, v] : l.static_layer().fields()) walk(v, k, path + ".static_layer." + k, layer.values);
    } else if (l.has_admin_layer()) {
      if (admin_index_ >= 0) {
        throw ConfigError(path +
                          ".admin_layer: too many admin layers specified in LayeredRuntime, at most one may be "
                          "specified");
      }
      admin_index_ = static_cast<int>(layers_.size());
    } else {
      // disk_layer and rtds_layer are refused by the field check; a layer of none is an error.
      throw ConfigError(path + ": a layer needs static_layer or admin_layer");
    }
    layers_.push_back(std::move(layer));
  }
  rebuild();
}

void Loader::rebuild() {
  auto snap = std::make_shared<Snapshot>();
  for (const Layer& l : layers_) {
    for (const auto& [k, v] : l.values) snap->values[k] = v;
  }
  snapshot_ = snap;
}

void Loader::modify(const std::vector<std::pair<std::string, std::string>>& changes) {
  auto& values = layers_.at(admin_index_).values;
  for (const auto& [k, v] : changes) {
    if (v.empty())
      values.erase(k);
    else
      values[k] = Value::parse(v);
  }
  rebuild();
}

std::string Loader::renderJson() const {
  nlohmann::ordered_json out;
  out["layers"] = nlohmann::json::array();
  for (const Layer& l : layers_) out["layers"].push_back(l.name);
  nlohmann::ordered_json entries = nlohmann::ordered_json::object();
  for (const auto& [key, final_value] : snapshot_->values) {
    nlohmann::ordered_json e;
    e["final_value"] = final_value.text;
    e["layer_values"] = nlohmann::json::array();
    for (const Layer& l : layers_) {
      auto it = l.values.find(key);
      e["layer_values"].push_back(it == l.values.end() ? "" : it->second.text);
    }
    entries[key] = e;
  }
  out["entries"] = entries;
  return out.dump(1) + "\n";
}

}  // namespace weft::proxy::runtime
