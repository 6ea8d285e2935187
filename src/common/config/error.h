#pragma once
#include <stdexcept>
#include <string>

namespace weft {

// A configuration problem, with a message that names what was wrong and where
// (file, line, field path).
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace weft
