#include "capture/capture_config.h"

#include <arpa/inet.h>

#include <cstdlib>

namespace weft::capture {

namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

bool isPort(const std::string& p) {
  if (p.empty() || p.size() > 5) return false;
  for (char c : p) {
    if (c < '0' || c > '9') return false;
  }
  int v = std::atoi(p.c_str());
  return v >= 1 && v <= 65535;
}

bool isIpv4Cidr(const std::string& s) {
  std::string ip = s;
  auto slash = s.find('/');
  if (slash != std::string::npos) {
    std::string len = s.substr(slash + 1);
    if (len.empty() || len.size() > 2) return false;
    for (char c : len) {
      if (c < '0' || c > '9') return false;
    }
    if (std::atoi(len.c_str()) > 32) return false;
    ip = s.substr(0, slash);
  }
  in_addr a;
  return inet_pton(AF_INET, ip.c_str(), &a) == 1;
}

bool isId(const std::string& s) {
  if (s.empty() || s.size() > 10) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::optional<std::string> checkPorts(const char* flag, const std::vector<std::string>& ports, bool star_ok) {
  for (const auto& p : ports) {
    if (star_ok && p == "*" && ports.size() == 1) continue;
    if (!isPort(p)) return std::string(flag) + ": '" + p + "' is not a port (1-65535)" + (star_ok ? " or '*'" : "");
  }
  return std::nullopt;
}

std::optional<std::string> checkCidrs(const char* flag, const std::vector<std::string>& cidrs, bool star_ok) {
  for (const auto& c : cidrs) {
    if (c == "*") {
      if (star_ok && cidrs.size() == 1) continue;
      return std::string(flag) + ": '*' is only valid alone" + (star_ok ? "" : " in -i");
    }
    if (c.find(':') != std::string::npos) {
      return std::string(flag) + ": '" + c + "' is IPv6; weft-iptables generates IPv4 rules only";
    }
    if (!isIpv4Cidr(c)) return std::string(flag) + ": '" + c + "' is not an IPv4 address or CIDR";
  }
  return std::nullopt;
}

}  // namespace

std::vector<std::string> splitList(const std::string& value) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = value.find(',', start);
    std::string part = trim(value.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (!part.empty()) out.push_back(part);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::optional<std::string> validate(const CaptureConfig& c) {
  if (c.mode != "REDIRECT") {
    return "-m: interception mode '" + c.mode + "' is not supported by weft-iptables (REDIRECT is; TPROXY is not yet)";
  }
  for (auto [flag, port] : {std::pair{"-p", c.proxy_port}, std::pair{"-z", c.inbound_port}}) {
    if (port < 1 || port > 65535) return std::string(flag) + ": " + std::to_string(port) + " is not a port (1-65535)";
  }
  if (c.uids.empty()) return std::string("-u: at least one uid is required");
  for (const auto& u : c.uids) {
    if (!isId(u)) return "-u: '" + u + "' is not a numeric uid";
  }
  for (const auto& g : c.gids) {
    if (!isId(g)) return "-g: '" + g + "' is not a numeric gid";
  }
  if (auto e = checkCidrs("-i", c.include_ips, true)) return e;
  if (auto e = checkCidrs("-x", c.exclude_ips, false)) return e;
  if (auto e = checkPorts("-b", c.include_inbound_ports, true)) return e;
  if (auto e = checkPorts("-d", c.exclude_inbound_ports, false)) return e;
  if (auto e = checkPorts("-o", c.exclude_outbound_ports, false)) return e;
  if (auto e = checkPorts("-q", c.include_outbound_ports, false)) return e;
  return std::nullopt;
}

}  // namespace weft::capture
