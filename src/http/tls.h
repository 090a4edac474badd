// The server's TLS certificate: a self-signed pair created on first start in the data
// directory, and SHA-256 fingerprints in the form `openssl x509 -fingerprint -sha256` prints.
// Thread-compatible: call from one thread at start-up.
#pragma once

#include <string>

#include "util/result.h"

namespace bg::http {

struct CertificateInfo {
  std::string cert_path;           // data_dir/tls.crt (PEM)
  std::string key_path;            // data_dir/tls.key (PEM, mode 0600)
  std::string sha256_fingerprint;  // "AB:CD:...", 32 upper-case hex pairs
  bool created = false;            // true if this call generated the pair
};

// Returns data_dir/tls.crt and data_dir/tls.key, creating them if neither exists: an ECDSA
// P-256 key and a self-signed X.509 v3 certificate (CN=breakglass, SAN DNS:localhost,
// IP:127.0.0.1, IP:::1, one year, random serial, CA:FALSE, digitalSignature, serverAuth).
// Creates data_dir if missing. Errors: FailedPrecondition when only one of the two files
// exists, when they do not belong together or when the key is readable by group or others;
// InvalidArgument (field "tls.crt"/"tls.key") when a file is not valid PEM; Internal on
// OpenSSL or file-system failure.
Result<CertificateInfo> EnsureSelfSignedCertificate(const std::string& data_dir);

// SHA-256 fingerprint of the first certificate in a PEM file.
Result<std::string> CertificateFingerprint(const std::string& pem_path);

}  // namespace bg::http
