#include "proxy/config/typed_struct.h"

#include <google/protobuf/util/json_util.h>

#include "common/config/error.h"
#include "udpa/type/v1/typed_struct.pb.h"
#include "xds/type/v3/typed_struct.pb.h"

namespace weft::proxy::config {

namespace {
std::string_view typeName(std::string_view type_url) {
  auto slash = type_url.rfind('/');
  return slash == std::string_view::npos ? type_url : type_url.substr(slash + 1);
}
}  // namespace

std::optional<std::pair<std::string, google::protobuf::Struct>> typedStruct(const google::protobuf::Any& any) {
  std::string_view type = typeName(any.type_url());
  if (type == "xds.type.v3.TypedStruct") {
    xds::type::v3::TypedStruct t;
    if (any.UnpackTo(&t)) return std::make_pair(t.type_url(), t.value());
  } else if (type == "udpa.type.v1.TypedStruct") {
    udpa::type::v1::TypedStruct t;
    if (any.UnpackTo(&t)) return std::make_pair(t.type_url(), t.value());
  }
  return std::nullopt;
}

std::string configuredType(const google::protobuf::Any& any) {
  if (auto t = typedStruct(any)) return t->first;
  return any.type_url();
}

nlohmann::json typedStructJson(const google::protobuf::Any& any, const std::string& path) {
  auto t = typedStruct(any);
  if (!t) throw ConfigError(path + ": expected a TypedStruct (xds.type.v3 or udpa.type.v1)");
  std::string text;
  if (!google::protobuf::util::MessageToJsonString(t->second, &text).ok())
    throw ConfigError(path + ".value: cannot read the Struct");
  return nlohmann::json::parse(text);
}

}  // namespace weft::proxy::config
