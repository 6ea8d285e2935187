#pragma once
// gRPC's length-prefixed message framing (one flag byte, four length bytes, the message), for
// every gRPC endpoint Weft speaks on nghttp2: clients and the agent's SDS server alike.
#include <cstdint>
#include <string>
#include <string_view>

namespace weft::grpc {

// The five-byte prefix of an uncompressed message of `length` bytes.
inline std::string framePrefix(size_t length) {
  return std::string{0, static_cast<char>(length >> 24), static_cast<char>(length >> 16),
                     static_cast<char>(length >> 8), static_cast<char>(length)};
}

enum class Frame { Incomplete, Message, Malformed };

// The first message in `in`: Message sets `message` and `consumed`; Malformed means a
// compressed message (we never offer compression) or one over `max_length` bytes.
inline Frame nextFrame(std::string_view in, uint32_t max_length, std::string_view& message, size_t& consumed) {
  if (in.size() < 5) return Frame::Incomplete;
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
  uint32_t len = (uint32_t(p[1]) << 24) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 8) | p[4];
  if (p[0] != 0 || len > max_length) return Frame::Malformed;
  if (in.size() - 5 < len) return Frame::Incomplete;
  message = in.substr(5, len);
  consumed = 5 + len;
  return Frame::Message;
}

}  // namespace weft::grpc
