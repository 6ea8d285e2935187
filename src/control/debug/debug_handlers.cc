#include "control/debug/debug_handlers.h"

#include <nlohmann/json.hpp>

#include "control/xds/generator.h"

namespace weft::control {

using weft::http::AdminRequest;
using weft::http::AdminResponse;

namespace {
std::string shortType(const std::string& url) {
  if (url == xds::kClusterType) return "cds";
  if (url == xds::kEndpointType) return "eds";
  if (url == xds::kListenerType) return "lds";
  if (url == xds::kRouteType) return "rds";
  return url;
}
nlohmann::json sourceJson(const SourceRef& s) {
  return {{"file", s.file}, {"document", s.document}, {"kind", s.kind}, {"namespace", s.ns}, {"name", s.name}};
}
}  // namespace

std::string describeRejected(const ConfigSnapshot& config) {
  std::string out;
  for (const auto& r : config.rejected) {
    out += r.source.file + "#" + std::to_string(r.source.document) + " " +
           (r.source.kind.empty() ? "?" : r.source.kind) + " " + r.source.ns + "/" + r.source.name + ": ";
    for (size_t i = 0; i < r.errors.size(); ++i) out += (i ? "; " : "") + r.errors[i];
    out += "\n";
  }
  return out;
}

void addDebugHandlers(weft::http::AdminServer& server, DebugState& state) {
  server.add("/ready", "200 once weftd serves xDS", false, [&state](const AdminRequest&) {
    bool ok = state.ready.load();
    return AdminResponse{ok ? 200 : 503, "text/plain", ok ? "ready\n" : "not ready\n"};
  });
  server.add("/debug/syncz", "each connected proxy: per type sent and ACKed versions, last NACK", false,
             [&state](const AdminRequest&) {
               nlohmann::json arr = nlohmann::json::array();
               for (const auto& s : state.ads->status()) {
                 nlohmann::json types = nlohmann::json::object();
                 for (const auto& t : s.types) {
                   std::string status = t.sent_version.empty()              ? "NOT SENT"
                                        : t.acked_version == t.sent_version ? "SYNCED"
                                                                            : "STALE";
                   types[shortType(t.type_url)] = {{"sent", t.sent_version}, {"acked", t.acked_version},
                                                   {"status", status},       {"resources", t.resources},
                                                   {"subscribed", t.names},  {"last_nack", t.nack}};
                 }
                 arr.push_back({{"proxy", s.node_id}, {"stream", s.id}, {"peer", s.peer}, {"types", types}});
               }
               return AdminResponse{200, "application/json", arr.dump(2) + "\n"};
             });
  server.add("/debug/configz", "the accepted config and the rejected resources with reasons", false,
             [&state](const AdminRequest&) {
               auto config = state.config.load();
               nlohmann::json accepted = nlohmann::json::array(), rejected = nlohmann::json::array();
               if (config) {
                 for (const auto& a : config->accepted) accepted.push_back(sourceJson(a));
                 for (const auto& r : config->rejected) {
                   auto j = sourceJson(r.source);
                   j["errors"] = r.errors;
                   rejected.push_back(j);
                 }
               }
               nlohmann::json out = {{"accepted", accepted}, {"rejected", rejected}};
               return AdminResponse{200, "application/json", out.dump(2) + "\n"};
             });
  server.add("/metrics", "Prometheus metrics (Pilot's names)", false, [&state](const AdminRequest&) {
    std::string body = state.ads->metrics().prometheus();
    if (state.ca_metrics) body += state.ca_metrics();
    if (state.kube_metrics) body += state.kube_metrics();
    auto config = state.config.load();
    body += "# TYPE weftd_config_resources gauge\n";
    body += "weftd_config_resources{state=\"accepted\"} " + std::to_string(config ? config->accepted.size() : 0) + "\n";
    body += "weftd_config_resources{state=\"rejected\"} " + std::to_string(config ? config->rejected.size() : 0) + "\n";
    body += "# TYPE weftd_config_reloads counter\nweftd_config_reloads " + std::to_string(state.config_reloads.load()) +
            "\n";
    return AdminResponse{200, "text/plain; version=0.0.4", body};
  });
}

}  // namespace weft::control
