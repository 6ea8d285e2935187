#pragma once
// Small string and protobuf-value helpers used by config compilation (not the hot path).
#include <google/protobuf/duration.pb.h>

#include <cctype>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace weft {

inline std::string toLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

inline std::chrono::milliseconds toMillis(const google::protobuf::Duration& d) {
  return std::chrono::milliseconds(d.seconds() * 1000 + d.nanos() / 1000000);
}

inline google::protobuf::Duration durationFromMillis(int64_t ms) {
  google::protobuf::Duration d;
  d.set_seconds(ms / 1000);
  d.set_nanos(static_cast<int32_t>(ms % 1000) * 1000000);
  return d;
}

// "a, b,,c" -> {"a", "b", "c"}: the items of a separated list, trimmed of blanks, empty ones
// dropped (Envoy's and Istio's retry_on lists). Views into `list`.
inline std::vector<std::string_view> splitList(std::string_view list, char sep = ',') {
  std::vector<std::string_view> out;
  while (!list.empty()) {
    size_t at = list.find(sep);
    std::string_view item = list.substr(0, at);
    list = at == std::string_view::npos ? std::string_view() : list.substr(at + 1);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

}  // namespace weft
