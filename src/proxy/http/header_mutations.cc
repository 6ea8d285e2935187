#include "proxy/http/header_mutations.h"

#include "common/config/error.h"
#include "common/strings.h"
#include "proxy/http/headers.h"

namespace weft::proxy::http {

namespace {
bool validHeaderValue(const std::string& v) {
  for (unsigned char c : v) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}
}  // namespace

bool HeaderMutations::replaces(std::string_view name, bool*) const {
  for (const auto& r : remove) {
    if (equalsIgnoreCase(r, name)) return true;
  }
  for (const auto& a : add) {
    if ((a.action == Action::OverwriteOrAdd || a.action == Action::OverwriteIfExists) &&
        equalsIgnoreCase(a.name, name)) {
      return true;
    }
  }
  return false;
}

HeaderMutations HeaderMutations::compile(
    const google::protobuf::RepeatedPtrField<envoy::config::core::v3::HeaderValueOption>& to_add,
    const google::protobuf::RepeatedPtrField<std::string>& to_remove, const std::string& path,
    const std::string& add_field, const std::string& remove_field) {
  using O = envoy::config::core::v3::HeaderValueOption;
  HeaderMutations m;
  for (int i = 0; i < to_add.size(); ++i) {
    const auto& o = to_add[i];
    std::string p = path + "." + add_field + "[" + std::to_string(i) + "]";
    if (o.header().key().empty()) throw ConfigError(p + ".header.key: must not be empty");
    if (o.header().value().find('%') != std::string::npos) {
      throw ConfigError(p + ".header.value: '%' command operators in header values are not supported by weft-proxy");
    }
    if (!validHeaderValue(o.header().value())) throw ConfigError(p + ".header.value: contains control characters");
    Add a{toLower(o.header().key()), o.header().value(), Action::AppendOrAdd};
    if (o.has_append()) {
      if (o.append_action() != O::APPEND_IF_EXISTS_OR_ADD) {
        throw ConfigError(p + ": append and append_action cannot both be set");
      }
      a.action = o.append().value() ? Action::AppendOrAdd : Action::OverwriteOrAdd;
    } else {
      switch (o.append_action()) {
        case O::APPEND_IF_EXISTS_OR_ADD:
          a.action = Action::AppendOrAdd;
          break;
        case O::ADD_IF_ABSENT:
          a.action = Action::AddIfAbsent;
          break;
        case O::OVERWRITE_IF_EXISTS_OR_ADD:
          a.action = Action::OverwriteOrAdd;
          break;
        case O::OVERWRITE_IF_EXISTS:
          a.action = Action::OverwriteIfExists;
          break;
        default:
          throw ConfigError(p + ".append_action: unknown value");
      }
    }
    m.add.push_back(std::move(a));
  }
  for (int i = 0; i < to_remove.size(); ++i) {
    if (to_remove[i].empty()) {
      throw ConfigError(path + "." + remove_field + "[" + std::to_string(i) + "]: must not be empty");
    }
    m.remove.push_back(toLower(to_remove[i]));
  }
  return m;
}

}  // namespace weft::proxy::http
