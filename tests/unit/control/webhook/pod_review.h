#pragma once
// An AdmissionReview for a pod's CREATE in namespace "shop", as kube-apiserver sends it to /inject.
#include <nlohmann/json.hpp>

namespace weft::control::webhook {

inline nlohmann::json podReview(const nlohmann::json& pod) {
  return {{"apiVersion", "admission.k8s.io/v1"},
          {"kind", "AdmissionReview"},
          {"request",
           {{"uid", "a7d6c5b4-0000-4000-8000-000000000001"},
            {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
            {"resource", {{"group", ""}, {"version", "v1"}, {"resource", "pods"}}},
            {"namespace", "shop"},
            {"operation", "CREATE"},
            {"object", pod},
            {"dryRun", false}}}};
}

}  // namespace weft::control::webhook
