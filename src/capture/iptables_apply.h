#pragma once
// Installs or removes the capture rules in the current (or a given) network namespace with
// one iptables-save and one iptables-restore: the nat table is replaced whole, so a run is
// atomic and running it again gives the same rules.
#include <optional>
#include <string>

#include "capture/capture_config.h"

namespace weft::capture {

// `config` null: remove weft's chains and the jumps to them. Returns an error message, or
// nothing on success.
std::optional<std::string> applyRules(const CaptureConfig* config, const std::string& netns = {});

// Whether the namespace has exactly the rules `config` asks for (CNI CHECK). Error message
// when not.
std::optional<std::string> checkRules(const CaptureConfig& config, const std::string& netns = {});

}  // namespace weft::capture
