#pragma once
// The shared HTTP/1 pieces (common/http: message heads, the parser, reason phrases) under the
// names the proxy's HTTP code uses.
#include "common/http/headers.h"
#include "common/http/http1_parser.h"
#include "common/http/reason_phrase.h"

namespace weft::proxy::http {
using namespace ::weft::http;
}  // namespace weft::proxy::http
