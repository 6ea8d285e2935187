#include "proxy/access_log/log_filter.h"

#include <vector>

#include "common/config/error.h"
#include "envoy/extensions/access_loggers/filters/cel/v3/cel.pb.h"
#include "proxy/cel/stream_attributes.h"

namespace weft::proxy::access_log {

namespace alv3 = envoy::config::accesslog::v3;

namespace {

class Comparison final : public LogFilter {
 public:
  enum class Subject { StatusCode, DurationMs };
  Comparison(Subject subject, const alv3::ComparisonFilter& c)
      : subject_(subject), op_(c.op()), value_(c.value().default_value()) {}
  bool accepts(const StreamInfo& info) const override {
    uint64_t v = subject_ == Subject::StatusCode
                     ? static_cast<uint64_t>(info.response_code)
                     : static_cast<uint64_t>(
                           std::chrono::duration_cast<std::chrono::milliseconds>(info.end - info.start).count());
    switch (op_) {
      case alv3::ComparisonFilter::GE:
        return v >= value_;
      case alv3::ComparisonFilter::LE:
        return v <= value_;
      default:
        return v == value_;
    }
  }

 private:
  Subject subject_;
  alv3::ComparisonFilter::Op op_;
  uint64_t value_;
};

class ResponseFlags final : public LogFilter {
 public:
  explicit ResponseFlags(uint32_t mask) : mask_(mask) {}
  bool accepts(const StreamInfo& info) const override { return (info.response_flags & mask_) != 0; }

 private:
  uint32_t mask_;  // all flags when the filter lists none
};

class Always final : public LogFilter {
 public:
  bool accepts(const StreamInfo&) const override { return true; }
};

class Combined final : public LogFilter {
 public:
  Combined(bool all, std::vector<std::shared_ptr<const LogFilter>> parts) : all_(all), parts_(std::move(parts)) {}
  bool accepts(const StreamInfo& info) const override {
    for (const auto& p : parts_)
      if (p->accepts(info) != all_) return !all_;
    return all_;
  }

 private:
  bool all_;
  std::vector<std::shared_ptr<const LogFilter>> parts_;
};

class CelFilter final : public LogFilter {
 public:
  explicit CelFilter(std::shared_ptr<const weft::cel::Program> p) : program_(std::move(p)) {}
  bool accepts(const StreamInfo& info) const override {
    weft::cel::Value v = program_->evaluate(StreamActivation(info));
    return v.type() == weft::cel::Value::Type::Bool && v.asBool();
  }

 private:
  std::shared_ptr<const weft::cel::Program> program_;
};

// The threshold is the RuntimeUInt32's default_value (a runtime override of it is not read).
void checkComparison(const alv3::ComparisonFilter& c, const std::string& path) {
  if (c.op() != alv3::ComparisonFilter::EQ && c.op() != alv3::ComparisonFilter::GE &&
      c.op() != alv3::ComparisonFilter::LE)
    throw ConfigError(path + ".op: must be EQ, GE or LE");
}

}  // namespace

std::shared_ptr<const LogFilter> compileLogFilter(const alv3::AccessLogFilter& f, const std::string& path,
                                                  CaptureList& capture) {
  switch (f.filter_specifier_case()) {
    case alv3::AccessLogFilter::kStatusCodeFilter:
      checkComparison(f.status_code_filter().comparison(), path + ".status_code_filter.comparison");
      return std::make_shared<Comparison>(Comparison::Subject::StatusCode, f.status_code_filter().comparison());
    case alv3::AccessLogFilter::kDurationFilter:
      checkComparison(f.duration_filter().comparison(), path + ".duration_filter.comparison");
      return std::make_shared<Comparison>(Comparison::Subject::DurationMs, f.duration_filter().comparison());
    case alv3::AccessLogFilter::kNotHealthCheckFilter:
      return std::make_shared<Always>();
    case alv3::AccessLogFilter::kResponseFlagFilter: {
      uint32_t mask = 0;
      const auto& flags = f.response_flag_filter().flags();
      for (int i = 0; i < flags.size(); ++i) {
        uint32_t bit = responseFlagFromName(flags[i]);
        if (bit == 0)
          throw ConfigError(path + ".response_flag_filter.flags[" + std::to_string(i) + "]: '" + flags[i] +
                            "' is not a response flag weft-proxy sets");
        mask |= bit;
      }
      return std::make_shared<ResponseFlags>(flags.empty() ? ~0u : mask);
    }
    case alv3::AccessLogFilter::kAndFilter:
    case alv3::AccessLogFilter::kOrFilter: {
      bool all = f.has_and_filter();
      const auto& list = all ? f.and_filter().filters() : f.or_filter().filters();
      const std::string p = path + (all ? ".and_filter.filters" : ".or_filter.filters");
      if (list.size() < 2) throw ConfigError(p + ": needs at least 2 filters");
      std::vector<std::shared_ptr<const LogFilter>> parts;
      for (int i = 0; i < list.size(); ++i)
        parts.push_back(compileLogFilter(list[i], p + "[" + std::to_string(i) + "]", capture));
      return std::make_shared<Combined>(all, std::move(parts));
    }
    case alv3::AccessLogFilter::kExtensionFilter: {
      const auto& ext = f.extension_filter();
      envoy::extensions::access_loggers::filters::cel::v3::ExpressionFilter cel;
      if (!ext.typed_config().Is<decltype(cel)>() || !ext.typed_config().UnpackTo(&cel))
        throw ConfigError(path + ".extension_filter: '" + ext.name() + "' (" + ext.typed_config().type_url() +
                          ") is not supported by weft-proxy (envoy.access_loggers.extension_filters.cel is)");
      return std::make_shared<CelFilter>(
          compileStreamExpression(cel.expression(), path + ".extension_filter.typed_config.expression", capture));
    }
    case alv3::AccessLogFilter::FILTER_SPECIFIER_NOT_SET:
      throw ConfigError(path + ": a filter type is required");
    default:
      break;
  }
  const auto* field = f.GetDescriptor()->FindFieldByNumber(static_cast<int>(f.filter_specifier_case()));
  throw ConfigError(path + "." + (field ? field->name() : std::string("filter")) + ": not supported by weft-proxy");
}

}  // namespace weft::proxy::access_log
