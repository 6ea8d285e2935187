#include "common/cel/parser.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <limits>

namespace weft::cel {

namespace {

enum class Tok { End, Int, Uint, Double, String, Ident, Punct };

struct Token {
  Tok kind = Tok::End;
  size_t pos = 0;
  std::string text;      // identifier, punctuation, or the decoded string
  Value value;           // numbers
  bool int_min = false;  // 9223372036854775808: only valid negated
};

bool isIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) { next(); }

  std::unique_ptr<Node> parseAll() {
    auto e = expr();
    if (tok_.kind != Tok::End) fail(tok_.pos, "unexpected '" + tok_.text + "' after the expression");
    return e;
  }

 private:
  [[noreturn]] void fail(size_t pos, const std::string& what) {
    throw SyntaxError("offset " + std::to_string(pos) + ": " + what);
  }

  bool isPunct(const char* p) const { return tok_.kind == Tok::Punct && tok_.text == p; }
  void expect(const char* p) {
    if (!isPunct(p)) fail(tok_.pos, std::string("expected '") + p + "'");
    next();
  }

  // ---- lexer ----
  void next() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
    tok_ = Token();
    tok_.pos = i_;
    if (i_ >= s_.size()) return;
    char c = s_[i_];
    if (isDigit(c)) return number();
    if (c == '"' || c == '\'') return string(false);
    if ((c == 'r' || c == 'R') && i_ + 1 < s_.size() && (s_[i_ + 1] == '"' || s_[i_ + 1] == '\'')) {
      ++i_;
      return string(true);
    }
    if ((c == 'b' || c == 'B') && i_ + 1 < s_.size() && (s_[i_ + 1] == '"' || s_[i_ + 1] == '\''))
      fail(i_, "bytes literals are not supported");
    if (isIdentStart(c)) {
      size_t start = i_;
      while (i_ < s_.size() && (isIdentStart(s_[i_]) || isDigit(s_[i_]))) ++i_;
      tok_.kind = Tok::Ident;
      tok_.text = std::string(s_.substr(start, i_ - start));
      return;
    }
    static const char* const kTwo[] = {"&&", "||", "==", "!=", "<=", ">="};
    for (const char* p : kTwo) {
      if (s_.substr(i_, 2) == p) {
        tok_.kind = Tok::Punct;
        tok_.text = p;
        i_ += 2;
        return;
      }
    }
    if (std::string_view("()[]{}.,?:!-+*/%<>").find(c) != std::string_view::npos) {
      tok_.kind = Tok::Punct;
      tok_.text = std::string(1, c);
      ++i_;
      return;
    }
    fail(i_, std::string("unexpected character '") + c + "'");
  }

  void number() {
    size_t start = i_;
    bool hex = s_.substr(i_, 2) == "0x" || s_.substr(i_, 2) == "0X";
    bool is_double = false;
    if (hex) {
      i_ += 2;
      while (i_ < s_.size() && std::isxdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
    } else {
      while (i_ < s_.size() && isDigit(s_[i_])) ++i_;
      if (i_ + 1 < s_.size() && s_[i_] == '.' && isDigit(s_[i_ + 1])) {
        is_double = true;
        ++i_;
        while (i_ < s_.size() && isDigit(s_[i_])) ++i_;
      }
      if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
        is_double = true;
        ++i_;
        if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
        if (i_ >= s_.size() || !isDigit(s_[i_])) fail(start, "malformed number");
        while (i_ < s_.size() && isDigit(s_[i_])) ++i_;
      }
    }
    std::string digits(s_.substr(start, i_ - start));
    if (is_double) {
      tok_.kind = Tok::Double;
      tok_.value = Value::number(std::strtod(digits.c_str(), nullptr));
      return;
    }
    errno = 0;
    unsigned long long v = std::strtoull(hex ? digits.c_str() + 2 : digits.c_str(), nullptr, hex ? 16 : 10);
    if (errno == ERANGE || (hex && digits.size() == 2)) fail(start, "integer literal out of range or malformed");
    if (i_ < s_.size() && (s_[i_] == 'u' || s_[i_] == 'U')) {
      ++i_;
      tok_.kind = Tok::Uint;
      tok_.value = Value::uinteger(v);
      return;
    }
    constexpr unsigned long long kMinMagnitude = 1ULL << 63;
    if (v > kMinMagnitude) fail(start, "integer literal out of range");
    tok_.kind = Tok::Int;
    tok_.int_min = v == kMinMagnitude;
    tok_.value = Value::integer(tok_.int_min ? std::numeric_limits<int64_t>::min() : static_cast<int64_t>(v));
  }

  void string(bool raw) {
    size_t start = i_;
    char q = s_[i_];
    bool triple = s_.substr(i_, 3) == std::string(3, q);
    i_ += triple ? 3 : 1;
    std::string out;
    for (;;) {
      if (i_ >= s_.size()) fail(start, "unterminated string");
      char c = s_[i_];
      if (triple ? s_.substr(i_, 3) == std::string(3, q) : c == q) {
        i_ += triple ? 3 : 1;
        break;
      }
      if (!triple && (c == '\n' || c == '\r')) fail(i_, "newline in a string");
      if (c != '\\' || raw) {
        out += c;
        ++i_;
        continue;
      }
      if (++i_ >= s_.size()) fail(start, "unterminated string");
      char e = s_[i_++];
      switch (e) {
        case 'a':
          out += '\a';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'v':
          out += '\v';
          break;
        case '\\':
        case '\'':
        case '"':
        case '`':
        case '?':
          out += e;
          break;
        case 'x':
        case 'X':
        case 'u':
        case 'U': {
          size_t n = (e == 'x' || e == 'X') ? 2 : (e == 'u' ? 4 : 8);
          if (i_ + n > s_.size()) fail(i_, "short escape");
          uint32_t cp = 0;
          for (size_t k = 0; k < n; ++k) {
            char h = s_[i_++];
            if (!std::isxdigit(static_cast<unsigned char>(h))) fail(i_ - 1, "malformed escape");
            cp = cp * 16 + static_cast<uint32_t>(isDigit(h) ? h - '0' : (h | 0x20) - 'a' + 10);
          }
          if (cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) fail(i_, "invalid code point in escape");
          appendUtf8(out, cp);
          break;
        }
        default:
          if (e >= '0' && e <= '3' && i_ + 1 < s_.size() && s_[i_] >= '0' && s_[i_] <= '7' && s_[i_ + 1] >= '0' &&
              s_[i_ + 1] <= '7') {
            appendUtf8(out, static_cast<uint32_t>((e - '0') * 64 + (s_[i_] - '0') * 8 + (s_[i_ + 1] - '0')));
            i_ += 2;
            break;
          }
          fail(i_ - 2, std::string("unknown escape '\\") + e + "'");
      }
    }
    tok_.kind = Tok::String;
    tok_.text = std::move(out);
  }

  // ---- grammar ----
  std::unique_ptr<Node> make(Node::Kind k, size_t pos) {
    auto n = std::make_unique<Node>();
    n->kind = k;
    n->pos = pos;
    return n;
  }
  std::unique_ptr<Node> call(const char* fn, size_t pos, std::unique_ptr<Node> a, std::unique_ptr<Node> b = nullptr,
                             std::unique_ptr<Node> c = nullptr) {
    auto n = make(Node::Kind::Call, pos);
    n->name = fn;
    n->args.push_back(std::move(a));
    if (b) n->args.push_back(std::move(b));
    if (c) n->args.push_back(std::move(c));
    return n;
  }

  struct Depth {
    explicit Depth(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxNesting) p_.fail(p_.tok_.pos, "expression nested too deeply");
    }
    ~Depth() { --p_.depth_; }
    Parser& p_;
  };

  std::unique_ptr<Node> expr() {
    Depth d(*this);
    auto e = orExpr();
    if (!isPunct("?")) return e;
    size_t pos = tok_.pos;
    next();
    auto a = orExpr();
    expect(":");
    auto b = expr();
    return call("_?_:_", pos, std::move(e), std::move(a), std::move(b));
  }

  std::unique_ptr<Node> orExpr() {
    auto e = andExpr();
    while (isPunct("||")) {
      size_t pos = tok_.pos;
      next();
      e = call("_||_", pos, std::move(e), andExpr());
    }
    return e;
  }

  std::unique_ptr<Node> andExpr() {
    auto e = relation();
    while (isPunct("&&")) {
      size_t pos = tok_.pos;
      next();
      e = call("_&&_", pos, std::move(e), relation());
    }
    return e;
  }

  std::unique_ptr<Node> relation() {
    auto e = addition();
    for (;;) {
      static const std::pair<const char*, const char*> kOps[] = {{"<", "_<_"},   {"<=", "_<=_"}, {">", "_>_"},
                                                                 {">=", "_>=_"}, {"==", "_==_"}, {"!=", "_!=_"}};
      const char* fn = nullptr;
      for (const auto& [tok, name] : kOps)
        if (isPunct(tok)) fn = name;
      if (fn == nullptr && tok_.kind == Tok::Ident && tok_.text == "in") fn = "@in";
      if (fn == nullptr) return e;
      size_t pos = tok_.pos;
      next();
      e = call(fn, pos, std::move(e), addition());
    }
  }

  std::unique_ptr<Node> addition() {
    auto e = multiplication();
    while (isPunct("+") || isPunct("-")) {
      const char* fn = isPunct("+") ? "_+_" : "_-_";
      size_t pos = tok_.pos;
      next();
      e = call(fn, pos, std::move(e), multiplication());
    }
    return e;
  }

  std::unique_ptr<Node> multiplication() {
    auto e = unary();
    while (isPunct("*") || isPunct("/") || isPunct("%")) {
      const char* fn = isPunct("*") ? "_*_" : (isPunct("/") ? "_/_" : "_%_");
      size_t pos = tok_.pos;
      next();
      e = call(fn, pos, std::move(e), unary());
    }
    return e;
  }

  std::unique_ptr<Node> unary() {
    Depth d(*this);
    if (isPunct("!")) {
      size_t pos = tok_.pos;
      next();
      return call("!_", pos, unary());
    }
    if (isPunct("-")) {
      size_t pos = tok_.pos;
      next();
      // A negative literal, so that the smallest int can be written.
      if (tok_.kind == Tok::Int && tok_.int_min) {
        auto n = make(Node::Kind::Literal, tok_.pos);
        n->literal = tok_.value;
        next();
        return n;
      }
      if (tok_.kind == Tok::Int || tok_.kind == Tok::Double) {
        auto lit = member();
        if (lit->kind == Node::Kind::Literal && lit->literal.type() == Value::Type::Int) {
          lit->literal = Value::integer(-lit->literal.asInt());
          return lit;
        }
        if (lit->kind == Node::Kind::Literal && lit->literal.type() == Value::Type::Double) {
          lit->literal = Value::number(-lit->literal.asDouble());
          return lit;
        }
        return call("-_", pos, std::move(lit));
      }
      return call("-_", pos, unary());
    }
    return member();
  }

  std::vector<std::unique_ptr<Node>> exprList(const char* close) {
    std::vector<std::unique_ptr<Node>> out;
    while (!isPunct(close)) {
      out.push_back(expr());
      if (!isPunct(",")) break;
      next();
    }
    expect(close);
    return out;
  }

  std::unique_ptr<Node> member() {
    auto e = primary();
    for (;;) {
      size_t pos = tok_.pos;
      if (isPunct(".")) {
        next();
        if (tok_.kind != Tok::Ident) fail(tok_.pos, "expected a field name after '.'");
        std::string field = tok_.text;
        next();
        if (isPunct("(")) {
          next();
          auto c = make(Node::Kind::Call, pos);
          c->name = field;
          c->receiver = true;
          c->args.push_back(std::move(e));
          for (auto& a : exprList(")")) c->args.push_back(std::move(a));
          e = std::move(c);
        } else {
          auto s = make(Node::Kind::Select, pos);
          s->name = field;
          s->args.push_back(std::move(e));
          e = std::move(s);
        }
      } else if (isPunct("[")) {
        next();
        auto idx = expr();
        expect("]");
        e = call("_[_]", pos, std::move(e), std::move(idx));
      } else if (isPunct("{")) {
        fail(pos, "message literals are not supported");
      } else {
        return e;
      }
    }
  }

  std::unique_ptr<Node> primary() {
    size_t pos = tok_.pos;
    switch (tok_.kind) {
      case Tok::End:
        fail(pos, "unexpected end of the expression");
      case Tok::Int:
      case Tok::Uint:
      case Tok::Double: {
        if (tok_.int_min) fail(pos, "integer literal out of range");
        auto n = make(Node::Kind::Literal, pos);
        n->literal = tok_.value;
        next();
        return n;
      }
      case Tok::String: {
        auto n = make(Node::Kind::Literal, pos);
        n->literal = Value::string(tok_.text);
        next();
        return n;
      }
      case Tok::Ident: {
        std::string id = tok_.text;
        next();
        auto n = make(Node::Kind::Literal, pos);
        if (id == "true" || id == "false") {
          n->literal = Value::boolean(id == "true");
          return n;
        }
        if (id == "null") return n;
        if (isPunct("(")) {
          next();
          n->kind = Node::Kind::Call;
          n->name = id;
          n->args = exprList(")");
          return n;
        }
        n->kind = Node::Kind::Ident;
        n->name = id;
        return n;
      }
      case Tok::Punct:
        break;
    }
    if (isPunct("(")) {
      next();
      auto e = expr();
      expect(")");
      return e;
    }
    if (isPunct("[")) {
      next();
      auto n = make(Node::Kind::List, pos);
      n->args = exprList("]");
      return n;
    }
    if (isPunct("{")) fail(pos, "map literals are not supported");
    if (isPunct(".")) fail(pos, "leading '.' names are not supported");
    fail(pos, "unexpected '" + tok_.text + "'");
  }

  std::string_view s_;
  size_t i_ = 0;
  Token tok_;
  int depth_ = 0;
};

}  // namespace

std::unique_ptr<Node> parse(std::string_view text) {
  if (text.size() > kMaxExpressionBytes)
    throw SyntaxError("the expression is " + std::to_string(text.size()) + " bytes, more than the limit of " +
                      std::to_string(kMaxExpressionBytes));
  return Parser(text).parseAll();
}

}  // namespace weft::cel
