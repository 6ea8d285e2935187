// ConfigSnapshot: multi-document files, accepted resources by kind with their source, rejected
// ones with file, document index, kind, namespace, name and reasons; one bad resource never
// takes others with it, a YAML syntax error leaves out the whole file.
#include "control/config/config_snapshot.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "control/control_test_support.h"

namespace weft::control {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using testing::rejectedText;
using testing::snapshotFrom;
using ::testing::StartsWith;

constexpr const char* kOneOfEach = R"(
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: bookinfo}
spec:
  ports: [{name: http, port: 9080}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: reviews, namespace: bookinfo}
subsets:
- addresses: [{ip: 10.1.0.1, targetRef: {kind: Pod, name: reviews-v1}}]
  ports: [{name: http, port: 9080}]
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v1, namespace: bookinfo, labels: {app: reviews}}
status: {podIP: 10.1.0.1}
---
apiVersion: v1
kind: Namespace
metadata: {name: bookinfo}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: bookinfo}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews, namespace: bookinfo}
spec:
  host: reviews
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1alpha3
kind: ServiceEntry
metadata: {name: ext, namespace: bookinfo}
spec:
  hosts: [api.example.com]
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm, namespace: bookinfo}
spec: {address: 10.5.0.1, labels: {app: reviews}}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: bookinfo}
spec:
  egress: [{hosts: ["./*"]}]
)";

TEST(ConfigSnapshotTest, MultiDocumentAcceptedByKind) {
  ConfigSnapshot snap = snapshotFrom(kOneOfEach);
  ASSERT_THAT(snap.rejected, IsEmpty()) << rejectedText(snap);
  EXPECT_EQ(snap.services.size(), 1u);
  EXPECT_EQ(snap.endpoints.size(), 1u);
  EXPECT_EQ(snap.pods.size(), 1u);
  EXPECT_EQ(snap.namespaces.size(), 1u);
  EXPECT_EQ(snap.virtual_services.size(), 1u);
  EXPECT_EQ(snap.destination_rules.size(), 1u);
  EXPECT_EQ(snap.service_entries.size(), 1u);
  EXPECT_EQ(snap.workload_entries.size(), 1u);
  EXPECT_EQ(snap.sidecars.size(), 1u);
  ASSERT_EQ(snap.accepted.size(), 9u);
  std::vector<std::string> kinds;
  for (size_t i = 0; i < snap.accepted.size(); ++i) {
    EXPECT_EQ(snap.accepted[i].file, "f.yaml");
    EXPECT_EQ(snap.accepted[i].document, i);
    if (snap.accepted[i].kind != "Namespace") {
      EXPECT_EQ(snap.accepted[i].ns, "bookinfo") << snap.accepted[i].kind;
    }
    kinds.push_back(snap.accepted[i].kind);
  }
  EXPECT_THAT(kinds, ElementsAre("Service", "Endpoints", "Pod", "Namespace", "VirtualService", "DestinationRule",
                                 "ServiceEntry", "WorkloadEntry", "Sidecar"));
  EXPECT_EQ(snap.accepted[4].name, "reviews");
  EXPECT_EQ(snap.pods[0].ip, "10.1.0.1");
  EXPECT_EQ(snap.pods[0].service_account, "default");
  EXPECT_EQ(snap.endpoints[0].subsets[0].addresses[0].pod, "reviews-v1");
  EXPECT_THAT(snap.sidecars[0].egress_hosts, ElementsAre("./*"));
}

TEST(ConfigSnapshotTest, NamespaceDefaultsToDefault) {
  ConfigSnapshot snap = snapshotFrom(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
---
apiVersion: v1
kind: Service
metadata: {name: reviews}
spec: {ports: [{name: http, port: 80}]}
)");
  ASSERT_THAT(snap.rejected, IsEmpty()) << rejectedText(snap);
  ASSERT_EQ(snap.accepted.size(), 2u);
  EXPECT_EQ(snap.accepted[0].ns, "default");
  EXPECT_EQ(snap.accepted[1].ns, "default");
  EXPECT_EQ(snap.virtual_services[0].meta.ns, "default");
  EXPECT_EQ(snap.services[0].meta.ns, "default");

  // A rejected resource without a namespace is reported in "default" too.
  ConfigSnapshot bad = snapshotFrom("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {}\n");
  ASSERT_EQ(bad.rejected.size(), 1u);
  EXPECT_EQ(bad.rejected[0].source.ns, "default");
}

TEST(ConfigSnapshotTest, OneBadResourceDoesNotAffectTheOthers) {
  ConfigSnapshot snap = snapshotFrom(R"(
apiVersion: v1
kind: Service
metadata: {name: a}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: b}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a, namespace: ns1}
spec:
  hosts: [a]
  http:
  - route:
    - destination: {host: a}
      weight: -1
    - destination: {host: b}
      weight: 50
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: a}
spec: {host: a}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: b}
spec:
  hosts: [b]
  http:
  - route:
    - destination: {host: b}
)",
                                     "mesh.yaml");
  EXPECT_EQ(snap.accepted.size(), 4u);
  EXPECT_EQ(snap.services.size(), 2u);
  EXPECT_EQ(snap.destination_rules.size(), 1u);
  ASSERT_EQ(snap.virtual_services.size(), 1u);
  EXPECT_EQ(snap.virtual_services[0].meta.name, "b");
  std::vector<size_t> docs;
  for (const auto& a : snap.accepted) docs.push_back(a.document);
  EXPECT_THAT(docs, ElementsAre(0u, 1u, 3u, 4u));
  ASSERT_EQ(snap.rejected.size(), 1u);
  const Rejected& r = snap.rejected[0];
  EXPECT_EQ(r.source.file, "mesh.yaml");
  EXPECT_EQ(r.source.document, 2u);
  EXPECT_EQ(r.source.kind, "VirtualService");
  EXPECT_EQ(r.source.ns, "ns1");
  EXPECT_EQ(r.source.name, "a");
  EXPECT_THAT(r.errors, ElementsAre("spec.http[0].route[0].weight: must be >= 0, got -1"));
}

