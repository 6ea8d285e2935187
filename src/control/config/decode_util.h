#pragma once
// The building blocks of every kind's decoder: typed reads of YAML fields that report errors
// with their field path ("spec.http[0].timeout: ..."), and the validations kinds share (host
// names, DNS labels, string matches, header operations, durations).
#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "control/config/kinds.h"

namespace weft::control::decode {

using Errors = std::vector<std::string>;

std::string join(const std::string& path, const std::string& key);
std::string idx(const std::string& path, size_t i);
// Reports keys of a map that the decoder does not implement.
void checkKeys(const YAML::Node& n, const std::string& path, std::initializer_list<const char*> known, Errors& errs,
               const char* what = "not supported by weftd");
bool expectMap(const YAML::Node& n, const std::string& path, Errors& errs);
// n[key], when n is a map; otherwise an empty node, and "path: must be a map" unless n is
// absent or null. Every typed read below goes through it, so a scalar where an object belongs
// is an error at its path, never an exception.
YAML::Node child(const YAML::Node& n, const std::string& key, const std::string& path, Errors& errs);
// n[key] when it is a list (resp. a map); an undefined node (false in a condition) when absent
// or null; an error otherwise.
YAML::Node seq(const YAML::Node& n, const std::string& key, const std::string& path, Errors& errs);
YAML::Node mapField(const YAML::Node& n, const std::string& key, const std::string& path, Errors& errs);
std::string str(const YAML::Node& n, const std::string& key, const std::string& path, Errors& errs);
std::optional<int64_t> integer(const YAML::Node& n, const std::string& key, const std::string& path, Errors& errs);
std::optional<bool> boolean(const YAML::Node& n, const std::string& key, const std::string& path, Errors& errs);
uint32_t port(const YAML::Node& n, const std::string& key, const std::string& path, Errors& errs, bool required);
std::vector<std::string> strings(const YAML::Node& n, const std::string& key, const std::string& path, Errors& errs);
Labels labels(const YAML::Node& n, const std::string& key, const std::string& path, Errors& errs);
// RFC 1123 label: what Kubernetes requires of names, and Istio of subset and port names.
bool isDnsLabel(const std::string& s);
// Istio host names: FQDN or short name, optionally with a leading "*." wildcard, or "*".
bool isValidHost(const std::string& h);
ObjectMeta meta(const YAML::Node& doc, Errors& errs);
// `{}` is a Present match; an empty prefix is an error unless `empty_prefix_ok` (a uri's).
std::optional<StringMatch> stringMatch(const YAML::Node& n, const std::string& path, Errors& errs,
                                       bool empty_prefix_ok = false);
std::map<std::string, StringMatch> stringMatchMap(const YAML::Node& n, const std::string& path, Errors& errs);
// `request`: the request's operations, which may set the authority (:authority / host).
HeaderOps headerOps(const YAML::Node& n, const std::string& path, Errors& errs, bool request);
void headers(const YAML::Node& n, const std::string& path, HeaderOps& req, HeaderOps& resp, Errors& errs);
// Durations as Istio reads them (Go's time.ParseDuration: "1h30m", "1.5s", "500ms", "250us").
std::optional<int64_t> goDurationNs(const std::string& s);
std::optional<int64_t> durationMs(const YAML::Node& n, const std::string& key, const std::string& path, Errors& errs);
// ... that also passes Istio's ValidateDuration: at least 1ms, whole milliseconds.
std::optional<int64_t> istioDurationMs(const YAML::Node& n, const std::string& key, const std::string& path,
                                       Errors& errs);
// Envoy's grammar for %VAR% / %VAR(...)% in a header value, as Istio checks it; nullopt when fine.
std::optional<std::string> headerValueGrammarError(const std::string& value);
// Istio's checks of a selector's labels (validateWorkloadSelector): no empty key, no '*'.
// `where(key)` is an error's prefix ("spec.selector.matchLabels[app]: "). False when one fails.
bool selectorLabelsValid(const Labels& labels, const std::function<std::string(const std::string&)>& where,
                         Errors& errs);
// spec.selector.matchLabels of a policy kind (empty: no selector, namespace- or mesh-wide).
// Istio's warning for a selector without labels goes to `warnings`.
Labels workloadSelector(const YAML::Node& spec, Errors& errs, std::vector<std::string>& warnings);
// spec.targetRef / spec.targetRefs of a policy kind, checked as Istio's validateOneOfSelectorType
// and validatePolicyTargetReference; then refused as weftd's limit (it attaches policies by
// selector only: gateways and waypoints come later).
void policyTargetRefs(const YAML::Node& spec, Errors& errs);
// A kind's `spec`, which must be a map; false (with the error) when it is missing or not one.
bool spec(const YAML::Node& doc, YAML::Node& out, Errors& errs);

}  // namespace weft::control::decode
