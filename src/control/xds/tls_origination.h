#pragma once
// DestinationRule TLS modes SIMPLE and MUTUAL: the sidecar originates TLS with files from the
// workload's filesystem, as Istio's cluster_tls.go. A proxy with weft-agent (or pilot-agent)
// gets them over SDS as Istio's resource names "file-cert:CERT~KEY" and "file-root:CA" (the
// agent reads and watches the files; "file-root:system" is the system's roots); a proxy without
// one reads the files itself. No caCertificates means the system's roots; insecureSkipVerify
// means no verification at all. SNI is the rule's, or (HTTP) the request's host with its
// certificate checked against it (auto_sni / auto_san_validation).
#include "control/config/kinds.h"
#include "envoy/config/cluster/v3/cluster.pb.h"

namespace weft::control::xds {

// Where a proxy without an agent finds the system's roots (Debian's ca-certificates bundle).
extern const char* const kSystemRootsFile;

// Sets the cluster's transport socket (and auto SNI for HTTP clusters) for `tls`.
void applyTlsOrigination(const ClientTls& tls, bool http, bool http2, bool sds, envoy::config::cluster::v3::Cluster& c);

}  // namespace weft::control::xds
