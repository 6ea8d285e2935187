#pragma once
// Runs a program (no shell) with some stdin text and collects its output: how weft-iptables
// drives iptables-save and iptables-restore. `netns`, when set, is a network namespace file
// (/run/netns/NAME or /proc/PID/ns/net) the program runs in.
#include <string>
#include <vector>

namespace weft::capture {

struct CommandResult {
  int exit_code = -1;  // -1: could not run it
  std::string out;
  std::string err;
};

CommandResult runCommand(const std::vector<std::string>& argv, const std::string& stdin_text = {},
                         const std::string& netns = {});

}  // namespace weft::capture
