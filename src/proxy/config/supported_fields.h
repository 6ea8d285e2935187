#pragma once
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace weft::proxy::config {

// Message full name -> fields weft-proxy implements. A message absent from the table is
// not supported at all; "*" accepts every field (pure data such as metadata).
using FieldTable = std::unordered_map<std::string_view, std::unordered_set<std::string_view>>;
// The core table merged with what extensions (HTTP filters) registered.
const FieldTable& supportedFields();
// For extensions, at static initialization (before the first supportedFields()).
void registerSupportedFields(const FieldTable& fields);

}  // namespace weft::proxy::config
