#include "proxy/access_log/substitution_format.h"

#include <nlohmann/json.hpp>

#include "common/config/error.h"

namespace weft::proxy::access_log {

namespace pb = google::protobuf;

SubstitutionFormat SubstitutionFormat::text(const std::string& format, const std::string& path, CaptureList& capture) {
  SubstitutionFormat out;
  out.text_ = std::make_shared<Formatter>(format, path, capture);
  return out;
}

SubstitutionFormat SubstitutionFormat::compile(const envoy::config::core::v3::SubstitutionFormatString& f,
                                               const std::string& path, CaptureList& capture,
                                               const std::string& default_text) {
  using F = envoy::config::core::v3::SubstitutionFormatString;
  SubstitutionFormat out;
  switch (f.format_case()) {
    case F::kTextFormat:
      out = text(f.text_format(), path + ".text_format", capture);
      break;
    case F::kTextFormatSource:
      if (f.text_format_source().specifier_case() != envoy::config::core::v3::DataSource::kInlineString) {
        throw ConfigError(path + ".text_format_source: only inline_string is supported by weft-proxy");
      }
      out = text(f.text_format_source().inline_string(), path + ".text_format_source", capture);
      break;
    case F::kJsonFormat: {
      pb::Value v;
      *v.mutable_struct_value() = f.json_format();
      out.json_ = std::make_shared<Node>(compileValue(v, path + ".json_format", capture));
      out.content_type_ = "application/json";
      break;
    }
    default:
      out = text(default_text, path, capture);
  }
  if (!f.content_type().empty()) out.content_type_ = f.content_type();
  return out;
}

SubstitutionFormat::Node SubstitutionFormat::compileValue(const pb::Value& v, const std::string& path,
                                                          CaptureList& capture) {
  Node n;
  switch (v.kind_case()) {
    case pb::Value::kStringValue:
      n.value = Formatter(v.string_value(), path, capture);
      break;
    case pb::Value::kNumberValue:
      if (double d = v.number_value(); d == static_cast<double>(static_cast<int64_t>(d))) {
        n.value = std::to_string(static_cast<int64_t>(d));  // 3, not 3.0
      } else {
        n.value = nlohmann::json(d).dump();
      }
      break;
    case pb::Value::kBoolValue:
      n.value = std::string(v.bool_value() ? "true" : "false");
      break;
    case pb::Value::kStructValue: {
      std::vector<std::pair<std::string, Node>> fields;
      // Sorted by key: a Struct has no order of its own.
      std::map<std::string, const pb::Value*> sorted;
      for (const auto& [k, child] : v.struct_value().fields()) sorted[k] = &child;
      for (const auto& [k, child] : sorted) fields.emplace_back(k, compileValue(*child, path + "." + k, capture));
      n.value = std::move(fields);
      break;
    }
    case pb::Value::kListValue:
      throw ConfigError(path + ": lists are not supported in a json_format by weft-proxy");
    default:
      n.value = std::string("null");
  }
  return n;
}

void SubstitutionFormat::formatNode(const Node& n, const StreamInfo& info, std::string& out) {
  if (const auto* f = std::get_if<Formatter>(&n.value)) {
    std::string s;
    f->format(info, s);
    bool digits = !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
    out +=
        f->numeric() && digits ? s : nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else if (const auto* lit = std::get_if<std::string>(&n.value)) {
    out += *lit;
  } else if (const auto* obj = std::get_if<std::vector<std::pair<std::string, Node>>>(&n.value)) {
    out += '{';
    bool first = true;
    for (const auto& [k, child] : *obj) {
      if (!first) out += ',';
      first = false;
      out += nlohmann::json(k).dump();
      out += ':';
      formatNode(child, info, out);
    }
    out += '}';
  } else {
    out += "null";
  }
}

void SubstitutionFormat::format(const StreamInfo& info, std::string& out) const {
  if (text_) {
    text_->format(info, out);
    return;
  }
  formatNode(*json_, info, out);
  out += '\n';
}

}  // namespace weft::proxy::access_log
