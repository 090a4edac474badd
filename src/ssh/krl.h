// OpenSSH key revocation lists (PROTOCOL.krl) for sshd's RevokedKeys.
//
// BuildKrl writes an unsigned KRL (OpenSSH >= 9.4 refuses signed ones) revoking certificates of
// one CA by serial: runs of three or more consecutive serials become
// KRL_SECTION_CERT_SERIAL_RANGE entries, the rest one KRL_SECTION_CERT_SERIAL_LIST, sorted.
// ParseKrl reads a KRL back (ours or ssh-keygen's) with bounds checks and answers IsRevoked,
// for tests and for showing what was published. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ssh/certificate.h"
#include "ssh/keys.h"
#include "util/result.h"
#include "util/time.h"

namespace bg::ssh {

inline constexpr std::string_view kKrlMagic("SSHKRL\n\0", 8);
inline constexpr uint32_t kKrlFormatVersion = 1;

struct KrlSpec {
  PublicKey ca_key;
  std::set<uint64_t> revoked_serials{};  // serial 0 is refused: no certificate of ours has it
  uint64_t krl_version = 0;              // increases with every change
  Timestamp generated_at{};
  std::string comment{};
};

Result<std::string> BuildKrl(const KrlSpec& spec);

struct Krl {
  struct CertificateSection {
    std::string ca_key_blob;  // empty: applies to certificates of every CA
    std::vector<uint64_t> serials;
    std::vector<std::pair<uint64_t, uint64_t>> serial_ranges;  // inclusive
    // (serial_offset, bitmap mpint bytes, big-endian): bit N revokes serial_offset + N.
    std::vector<std::pair<uint64_t, std::string>> serial_bitmaps;
    std::vector<std::string> key_ids;
  };

  uint64_t krl_version = 0;
  uint64_t generated_date = 0;
  uint64_t flags = 0;
  std::string comment;
  std::vector<CertificateSection> certificate_sections;
  std::vector<std::string> revoked_key_blobs;      // KRL_SECTION_EXPLICIT_KEY
  std::vector<std::string> revoked_sha1_hashes;    // KRL_SECTION_FINGERPRINT_SHA1
  std::vector<std::string> revoked_sha256_hashes;  // KRL_SECTION_FINGERPRINT_SHA256

  // Whether a certificate issued by `ca` with `serial` and `key_id` is revoked here.
  bool IsRevoked(const PublicKey& ca, uint64_t serial, std::string_view key_id) const;
  bool IsRevoked(const Certificate& cert) const {
    return IsRevoked(cert.signature_key, cert.serial, cert.key_id);
  }
};

// Refuses bad magic or version, truncation, trailing garbage, unknown section types, critical
// extensions and signature sections.
Result<Krl> ParseKrl(std::string_view data);

}  // namespace bg::ssh
