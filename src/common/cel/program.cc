#include "common/cel/program.h"

#include <re2/re2.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <type_traits>

#include "common/cel/parser.h"

namespace weft::cel {

namespace {

enum Op {
  kAnd,
  kOr,
  kNot,
  kNeg,
  kCond,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kIn,
  kIndex,
  kSize,
  kToString,
  kToInt,
  kToUint,
  kToDouble,
  kToDuration,
  kStartsWith,
  kEndsWith,
  kContains,
  kMatches,
};

struct Function {
  const char* name;
  Op op;
  int args;  // not counting a receiver
  bool global, receiver;
};

constexpr Function kFunctions[] = {
    {"_&&_", kAnd, 2, true, false},
    {"_||_", kOr, 2, true, false},
    {"!_", kNot, 1, true, false},
    {"-_", kNeg, 1, true, false},
    {"_?_:_", kCond, 3, true, false},
    {"_+_", kAdd, 2, true, false},
    {"_-_", kSub, 2, true, false},
    {"_*_", kMul, 2, true, false},
    {"_/_", kDiv, 2, true, false},
    {"_%_", kMod, 2, true, false},
    {"_==_", kEq, 2, true, false},
    {"_!=_", kNe, 2, true, false},
    {"_<_", kLt, 2, true, false},
    {"_<=_", kLe, 2, true, false},
    {"_>_", kGt, 2, true, false},
    {"_>=_", kGe, 2, true, false},
    {"@in", kIn, 2, true, false},
    {"_[_]", kIndex, 2, true, false},
    {"size", kSize, 1, true, false},
    {"size", kSize, 0, false, true},
    {"string", kToString, 1, true, false},
    {"int", kToInt, 1, true, false},
    {"uint", kToUint, 1, true, false},
    {"double", kToDouble, 1, true, false},
    {"duration", kToDuration, 1, true, false},
    {"startsWith", kStartsWith, 1, false, true},
    {"endsWith", kEndsWith, 1, false, true},
    {"contains", kContains, 1, false, true},
    {"matches", kMatches, 1, false, true},
    {"matches", kMatches, 2, true, false},
};

[[noreturn]] void fail(const Node& n, const std::string& what) {
  throw CompileError("offset " + std::to_string(n.pos) + ": " + what);
}

// An attribute path: an identifier, then field names and literal string keys.
bool collectPath(const Node* n, std::string& root, std::vector<std::string>& path) {
  std::vector<std::string> reversed;
  for (;;) {
    if (n->kind == Node::Kind::Ident) {
      root = n->name;
      path.assign(reversed.rbegin(), reversed.rend());
      return true;
    }
    if (n->kind == Node::Kind::Select) {
      reversed.push_back(n->name);
    } else if (n->kind == Node::Kind::Call && n->name == "_[_]" && n->args[1]->kind == Node::Kind::Literal &&
               n->args[1]->literal.type() == Value::Type::String) {
      reversed.push_back(n->args[1]->literal.asString());
    } else {
      return false;
    }
    n = n->args[0].get();
  }
}

std::string dotted(const std::string& root, const std::vector<std::string>& path) {
  std::string s = root;
  for (const auto& p : path) s += "." + p;
  return s;
}

class Compiler {
 public:
  explicit Compiler(Binder& b) : binder_(b) {}

  void bind(std::unique_ptr<Node>& n) {
    switch (n->kind) {
      case Node::Kind::Literal:
      case Node::Kind::Attribute:
      case Node::Kind::Presence:
        return;
      case Node::Kind::List:
        for (auto& a : n->args) bind(a);
        return;
      case Node::Kind::Ident:
      case Node::Kind::Select:
        return bindPath(n, false);
      case Node::Kind::Call:
        return bindCall(n);
    }
  }

