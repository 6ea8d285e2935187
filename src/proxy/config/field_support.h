#pragma once
// weft-proxy refuses configuration it would not honour. Every Envoy message we accept is
// walked with protobuf reflection; any field that is set but not listed as supported is an
// error naming its path, e.g.
//   static_resources.clusters[0].outlier_detection: not supported by weft-proxy
// `typed_config` Any values are unpacked and walked the same way.
#include <google/protobuf/message.h>

#include <string>
#include <vector>

namespace weft::proxy::config {

std::vector<std::string> unsupportedFields(const google::protobuf::Message& msg, const std::string& path);

// "PATH: type 'T' (name 'N') is not supported by weft-proxy": one wording for an Any type
// weft-proxy does not know and one it knows but does not implement.
std::string unsupportedTypeError(const std::string& path, const std::string& type, const std::string& owner_name);

// Throws ConfigError listing every unsupported field.
void requireSupportedFields(const google::protobuf::Message& msg, const std::string& path);

}  // namespace weft::proxy::config
