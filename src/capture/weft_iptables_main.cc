// weft-iptables: installs the sidecar capture rules (istio-iptables' flags and rules) in this
// network namespace, or in --netns. --dry-run prints them; --cleanup removes them.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "capture/capture_config.h"
#include "capture/iptables_apply.h"
#include "capture/iptables_rules.h"

int main(int argc, char** argv) {
  using weft::capture::splitList;
  CLI::App app{"weft-iptables: redirect a workload's TCP traffic to its sidecar (istio-iptables compatible)"};
  weft::capture::CaptureConfig c;
  std::string uids = "1337", gids, mode = "REDIRECT", include_ips = "*", exclude_ips, inbound_ports = "*",
              exclude_inbound, exclude_outbound, include_outbound, netns;
  bool dry_run = false, cleanup = false;
  app.add_option("-p,--envoy-port", c.proxy_port, "port outbound traffic is redirected to")->capture_default_str();
  app.add_option("-z,--inbound-capture-port", c.inbound_port, "port inbound traffic is redirected to")
      ->capture_default_str();
  app.add_option("-u,--proxy-uid", uids, "uids whose traffic is not captured (the proxy's)")->capture_default_str();
  app.add_option("-g,--proxy-gid", gids, "gids whose traffic is not captured (default: -u)");
  app.add_option("-m,--istio-inbound-interception-mode", mode, "REDIRECT")->capture_default_str();
  app.add_option("-i,--istio-service-cidr", include_ips, "outbound CIDRs to capture, or *")->capture_default_str();
  app.add_option("-x,--istio-service-exclude-cidr", exclude_ips, "outbound CIDRs never captured");
  app.add_option("-b,--istio-inbound-ports", inbound_ports, "inbound ports to capture, or *")->capture_default_str();
  app.add_option("-d,--istio-local-exclude-ports", exclude_inbound, "inbound ports not captured (with -b *)");
  app.add_option("-o,--istio-local-outbound-ports-exclude", exclude_outbound, "outbound ports not captured");
  app.add_option("-q,--istio-include-outbound-ports", include_outbound, "outbound ports always captured");
  app.add_option("--inbound-tunnel-port", c.inbound_tunnel_port, "inbound port never captured")->capture_default_str();
  app.add_option("--netns", netns, "network namespace file to act in (default: this one)");
  app.add_flag("-n,--dry-run", dry_run, "print the rules instead of installing them");
  app.add_flag("--cleanup,--cleanup-only", cleanup, "remove the rules (and nothing else)");
  CLI11_PARSE(app, argc, argv);

  c.uids = splitList(uids);
  c.gids = gids.empty() ? c.uids : splitList(gids);
  c.mode = mode;
  c.include_ips = splitList(include_ips);
  c.exclude_ips = splitList(exclude_ips);
  c.include_inbound_ports = splitList(inbound_ports);
  c.exclude_inbound_ports = splitList(exclude_inbound);
  c.exclude_outbound_ports = splitList(exclude_outbound);
  c.include_outbound_ports = splitList(include_outbound);
  if (!cleanup) {
    if (auto err = weft::capture::validate(c)) {
      std::fprintf(stderr, "weft-iptables: %s\n", err->c_str());
      return 2;
    }
  }
  if (dry_run) {
    if (cleanup) {
      std::cout << "# would remove chains";
      for (const auto& ch : weft::capture::ownedChains()) std::cout << " " << ch;
      std::cout << " and the PREROUTING/OUTPUT jumps to them (nat table)\n";
    } else {
      std::cout << weft::capture::renderRules(c);
    }
    return 0;
  }
  if (auto err = weft::capture::applyRules(cleanup ? nullptr : &c, netns)) {
    std::fprintf(stderr, "weft-iptables: %s\n", err->c_str());
    return 1;
  }
  std::fprintf(stderr, "weft-iptables: %s\n", cleanup ? "capture rules removed" : "capture rules installed");
  return 0;
}