 private:
  // Replaces the path at `n` with the attribute it names (a presence test with `presence`).
  void bindPath(std::unique_ptr<Node>& n, bool presence, const std::string* extra_key = nullptr) {
    std::string root;
    std::vector<std::string> path;
    if (!collectPath(n.get(), root, path)) {
      if (n->kind == Node::Kind::Select) fail(*n, "field '" + n->name + "' of a value that is not an attribute");
      bind(n->args[0]);
      bind(n->args[1]);
      return finishCall(*n);
    }
    if (extra_key) path.push_back(*extra_key);
    std::string error;
    auto b = binder_.bind(root, path, error);
    const std::string name = dotted(root, path);
    if (!b) fail(*n, error.empty() ? "undeclared reference to '" + name + "'" : error);
    if (b->used < path.size()) fail(*n, "'" + name + "': no such attribute");
    if (b->needs_key)
      fail(*n, "'" + name + "' is a map: index it with a string literal, or test a key with `in` or has()");
    auto a = std::make_unique<Node>();
    a->kind = presence ? Node::Kind::Presence : Node::Kind::Attribute;
    a->pos = n->pos;
    a->attribute = b->id;
    a->key = std::move(b->key);
    n = std::move(a);
  }

  void bindCall(std::unique_ptr<Node>& n) {
    const std::string& fn = n->name;
    if (fn == "has") {
      if (n->args.size() != 1 || n->args[0]->kind != Node::Kind::Select)
        fail(*n, "has() takes one field selection, such as has(request.headers.x)");
      auto arg = std::move(n->args[0]);
      bindPath(arg, true);
      n = std::move(arg);
      return;
    }
    if (fn == "all" || fn == "exists" || fn == "exists_one" || fn == "map" || fn == "filter")
      fail(*n, "the comprehension macro " + fn + "() is not supported");
    if (fn == "_[_]") return bindPath(n, false);
    if (fn == "@in" && n->args[0]->kind == Node::Kind::Literal && n->args[0]->literal.type() == Value::Type::String) {
      std::string root;
      std::vector<std::string> path;
      if (collectPath(n->args[1].get(), root, path)) {
        std::string err;
        path.push_back(n->args[0]->literal.asString());
        auto b = binder_.bind(root, path, err);
        if (b && b->used == path.size() && !b->needs_key) {  // a key of a map attribute
          std::string key = n->args[0]->literal.asString();
          auto rhs = std::move(n->args[1]);
          bindPath(rhs, true, &key);
          n = std::move(rhs);
          return;
        }
      }
    }
    for (auto& a : n->args) bind(a);
    finishCall(*n);
  }

  void finishCall(Node& n) {
    size_t given = n.args.size() - (n.receiver ? 1 : 0);
    bool known = false;
    for (const Function& f : kFunctions) {
      if (n.name != f.name) continue;
      known = true;
      if ((n.receiver ? f.receiver : f.global) && static_cast<size_t>(f.args) == given) {
        n.op = f.op;
        break;
      }
    }
    if (!known) fail(n, "unknown function '" + n.name + "'");
    if (n.op < 0) fail(n, "'" + n.name + "' does not take " + std::to_string(given) + " argument(s) in this form");
    if (n.op == kMatches) {
      const Node& pattern = *n.args.back();
      if (pattern.kind != Node::Kind::Literal || pattern.literal.type() != Value::Type::String)
        fail(n, "matches() takes a string literal pattern");
      RE2::Options options;
      options.set_log_errors(false);
      auto re = std::make_shared<const RE2>(pattern.literal.asString(), options);
      if (!re->ok()) fail(pattern, "invalid regular expression: " + re->error());
      n.regex = std::move(re);
    }
  }

