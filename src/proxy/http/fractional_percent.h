#pragma once
// envoy.type.v3.FractionalPercent (and RuntimeFractionalPercent's default, there being no
// runtime overrides in weft-proxy) as filters draw on it.
#include <algorithm>
#include <cstdint>

#include "common/random.h"
#include "envoy/config/core/v3/base.pb.h"
#include "envoy/type/v3/percent.pb.h"

namespace weft::proxy::http {

struct Percent {
  uint32_t numerator = 0;
  uint32_t denominator = 100;  // 100, 10000 or 1000000
  bool draw(Random& random) const { return numerator > 0 && random.below(denominator) < numerator; }

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
  static Percent of(const envoy::config::core::v3::RuntimeFractionalPercent& p) { return of(p.default_value()); }
};

}  // namespace weft::proxy::http
