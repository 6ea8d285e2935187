#pragma once
// CEL's grammar (cel-spec langdef.md, "Syntax"): conditional, ||, &&, relations (incl. `in`),
// + -, * / %, unary ! -, member selection, indexing and calls, list literals, and int, uint,
// double, string (quoted, raw, triple-quoted), bool and null literals. Map and message literals,
// bytes and comprehension macros (all, exists, map, filter) are refused by name.
#include <memory>
#include <stdexcept>
#include <string_view>

#include "common/cel/ast.h"

namespace weft::cel {

// "offset 7: expected ')'" style messages.
class SyntaxError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Limits on what a config may hand us: the expression's length and its nesting.
constexpr size_t kMaxExpressionBytes = 16 * 1024;
constexpr int kMaxNesting = 64;

std::unique_ptr<Node> parse(std::string_view text);

}  // namespace weft::cel