  Binder& binder_;
};

// ---- evaluation ---------------------------------------------------------------------------

Value noOverload(const char* op, const Value& a) {
  return Value::error(std::string("no such overload: ") + op + "(" + Value::typeName(a.type()) + ")");
}
Value noOverload(const char* op, const Value& a, const Value& b) {
  return Value::error(std::string("no such overload: ") + op + "(" + Value::typeName(a.type()) + ", " +
                      Value::typeName(b.type()) + ")");
}

size_t codePoints(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xc0) != 0x80;
  return n;
}

// "1h2m3.5s", "-1.5ms", "100us": Go's time.ParseDuration units, as CEL's duration().
bool parseDuration(std::string_view s, int64_t& out) {
  if (s.empty()) return false;
  bool neg = s[0] == '-';
  if (s[0] == '-' || s[0] == '+') s.remove_prefix(1);
  if (s == "0") {
    out = 0;
    return true;
  }
  if (s.empty()) return false;
  double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
    if (i == 0) return false;
    double v = std::strtod(std::string(s.substr(0, i)).c_str(), nullptr);
    s.remove_prefix(i);
    static const std::pair<const char*, double> kUnits[] = {{"ns", 1},  {"us", 1e3}, {"µs", 1e3},  {"ms", 1e6},
                                                            {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    bool matched = false;
    for (const auto& [unit, scale] : kUnits) {
      std::string_view u(unit);
      // "m" must not take the "m" of "ms".
      if (s.substr(0, u.size()) == u && !(u == "m" && s.size() > 1 && s[1] == 's')) {
        total += v * scale;
        s.remove_prefix(u.size());
        matched = true;
        break;
      }
    }
    if (!matched) return false;
  }
  if (total > 315576000000e9) return false;  // protobuf Duration's range: 10,000 years
  out = static_cast<int64_t>(neg ? -total : total);
  return true;
}

// int or uint arithmetic with CEL's overflow and division errors.
template <typename N>
Value integerArithmetic(Op op, N x, N y, Value (*make)(N)) {
  N r = 0;
  bool overflow = false;
  switch (op) {
    case kAdd:
      overflow = __builtin_add_overflow(x, y, &r);
      break;
    case kSub:
      overflow = __builtin_sub_overflow(x, y, &r);
      break;
    case kMul:
      overflow = __builtin_mul_overflow(x, y, &r);
      break;
    default:  // kDiv, kMod
      if (y == 0) return Value::error(op == kDiv ? "division by zero" : "modulus by zero");
      if constexpr (std::is_signed_v<N>) {
        if (x == std::numeric_limits<N>::min() && y == -1) return Value::error("integer overflow");
      }
      r = op == kDiv ? x / y : x % y;
      break;
  }
  return overflow ? Value::error("integer overflow") : make(r);
}

Value arithmetic(Op op, const Value& a, const Value& b) {
  using T = Value::Type;
  static const char* kNames[] = {"_+_", "_-_", "_*_", "_/_", "_%_"};
  const char* name = kNames[op - kAdd];
  if (a.type() == T::Int && b.type() == T::Int)
    return integerArithmetic<int64_t>(op, a.asInt(), b.asInt(), Value::integer);
  if (a.type() == T::Uint && b.type() == T::Uint)
    return integerArithmetic<uint64_t>(op, a.asUint(), b.asUint(), Value::uinteger);
  if (a.type() == T::Double && b.type() == T::Double && op != kMod) {
    double x = a.asDouble(), y = b.asDouble();
    return Value::number(op == kAdd ? x + y : op == kSub ? x - y : op == kMul ? x * y : x / y);
  }
  if (op == kAdd && a.type() == T::String && b.type() == T::String) return Value::string(a.asString() + b.asString());
  if (op == kAdd && a.type() == T::List && b.type() == T::List) {
    std::vector<Value> items = a.asList();
    items.insert(items.end(), b.asList().begin(), b.asList().end());
    return Value::list(std::move(items));
  }
  if ((op == kAdd || op == kSub) && b.type() == T::Duration && (a.type() == T::Duration || a.type() == T::Timestamp)) {
    int64_t r = 0;
    if (op == kAdd ? __builtin_add_overflow(a.asInt(), b.asInt(), &r)
                   : __builtin_sub_overflow(a.asInt(), b.asInt(), &r))
      return Value::error("duration overflow");
    return a.type() == T::Duration
               ? Value::duration(std::chrono::nanoseconds(r))
               : Value::timestamp(std::chrono::system_clock::time_point(
                     std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(r))));
  }
  if (op == kSub && a.type() == T::Timestamp && b.type() == T::Timestamp)
    return Value::duration(std::chrono::nanoseconds(a.asInt() - b.asInt()));
  return noOverload(name, a, b);
}

Value convert(Op op, const Value& v) {
  using T = Value::Type;
  if (v.isError()) return v;
  switch (op) {
    case kToString:
      return v.type() == T::List ? noOverload("string", v) : Value::string(v.toString());
    case kToInt:
      switch (v.type()) {
        case T::Int:
          return v;
        case T::Uint:
          return v.asUint() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
                     ? Value::error("int() range error")
                     : Value::integer(static_cast<int64_t>(v.asUint()));
        case T::Double:
          if (!(v.asDouble() > -9.2233720368547758e18 && v.asDouble() < 9.2233720368547758e18))
            return Value::error("int() range error");
          return Value::integer(static_cast<int64_t>(v.asDouble()));
        case T::String: {
          const std::string& s = v.asString();
          char* end = nullptr;
          errno = 0;
          long long r = std::strtoll(s.c_str(), &end, 10);
          if (s.empty() || *end != '\0' || errno == ERANGE) return Value::error("int() cannot convert '" + s + "'");
          return Value::integer(r);
        }
        case T::Timestamp:
          return Value::integer(v.asInt() / 1000000000);
        default:
          return noOverload("int", v);
      }
    case kToUint:
      switch (v.type()) {
        case T::Uint:
          return v;
        case T::Int:
          return v.asInt() < 0 ? Value::error("uint() range error") : Value::uinteger(static_cast<uint64_t>(v.asInt()));
        case T::Double:
          if (!(v.asDouble() >= 0 && v.asDouble() < 1.8446744073709552e19)) return Value::error("uint() range error");
          return Value::uinteger(static_cast<uint64_t>(v.asDouble()));
        case T::String: {
          const std::string& s = v.asString();
          char* end = nullptr;
          errno = 0;
          unsigned long long r = std::strtoull(s.c_str(), &end, 10);
          if (s.empty() || s[0] == '-' || *end != '\0' || errno == ERANGE)
            return Value::error("uint() cannot convert '" + s + "'");
          return Value::uinteger(r);
        }
        default:
          return noOverload("uint", v);
      }
    case kToDouble:
      switch (v.type()) {
        case T::Double:
          return v;
        case T::Int:
          return Value::number(static_cast<double>(v.asInt()));
        case T::Uint:
          return Value::number(static_cast<double>(v.asUint()));
        case T::String: {
          char* end = nullptr;
          double r = std::strtod(v.asString().c_str(), &end);
          if (v.asString().empty() || *end != '\0')
            return Value::error("double() cannot convert '" + v.asString() + "'");
          return Value::number(r);
        }
        default:
          return noOverload("double", v);
      }
    case kToDuration: {
      if (v.type() == T::Duration) return v;
      if (v.type() != T::String) return noOverload("duration", v);
      int64_t ns = 0;
      if (!parseDuration(v.asString(), ns)) return Value::error("duration() cannot parse '" + v.asString() + "'");
      return Value::duration(std::chrono::nanoseconds(ns));
    }
    default:
      return Value::error("internal: not a conversion");
  }
}

class Evaluator {
 public:
  explicit Evaluator(const Activation& a) : act_(a) {}

