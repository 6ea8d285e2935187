#pragma once
// Envoy's runtime as the request path reads it: one immutable map of keys to values, merged
// from the bootstrap's layered_runtime (static layers, then the admin layer). Features read
// their keys with a configured default, so a key that is absent changes nothing. Workers hold
// a shared_ptr to the current snapshot; /runtime_modify makes a new one.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/random.h"

namespace weft::proxy::runtime {

// One key's value, typed as Envoy types it: the text as given, and what it parses as.
struct Value {
  std::string text;
  std::optional<uint64_t> integer;  // a non-negative whole number
  std::optional<double> number;
  std::optional<bool> boolean;
  // A {numerator, denominator} struct in a static layer (denominator 100, 10000 or 1000000).
  std::optional<std::pair<uint32_t, uint32_t>> fraction;

  // From admin text or a static layer's string: "12" is an integer, "true" a bool ...
  static Value parse(std::string text);
};

class Snapshot {
 public:
  std::map<std::string, Value, std::less<>> values;

  const Value* get(std::string_view key) const;
  // The key's integer value, else `fallback`.
  uint64_t getInteger(std::string_view key, uint64_t fallback) const;
  // Envoy's featureEnabled(key, FractionalPercent default): the key's fraction, or its integer
  // as a percentage (above 100: always), else the default.
  bool featureEnabled(std::string_view key, uint32_t numerator, uint32_t denominator, Random& random) const {
    return featureEnabled(key, numerator, denominator, random.next());
  }
  // With a given random value (a stream's, so a route decision is the same each time asked).
  bool featureEnabled(std::string_view key, uint32_t numerator, uint32_t denominator, uint64_t random_value) const;
};

}  // namespace weft::proxy::runtime
