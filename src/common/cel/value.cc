#include "common/cel/value.h"

#include <cmath>
#include <cstdio>

namespace weft::cel {

Value Value::boolean(bool b) {
  Value v;
  v.type_ = Type::Bool;
  v.b_ = b;
  return v;
}

Value Value::integer(int64_t i) {
  Value v;
  v.type_ = Type::Int;
  v.i_ = i;
  return v;
}

Value Value::uinteger(uint64_t u) {
  Value v;
  v.type_ = Type::Uint;
  v.u_ = u;
  return v;
}

Value Value::number(double d) {
  Value v;
  v.type_ = Type::Double;
  v.d_ = d;
  return v;
}

Value Value::string(std::string s) {
  Value v;
  v.type_ = Type::String;
  v.s_ = std::move(s);
  return v;
}

Value Value::duration(std::chrono::nanoseconds d) {
  Value v;
  v.type_ = Type::Duration;
  v.i_ = d.count();
  return v;
}

Value Value::timestamp(std::chrono::system_clock::time_point t) {
  Value v;
  v.type_ = Type::Timestamp;
  v.i_ = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  return v;
}

Value Value::list(std::vector<Value> items) {
  Value v;
  v.type_ = Type::List;
  v.list_ = std::make_shared<const std::vector<Value>>(std::move(items));
  return v;
}

Value Value::error(std::string message) {
  Value v;
  v.type_ = Type::Error;
  v.s_ = std::move(message);
  return v;
}

Value Value::absent(std::string what) {
  Value v = error("no such key: " + what);
  v.absent_ = true;
  return v;
}

std::chrono::system_clock::time_point Value::asTimestamp() const {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(i_)));
}

const char* Value::typeName(Type t) {
  switch (t) {
    case Type::Null:
      return "null_type";
    case Type::Bool:
      return "bool";
    case Type::Int:
      return "int";
    case Type::Uint:
      return "uint";
    case Type::Double:
      return "double";
    case Type::String:
      return "string";
    case Type::Duration:
      return "google.protobuf.Duration";
    case Type::Timestamp:
      return "google.protobuf.Timestamp";
    case Type::List:
      return "list";
    case Type::Error:
      return "error";
  }
  return "?";
}

std::string Value::toString() const {
  char buf[64];
  switch (type_) {
    case Type::Null:
      return "null";
    case Type::Bool:
      return b_ ? "true" : "false";
    case Type::Int:
      return std::to_string(i_);
    case Type::Uint:
      return std::to_string(u_);
    case Type::Double:
      snprintf(buf, sizeof buf, "%g", d_);
      return buf;
    case Type::String:
    case Type::Error:
      return s_;
    case Type::Duration: {
      // Protobuf's JSON form: seconds with up to nine fractional digits and an "s".
      int64_t secs = i_ / 1000000000, nanos = i_ % 1000000000;
      if (nanos == 0) return std::to_string(secs) + "s";
      snprintf(buf, sizeof buf, "%s%lld.%09lld", i_ < 0 ? "-" : "", static_cast<long long>(std::llabs(secs)),
               static_cast<long long>(std::llabs(nanos)));
      std::string s = buf;
      while (s.back() == '0') s.pop_back();
      return s + "s";
    }
    case Type::Timestamp: {
      time_t t = static_cast<time_t>(i_ / 1000000000);
      struct tm tm;
      gmtime_r(&t, &tm);
      strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
      std::string s = buf;
      if (int64_t nanos = i_ % 1000000000; nanos != 0) {
        snprintf(buf, sizeof buf, ".%09lld", static_cast<long long>(nanos));
        s += buf;
        while (s.back() == '0') s.pop_back();
      }
      return s + "Z";
    }
    case Type::List: {
      std::string s = "[";
      for (size_t i = 0; i < list_->size(); ++i) {
        if (i) s += ", ";
        s += (*list_)[i].toString();
      }
      return s + "]";
    }
  }
  return "";
}

namespace {

bool numeric(const Value& v) {
  return v.type() == Value::Type::Int || v.type() == Value::Type::Uint || v.type() == Value::Type::Double;
}

// Orders two numbers of any of CEL's numeric types without losing precision.
int compareNumbers(const Value& a, const Value& b) {
  using T = Value::Type;
  if (a.type() == T::Double || b.type() == T::Double) {
    auto d = [](const Value& v) {
      return v.type() == T::Double
                 ? v.asDouble()
                 : (v.type() == T::Int ? static_cast<double>(v.asInt()) : static_cast<double>(v.asUint()));
    };
    double x = d(a), y = d(b);
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.type() == T::Int && b.type() == T::Int) return a.asInt() < b.asInt() ? -1 : (a.asInt() > b.asInt() ? 1 : 0);
  if (a.type() == T::Uint && b.type() == T::Uint)
    return a.asUint() < b.asUint() ? -1 : (a.asUint() > b.asUint() ? 1 : 0);
  if (a.type() == T::Int) {  // int vs uint
    if (a.asInt() < 0) return -1;
    uint64_t x = static_cast<uint64_t>(a.asInt());
    return x < b.asUint() ? -1 : (x > b.asUint() ? 1 : 0);
  }
  return -compareNumbers(b, a);
}

}  // namespace

bool equal(const Value& a, const Value& b) {
  using T = Value::Type;
  if (numeric(a) && numeric(b)) {
    if ((a.type() == T::Double && std::isnan(a.asDouble())) || (b.type() == T::Double && std::isnan(b.asDouble())))
      return false;
    return compareNumbers(a, b) == 0;
  }
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case T::Null:
      return true;
    case T::Bool:
      return a.asBool() == b.asBool();
    case T::String:
      return a.asString() == b.asString();
    case T::Duration:
    case T::Timestamp:
      return a.asInt() == b.asInt();
    case T::List: {
      const auto &x = a.asList(), &y = b.asList();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i)
        if (!equal(x[i], y[i])) return false;
      return true;
    }
    default:
      return false;
  }
}

Value compare(const Value& a, const Value& b, int& out) {
  using T = Value::Type;
  if (numeric(a) && numeric(b)) {
    out = compareNumbers(a, b);
    return Value::boolean(true);
  }
  if (a.type() == b.type()) {
    switch (a.type()) {
      case T::String:
        out = a.asString().compare(b.asString());
        return Value::boolean(true);
      case T::Bool:
        out = static_cast<int>(a.asBool()) - static_cast<int>(b.asBool());
        return Value::boolean(true);
      case T::Duration:
      case T::Timestamp:
        out = a.asInt() < b.asInt() ? -1 : (a.asInt() > b.asInt() ? 1 : 0);
        return Value::boolean(true);
      default:
        break;
    }
  }
  return Value::error(std::string("no such overload: ordering of ") + Value::typeName(a.type()) + " and " +
                      Value::typeName(b.type()));
}

}  // namespace weft::cel
