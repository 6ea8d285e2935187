#include "proxy/http/local_reply.h"

#include "common/config/error.h"
#include "proxy/http/matchers.h"

namespace weft::proxy::http {

namespace alv3 = envoy::config::accesslog::v3;

namespace {

class StatusCodeFilter final : public ReplyFilter {
 public:
  StatusCodeFilter(const alv3::ComparisonFilter& c)
      : op_(c.op()), value_(c.value().default_value()), key_(c.value().runtime_key()) {}
  bool matches(const RequestHead*, const StreamInfo& info, const runtime::Snapshot& rt, Random&) const override {
    uint64_t v = rt.getInteger(key_, value_);
    uint64_t code = static_cast<uint64_t>(info.response_code);
    switch (op_) {
      case alv3::ComparisonFilter::GE:
        return code >= v;
      case alv3::ComparisonFilter::LE:
        return code <= v;
      default:
        return code == v;
    }
  }

 private:
  alv3::ComparisonFilter::Op op_;
  uint64_t value_;
  std::string key_;
};

class HeaderFilter final : public ReplyFilter {
 public:
  explicit HeaderFilter(HeaderMatcher m) : matcher_(std::move(m)) {}
  bool matches(const RequestHead* req, const StreamInfo&, const runtime::Snapshot&, Random&) const override {
    if (req == nullptr) {
      static const RequestHead kEmpty;
      return matcher_.match(kEmpty, "http");
    }
    return matcher_.match(*req, "http");
  }

 private:
  HeaderMatcher matcher_;
};

class ResponseFlagFilter final : public ReplyFilter {
 public:
  explicit ResponseFlagFilter(uint32_t mask) : mask_(mask) {}
  bool matches(const RequestHead*, const StreamInfo& info, const runtime::Snapshot&, Random&) const override {
    return mask_ == 0 ? info.response_flags != 0 : (info.response_flags & mask_) != 0;
  }

 private:
  uint32_t mask_;  // 0: any flag
};

class RuntimeFilter final : public ReplyFilter {
 public:
  explicit RuntimeFilter(const alv3::RuntimeFilter& f) : key_(f.runtime_key()) {
    if (f.has_percent_sampled()) {
      percent_ = Percent::of(f.percent_sampled());
    } else {
      percent_.numerator = 0;  // Envoy: without percent_sampled, the key alone decides (default 0)
    }
  }
  bool matches(const RequestHead*, const StreamInfo&, const runtime::Snapshot& rt, Random& random) const override {
    return rt.featureEnabled(key_, percent_.numerator, percent_.denominator, random);
  }

 private:
  std::string key_;
  Percent percent_;
};

class ListFilter final : public ReplyFilter {
 public:
  ListFilter(bool all, std::vector<std::unique_ptr<ReplyFilter>> filters) : all_(all), filters_(std::move(filters)) {}
  bool matches(const RequestHead* req, const StreamInfo& info, const runtime::Snapshot& rt,
               Random& random) const override {
    for (const auto& f : filters_) {
      if (f->matches(req, info, rt, random) != all_) return !all_;
    }
    return all_;
  }

 private:
  bool all_;
  std::vector<std::unique_ptr<ReplyFilter>> filters_;
};

class ConstantFilter final : public ReplyFilter {
 public:
  explicit ConstantFilter(bool value) : value_(value) {}
  bool matches(const RequestHead*, const StreamInfo&, const runtime::Snapshot&, Random&) const override {
    return value_;
  }

