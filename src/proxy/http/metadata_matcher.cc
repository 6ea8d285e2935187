#include "proxy/http/metadata_matcher.h"

#include <nlohmann/json.hpp>

#include "common/config/error.h"
#include "proxy/http/matchers.h"

namespace weft::proxy::http {

namespace {

namespace mv3 = envoy::type::matcher::v3;
using json = nlohmann::json;

class NullMatch final : public ValueMatcher {
 public:
  bool match(const json* v) const override { return v != nullptr && v->is_null(); }
};

class BoolMatch final : public ValueMatcher {
 public:
  explicit BoolMatch(bool want) : want_(want) {}
  bool match(const json* v) const override { return v != nullptr && v->is_boolean() && v->get<bool>() == want_; }

 private:
  bool want_;
};

class PresentMatch final : public ValueMatcher {
 public:
  explicit PresentMatch(bool present) : present_(present) {}
  // Envoy's PresentMatcher: true only when asked for presence and something is there.
  bool match(const json* v) const override { return present_ && v != nullptr; }

 private:
  bool present_;
};

class DoubleMatch final : public ValueMatcher {
 public:
  explicit DoubleMatch(const mv3::DoubleMatcher& m) : m_(m) {}
  bool match(const json* v) const override {
    if (v == nullptr || !v->is_number()) return false;
    double d = v->get<double>();
    if (m_.has_range()) return d >= m_.range().start() && d < m_.range().end();
    return d == m_.exact();
  }

 private:
  mv3::DoubleMatcher m_;
};

class StringMatch final : public ValueMatcher {
 public:
  explicit StringMatch(StringMatcher m) : m_(std::move(m)) {}
  bool match(const json* v) const override {
    return v != nullptr && v->is_string() && m_.match(v->get_ref<const std::string&>());
  }

 private:
  StringMatcher m_;
};

class ListOneOf final : public ValueMatcher {
 public:
  explicit ListOneOf(std::unique_ptr<ValueMatcher> each) : each_(std::move(each)) {}
  bool match(const json* v) const override {
    if (v == nullptr || !v->is_array()) return false;
    for (const auto& e : *v)
      if (each_->match(&e)) return true;
    return false;
  }

 private:
  std::unique_ptr<ValueMatcher> each_;
};

class OrMatch final : public ValueMatcher {
 public:
  explicit OrMatch(std::vector<std::unique_ptr<ValueMatcher>> any) : any_(std::move(any)) {}
  bool match(const json* v) const override {
    for (const auto& m : any_)
      if (m->match(v)) return true;
    return false;
  }

 private:
  std::vector<std::unique_ptr<ValueMatcher>> any_;
};

}  // namespace

std::unique_ptr<ValueMatcher> ValueMatcher::compile(const mv3::ValueMatcher& m, const std::string& path) {
  switch (m.match_pattern_case()) {
    case mv3::ValueMatcher::kNullMatch:
      return std::make_unique<NullMatch>();
    case mv3::ValueMatcher::kDoubleMatch:
      if (m.double_match().match_pattern_case() == mv3::DoubleMatcher::MATCH_PATTERN_NOT_SET)
        throw ConfigError(path + ".double_match: one of range or exact is required");
      return std::make_unique<DoubleMatch>(m.double_match());
    case mv3::ValueMatcher::kStringMatch:
      return std::make_unique<StringMatch>(StringMatcher::compile(m.string_match(), path + ".string_match"));
    case mv3::ValueMatcher::kBoolMatch:
      return std::make_unique<BoolMatch>(m.bool_match());
    case mv3::ValueMatcher::kPresentMatch:
      return std::make_unique<PresentMatch>(m.present_match());
    case mv3::ValueMatcher::kListMatch:
      if (!m.list_match().has_one_of()) throw ConfigError(path + ".list_match.one_of: required");
      return std::make_unique<ListOneOf>(compile(m.list_match().one_of(), path + ".list_match.one_of"));
    case mv3::ValueMatcher::kOrMatch: {
      const auto& list = m.or_match().value_matchers();
      if (list.size() < 2) throw ConfigError(path + ".or_match.value_matchers: at least 2 are required");
      std::vector<std::unique_ptr<ValueMatcher>> any;
      for (int i = 0; i < list.size(); ++i)
        any.push_back(compile(list[i], path + ".or_match.value_matchers[" + std::to_string(i) + "]"));
      return std::make_unique<OrMatch>(std::move(any));
    }
    default:
      throw ConfigError(path +
                        ": one of null_match, double_match, string_match, bool_match, present_match, "
                        "list_match, or_match is required");
  }
}

MetadataMatcher MetadataMatcher::compile(const mv3::MetadataMatcher& m, const std::string& path) {
  MetadataMatcher out;
  if (m.filter().empty()) throw ConfigError(path + ".filter: must not be empty");
  if (m.path_size() == 0) throw ConfigError(path + ".path: at least one segment is required");
  if (!m.has_value()) throw ConfigError(path + ".value: required");
  out.filter_ = m.filter();
  for (int i = 0; i < m.path_size(); ++i) {
    if (m.path(i).key().empty()) throw ConfigError(path + ".path[" + std::to_string(i) + "].key: must not be empty");
    out.path_.push_back(m.path(i).key());
  }
  out.value_ = ValueMatcher::compile(m.value(), path + ".value");
  out.invert_ = m.invert();
  return out;
}

bool MetadataMatcher::match(const DynamicMetadata* metadata) const {
  const json* v = metadata ? metadata->find(filter_, path_) : nullptr;
  return value_->match(v) != invert_;
}

}  // namespace weft::proxy::http
