#include "proxy/stream_info.h"

namespace weft::proxy {

namespace {
constexpr const char* kNames[] = {"LH", "UH", "UT", "LR", "UR",  "UF", "UC",  "UO",  "NR", "DI",
                                  "FI", "RL", "SI", "DC", "URX", "NC", "DPE", "UPE", "DT"};
}

uint32_t responseFlagFromName(std::string_view name) {
  for (size_t i = 0; i < sizeof(kNames) / sizeof(kNames[0]); ++i) {
    if (name == kNames[i]) return 1u << i;
  }
  return 0;
}

std::string responseFlagsString(uint32_t flags) {
  std::string out;
  for (size_t i = 0; i < sizeof(kNames) / sizeof(kNames[0]); ++i) {
    if (flags & (1u << i)) {
      if (!out.empty()) out += ',';
      out += kNames[i];
    }
  }
  return out.empty() ? "-" : out;
}

}  // namespace weft::proxy
