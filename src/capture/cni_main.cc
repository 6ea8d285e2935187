// weft-cni: the chained CNI plugin binary. The runtime passes the call in the environment and
// on stdin; the result (or the error object) goes to stdout, the log to stderr.
#include <cstdio>
#include <iostream>
#include <iterator>

#include "capture/cni_plugin.h"
#include "capture/iptables_apply.h"

extern char** environ;

int main() {
  weft::capture::CniCall call;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos && kv.rfind("CNI_", 0) == 0) call.env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  if (call.env["CNI_COMMAND"] != "VERSION") {
    call.stdin_json.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  weft::capture::CniActions actions{[](const weft::capture::CaptureConfig* c, const std::string& netns) {
                                      return weft::capture::applyRules(c, netns);
                                    },
                                    [](const weft::capture::CaptureConfig& c, const std::string& netns) {
                                      return weft::capture::checkRules(c, netns);
                                    }};
  auto out = weft::capture::runCni(call, actions);
  if (!out.log.empty()) std::fprintf(stderr, "%s\n", out.log.c_str());
  if (!out.stdout_json.empty()) std::printf("%s\n", out.stdout_json.c_str());
  return out.exit_code;
}
