#include <set>

#include "common/strings.h"
#include "control/model/traffic_policy.h"
#include "control/xds/generator.h"
#include "control/xds/pack.h"
#include "control/xds/telemetry_gen.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/extensions/filters/http/cors/v3/cors.pb.h"
#include "envoy/extensions/filters/http/fault/v3/fault.pb.h"
#include "envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.pb.h"
#include "envoy/extensions/retry/priority/previous_priorities/v3/previous_priorities_config.pb.h"

namespace weft::control::xds {

namespace rv3 = envoy::config::route::v3;

namespace {

void setStringMatcher(const StringMatch& m, envoy::type::matcher::v3::StringMatcher* out) {
  switch (m.kind) {
    case StringMatch::Kind::Exact:
      out->set_exact(m.value);
      break;
    case StringMatch::Kind::Prefix:
      out->set_prefix(m.value);
      break;
    case StringMatch::Kind::Regex:
      out->mutable_safe_regex()->set_regex(m.value);
      break;
    case StringMatch::Kind::Present:  // callers use present_match
      break;
  }
}

void addHeaderMatch(rv3::RouteMatch* rm, const std::string& name, const StringMatch& m, bool invert) {
  auto* h = rm->add_headers();
  h->set_name(name);
  if (m.kind == StringMatch::Kind::Present)
    h->set_present_match(true);
  else
    setStringMatcher(m, h->mutable_string_match());
  h->set_invert_match(invert);
}

template <typename T>
void applyHeaderOps(const HeaderOps& ops, T* target, bool request) {
  auto add = [&](const std::string& k, const std::string& v,
                 envoy::config::core::v3::HeaderValueOption::HeaderAppendAction a) {
    auto* o = request ? target->add_request_headers_to_add() : target->add_response_headers_to_add();
    o->mutable_header()->set_key(k);
    o->mutable_header()->set_value(v);
    o->set_append_action(a);
  };
  for (const auto& [k, v] : ops.set) add(k, v, envoy::config::core::v3::HeaderValueOption::OVERWRITE_IF_EXISTS_OR_ADD);
  for (const auto& [k, v] : ops.add) add(k, v, envoy::config::core::v3::HeaderValueOption::APPEND_IF_EXISTS_OR_ADD);
  for (const auto& r : ops.remove) {
    if (request)
      target->add_request_headers_to_remove(r);
    else
      target->add_response_headers_to_remove(r);
  }
}

bool sourceMatches(const Labels& want, const ProxyInfo& proxy) {
  for (const auto& [k, v] : want) {
    auto it = proxy.labels.find(k);
    if (it == proxy.labels.end() || it->second != v) return false;
  }
  return true;
}

std::string destinationCluster(const MeshModel& model, const Destination& d, const std::string& vs_ns, uint32_t port) {
  std::string host = MeshModel::qualify(d.host, vs_ns);
  uint32_t p = d.port;
  if (p == 0) {
    const MeshService* svc = model.service(host);
    p = (svc && svc->ports.size() == 1) ? svc->ports[0].port : port;
  }
  return ClusterName{"outbound", p, d.subset, host}.str();
}

// Istio's Percent (0..100) as Envoy's FractionalPercent per million, as Istio translates it.
void setPercent(double percent, envoy::type::v3::FractionalPercent* out) {
  out->set_numerator(static_cast<uint32_t>(percent * 10000));
  out->set_denominator(envoy::type::v3::FractionalPercent::MILLION);
}

// Istio's ConvertPolicy (today's): no `retries` gives its default policy (2 retries on
// connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes, previous hosts,
// 5 host selections); attempts 0 gives none; numbers in retryOn become retriable_status_codes.
// With a consistent hash Istio leaves out previous_hosts: a retry keeps to the client's host.
void setRetryPolicy(const HttpRoute::Retries* in, rv3::RouteAction* ra, bool consistent_hash) {
  if (in != nullptr && in->attempts <= 0) return;
  auto* rp = ra->mutable_retry_policy();
  rp->mutable_num_retries()->set_value(in ? static_cast<uint32_t>(in->attempts) : 2);
  rp->set_retry_on("connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes");
  rp->set_host_selection_retry_max_attempts(5);
  bool previous_hosts = !consistent_hash;
  if (in) {
    if (!in->retry_on.empty()) {
      std::string on;
      for (std::string_view item : weft::splitList(in->retry_on)) {
        if (item.find_first_not_of("0123456789") == std::string_view::npos) {
          rp->add_retriable_status_codes(static_cast<uint32_t>(std::stoul(std::string(item))));
        } else {
          on += (on.empty() ? "" : ",") + std::string(item);
        }
      }
      if (rp->retriable_status_codes_size() > 0 && on.find("retriable-status-codes") == std::string::npos)
        on += (on.empty() ? "" : ",") + std::string("retriable-status-codes");
      rp->set_retry_on(on);
    }
    if (in->per_try_timeout_ms) *rp->mutable_per_try_timeout() = weft::durationFromMillis(*in->per_try_timeout_ms);
    if (in->retry_ignore_previous_hosts) previous_hosts = *in->retry_ignore_previous_hosts;
    if (in->backoff_ms)
      *rp->mutable_retry_back_off()->mutable_base_interval() = weft::durationFromMillis(*in->backoff_ms);
    if (in->retry_remote_localities) {
      // Istio's: previous_priorities with update_frequency 2.
      auto* prio = rp->mutable_retry_priority();
      prio->set_name("envoy.retry_priorities.previous_priorities");
      envoy::extensions::retry::priority::previous_priorities::v3::PreviousPrioritiesConfig cfg;
      cfg.set_update_frequency(2);
      pack(*prio->mutable_typed_config(), cfg);
    }
  }
  if (previous_hosts) {
    auto* pred = rp->add_retry_host_predicate();
    pred->set_name("envoy.retry_host_predicates.previous_hosts");
    pack(*pred->mutable_typed_config(), envoy::extensions::retry::host::previous_hosts::v3::PreviousHostsPredicate());
  }
}

// Istio's HashForHTTPDestination: the consistentHash the rule gives the destination's port and
// subset (port-level settings and the subset's policy merged as MergeTrafficPolicy does).
std::optional<ConsistentHash> consistentHashFor(const MeshModel& model, const ProxyInfo& proxy, const std::string& host,
                                                const std::string& subset, uint32_t port) {
  const DestinationRule* dr = model.destinationRuleFor(host, proxy.ns);
  if (dr == nullptr) return std::nullopt;
  TrafficPolicy tp = effectiveTrafficPolicy(dr, subset, port);
  if (tp.load_balancer && tp.load_balancer->consistent_hash) return tp.load_balancer->consistent_hash;
  return std::nullopt;
}

// Istio's ConsistentHashToHashPolicy.
void addHashPolicy(const std::optional<ConsistentHash>& ch, rv3::RouteAction* ra) {
  if (!ch || ch->key == ConsistentHash::Key::None) return;
  auto* hp = ra->add_hash_policy();
  switch (ch->key) {
    case ConsistentHash::Key::Header:
      hp->mutable_header()->set_header_name(ch->name);
      break;
    case ConsistentHash::Key::Cookie: {
      auto* c = hp->mutable_cookie();
      c->set_name(ch->name);
      c->set_path(ch->cookie_path);
      if (ch->cookie_ttl_ms) *c->mutable_ttl() = weft::durationFromMillis(*ch->cookie_ttl_ms);
      for (const auto& [name, value] : ch->cookie_attributes) {
        auto* a = c->add_attributes();
        a->set_name(name);
        a->set_value(value);
      }
      break;
    }
    case ConsistentHash::Key::SourceIp:
      hp->mutable_connection_properties()->set_source_ip(true);
      break;
    case ConsistentHash::Key::QueryParameter:
      hp->mutable_query_parameter()->set_name(ch->name);
      break;
    case ConsistentHash::Key::None:
      break;
  }
}

void setAction(const MeshModel& model, const ProxyInfo& proxy, const HttpRoute& hr, const std::string& vs_ns,
               uint32_t port, const HttpMatch* match, rv3::Route* r) {
  if (hr.redirect) {
    auto* red = r->mutable_redirect();
    if (!hr.redirect->uri.empty()) red->set_path_redirect(hr.redirect->uri);
    if (!hr.redirect->authority.empty()) red->set_host_redirect(hr.redirect->authority);
    if (hr.redirect->port) red->set_port_redirect(hr.redirect->port);
    if (!hr.redirect->scheme.empty()) red->set_scheme_redirect(hr.redirect->scheme);
    switch (hr.redirect->code) {
      case 302:
        red->set_response_code(rv3::RedirectAction::FOUND);
        break;
      case 303:
        red->set_response_code(rv3::RedirectAction::SEE_OTHER);
        break;
      case 307:
        red->set_response_code(rv3::RedirectAction::TEMPORARY_REDIRECT);
        break;
      case 308:
        red->set_response_code(rv3::RedirectAction::PERMANENT_REDIRECT);
        break;
      default:
        red->set_response_code(rv3::RedirectAction::MOVED_PERMANENTLY);
    }
    return;
  }
  if (hr.direct_response) {
    auto* dr = r->mutable_direct_response();
    dr->set_status(static_cast<uint32_t>(hr.direct_response->status));
    if (!hr.direct_response->body.empty()) dr->mutable_body()->set_inline_string(hr.direct_response->body);
    return;
  }
  auto* ra = r->mutable_route();
  // Istio's TranslateRequestMirrorPolicy: a percentage per million, no trace sampling.
  for (const auto& m : hr.mirrors) {
    if (m.percent <= 0) continue;
    auto* mp = ra->add_request_mirror_policies();
    mp->set_cluster(destinationCluster(model, m.destination, vs_ns, port));
    auto* fraction = mp->mutable_runtime_fraction()->mutable_default_value();
    if (m.from_percent) {
      setPercent(m.percent, fraction);
    } else {
      fraction->set_numerator(static_cast<uint32_t>(m.percent));  // denominator HUNDRED
    }
    mp->mutable_trace_sampled()->set_value(false);
  }
  auto hashOf = [&](const Destination& d) {
    ClusterName cn;
    ClusterName::parse(destinationCluster(model, d, vs_ns, port), cn);
    return consistentHashFor(model, proxy, cn.host, d.subset, cn.port);
  };
  bool consistent = hr.route.size() == 1 && hashOf(hr.route[0].destination).has_value();
  setRetryPolicy(hr.retries ? &*hr.retries : nullptr, ra, consistent);
  // Istio's default: no route timeout unless the VirtualService sets one.
  *ra->mutable_timeout() = weft::durationFromMillis(hr.timeout_ms.value_or(0));
  if (hr.rewrite) {
    bool regex = match && match->uri && match->uri->kind == StringMatch::Kind::Regex;
    if (!hr.rewrite->uri.empty() && !regex) ra->set_prefix_rewrite(hr.rewrite->uri);
    if (!hr.rewrite->authority.empty()) ra->set_host_rewrite_literal(hr.rewrite->authority);
  }
  std::vector<const RouteDestination*> dests;
  for (const auto& d : hr.route) {
    if (d.weight > 0 || hr.route.size() == 1) dests.push_back(&d);
  }
  if (dests.size() == 1 && dests[0]->request_headers.set.empty() && dests[0]->request_headers.add.empty() &&
      dests[0]->request_headers.remove.empty() && dests[0]->response_headers.set.empty() &&
      dests[0]->response_headers.add.empty() && dests[0]->response_headers.remove.empty()) {
    ra->set_cluster(destinationCluster(model, dests[0]->destination, vs_ns, port));
    addHashPolicy(hashOf(dests[0]->destination), ra);
    return;
  }
  auto* wc = ra->mutable_weighted_clusters();
  for (const auto* d : dests) {
    auto* c = wc->add_clusters();
    c->set_name(destinationCluster(model, d->destination, vs_ns, port));
    c->mutable_weight()->set_value(static_cast<uint32_t>(d->weight));
    applyHeaderOps(d->request_headers, c, true);
    applyHeaderOps(d->response_headers, c, false);
    addHashPolicy(hashOf(d->destination), ra);
  }
}

// VirtualService fault -> the route's config for the sidecar's envoy.filters.http.fault.
void applyFault(const HttpRoute::Fault& f, rv3::Route* r) {
  envoy::extensions::filters::http::fault::v3::HTTPFault out;
  if (f.delay) {
    auto* d = out.mutable_delay();
    *d->mutable_fixed_delay() = weft::durationFromMillis(f.delay->fixed_ms);
    setPercent(f.delay->percent, d->mutable_percentage());
  }
  if (f.abort) {
    auto* a = out.mutable_abort();
    if (f.abort->http_status)
      a->set_http_status(static_cast<uint32_t>(*f.abort->http_status));
    else
      a->set_grpc_status(static_cast<uint32_t>(*f.abort->grpc_status));
    setPercent(f.abort->percent, a->mutable_percentage());
  }
  pack((*r->mutable_typed_per_filter_config())["envoy.filters.http.fault"], out);
}

// VirtualService corsPolicy -> the route's config for envoy.filters.http.cors.
void applyCors(const HttpRoute::Cors& c, rv3::Route* r) {
  envoy::extensions::filters::http::cors::v3::CorsPolicy out;
  for (const auto& o : c.allow_origins) setStringMatcher(o, out.add_allow_origin_string_match());
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
    return s;
  };
  out.set_allow_methods(join(c.allow_methods));
  out.set_allow_headers(join(c.allow_headers));
  out.set_expose_headers(join(c.expose_headers));
  if (c.max_age_ms) out.set_max_age(std::to_string(*c.max_age_ms / 1000));
  if (c.allow_credentials) out.mutable_allow_credentials()->set_value(*c.allow_credentials);
  out.mutable_forward_not_matching_preflights()->set_value(c.forward_unmatched_preflights);
  pack((*r->mutable_typed_per_filter_config())["envoy.filters.http.cors"], out);
}

void addRoutes(const MeshModel& model, const ProxyInfo& proxy, const VirtualService& vs, uint32_t port,
               rv3::VirtualHost* vh) {
  for (const auto& hr : vs.http) {
    std::vector<const HttpMatch*> matches;
    for (const auto& m : hr.match) matches.push_back(&m);
    if (matches.empty()) matches.push_back(nullptr);
    for (const HttpMatch* m : matches) {
      if (m && m->port && m->port != port) continue;
      if (m && !m->source_labels.empty() && !sourceMatches(m->source_labels, proxy)) continue;
      auto* r = vh->add_routes();
      r->set_name(hr.name.empty() ? (m && !m->name.empty() ? m->name : "") : hr.name);
      auto* rm = r->mutable_match();
      if (m && m->uri) {
        switch (m->uri->kind) {
          case StringMatch::Kind::Exact:
            rm->set_path(m->uri->value);
            break;
          case StringMatch::Kind::Prefix:
            rm->set_prefix(m->uri->value);
            break;
          case StringMatch::Kind::Regex:
            rm->mutable_safe_regex()->set_regex(m->uri->value);
            break;
          case StringMatch::Kind::Present:  // `uri: {}`: every path
            rm->set_prefix("/");
            break;
        }
      } else {
        rm->set_prefix("/");
      }
      if (m) {
        if (m->ignore_uri_case) rm->mutable_case_sensitive()->set_value(false);
        for (const auto& [name, sm] : m->headers) addHeaderMatch(rm, name, sm, false);
        for (const auto& [name, sm] : m->without_headers) addHeaderMatch(rm, name, sm, true);
        if (m->method) addHeaderMatch(rm, ":method", *m->method, false);
        if (m->authority) addHeaderMatch(rm, ":authority", *m->authority, false);
        for (const auto& [name, sm] : m->query_params) {
          auto* q = rm->add_query_parameters();
          q->set_name(name);
          if (sm.kind == StringMatch::Kind::Present)
            q->set_present_match(true);
          else
            setStringMatcher(sm, q->mutable_string_match());
        }
      }
      setAction(model, proxy, hr, vs.meta.ns, port, m, r);
      if (hr.fault) applyFault(*hr.fault, r);
      if (hr.cors) applyCors(*hr.cors, r);
      applyHeaderOps(hr.request_headers, r, true);
      applyHeaderOps(hr.response_headers, r, false);
    }
  }
}

}  // namespace

