#pragma once
// Counts the length-prefixed messages of a gRPC stream (1 flag byte, a 4-byte big-endian
// length, the message) as its bytes pass in pieces of any size.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace weft::proxy::http {

class GrpcFrameCounter {
 public:
  void feed(std::string_view data) {
    size_t i = 0;
    while (i < data.size()) {
      if (payload_left_ > 0) {
        size_t n = payload_left_ < data.size() - i ? static_cast<size_t>(payload_left_) : data.size() - i;
        payload_left_ -= n;
        i += n;
        continue;
      }
      header_[header_have_++] = static_cast<uint8_t>(data[i++]);
      if (header_have_ == 5) {
        ++count_;
        payload_left_ = (uint64_t{header_[1]} << 24) | (uint64_t{header_[2]} << 16) | (uint64_t{header_[3]} << 8) |
                        uint64_t{header_[4]};
        header_have_ = 0;
      }
    }
  }
  uint64_t count() const { return count_; }

 private:
  uint64_t count_ = 0;
  uint64_t payload_left_ = 0;
  uint8_t header_[5] = {};
  size_t header_have_ = 0;
};

}  // namespace weft::proxy::http