 private:
  bool value_;
};

}  // namespace

std::unique_ptr<ReplyFilter> ReplyFilter::compile(const alv3::AccessLogFilter& f, const std::string& path) {
  switch (f.filter_specifier_case()) {
    case alv3::AccessLogFilter::kStatusCodeFilter:
      return std::make_unique<StatusCodeFilter>(f.status_code_filter().comparison());
    case alv3::AccessLogFilter::kHeaderFilter:
      return std::make_unique<HeaderFilter>(
          HeaderMatcher::compile(f.header_filter().header(), path + ".header_filter.header"));
    case alv3::AccessLogFilter::kResponseFlagFilter: {
      uint32_t mask = 0;
      const auto& flags = f.response_flag_filter().flags();
      for (int i = 0; i < flags.size(); ++i) {
        uint32_t bit = responseFlagFromName(flags[i]);
        if (bit == 0) {
          throw ConfigError(path + ".response_flag_filter.flags[" + std::to_string(i) + "]: '" + flags[i] +
                            "' is not a response flag weft-proxy sets");
        }
        mask |= bit;
      }
      return std::make_unique<ResponseFlagFilter>(mask);
    }
    case alv3::AccessLogFilter::kRuntimeFilter:
      return std::make_unique<RuntimeFilter>(f.runtime_filter());
    case alv3::AccessLogFilter::kNotHealthCheckFilter:
      // weft-proxy has no health-check filter: no request is a health check.
      return std::make_unique<ConstantFilter>(true);
    case alv3::AccessLogFilter::kAndFilter:
    case alv3::AccessLogFilter::kOrFilter: {
      bool all = f.has_and_filter();
      const auto& list = all ? f.and_filter().filters() : f.or_filter().filters();
      std::string lp = path + (all ? ".and_filter.filters" : ".or_filter.filters");
      std::vector<std::unique_ptr<ReplyFilter>> filters;
      for (int i = 0; i < list.size(); ++i) filters.push_back(compile(list[i], lp + "[" + std::to_string(i) + "]"));
      return std::make_unique<ListFilter>(all, std::move(filters));
    }
    default:
      throw ConfigError(path +
                        ": this kind of filter is not supported by weft-proxy (status_code_filter, "
                        "header_filter, response_flag_filter, runtime_filter, not_health_check_filter, "
                        "and_filter and or_filter are)");
  }
}

std::shared_ptr<const LocalReplyConfig> LocalReplyConfig::compile(
    const envoy::extensions::filters::network::http_connection_manager::v3::LocalReplyConfig& proto,
    const std::string& path, access_log::CaptureList& capture) {
  auto c = std::make_shared<LocalReplyConfig>();
  for (int i = 0; i < proto.mappers_size(); ++i) {
    const auto& m = proto.mappers(i);
    std::string mp = path + ".mappers[" + std::to_string(i) + "]";
    auto mapper = std::make_unique<Mapper>();
    if (!m.has_filter()) throw ConfigError(mp + ".filter: is required");
    mapper->filter = ReplyFilter::compile(m.filter(), mp + ".filter");
    if (m.has_status_code()) {
      uint32_t s = m.status_code().value();
      if (s < 200 || s >= 600) throw ConfigError(mp + ".status_code: must be in [200, 600), got " + std::to_string(s));
      mapper->status = static_cast<int>(s);
    }
    if (m.has_body()) {
      if (m.body().specifier_case() == envoy::config::core::v3::DataSource::kInlineString) {
        mapper->body = m.body().inline_string();
      } else if (m.body().specifier_case() == envoy::config::core::v3::DataSource::kInlineBytes) {
        mapper->body = m.body().inline_bytes();
      } else {
        throw ConfigError(mp + ".body: only inline_string and inline_bytes are supported by weft-proxy");
      }
    }
    if (m.has_body_format_override()) {
      mapper->body_format = access_log::SubstitutionFormat::compile(
          m.body_format_override(), mp + ".body_format_override", capture, "%LOCAL_REPLY_BODY%");
    }
    mapper->headers = HeaderMutations::compile(m.headers_to_add(), {}, mp, "headers_to_add", "");
    c->mappers_.push_back(std::move(mapper));
  }
  // Envoy's default body format: the body as it is, text/plain.
  c->body_format_ = proto.has_body_format()
                        ? access_log::SubstitutionFormat::compile(proto.body_format(), path + ".body_format", capture,
                                                                  "%LOCAL_REPLY_BODY%")
                        : access_log::SubstitutionFormat::text("%LOCAL_REPLY_BODY%", path, capture);
  return c;
}

LocalReplyConfig::Rewritten LocalReplyConfig::rewrite(const RequestHead* req, StreamInfo& info, int status,
                                                      std::string_view body, const runtime::Snapshot& rt,
                                                      Random& random) const {
  Rewritten out{status, std::string(body), {}, nullptr};
  info.response_code = status;
  const access_log::SubstitutionFormat* format = &body_format_;
  for (const auto& m : mappers_) {
    if (!m->filter->matches(req, info, rt, random)) continue;
    if (m->body) out.body = *m->body;
    if (!m->headers.empty()) out.headers = &m->headers;
    if (m->status) {
      out.status = *m->status;
      info.response_code = out.status;
    }
    if (m->body_format) format = &*m->body_format;
    break;
  }
  info.local_reply_body = out.body;
  std::string formatted;
  format->format(info, formatted);
  out.body = std::move(formatted);
  out.content_type = format->contentType();
  return out;
}

}  // namespace weft::proxy::http
