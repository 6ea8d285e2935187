#pragma once
// The reason phrase of an HTTP status code ("Not Found"), for HTTP/1 status lines.
#include <string_view>

namespace weft::http {

std::string_view reasonPhrase(int status);

}  // namespace weft::http