  Value eval(const Node& n) const {
    switch (n.kind) {
      case Node::Kind::Literal:
        return n.literal;
      case Node::Kind::Attribute:
        return act_.attribute(n.attribute, n.key);
      case Node::Kind::Presence: {
        Value v = act_.attribute(n.attribute, n.key);
        if (v.isError() && !v.isAbsent()) return v;
        return Value::boolean(!v.isAbsent());
      }
      case Node::Kind::List: {
        std::vector<Value> items;
        items.reserve(n.args.size());
        for (const auto& a : n.args) {
          items.push_back(eval(*a));
          if (items.back().isError()) return items.back();
        }
        return Value::list(std::move(items));
      }
      case Node::Kind::Call:
        return call(n);
      default:
        return Value::error("internal: unbound expression");
    }
  }

 private:
  Value logic(const Node& n, bool is_and) const {
    // CEL's commutative && / ||: either side that decides the result wins over an error.
    Value a = eval(*n.args[0]);
    if (a.type() == Value::Type::Bool && a.asBool() != is_and) return a;
    Value b = eval(*n.args[1]);
    if (b.type() == Value::Type::Bool && b.asBool() != is_and) return b;
    if (a.isError()) return a;
    if (b.isError()) return b;
    if (a.type() != Value::Type::Bool) return noOverload(is_and ? "_&&_" : "_||_", a, b);
    if (b.type() != Value::Type::Bool) return noOverload(is_and ? "_&&_" : "_||_", a, b);
    return Value::boolean(is_and);
  }

