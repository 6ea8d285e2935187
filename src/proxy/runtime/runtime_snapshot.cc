#include "proxy/runtime/runtime_snapshot.h"

#include <charconv>
#include <cstdlib>

namespace weft::proxy::runtime {

Value Value::parse(std::string text) {
  Value v;
  v.text = std::move(text);
  const std::string& t = v.text;
  if (t == "true" || t == "false") {
    v.boolean = t == "true";
    return v;
  }
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
  if (ec == std::errc() && end == t.data() + t.size() && !t.empty()) {
    v.integer = n;
    v.number = static_cast<double>(n);
    return v;
  }
  char* dend = nullptr;
  double d = std::strtod(t.c_str(), &dend);
  if (!t.empty() && dend == t.c_str() + t.size()) v.number = d;
  return v;
}

const Value* Snapshot::get(std::string_view key) const {
  if (values.empty() || key.empty()) return nullptr;
  auto it = values.find(key);
  return it == values.end() ? nullptr : &it->second;
}

uint64_t Snapshot::getInteger(std::string_view key, uint64_t fallback) const {
  const Value* v = get(key);
  return v && v->integer ? *v->integer : fallback;
}

bool Snapshot::featureEnabled(std::string_view key, uint32_t numerator, uint32_t denominator,
                              uint64_t random_value) const {
  if (const Value* v = get(key)) {
    if (v->fraction) {
      numerator = v->fraction->first;
      denominator = v->fraction->second;
    } else if (v->integer) {
      // Envoy: an integer is a percentage (over 100, whatever the default's denominator).
      if (*v->integer > 100) return true;
      numerator = static_cast<uint32_t>(*v->integer);
      denominator = 100;
    }
  }
  return numerator > 0 && denominator > 0 && random_value % denominator < numerator;
}

}  // namespace weft::proxy::runtime
