#pragma once
// A parsed CEL expression. Operators are calls with CEL's own names ("_+_", "_&&_", "!_",
// "_?_:_", "@in", "_[_]"); receiver-style calls (`s.startsWith(x)`) have the receiver as their
// first argument. Binding (program.h) turns attribute paths into Attribute / Presence nodes.
#include <memory>
#include <string>
#include <vector>

#include "common/cel/value.h"

namespace re2 {
class RE2;
}

namespace weft::cel {

struct Node {
  enum class Kind { Literal, Ident, Select, Call, List, Attribute, Presence };
  Kind kind = Kind::Literal;
  size_t pos = 0;  // offset in the expression's text, for errors
  Value literal;
  std::string name;  // Ident; Select's field; Call's function
  bool receiver = false;
  std::vector<std::unique_ptr<Node>> args;  // Select: [operand]; Call: [receiver?, args...]; List: items
  // After binding.
  int op = -1;                            // Call: the function (program.cc's Op)
  int attribute = -1;                     // Attribute / Presence
  std::string key;                        // the attribute's map key, if it takes one
  std::shared_ptr<const re2::RE2> regex;  // matches() with a literal pattern
};

}  // namespace weft::cel
