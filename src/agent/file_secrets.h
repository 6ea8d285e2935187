#pragma once
// Istio's file secrets, served to the proxy over SDS beside the workload certificate: a
// DestinationRule's SIMPLE / MUTUAL TLS names files in the pod, and weftd asks the proxy for
// them by name: "file-cert:CERT~KEY" (a certificate chain and its private key) and
// "file-root:CA" (trusted roots; "file-root:system" is the system's bundle). Each read checks the
// PEM (the key must match the certificate) and caps the size, so a bad file is refused by name
// instead of reaching the proxy. A fingerprint (size, mtime, inode of each file) tells a watcher
// when to send a file again.
#include <optional>
#include <string>
#include <string_view>

#include "agent/sds_messages.h"

namespace weft::agent {

// Whether `name` is a well-formed file secret name.
bool isFileSecretName(std::string_view name);

struct FileSecret {
  SecretValue value;
  std::string fingerprint;
};

// Reads the secret `name`; nullopt with `error` naming the file and the problem.
std::optional<FileSecret> readFileSecret(const std::string& name, std::string& error);
// The files' fingerprint without reading them ("" when one cannot be stat'ed).
std::string fileSecretFingerprint(const std::string& name);

// The system's roots (Debian's ca-certificates bundle, or the first that exists of the usual
// places).
std::string systemRootsFile();

}  // namespace weft::agent
