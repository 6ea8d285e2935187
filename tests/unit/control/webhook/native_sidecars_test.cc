// Istio's ENABLE_NATIVE_SIDECARS=auto: native sidecars where every kubelet is 1.33+.
#include "control/webhook/native_sidecars.h"

#include <gtest/gtest.h>

namespace weft::control::webhook {
namespace {

TEST(NativeSidecarsTest, KubeletOneThirtyThreeOrLater) {
  for (const char* yes : {"v1.33.0", "v1.33.1-gke.1000", "v1.34.2", "1.40.0", "v2.0.0"})
    EXPECT_TRUE(kubeletSupportsNativeSidecars(yes)) << yes;
  for (const char* no : {"v1.32.9", "v1.28.3+k3s1", "", "v1", "banana", "v1.x"})
    EXPECT_FALSE(kubeletSupportsNativeSidecars(no)) << no;
  Node a, b;
  a.meta.name = "a";
  a.kubelet_version = "v1.33.2";
  b.meta.name = "b";
  b.kubelet_version = "v1.31.0";
  EXPECT_TRUE(nativeSidecarsEverywhere({a}));
  EXPECT_FALSE(nativeSidecarsEverywhere({a, b}));  // a mixed cluster: not native (Istio's choice)
  EXPECT_TRUE(nativeSidecarsEverywhere({}));
}

}  // namespace
}  // namespace weft::control::webhook
