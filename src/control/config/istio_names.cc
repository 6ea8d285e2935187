#include "control/config/istio_names.h"

#include <arpa/inet.h>
#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <set>

namespace weft::control::decode {

namespace {

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::optional<std::string> preconditions(std::string_view d) {
  if (d.size() > 255) return "domain name " + quoted(d) + " too long (max 255)";
  if (d.empty()) return "empty domain name not allowed";
  return std::nullopt;
}

// strconv.Atoi: an optional sign, then digits.
bool isInteger(std::string_view s) {
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<std::string> dns1123LabelsError(std::string_view d) {
  std::vector<std::string_view> parts;
  for (size_t at = 0;;) {
    size_t dot = d.find('.', at);
    parts.push_back(d.substr(at, dot == std::string_view::npos ? std::string_view::npos : dot - at));
    if (dot == std::string_view::npos) break;
    at = dot + 1;
  }
  std::string_view top = parts.back();
  if (isInteger(top))
    return "domain name " + quoted(d) + " invalid (top level domain " + quoted(top) + " cannot be all-numeric)";
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i == parts.size() - 1 && parts[i].empty()) break;  // a trailing dot
    if (!isIstioDnsLabel(parts[i]))
      return "domain name " + quoted(d) + " invalid (label " + quoted(parts[i]) + " invalid)";
  }
  return std::nullopt;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

bool isIstioDnsLabel(std::string_view s) {
  static const RE2 re("[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?");
  return s.size() <= 63 && RE2::FullMatch(s, re);
}

std::optional<std::string> wildcardDomainError(std::string_view d) {
  if (auto e = preconditions(d)) return e;
  size_t dot = d.find('.');
  std::string_view first = d.substr(0, dot);
  static const RE2 re("\\*|(?:\\*|\\*-)?[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?");
  if (first.size() > 63 || !RE2::FullMatch(first, re))
    return "domain name " + quoted(d) + " invalid (label " + quoted(first) + " invalid)";
  if (dot == std::string_view::npos) return std::nullopt;
  return dns1123LabelsError(d.substr(dot + 1));
}

std::optional<std::string> fqdnError(std::string_view d) {
  if (auto e = preconditions(d)) return e;
  return dns1123LabelsError(d);
}

std::optional<std::string> partialWildcardError(std::string_view h) {
  if (h.find('*') != std::string_view::npos && h.size() != 1 && h.substr(0, 2) != "*.")
    return "partial wildcard " + quoted(h) + " not allowed";
  return std::nullopt;
}

bool isIpAddress(std::string_view s) {
  unsigned char buf[16];
  std::string ip(s);
  if (inet_pton(AF_INET, ip.c_str(), buf) == 1) return true;
  if (size_t zone = ip.find('%'); zone != std::string::npos) {
    if (zone + 1 == ip.size()) return false;
    ip.resize(zone);
  }
  return ip.find(':') != std::string::npos && inet_pton(AF_INET6, ip.c_str(), buf) == 1;
}

std::optional<std::string> ipSubnetError(std::string_view s) {
  if (std::count(s.begin(), s.end(), '/') == 1) {
    size_t slash = s.find('/');
    std::string ip(s.substr(0, slash)), bits(s.substr(slash + 1));
    unsigned char buf[16];
    bool v4 = inet_pton(AF_INET, ip.c_str(), buf) == 1, v6 = !v4 && inet_pton(AF_INET6, ip.c_str(), buf) == 1;
    bool digits = !bits.empty() && bits.size() <= 3 &&
                  std::all_of(bits.begin(), bits.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
                  !(bits.size() > 1 && bits[0] == '0');
    if ((v4 || v6) && digits && std::atoi(bits.c_str()) <= (v4 ? 32 : 128)) return std::nullopt;
    return std::string(s) + " is not a valid CIDR block";
  }
  if (isIpAddress(s)) return std::nullopt;
  return std::string(s) + " is not a valid IP";
}

std::optional<std::string> unixAddressError(std::string_view path) {
  if (path.empty()) return "unix address must not be empty";
  if (path[0] == '@') return std::nullopt;  // an abstract socket
  if (path[0] != '/' || path.back() == '/') return std::string(path) + " is not an absolute path to a file";
  return std::nullopt;
}

std::optional<std::string> portNameError(std::string_view name) {
  if (isIstioDnsLabel(name)) return std::nullopt;
  return "invalid port name: " + std::string(name);
}

std::optional<std::string> portNumberError(int64_t n) {
  if (n >= 1 && n <= 65535) return std::nullopt;
  return "port number " + std::to_string(n) + " must be in the range 1..65535";
}

std::optional<std::string> protocolError(std::string_view p) {
  if (p.empty()) return std::nullopt;
  static const std::set<std::string> known = {"tcp",   "udp",   "grpc", "grpc-web", "http",  "http_proxy",
                                              "http2", "https", "tls",  "mongo",    "redis", "mysql"};
  if (known.count(lower(p))) return std::nullopt;
  return "unsupported protocol: " + std::string(p);
}

bool isHttpProtocol(std::string_view p) {
  std::string l = lower(p);
  return l == "http" || l == "http2" || l == "http_proxy" || l == "grpc" || l == "grpc-web";
}
bool isTlsProtocol(std::string_view p) {
  std::string l = lower(p);
  return l == "https" || l == "tls";
}
bool isTcpProtocol(std::string_view p) {
  std::string l = lower(p);
  return l == "tcp" || l == "https" || l == "tls" || l == "mongo" || l == "redis" || l == "mysql";
}

std::vector<std::string> labelErrors(const Labels& labels) {
  static const RE2 key_re(
      "((?:[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)(?:\\.[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)*/)?"
      "((?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])");
  static const RE2 value_re("((?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?");
  std::vector<std::string> out;
  for (const auto& [k, v] : labels) {
    std::string prefix, name;
    if (!RE2::FullMatch(k, key_re, &prefix, &name)) {
      out.push_back("invalid tag key: " + quoted(k));
    } else if (!prefix.empty() && prefix.size() - 1 > 253) {
      out.push_back("invalid tag key: " + quoted(k) + " (DNS prefix is too long)");
    } else if (name.size() > 63) {
      out.push_back("invalid tag key: " + quoted(k) + " (name is too long)");
    }
    if (!RE2::FullMatch(v, value_re)) out.push_back("invalid tag value: " + quoted(v));
  }
  return out;
}

std::vector<std::string> exportToErrors(const std::string& ns, const std::vector<std::string>& export_to,
                                        bool service_entry) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& e : export_to) {
    std::string key = e == "." ? ns : e;
    if (seen.count(key)) {
      out.push_back(key != e ? "duplicate entries in exportTo: . and current namespace " + ns
                             : "duplicate entries in exportTo for entry " + e);
      continue;
    }
    if (key == "~" && service_entry) {
      seen.insert(key);
    } else if (key == "~") {
      out.push_back("exportTo ~ (none) is not allowed for Istio configuration objects");
    } else if (key != "*" && !isIstioDnsLabel(key)) {
      out.push_back("only .,*, or a valid DNS 1123 label is allowed as exportTo entry");
    } else {
      seen.insert(key);
    }
  }
  if (seen.count("*") && export_to.size() > 1)
    out.push_back("cannot have both public (*) and non-public exportTo values for a resource");
  if (seen.count("~") && export_to.size() > 1) out.push_back("cannot export service entry to no one (~) and someone");
  return out;
}

}  // namespace weft::control::decode
