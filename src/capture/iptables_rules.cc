#include "capture/iptables_rules.h"

#include <sstream>

namespace weft::capture {

namespace {

constexpr const char* kInbound = "ISTIO_INBOUND";
constexpr const char* kRedirect = "ISTIO_REDIRECT";
constexpr const char* kInRedirect = "ISTIO_IN_REDIRECT";
constexpr const char* kOutput = "ISTIO_OUTPUT";

struct Rules {
  std::vector<std::string> chains;  // -N, in first-use order
  std::vector<std::string> lines;   // -A ..., in order
  void chain(const char* name) {
    for (const auto& c : chains) {
      if (c == name) return;
    }
    chains.emplace_back(name);
  }
  void add(const std::string& rule) { lines.push_back("-A " + rule); }
};

bool isLoopbackCidr(const std::string& cidr) { return cidr.rfind("127.", 0) == 0; }

// istio-iptables' rule order (tools/istio-iptables/pkg/capture/run.go, 1.19-1.22).
Rules build(const CaptureConfig& c) {
  Rules r;
  for (const char* ch : {kInbound, kRedirect, kInRedirect, kOutput}) r.chain(ch);
  std::string tunnel = std::to_string(c.inbound_tunnel_port);
  r.add(std::string(kInbound) + " -p tcp --dport " + tunnel + " -j RETURN");
  r.add(std::string(kRedirect) + " -p tcp -j REDIRECT --to-ports " + std::to_string(c.proxy_port));
  r.add(std::string(kInRedirect) + " -p tcp -j REDIRECT --to-ports " + std::to_string(c.inbound_port));

  // Inbound: every port but the excluded ones, or just the listed ones.
  if (!c.include_inbound_ports.empty()) {
    r.add(std::string("PREROUTING -p tcp -j ") + kInbound);
    if (c.include_inbound_ports.size() == 1 && c.include_inbound_ports[0] == "*") {
      for (const auto& p : c.exclude_inbound_ports)
        r.add(std::string(kInbound) + " -p tcp --dport " + p + " -j RETURN");
      r.add(std::string(kInbound) + " -p tcp -j " + kInRedirect);
    } else {
      for (const auto& p : c.include_inbound_ports) {
        r.add(std::string(kInbound) + " -p tcp --dport " + p + " -j " + kInRedirect);
      }
    }
  }

  // Outbound.
  r.add(std::string("OUTPUT -p tcp -j ") + kOutput);
  for (const auto& p : c.exclude_outbound_ports) r.add(std::string(kOutput) + " -p tcp --dport " + p + " -j RETURN");
  // Traffic the proxy sends to an app over loopback from 127.0.0.6 (inbound passthrough).
  r.add(std::string(kOutput) + " -o lo -s 127.0.0.6/32 -j RETURN");
  bool loopback_included = false;
  for (const auto& ip : c.include_ips) loopback_included = loopback_included || isLoopbackCidr(ip);
  auto owner_block = [&](const char* kind, const std::string& id) {
    // The proxy calling its own pod IP: that is inbound traffic, into 15006.
    r.add(std::string(kOutput) + " -o lo ! -d 127.0.0.1/32 -p tcp ! --dport " + tunnel + " -m owner --" + kind +
          "-owner " + id + " -j " + kInRedirect);
    // The app talking to itself over loopback is not captured ...
    if (!loopback_included) r.add(std::string(kOutput) + " -o lo -m owner ! --" + kind + "-owner " + id + " -j RETURN");
    // ... nor is anything the proxy sends.
    r.add(std::string(kOutput) + " -m owner --" + kind + "-owner " + id + " -j RETURN");
  };
  for (const auto& u : c.uids) owner_block("uid", u);
  for (const auto& g : c.gids) owner_block("gid", g);
  r.add(std::string(kOutput) + " -d 127.0.0.1/32 -j RETURN");
  for (const auto& ip : c.exclude_ips) r.add(std::string(kOutput) + " -d " + ip + " -j RETURN");
  for (const auto& p : c.include_outbound_ports)
    r.add(std::string(kOutput) + " -p tcp --dport " + p + " -j " + kRedirect);
  if (c.include_ips.size() == 1 && c.include_ips[0] == "*") {
    r.add(std::string(kOutput) + " -j " + kRedirect);
  } else if (!c.include_ips.empty()) {
    for (const auto& ip : c.include_ips) r.add(std::string(kOutput) + " -d " + ip + " -j " + kRedirect);
    r.add(std::string(kOutput) + " -j RETURN");
  }
  return r;
}

bool mentionsOwnedChain(const std::string& line) {
  for (const auto& ch : ownedChains()) {
    // ":ISTIO_X ...", "-A ISTIO_X ...", "... -j ISTIO_X"
    if (line.rfind(":" + ch + " ", 0) == 0 || line.rfind("-A " + ch + " ", 0) == 0) return true;
    std::string jump = "-j " + ch;
    size_t at = line.find(jump);
    if (at != std::string::npos && (at + jump.size() == line.size() || line[at + jump.size()] == ' ')) return true;
  }
  return false;
}

}  // namespace

const std::vector<std::string>& ownedChains() {
  static const std::vector<std::string> chains = {kInbound, kRedirect, kInRedirect, kOutput};
  return chains;
}

std::string renderRules(const CaptureConfig& c) {
  Rules r = build(c);
  std::ostringstream out;
  out << "* nat\n";
  for (const auto& ch : r.chains) out << "-N " << ch << "\n";
  for (const auto& l : r.lines) out << l << "\n";
  out << "COMMIT\n";
  return out.str();
}

std::string mergeIntoNatTable(const std::string& saved_nat, const CaptureConfig* c) {
  std::vector<std::string> head;  // "*nat" and chain declarations
  std::vector<std::string> rules;
  bool in_nat = false;
  std::istringstream in(saved_nat);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line == "*nat") {
      in_nat = true;
      continue;
    }
    if (!in_nat) continue;
    if (line == "COMMIT") break;
    if (mentionsOwnedChain(line)) continue;
    if (line[0] == ':')
      head.push_back(line);
    else
      rules.push_back(line);
  }
  if (head.empty()) {
    // A namespace whose nat table was never touched: the built-in chains with ACCEPT.
    head = {":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]"};
  }
  std::ostringstream out;
  out << "*nat\n";
  for (const auto& h : head) out << h << "\n";
  if (c != nullptr) {
    Rules r = build(*c);
    for (const auto& ch : r.chains) out << ":" << ch << " - [0:0]\n";
    for (const auto& l : rules) out << l << "\n";
    for (const auto& l : r.lines) out << l << "\n";
  } else {
    for (const auto& l : rules) out << l << "\n";
  }
  out << "COMMIT\n";
  return out.str();
}

}  // namespace weft::capture
