#include "capture/iptables_apply.h"

#include "capture/iptables_rules.h"
#include "capture/run_command.h"

namespace weft::capture {

namespace {

std::optional<std::string> saveNat(const std::string& netns, std::string& out) {
  CommandResult save = runCommand({"iptables-save", "-t", "nat"}, {}, netns);
  if (save.exit_code != 0) {
    return "iptables-save -t nat failed (exit " + std::to_string(save.exit_code) + "): " + save.err;
  }
  out = std::move(save.out);
  return std::nullopt;
}

}  // namespace

std::optional<std::string> applyRules(const CaptureConfig* config, const std::string& netns) {
  std::string saved;
  if (auto e = saveNat(netns, saved)) return e;
  std::string table = mergeIntoNatTable(saved, config);
  CommandResult restore = runCommand({"iptables-restore", "-w", "30"}, table, netns);
  if (restore.exit_code != 0) {
    return "iptables-restore failed (exit " + std::to_string(restore.exit_code) + "): " + restore.err +
           "\n--- input ---\n" + table;
  }
  return std::nullopt;
}

std::optional<std::string> checkRules(const CaptureConfig& config, const std::string& netns) {
  std::string saved;
  if (auto e = saveNat(netns, saved)) return e;
  // iptables-save prints rules in its own canonical form (match order, "-m tcp"), so the
  // comparison is by count: each of weft's chains, and the jumps from the built-in chains.
  std::string want = renderRules(config);
  auto count = [](const std::string& table, const std::string& prefix, const std::string& needle) {
    size_t n = 0, pos = 0;
    while (pos < table.size()) {
      size_t nl = table.find('\n', pos);
      std::string line = table.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      pos = nl == std::string::npos ? table.size() : nl + 1;
      if (line.rfind(prefix, 0) == 0 && line.find(needle) != std::string::npos) ++n;
    }
    return n;
  };
  for (const auto& ch : ownedChains()) {
    size_t w = count(want, "-A " + ch + " ", ""), h = count(saved, "-A " + ch + " ", "");
    if (w != h) {
      return "nat chain " + ch + " has " + std::to_string(h) + " rules, expected " + std::to_string(w);
    }
  }
  for (const char* builtin : {"PREROUTING", "OUTPUT"}) {
    for (const auto& ch : ownedChains()) {
      size_t w = count(want, std::string("-A ") + builtin + " ", "-j " + ch);
      size_t h = count(saved, std::string("-A ") + builtin + " ", "-j " + ch);
      if (w != h) {
        return std::string("nat chain ") + builtin + " has " + std::to_string(h) + " jumps to " + ch + ", expected " +
               std::to_string(w);
      }
    }
  }
  return std::nullopt;
}

}  // namespace weft::capture
