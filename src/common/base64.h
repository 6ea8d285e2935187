#pragma once
// Standard base64 with padding (RFC 4648 section 4), as Istio's peer metadata headers and proto
// JSON's bytes fields use it. JWTs' unpadded base64url is in common/jwt/jws.h.
#include <optional>
#include <string>
#include <string_view>

namespace weft {

std::string base64Encode(std::string_view bytes);
// nullopt when `text` is not padded base64.
std::optional<std::string> base64Decode(std::string_view text);

}  // namespace weft
