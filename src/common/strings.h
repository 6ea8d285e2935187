#pragma once
// Small string and protobuf-value helpers used by config compilation (not the hot path).
#include <google/protobuf/duration.pb.h>

#include <cctype>
#include <chrono>
#include <string>
#include <string_view>

namespace weft {

inline std::string toLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

inline std::chrono::milliseconds toMillis(const google::protobuf::Duration& d) {
  return std::chrono::milliseconds(d.seconds() * 1000 + d.nanos() / 1000000);
}

}  // namespace weft
