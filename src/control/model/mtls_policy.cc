#include "control/model/mtls_policy.h"

namespace weft::control {

namespace {

bool selects(const Labels& selector, const Labels& labels) {
  for (const auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

// The first by name of the policies `pick` accepts.
template <typename Pred>
const PeerAuthentication* first(const std::vector<PeerAuthentication>& all, Pred pick) {
  const PeerAuthentication* best = nullptr;
  for (const auto& p : all)
    if (pick(p) && (!best || p.meta.name < best->meta.name)) best = &p;
  return best;
}

}  // namespace

MtlsPolicy effectiveMtls(const std::vector<PeerAuthentication>& all, const std::string& root_namespace,
                         const std::string& ns, const Labels& labels) {
  MtlsPolicy out;
  auto apply = [&](const PeerAuthentication* p) {
    if (p && p->mode != MtlsMode::Unset) out.mode = p->mode;
  };
  apply(first(all, [&](const PeerAuthentication& p) { return p.meta.ns == root_namespace && p.selector.empty(); }));
  if (ns != root_namespace)
    apply(first(all, [&](const PeerAuthentication& p) { return p.meta.ns == ns && p.selector.empty(); }));
  const PeerAuthentication* workload = first(all, [&](const PeerAuthentication& p) {
    return p.meta.ns == ns && !p.selector.empty() && selects(p.selector, labels);
  });
  apply(workload);
  if (workload) {
    for (const auto& [port, mode] : workload->port_modes) out.ports[port] = mode == MtlsMode::Unset ? out.mode : mode;
  }
  return out;
}

}  // namespace weft::control
