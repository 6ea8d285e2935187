#pragma once
// envoy.type.v3.FractionalPercent and RuntimeFractionalPercent as filters draw on them: the
// configured fraction, which a runtime key (when one is named and set) overrides.
#include <algorithm>
#include <cstdint>
#include <string>

#include "common/random.h"
#include "envoy/config/core/v3/base.pb.h"
#include "envoy/type/v3/percent.pb.h"
#include "proxy/runtime/runtime_snapshot.h"

namespace weft::proxy::http {

struct Percent {
  uint32_t numerator = 0;
  uint32_t denominator = 100;  // 100, 10000 or 1000000
  std::string runtime_key;     // empty: none
  bool draw(Random& random, const runtime::Snapshot& rt) const {
    return rt.featureEnabled(runtime_key, numerator, denominator, random);
  }

  // A numerator above the denominator is 100%, as in Envoy.
  static Percent of(const envoy::type::v3::FractionalPercent& p) {
    Percent out;
    switch (p.denominator()) {
      case envoy::type::v3::FractionalPercent::TEN_THOUSAND:
        out.denominator = 10000;
        break;
      case envoy::type::v3::FractionalPercent::MILLION:
        out.denominator = 1000000;
        break;
      default:
        out.denominator = 100;
    }
    out.numerator = std::min(p.numerator(), out.denominator);
    return out;
  }
  static Percent of(const envoy::config::core::v3::RuntimeFractionalPercent& p) {
    Percent out = of(p.default_value());
    out.runtime_key = p.runtime_key();
    return out;
  }
};

}  // namespace weft::proxy::http
