#include "proxy/http/route_table.h"

#include "proxy/http/grpc.h"

#include <algorithm>

#include "common/config/error.h"
#include "common/strings.h"

namespace weft::proxy::http {

namespace rv3 = envoy::config::route::v3;
using std::chrono::milliseconds;

namespace {

int redirectStatus(rv3::RedirectAction::RedirectResponseCode code) {
  switch (code) {
    case rv3::RedirectAction::MOVED_PERMANENTLY:
      return 301;
    case rv3::RedirectAction::FOUND:
      return 302;
    case rv3::RedirectAction::SEE_OTHER:
      return 303;
    case rv3::RedirectAction::TEMPORARY_REDIRECT:
      return 307;
    case rv3::RedirectAction::PERMANENT_REDIRECT:
      return 308;
    default:
      return 301;
  }
}

void compileMatch(const rv3::RouteMatch& m, Route& r, const std::string& path) {
  r.case_sensitive = !m.has_case_sensitive() || m.case_sensitive().value();
  switch (m.path_specifier_case()) {
    case rv3::RouteMatch::kPrefix:
      r.path_kind = Route::PathKind::Prefix;
      r.path_value = m.prefix();
      break;
    case rv3::RouteMatch::kPath:
      r.path_kind = Route::PathKind::Path;
      r.path_value = m.path();
      break;
    case rv3::RouteMatch::kSafeRegex: {
      r.path_kind = Route::PathKind::Regex;
      RE2::Options opts;
      opts.set_log_errors(false);  // Envoy: case_sensitive does not apply to safe_regex
      auto re = std::make_shared<RE2>(m.safe_regex().regex(), opts);
      if (!re->ok()) {
        throw ConfigError(path + ".safe_regex.regex: invalid regex '" + m.safe_regex().regex() + "': " + re->error());
      }
      r.path_regex = std::move(re);
      break;
    }
    case rv3::RouteMatch::kPathSeparatedPrefix:
      r.path_kind = Route::PathKind::SeparatedPrefix;
      r.path_value = m.path_separated_prefix();
      if (r.path_value.find_first_of("?#") != std::string::npos ||
          (!r.path_value.empty() && r.path_value.back() == '/')) {
        throw ConfigError(path + ".path_separated_prefix: must not contain '?' or '#' nor end with '/'");
      }
      break;
    default:
      throw ConfigError(path + ": a route match needs one of prefix, path, safe_regex, path_separated_prefix");
  }
  if (!r.case_sensitive) r.path_value = toLower(r.path_value);
  for (int i = 0; i < m.headers_size(); ++i) {
    r.headers.push_back(HeaderMatcher::compile(m.headers(i), path + ".headers[" + std::to_string(i) + "]"));
  }
  r.grpc_only = m.has_grpc();
  if (m.has_runtime_fraction()) r.runtime_fraction = Percent::of(m.runtime_fraction());
  for (int i = 0; i < m.query_parameters_size(); ++i) {
    r.query.push_back(
        QueryMatcher::compile(m.query_parameters(i), path + ".query_parameters[" + std::to_string(i) + "]"));
  }
}

void compileRouteAction(const rv3::RouteAction& a, Route& r, const std::string& path,
                        std::vector<std::pair<std::string, std::string>>& refs) {
  r.action = Route::ActionKind::Cluster;
  switch (a.cluster_specifier_case()) {
    case rv3::RouteAction::kCluster:
      if (a.cluster().empty()) throw ConfigError(path + ".cluster: must not be empty");
      r.targets.push_back({a.cluster(), 1, {}, {}});
      r.total_weight = 1;
      refs.emplace_back(a.cluster(), path + ".cluster");
      break;
    case rv3::RouteAction::kWeightedClusters: {
      const auto& wc = a.weighted_clusters();
      if (wc.clusters_size() == 0) throw ConfigError(path + ".weighted_clusters.clusters: must not be empty");
      for (int i = 0; i < wc.clusters_size(); ++i) {
        const auto& c = wc.clusters(i);
        std::string p = path + ".weighted_clusters.clusters[" + std::to_string(i) + "]";
        if (c.name().empty()) throw ConfigError(p + ".name: must not be empty");
        WeightedTarget t{c.name(), c.has_weight() ? c.weight().value() : 0, {}, {}};
        t.request_mutations = HeaderMutations::compile(c.request_headers_to_add(), c.request_headers_to_remove(), p,
                                                       "request_headers_to_add", "request_headers_to_remove");
        t.response_mutations = HeaderMutations::compile(c.response_headers_to_add(), c.response_headers_to_remove(), p,
                                                        "response_headers_to_add", "response_headers_to_remove");
        r.total_weight += t.weight;
        refs.emplace_back(c.name(), p + ".name");
        r.targets.push_back(std::move(t));
      }
      if (r.total_weight == 0) throw ConfigError(path + ".weighted_clusters: the weights must not all be zero");
      if (wc.has_total_weight() && wc.total_weight().value() != r.total_weight) {
        throw ConfigError(path + ".weighted_clusters.total_weight: is " + std::to_string(wc.total_weight().value()) +
                          " but the weights add up to " + std::to_string(r.total_weight));
      }
      break;
    }
    default:
      throw ConfigError(path + ": a route action needs cluster or weighted_clusters");
  }
  if (!a.prefix_rewrite().empty()) {
    r.prefix_rewrite = a.prefix_rewrite();
    r.has_prefix_rewrite = true;
    if (r.path_kind == Route::PathKind::Regex) {
      throw ConfigError(path + ".prefix_rewrite: cannot be used with a safe_regex match");
    }
  }
  r.host_rewrite = a.host_rewrite_literal();
  if (a.has_retry_policy()) r.retry = RetryPolicy::compile(a.retry_policy(), path + ".retry_policy");
  if (a.hash_policy_size() > 0) r.hash_policy = HashPolicy::compile(a.hash_policy(), path + ".hash_policy");
  r.high_priority = a.priority() == envoy::config::core::v3::HIGH;
  for (int i = 0; i < a.request_mirror_policies_size(); ++i) {
    const auto& m = a.request_mirror_policies(i);
    std::string mp = path + ".request_mirror_policies[" + std::to_string(i) + "]";
    if (m.cluster().empty()) throw ConfigError(mp + ".cluster: must not be empty (cluster_header is not supported)");
    MirrorPolicy out{m.cluster(), std::nullopt, !m.disable_shadow_host_suffix_append()};
    if (m.has_runtime_fraction()) out.fraction = Percent::of(m.runtime_fraction());
    r.mirrors.push_back(std::move(out));
  }
  if (a.has_timeout()) r.timeout = weft::toMillis(a.timeout());
  if (a.has_max_grpc_timeout()) r.grpc_timeout_max = weft::toMillis(a.max_grpc_timeout());
  if (a.has_grpc_timeout_offset()) r.grpc_timeout_offset = weft::toMillis(a.grpc_timeout_offset());
  if (a.has_max_stream_duration()) {
    const auto& d = a.max_stream_duration();
    if (d.has_max_stream_duration()) {
      throw ConfigError(path + ".max_stream_duration.max_stream_duration: not supported by weft-proxy");
    }
    if (d.has_grpc_timeout_header_max()) r.grpc_timeout_max = weft::toMillis(d.grpc_timeout_header_max());
    if (d.has_grpc_timeout_header_offset()) r.grpc_timeout_offset = weft::toMillis(d.grpc_timeout_header_offset());
  }
}

void compileRedirect(const rv3::RedirectAction& a, Route& r, const std::string& path) {
  r.action = Route::ActionKind::Redirect;
  Redirect& d = r.redirect;
  if (a.https_redirect()) d.scheme = "https";
  if (!a.scheme_redirect().empty()) d.scheme = toLower(a.scheme_redirect());
  d.host = a.host_redirect();
  d.port = a.port_redirect();
  if (a.path_rewrite_specifier_case() == rv3::RedirectAction::kPathRedirect) d.path = a.path_redirect();
  if (a.path_rewrite_specifier_case() == rv3::RedirectAction::kPrefixRewrite) {
    d.prefix_rewrite = a.prefix_rewrite();
    d.has_prefix_rewrite = true;
  }
  if (a.path_rewrite_specifier_case() == rv3::RedirectAction::kRegexRewrite) {
    throw ConfigError(path + ".regex_rewrite: not supported by weft-proxy");
  }
  d.strip_query = a.strip_query();
  d.status = redirectStatus(a.response_code());
}

void compileDirect(const rv3::DirectResponseAction& a, Route& r, const std::string& path) {
  r.action = Route::ActionKind::DirectResponse;
  if (a.status() < 200 || a.status() > 599) {
    throw ConfigError(path + ".status: must be in [200, 599], got " + std::to_string(a.status()));
  }
  r.direct_status = static_cast<int>(a.status());
  if (a.has_body()) {
    const auto& b = a.body();
    if (b.specifier_case() == envoy::config::core::v3::DataSource::kInlineString) {
      r.direct_body = b.inline_string();
    } else if (b.specifier_case() == envoy::config::core::v3::DataSource::kInlineBytes) {
      r.direct_body = b.inline_bytes();
    } else {
      throw ConfigError(path + ".body: only inline_string and inline_bytes are supported by weft-proxy");
    }
  }
}

}  // namespace

bool Route::matches(const RequestHead& req, std::string_view scheme, const runtime::Snapshot& rt,
                    uint64_t random_value) const {
  if (grpc_only && !grpc::isGrpc(req)) return false;
  std::string_view p = req.path;
  switch (path_kind) {
    case PathKind::Prefix: {
      std::string_view t = req.target;
      if (t.size() < path_value.size()) return false;
      if (case_sensitive ? t.substr(0, path_value.size()) != path_value
                         : !equalsIgnoreCase(t.substr(0, path_value.size()), path_value)) {
        return false;
      }
      break;
    }
    case PathKind::Path:
      if (case_sensitive ? p != path_value : !equalsIgnoreCase(p, path_value)) return false;
      break;
    case PathKind::SeparatedPrefix: {
      if (p.size() < path_value.size()) return false;
      if (case_sensitive ? p.substr(0, path_value.size()) != path_value
                         : !equalsIgnoreCase(p.substr(0, path_value.size()), path_value)) {
        return false;
      }
      if (p.size() > path_value.size() && p[path_value.size()] != '/') return false;
      break;
    }
    case PathKind::Regex:
      if (!RE2::FullMatch(re2::StringPiece(p.data(), p.size()), *path_regex)) return false;
      break;
  }
  for (const auto& h : headers) {
    if (!h.match(req, scheme)) return false;
  }
  for (const auto& q : query) {
    if (!q.match(req.query)) return false;
  }
  // Last, as Envoy: the draw is made only for a request that matches everything else.
  if (runtime_fraction && !rt.featureEnabled(runtime_fraction->runtime_key, runtime_fraction->numerator,
                                             runtime_fraction->denominator, random_value)) {
    return false;
  }
  return true;
}

std::shared_ptr<const RouteTable> RouteTable::compile(const rv3::RouteConfiguration& rc, const std::string& path,
                                                      stats::Store* store) {
  auto table = std::make_shared<RouteTable>();
  table->name_ = rc.name();
  table->request_mutations_ = HeaderMutations::compile(rc.request_headers_to_add(), rc.request_headers_to_remove(),
                                                       path, "request_headers_to_add", "request_headers_to_remove");
  table->response_mutations_ = HeaderMutations::compile(rc.response_headers_to_add(), rc.response_headers_to_remove(),
                                                        path, "response_headers_to_add", "response_headers_to_remove");
  table->per_filter_config_ = PerFilterConfigs::compile(rc.typed_per_filter_config(), path, store);
  for (int vi = 0; vi < rc.virtual_hosts_size(); ++vi) {
    const auto& vh = rc.virtual_hosts(vi);
    std::string vpath = path + ".virtual_hosts[" + std::to_string(vi) + "]";
    auto out = std::make_unique<VirtualHost>();
    out->name = vh.name();
    out->request_mutations = HeaderMutations::compile(vh.request_headers_to_add(), vh.request_headers_to_remove(),
                                                      vpath, "request_headers_to_add", "request_headers_to_remove");
    out->response_mutations = HeaderMutations::compile(vh.response_headers_to_add(), vh.response_headers_to_remove(),
                                                       vpath, "response_headers_to_add", "response_headers_to_remove");
    out->per_filter_config = PerFilterConfigs::compile(vh.typed_per_filter_config(), vpath, store);
    out->include_request_attempt_count = vh.include_request_attempt_count();
    out->include_attempt_count_in_response = vh.include_attempt_count_in_response();
    std::shared_ptr<const RetryPolicy> vhost_retry;
    if (vh.has_retry_policy()) vhost_retry = RetryPolicy::compile(vh.retry_policy(), vpath + ".retry_policy");
    if (vh.domains_size() == 0) throw ConfigError(vpath + ".domains: must not be empty");
    for (int ri = 0; ri < vh.routes_size(); ++ri) {
      const auto& r = vh.routes(ri);
      std::string rpath = vpath + ".routes[" + std::to_string(ri) + "]";
      Route route;
      route.name = r.name();
      route.decorator_operation = r.decorator().operation();
      compileMatch(r.match(), route, rpath + ".match");
      switch (r.action_case()) {
        case rv3::Route::kRoute:
          compileRouteAction(r.route(), route, rpath + ".route", table->referenced_);
          break;
        case rv3::Route::kRedirect:
          compileRedirect(r.redirect(), route, rpath + ".redirect");
          break;
        case rv3::Route::kDirectResponse:
          compileDirect(r.direct_response(), route, rpath + ".direct_response");
          break;
        default:
          throw ConfigError(rpath + ": a route needs one of route, redirect, direct_response");
      }
      route.request_mutations = HeaderMutations::compile(r.request_headers_to_add(), r.request_headers_to_remove(),
                                                         rpath, "request_headers_to_add", "request_headers_to_remove");
      route.response_mutations =
          HeaderMutations::compile(r.response_headers_to_add(), r.response_headers_to_remove(), rpath,
                                   "response_headers_to_add", "response_headers_to_remove");
      route.per_filter_config = PerFilterConfigs::compile(r.typed_per_filter_config(), rpath, store);
      if (!route.retry) route.retry = vhost_retry;  // as Envoy: the route's policy replaces the host's
      out->routes.push_back(std::move(route));
    }
    const VirtualHost* vptr = out.get();
    for (int di = 0; di < vh.domains_size(); ++di) {
      std::string d = toLower(vh.domains(di));
      std::string dpath = vpath + ".domains[" + std::to_string(di) + "]";
      bool duplicate = false;
      if (d == "*") {
        duplicate = table->default_ != nullptr;
        table->default_ = vptr;
      } else if (d.size() > 1 && d.front() == '*') {
        std::string suffix = d.substr(1);
        for (auto& s : table->suffixes_) duplicate |= s.first == suffix;
        table->suffixes_.emplace_back(suffix, vptr);
      } else if (d.size() > 1 && d.back() == '*') {
        std::string prefix = d.substr(0, d.size() - 1);
        for (auto& s : table->prefixes_) duplicate |= s.first == prefix;
        table->prefixes_.emplace_back(prefix, vptr);
      } else if (d.find('*') != std::string::npos) {
        throw ConfigError(dpath + ": '" + d + "': a wildcard may only be the first or last character");
      } else {
        duplicate = !table->exact_.emplace(d, vptr).second;
      }
      if (duplicate) throw ConfigError(dpath + ": domain '" + d + "' appears in more than one virtual host");
    }
    table->hosts_.push_back(std::move(out));
  }
  auto longest_first = [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); };
  std::stable_sort(table->suffixes_.begin(), table->suffixes_.end(), longest_first);
  std::stable_sort(table->prefixes_.begin(), table->prefixes_.end(), longest_first);
  return table;
}

