#include "proxy/stream_info.h"

namespace weft::proxy {

std::string responseFlagsString(uint32_t flags) {
  static constexpr const char* kNames[] = {"LH", "UH", "UT", "LR", "UR",  "UF", "UC",  "UO",  "NR", "DI",
                                           "FI", "RL", "SI", "DC", "URX", "NC", "DPE", "UPE", "DT"};
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
