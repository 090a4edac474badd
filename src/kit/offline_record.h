// The signed offline record: what the combining tool writes when a kit is used while the
// service is down, so that `breakglass kit reconcile` can append it to the audit log later.
//
// JSON object (docs/kit-share-format.md):
//   {"format": "breakglass-kit-offline-record/1", "record_id", "kit_id", "kit_label", "who",
//    "when", "why", "ticket", "share_indices": [..], "public_key", "signature"}
// The signature is Ed25519 over  "breakglass-kit-offline-record/1\n" + the canonical JSON of
// the object without "signature" (sorted keys, no white space, UTF-8). public_key and
// signature are standard base64. The key is the operator's (a 32-byte seed file) or a fresh
// one whose public half the operator writes down. Pure functions, thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/random.h"
#include "util/result.h"
#include "util/secret.h"
#include "util/time.h"

namespace bg::kit {

inline constexpr std::string_view kOfflineRecordFormat = "breakglass-kit-offline-record/1";

// What `kit ssh-cert` signed with the restored CA key, so the review sees the certificate and
// the serial can be revoked. serial is decimal (JSON numbers lose precision above 2^53).
struct SshCertificateUse {
  std::string serial;                   // 1..20 decimal digits, a uint64, no leading zero
  std::string key_id;                   // as in the certificate; printable ASCII
  std::vector<std::string> principals;  // non-empty
  Timestamp valid_after{};
  Timestamp valid_before{};             // after valid_after
  std::string ca_public_key;            // "ssh-ed25519 <base64>", no comment
  std::string key_fingerprint;          // the certified key, "SHA256:<base64>"
};

struct OfflineRecord {
  std::string record_id;  // "kor_" + 20 base32 characters
  std::string kit_id;
  std::string kit_label;  // may be empty (no manifest at hand)
  std::string who;        // non-empty
  Timestamp when{};
  std::string why;                 // non-empty
  std::string ticket;              // may be empty
  std::vector<int> share_indices;  // ascending, unique, 1..255
  std::optional<SshCertificateUse> ssh_certificate;  // set by kit ssh-cert
  std::string public_key;          // base64, 32 bytes
  std::string signature;           // base64, 64 bytes
};

// An Ed25519 key pair from a 32-byte seed. Copyable; the seed is a bg::Secret.
class SigningKey {
 public:
  static SigningKey Generate(Random& random);
  // The seed as standard base64 (white space around it ignored) or 64 hex digits.
  static Result<SigningKey> Parse(std::string_view text);
  const std::string& public_key_base64() const { return public_key_; }
  Secret SeedBase64() const;

 private:
  SigningKey(Secret seed, Secret secret_key, std::string public_key)
      : seed_(std::move(seed)),
        secret_key_(std::move(secret_key)),
        public_key_(std::move(public_key)) {}
  friend Status SignOfflineRecord(OfflineRecord& record, const SigningKey& key);
  Secret seed_;
  Secret secret_key_;  // libsodium's 64-byte form
  std::string public_key_;
};

// The bytes the signature covers.
std::string OfflineRecordSigningBytes(const OfflineRecord& record);

// Validates the fields, sets public_key and signature. kInvalidArgument naming a bad field.
Status SignOfflineRecord(OfflineRecord& record, const SigningKey& key);

// Ok when the fields are valid and the signature verifies under the record's public key,
// and, if `expected_public_key` (base64) is not empty, that key is the expected one.
// kInvalidArgument for malformed records, kPermissionDenied for a bad signature or key.
Status VerifyOfflineRecord(const OfflineRecord& record, std::string_view expected_public_key = {});

nlohmann::json OfflineRecordToJson(const OfflineRecord& record);
// Rejects unknown fields and wrong types, naming the field. Does not verify the signature.
Result<OfflineRecord> OfflineRecordFromJson(const nlohmann::json& json);
Result<OfflineRecord> ParseOfflineRecord(std::string_view text);

}  // namespace bg::kit