const VirtualHost* RouteTable::findVirtualHost(std::string_view host_in) const {
  char buf[256];
  if (host_in.size() > sizeof(buf)) return default_;
  for (size_t i = 0; i < host_in.size(); ++i)
    buf[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(host_in[i])));
  std::string_view host(buf, host_in.size());
  if (!exact_.empty()) {
    auto it = exact_.find(host);
    if (it != exact_.end()) return it->second;
  }
  for (const auto& [suffix, vh] : suffixes_) {
    if (host.size() > suffix.size() && host.substr(host.size() - suffix.size()) == suffix) return vh;
  }
  for (const auto& [prefix, vh] : prefixes_) {
    if (host.size() > prefix.size() && host.substr(0, prefix.size()) == prefix) return vh;
  }
  return default_;
}

const Route* RouteTable::route(const RequestHead& req, std::string_view scheme, const VirtualHost** vh_out,
                               const runtime::Snapshot& rt, uint64_t random_value) const {
  const VirtualHost* vh = findVirtualHost(req.host);
  *vh_out = vh;
  if (vh == nullptr) return nullptr;
  for (const auto& r : vh->routes) {
    if (r.matches(req, scheme, rt, random_value)) return &r;
  }
  return nullptr;
}

}  // namespace weft::proxy::http
