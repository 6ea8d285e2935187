#pragma once
// A CEL value (https://github.com/google/cel-spec, langdef.md): the types attribute
// expressions use (null, bool, int, uint, double, string, duration, timestamp, list) and errors,
// which propagate through operators as the spec says. An absent attribute is an error that
// has() and `in` can tell apart.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace weft::cel {

class Value {
 public:
  enum class Type { Null, Bool, Int, Uint, Double, String, Duration, Timestamp, List, Error };

  Value() = default;
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value uinteger(uint64_t u);
  static Value number(double d);
  static Value string(std::string s);
  static Value duration(std::chrono::nanoseconds d);
  static Value timestamp(std::chrono::system_clock::time_point t);
  static Value list(std::vector<Value> items);
  static Value error(std::string message);
  // A key or attribute that is not there ("no such key").
  static Value absent(std::string what);

  Type type() const { return type_; }
  bool isError() const { return type_ == Type::Error; }
  bool isAbsent() const { return type_ == Type::Error && absent_; }
  bool asBool() const { return b_; }
  int64_t asInt() const { return i_; }
  uint64_t asUint() const { return u_; }
  double asDouble() const { return d_; }
  const std::string& asString() const { return s_; }  // also an error's message
  std::chrono::nanoseconds asDuration() const { return std::chrono::nanoseconds(i_); }
  std::chrono::system_clock::time_point asTimestamp() const;
  const std::vector<Value>& asList() const { return *list_; }

  // CEL's string() conversion: 200 -> "200", true -> "true", 1.5s duration -> "1.5s".
  std::string toString() const;
  static const char* typeName(Type t);

 private:
  Type type_ = Type::Null;
  bool b_ = false;
  bool absent_ = false;
  int64_t i_ = 0;  // int, duration (ns), timestamp (ns since the epoch)
  uint64_t u_ = 0;
  double d_ = 0;
  std::string s_;
  std::shared_ptr<const std::vector<Value>> list_;
};

// ==, with CEL's heterogeneous numeric equality (1 == 1u == 1.0); values of other different
// types are not equal.
bool equal(const Value& a, const Value& b);
// <0, 0, >0; an error value when the two cannot be ordered.
Value compare(const Value& a, const Value& b, int& out);

}  // namespace weft::cel
