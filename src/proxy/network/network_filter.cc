#include "proxy/network/network_filter.h"

#include "proxy/config/typed_struct.h"

namespace weft::proxy::network {

namespace {
std::vector<const NetworkFilterFactory*>& registry() {
  static std::vector<const NetworkFilterFactory*> r;
  return r;
}
}  // namespace

void registerNetworkFilter(const NetworkFilterFactory* factory) {
  registry().push_back(factory);
  config::registerSupportedFields(factory->supportedFields());
}

const NetworkFilterFactory* findNetworkFilter(std::string_view type_url) {
  auto slash = type_url.rfind('/');
  std::string_view type = slash == std::string_view::npos ? type_url : type_url.substr(slash + 1);
  for (const NetworkFilterFactory* f : registry()) {
    for (std::string_view t : f->configTypes()) {
      if (t == type) return f;
    }
  }
  return nullptr;
}

const NetworkFilterFactory* findNetworkFilter(const google::protobuf::Any& typed_config) {
  return findNetworkFilter(config::configuredType(typed_config));
}

}  // namespace weft::proxy::network