  Value call(const Node& n) const {
    using T = Value::Type;
    switch (n.op) {
      case kAnd:
        return logic(n, true);
      case kOr:
        return logic(n, false);
      case kCond: {
        Value c = eval(*n.args[0]);
        if (c.isError()) return c;
        if (c.type() != T::Bool) return noOverload("_?_:_", c);
        return eval(*n.args[c.asBool() ? 1 : 2]);
      }
      default:
        break;
    }
    Value a = eval(*n.args[0]);
    if (a.isError()) return a;
    if (n.args.size() == 1) {
      switch (n.op) {
        case kNot:
          return a.type() == T::Bool ? Value::boolean(!a.asBool()) : noOverload("!_", a);
        case kNeg:
          if (a.type() == T::Int)
            return a.asInt() == std::numeric_limits<int64_t>::min() ? Value::error("integer overflow")
                                                                    : Value::integer(-a.asInt());
          if (a.type() == T::Double) return Value::number(-a.asDouble());
          if (a.type() == T::Duration) return Value::duration(-a.asDuration());
          return noOverload("-_", a);
        case kSize:
          if (a.type() == T::String) return Value::integer(static_cast<int64_t>(codePoints(a.asString())));
          if (a.type() == T::List) return Value::integer(static_cast<int64_t>(a.asList().size()));
          return noOverload("size", a);
        default:
          return convert(static_cast<Op>(n.op), a);
      }
    }
    if (n.op == kMatches) {
      if (n.args.size() == 2 && a.type() == T::String) return Value::boolean(RE2::PartialMatch(a.asString(), *n.regex));
      return noOverload("matches", a);
    }
    Value b = eval(*n.args[1]);
    if (b.isError()) return b;
    int cmp = 0;
    switch (n.op) {
      case kAdd:
      case kSub:
      case kMul:
      case kDiv:
      case kMod:
        return arithmetic(static_cast<Op>(n.op), a, b);
      case kEq:
        return Value::boolean(equal(a, b));
      case kNe:
        return Value::boolean(!equal(a, b));
      case kLt:
      case kLe:
      case kGt:
      case kGe: {
        Value ok = compare(a, b, cmp);
        if (ok.isError()) return ok;
        bool r = n.op == kLt ? cmp < 0 : n.op == kLe ? cmp <= 0 : n.op == kGt ? cmp > 0 : cmp >= 0;
        return Value::boolean(r);
      }
      case kIn:
        if (b.type() == T::List) {
          for (const Value& v : b.asList())
            if (equal(a, v)) return Value::boolean(true);
          return Value::boolean(false);
        }
        return noOverload("@in", a, b);
      case kIndex:
        if (a.type() == T::List) {
          int64_t i = b.type() == T::Int ? b.asInt() : (b.type() == T::Uint ? static_cast<int64_t>(b.asUint()) : -1);
          if (b.type() != T::Int && b.type() != T::Uint) return noOverload("_[_]", a, b);
          if (i < 0 || static_cast<size_t>(i) >= a.asList().size())
            return Value::error("index out of range: " + std::to_string(i));
          return a.asList()[static_cast<size_t>(i)];
        }
        return noOverload("_[_]", a, b);
      case kStartsWith:
      case kEndsWith:
      case kContains: {
        const char* name = n.op == kStartsWith ? "startsWith" : n.op == kEndsWith ? "endsWith" : "contains";
        if (a.type() != T::String || b.type() != T::String) return noOverload(name, a, b);
        std::string_view s = a.asString(), x = b.asString();
        bool r = n.op == kStartsWith ? s.substr(0, x.size()) == x
                 : n.op == kEndsWith ? (s.size() >= x.size() && s.substr(s.size() - x.size()) == x)
                                     : s.find(x) != std::string_view::npos;
        return Value::boolean(r);
      }
      default:
        return Value::error("internal: unknown operator");
    }
  }

  const Activation& act_;
};

}  // namespace

std::shared_ptr<const Program> Program::compile(std::string_view text, Binder& binder) {
  auto p = std::make_shared<Program>();
  p->text_ = std::string(text);
  try {
    p->root_ = parse(text);
  } catch (const SyntaxError& e) {
    throw CompileError(e.what());
  }
  Compiler(binder).bind(p->root_);
  return p;
}

Value Program::evaluate(const Activation& activation) const { return Evaluator(activation).eval(*root_); }

}  // namespace weft::cel
