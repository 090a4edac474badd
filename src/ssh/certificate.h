// OpenSSH user certificates (PROTOCOL.certkeys), issued and read back.
//
// SignCertificate turns a CertificateSpec into the one-line certificate OpenSSH reads
// ("ssh-ed25519-cert-v01@openssh.com AAAA... key_id"): the certificate type follows the user's
// key type, the nonce is 32 random bytes, critical options and extensions are written sorted by
// name as the spec requires, and the signature is Ed25519 by the CA. The spec is checked first
// (see CertificateSpec); nothing is signed that sshd would misread.
//
// ParseCertificate reads a certificate line or blob back, refuses malformed input (never reads
// out of bounds), and verifies the CA's Ed25519 signature. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ssh/keys.h"
#include "util/random.h"
#include "util/result.h"
#include "util/time.h"

namespace bg::ssh {

inline constexpr uint32_t kUserCertificate = 1;  // SSH_CERT_TYPE_USER
inline constexpr uint32_t kHostCertificate = 2;  // SSH_CERT_TYPE_HOST
inline constexpr size_t kNonceSize = 32;

// The user-certificate extensions OpenSSH defines; each grants a feature when present.
enum class Extension {
  kPermitX11Forwarding,
  kPermitAgentForwarding,
  kPermitPortForwarding,
  kPermitPty,
  kPermitUserRc,
};
// "permit-X11-forwarding", "permit-agent-forwarding", "permit-port-forwarding", "permit-pty",
// "permit-user-rc".
std::string_view ToString(Extension extension);
Result<Extension> ParseExtension(std::string_view name);

struct CertificateSpec {
  PublicKey public_key;  // the user's key; its type picks the certificate type
  // Non-zero and unique per CA: the KRL revokes by serial (0 would be unrevocable).
  uint64_t serial = 0;
  // Shown in sshd's logs; non-empty, printable ASCII (no control characters).
  std::string key_id{};
  // At least one (an empty list would mean "any user"); each non-empty, no whitespace, no ',',
  // no control characters, no duplicates.
  std::vector<std::string> principals{};
  // valid_after <= now < valid_before is when sshd accepts it; valid_after < valid_before.
  Timestamp valid_after{};
  Timestamp valid_before{};
  // Critical option "force-command": the command sshd runs instead of the client's.
  std::optional<std::string> force_command{};
  // Critical option "source-address": comma-separated addresses or CIDR blocks (IPv4/IPv6).
  std::optional<std::string> source_address{};
  std::set<Extension> extensions{};
};

// A certificate as read back. Option and extension data are the raw `data` fields (for
// force-command and source-address, itself an SSH string holding the value: see
// CriticalOption()).
struct Certificate {
  PublicKey public_key;  // the certified key (its comment is empty)
  std::string nonce{};
  uint64_t serial = 0;
  uint32_t type = 0;  // kUserCertificate or kHostCertificate
  std::string key_id{};
  std::vector<std::string> principals{};
  // Seconds since the epoch as in the certificate (UINT64_MAX is "forever").
  uint64_t valid_after = 0;
  uint64_t valid_before = 0;
  std::vector<std::pair<std::string, std::string>> critical_options{};
  std::vector<std::pair<std::string, std::string>> extensions{};
  PublicKey signature_key;  // the CA
  std::string blob{};       // the whole certificate as on the wire
  std::string comment{};    // the line's trailing comment, if parsed from a line

  // The decoded value of a string-valued critical option, if present.
  std::optional<std::string> CriticalOption(std::string_view name) const;
  bool HasExtension(std::string_view name) const;
  // "ssh-ed25519-cert-v01@openssh.com BASE64 comment".
  std::string ToLine() const;
};

// `raw` as a valid key id: printable ASCII kept, every other byte and '\\' as \\xNN.
std::string PrintableKeyId(std::string_view raw);

// Checks `spec` and returns the signed certificate line, whose comment is the key id.
Result<std::string> SignCertificate(const CertificateSpec& spec, const Ed25519PrivateKey& ca,
                                    Random& random = SystemRandom::Get());

// Checks `spec` as SignCertificate does, without signing.
Status ValidateCertificateSpec(const CertificateSpec& spec);

// Parses a certificate line ("...-cert-v01@openssh.com BASE64 [comment]") or, when the input
// does not start with a certificate type name, a raw blob. Verifies the signature with the
// embedded CA key (only Ed25519 CAs are supported) and, when `expected_ca` is given, that the
// CA is that key. Refuses trailing bytes, unsorted or repeated options and extensions.
Result<Certificate> ParseCertificate(std::string_view line_or_blob,
                                     const PublicKey* expected_ca = nullptr);

}  // namespace bg::ssh