TEST(ConfigSnapshotTest, EmptyDocumentsKeepDocumentIndexes) {
  ConfigSnapshot snap = snapshotFrom(
      "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n---\n"
      "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n---\n");
  ASSERT_THAT(snap.rejected, IsEmpty()) << rejectedText(snap);
  ASSERT_EQ(snap.accepted.size(), 2u);
  EXPECT_EQ(snap.accepted[0].document, 0u);
  EXPECT_EQ(snap.accepted[1].document, 2u);
}

TEST(ConfigSnapshotTest, YamlSyntaxErrorRejectsTheWholeFileWithLine) {
  // Line 7 (1-based) is the broken one; the Service before it is valid but the file is one unit.
  const std::string text =
      "apiVersion: v1\n"                           // 1
      "kind: Service\n"                            // 2
      "metadata: {name: a}\n"                      // 3
      "spec: {ports: [{name: http, port: 80}]}\n"  // 4
      "---\n"                                      // 5
      "apiVersion: v1\n"                           // 6
      "kind: Service: Broken\n"                    // 7
      "metadata: {name: b}\n";                     // 8
  ConfigSnapshot snap = snapshotFrom(text, "broken.yaml");
  EXPECT_THAT(snap.accepted, IsEmpty());
  EXPECT_THAT(snap.services, IsEmpty());
  ASSERT_EQ(snap.rejected.size(), 1u);
  const Rejected& r = snap.rejected[0];
  EXPECT_EQ(r.source.file, "broken.yaml");
  EXPECT_EQ(r.source.document, 0u);
  EXPECT_EQ(r.source.kind, "");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0], StartsWith("YAML error at line 7, column "));
  EXPECT_THAT(r.errors[0], HasSubstr("(the whole file is left out)"));

  ConfigSnapshot unclosed = snapshotFrom("apiVersion: v1\nkind: Service\nmetadata: {name: a\n", "u.yaml");
  ASSERT_EQ(unclosed.rejected.size(), 1u);
  EXPECT_THAT(unclosed.rejected[0].errors[0], StartsWith("YAML error at line "));
  EXPECT_THAT(unclosed.accepted, IsEmpty());
}

TEST(ConfigSnapshotTest, YamlErrorInOneFileLeavesOtherFilesAlone) {
  ConfigSnapshot snap;
  addDocuments("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n", "good.yaml", snap);
  addDocuments("kind: [unclosed\n", "bad.yaml", snap);
  addDocuments("apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n", "good2.yaml", snap);
  ASSERT_EQ(snap.accepted.size(), 2u);
  EXPECT_EQ(snap.accepted[0].file, "good.yaml");
  EXPECT_EQ(snap.accepted[1].file, "good2.yaml");
  ASSERT_EQ(snap.rejected.size(), 1u);
  EXPECT_EQ(snap.rejected[0].source.file, "bad.yaml");
}

TEST(ConfigSnapshotTest, DuplicateNameLaterIsRejected) {
  ConfigSnapshot snap;
  addDocuments(R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: bookinfo}
spec: {host: reviews}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: other}
spec: {host: reviews}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: bookinfo}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
)",
               "a.yaml", snap);
  addDocuments(R"(
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews, namespace: bookinfo}
spec: {host: ratings}
)",
               "b.yaml", snap);
  EXPECT_EQ(snap.accepted.size(), 3u);
  ASSERT_EQ(snap.destination_rules.size(), 2u);
  EXPECT_EQ(snap.destination_rules[0].host, "reviews");  // the first definition stays
  ASSERT_EQ(snap.rejected.size(), 1u);
  const Rejected& r = snap.rejected[0];
  EXPECT_EQ(r.source.file, "b.yaml");
  EXPECT_EQ(r.source.document, 0u);
  EXPECT_EQ(r.source.kind, "DestinationRule");
  EXPECT_EQ(r.source.ns, "bookinfo");
  EXPECT_EQ(r.source.name, "reviews");
  EXPECT_THAT(r.errors, ElementsAre("a DestinationRule named bookinfo/reviews was already defined earlier"));
}

TEST(ConfigSnapshotTest, LoadConfigDirReadsYamlFilesSorted) {
  auto dir = std::filesystem::temp_directory_path() / ("weft_control_test_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& text) { std::ofstream(dir / name) << text; };
  write("b.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n");
  write("a.yml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n");
  write("c.json", R"({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "c"}})");
  write("d.txt", "apiVersion: v1\nkind: Namespace\nmetadata: {name: d}\n");
  write("e.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n");  // duplicate of a.yml
  ConfigSnapshot snap = loadConfigDir(dir.string());
  std::vector<std::string> names;
  for (const auto& a : snap.accepted) names.push_back(a.name);
  EXPECT_THAT(names, ElementsAre("a", "b", "c"));
  ASSERT_EQ(snap.rejected.size(), 1u);
  EXPECT_EQ(snap.rejected[0].source.file, (dir / "e.yaml").string());

  ConfigSnapshot missing = loadConfigDir((dir / "nope").string());
  ASSERT_EQ(missing.rejected.size(), 1u);
  EXPECT_THAT(missing.rejected[0].errors[0], StartsWith("cannot read the config directory"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace weft::control
