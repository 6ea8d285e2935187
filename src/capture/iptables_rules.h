#pragma once
// The nat-table rules istio-iptables installs (REDIRECT mode, IPv4): chains ISTIO_INBOUND,
// ISTIO_REDIRECT, ISTIO_IN_REDIRECT and ISTIO_OUTPUT, in istio-iptables' order, as
// iptables-restore input; and how to merge them into (or strip them from) a saved nat table
// so one iptables-restore replaces the table atomically, however often it runs.
#include <string>
#include <vector>

#include "capture/capture_config.h"

namespace weft::capture {

// The chains weft-iptables owns (created, flushed and deleted by it).
const std::vector<std::string>& ownedChains();

// The rules alone ("* nat", -N lines, -A lines, "COMMIT"): what --dry-run prints.
std::string renderRules(const CaptureConfig& c);

// `saved_nat` is `iptables-save -t nat` output. Returns a whole nat table for iptables-restore:
// everything that was there except weft's chains and jumps to them, plus `c`'s rules (none
// when `c` is null: the clean-up).
std::string mergeIntoNatTable(const std::string& saved_nat, const CaptureConfig* c);

}  // namespace weft::capture
