#pragma once
// Istio's MergeTrafficPolicy: what a DestinationRule says for one port of one subset. The
// rule's fields, then its port-level settings for the port, then the subset's fields, then
// the subset's port-level settings: each replaces the one before, field by field.
#include <cstdint>
#include <string>

#include "control/config/kinds.h"

namespace weft::control {

TrafficPolicy effectiveTrafficPolicy(const DestinationRule* dr, const std::string& subset, uint32_t port);

}  // namespace weft::control
