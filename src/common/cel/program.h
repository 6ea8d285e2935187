#pragma once
// A CEL expression compiled against the attributes its host offers (Envoy's request
// attributes in the proxy): parsed once, attribute paths resolved to ids once, then evaluated
// per request without parsing or name lookups. Functions: size, string, int, uint, double,
// duration, has(), startsWith, endsWith, contains, matches (RE2, literal patterns); operators
// with CEL's error semantics (&& and || absorb an error the other side decides).
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/cel/ast.h"
#include "common/cel/value.h"

namespace weft::cel {

// What a host offers: `root` and the names / literal keys after it ("request", {"headers",
// "x-id"}). The host picks an attribute, says how many of `path` it used (what is left is
// applied to the attribute's value), and whether it still needs a key (a map such as
// request.headers, usable only with a literal key, `in` or has()).
class Binder {
 public:
  struct Bound {
    int id = -1;
    size_t used = 0;
    std::string key;
    bool needs_key = false;
  };
  virtual ~Binder() = default;
  // nullopt with `error` set (or empty: an unknown name).
  virtual std::optional<Bound> bind(std::string_view root, const std::vector<std::string>& path,
                                    std::string& error) = 0;
};

class Activation {
 public:
  virtual ~Activation() = default;
  // Value::absent() when the attribute (or the key) is not there.
  virtual Value attribute(int id, std::string_view key) const = 0;
};

class CompileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Program {
 public:
  // Throws CompileError ("offset 9: ...") for a syntax error, an unknown attribute or function.
  static std::shared_ptr<const Program> compile(std::string_view text, Binder& binder);
  Value evaluate(const Activation& activation) const;
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::unique_ptr<Node> root_;
};

}  // namespace weft::cel