// One virtual host per service port: its names, and either its VirtualService's routes or a
// default route to outbound|PORT||HOST.
rv3::VirtualHost buildVirtualHost(const MeshModel& model, const ProxyInfo& proxy, const MeshService& svc,
                                  const MeshPort& port, std::set<std::string>& used_domains) {
  rv3::VirtualHost vh;
  std::string p = std::to_string(port.port);
  vh.set_name(svc.hostname + ":" + p);
  std::vector<std::string> names = {svc.hostname};
  if (!svc.name.empty()) {
    names.push_back(svc.name + "." + svc.ns);
    names.push_back(svc.name + "." + svc.ns + ".svc");
    if (svc.ns == proxy.ns) names.push_back(svc.name);  // short names only resolve in-namespace
  }
  if (!svc.vip.empty()) names.push_back(svc.vip);
  for (const auto& n : names) {
    for (const std::string& d : {n, n + ":" + p}) {
      if (used_domains.insert(d).second) vh.add_domains(d);
    }
  }
  if (const VirtualService* vs = model.virtualServiceFor(svc.hostname, proxy.ns)) {
    addRoutes(model, proxy, *vs, port.port, &vh);
  } else {
    auto* r = vh.add_routes();
    r->set_name("default");
    r->mutable_match()->set_prefix("/");
    r->mutable_route()->set_cluster(ClusterName{"outbound", port.port, "", svc.hostname}.str());
    r->mutable_route()->mutable_timeout()->set_seconds(0);
    // Istio's hashForService: the rule's consistentHash applies to the default route too.
    auto ch = consistentHashFor(model, proxy, svc.hostname, "", port.port);
    setRetryPolicy(nullptr, r->mutable_route(), ch.has_value());
    addHashPolicy(ch, r->mutable_route());
  }
  // Istio names each route's span after the service: "<host>:<port>/*".
  for (auto& r : *vh.mutable_routes()) r.mutable_decorator()->set_operation(routeOperation(svc.hostname, port.port));
  return vh;
}

