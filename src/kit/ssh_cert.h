// Emergency SSH certificates from an offline kit: the SSH CA key restored from M shares signs a
// short-lived user certificate on a laptop while the service is down.
//
// A kit of the CA key is made by `breakglass ssh-ca kit`: its manifest says it protects an
// ssh-ca and names the CA's public key, so the restored secret is checked against it before
// anything is signed. Emergency certificates have serials with the top bit set (the server's
// counter starts at 1 and never gets there), a key id that names the offline record, a window
// of at most kMaxEmergencyValidity, and are described in the record (SshCertificateUse) that
// the reconciliation puts into the audit log. Pure functions; time and randomness injected.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ssh/certificate.h"
#include "ssh/keys.h"
#include "kit/kit.h"
#include "kit/offline_record.h"
#include "util/random.h"
#include "util/result.h"
#include "util/secret.h"
#include "util/time.h"

namespace bg::kit {

inline constexpr Seconds kMaxEmergencyValidity{24 * 3600};
inline constexpr Seconds kMinEmergencyValidity{60};
inline constexpr uint64_t kOfflineSerialBit = uint64_t{1} << 63;

// The manifest's "protects" for a kit of `ca`, the key of ssh_ca connector `connector`.
KitProtects SshCaProtects(const std::string& connector, const ssh::Ed25519PrivateKey& ca);

// The CA key a kit restored. kInvalidArgument (field "manifest") when the manifest does not
// protect an ssh-ca; kPermissionDenied when the restored bytes are not an Ed25519 key or not
// the key the manifest names (a genuine kit of something else, or a wrong manifest).
Result<ssh::Ed25519PrivateKey> SshCaKeyFromSecret(const Secret& secret,
                                                  const KitManifest& manifest);

struct EmergencyCertificateOptions {
  ssh::PublicKey user_key;
  std::vector<std::string> principals{};  // at least one
  Seconds valid_for{3600};              // kMinEmergencyValidity..kMaxEmergencyValidity
  Seconds backdate{300};                // valid-after lies this far before now (clock skew)
  std::string record_id{};              // the offline record this use is written to
  std::string who{};                    // goes into the key id
  std::set<ssh::Extension> extensions{ssh::Extension::kPermitPty};
  std::optional<std::string> source_address{};
  std::optional<std::string> force_command{};
};

struct EmergencyCertificate {
  std::string line;     // "ssh-ed25519-cert-v01@openssh.com AAAA... key_id"
  uint64_t serial = 0;  // has kOfflineSerialBit set
  SshCertificateUse use;
};

// Signs the certificate: key id "breakglass-kit:<record id>:<who>" (printable ASCII; other
// bytes as \xNN), window [now - backdate, now + valid_for). kInvalidArgument naming the option
// for a bad window, principal or critical option.
Result<EmergencyCertificate> SignEmergencyCertificate(const ssh::Ed25519PrivateKey& ca,
                                                      const EmergencyCertificateOptions& options,
                                                      Timestamp now, Random& random);

}  // namespace bg::kit