ResourceMap generateRoutes(const MeshModel& model, const ProxyInfo& proxy, const std::vector<std::string>& names) {
  ResourceMap out;
  auto visible = visibleServices(model, proxy);
  for (const auto& name : names) {
    rv3::RouteConfiguration rc;
    rc.set_name(name);
    rc.mutable_validate_clusters()->set_value(false);
    std::set<std::string> used;
    auto colon = name.rfind(':');
    bool numeric = !name.empty() && name.size() <= 5 && name.find_first_not_of("0123456789") == std::string::npos;
    if (numeric) {
      uint32_t port = static_cast<uint32_t>(std::stoul(name));
      for (const MeshService* svc : visible) {
        const MeshPort* mp = svc->port(port);
        if (mp && isHttp(mp->protocol)) *rc.add_virtual_hosts() = buildVirtualHost(model, proxy, *svc, *mp, used);
      }
    } else if (colon != std::string::npos) {
      const MeshService* svc = nullptr;
      const MeshPort* mp = servicePortByName(model, name, &svc);
      if (mp == nullptr) continue;
      auto vh = buildVirtualHost(model, proxy, *svc, *mp, used);
      vh.add_domains("*");  // proxyless clients dial the listener's own name
      *rc.add_virtual_hosts() = vh;
    } else {
      continue;
    }
    pack(out[name], rc);
  }
  return out;
}

}  // namespace weft::control::xds
