// OpenSSH public keys and Ed25519 key pairs.
//
// PublicKey holds a key as OpenSSH encodes it on the wire (`string type || fields`), checked on
// the way in: Ed25519, ECDSA over NIST P-256/384/521 (point on the curve) and RSA (>= 2048
// bits) are accepted; DSA, FIDO (sk-*) keys, certificates and anything else are refused with an
// Error naming the problem. The raw fields are kept byte for byte because a certificate embeds
// them unchanged (PROTOCOL.certkeys).
//
// Ed25519PrivateKey is a libsodium key pair used for the CA and for ephemeral user keys. Its
// bytes are held in a bg::Secret (zeroed on destruction); storing them encrypted is the caller's
// job. All types here are values; const methods are safe to call from several threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ssh/ssh_wire.h"
#include "util/random.h"
#include "util/result.h"
#include "util/secret.h"

namespace bg::ssh {

enum class KeyType { kEd25519, kEcdsaNistp256, kEcdsaNistp384, kEcdsaNistp521, kRsa };

// "ssh-ed25519", "ecdsa-sha2-nistp256", ..., "ssh-rsa".
std::string_view ToString(KeyType type);
// "ssh-ed25519-cert-v01@openssh.com", ..., "ssh-rsa-cert-v01@openssh.com".
std::string_view CertificateTypeName(KeyType type);
// The inverse of ToString; any other name is refused with an explanation.
Result<KeyType> ParseKeyType(std::string_view name);

inline constexpr int kMinRsaBits = 2048;
inline constexpr int kMaxRsaBits = 16384;

class PublicKey {
 public:
  // The wire blob: string type, then the type's fields, nothing after.
  static Result<PublicKey> FromBlob(std::string_view blob);
  // One authorized_keys-style line "type base64 [comment]" (as in id_ed25519.pub). Leading
  // options ("from=...") are not accepted: this is a key, not an authorized_keys entry.
  static Result<PublicKey> ParseLine(std::string_view line);
  // Reads the fields of a key of `type` from `reader` (as inside a certificate).
  static Result<PublicKey> ReadFields(KeyType type, WireReader& reader);

  KeyType type() const { return type_; }
  const std::string& blob() const { return blob_; }
  // The blob without its leading type string: what a certificate embeds after the nonce.
  std::string_view fields() const { return std::string_view(blob_).substr(fields_offset_); }
  const std::string& comment() const { return comment_; }
  void set_comment(std::string comment) { comment_ = std::move(comment); }

  // "type base64" plus " comment" when there is one.
  std::string ToLine() const;
  // "SHA256:" + unpadded base64 of SHA-256(blob), as `ssh-keygen -l` prints it.
  std::string Fingerprint() const;

  // Same key (the comment is not part of a key's identity).
  friend bool operator==(const PublicKey& a, const PublicKey& b) { return a.blob_ == b.blob_; }

 private:
  static Result<PublicKey> FromBlobUnlabelled(std::string_view blob);
  PublicKey(KeyType type, std::string blob, size_t fields_offset)
      : type_(type), blob_(std::move(blob)), fields_offset_(fields_offset) {}

  KeyType type_;
  std::string blob_;
  size_t fields_offset_;
  std::string comment_;
};

// Checks an SSH signature blob (`string "ssh-ed25519" || string sig[64]`) over `message`
// against an Ed25519 `key`. kInvalidArgument for a malformed blob or a key of another type,
// kPermissionDenied when the signature does not verify.
Status VerifyEd25519Signature(const PublicKey& key, std::string_view message,
                              std::string_view signature_blob);

class Ed25519PrivateKey {
 public:
  static constexpr size_t kStorageSize = 64;  // libsodium secret key: seed || public key

  // A fresh key pair from a 32-byte seed drawn from `random`.
  static Ed25519PrivateKey Generate(Random& random = SystemRandom::Get());
  // From the bytes StorageBytes() gave; refused unless the public half matches the seed.
  static Result<Ed25519PrivateKey> FromStorageBytes(const Secret& bytes);
  // From an unencrypted "-----BEGIN OPENSSH PRIVATE KEY-----" file holding one Ed25519 key;
  // `comment`, if given, receives the key's comment.
  static Result<Ed25519PrivateKey> FromOpenSshPrivateKeyFile(std::string_view file,
                                                             std::string* comment = nullptr);

  // The 64 raw bytes (seed || public key) for storage; encrypt before writing anywhere.
  const Secret& StorageBytes() const { return secret_; }
  const PublicKey& public_key() const { return public_key_; }
  // "ssh-ed25519 AAAA... comment", e.g. for sshd's TrustedUserCAKeys.
  std::string PublicKeyLine(std::string_view comment) const;

  // The raw 64-byte Ed25519 signature of `message`.
  std::string SignRaw(std::string_view message) const;
  // The SSH signature blob: string "ssh-ed25519" || string signature.
  std::string Sign(std::string_view message) const;

  // The key as an OpenSSH private key file (PROTOCOL.key, cipher and KDF "none", one key,
  // 70-column base64 between the BEGIN/END lines) for `ssh -i`. Write it with mode 0600.
  Secret ToOpenSshPrivateKeyFile(std::string_view comment,
                                 Random& random = SystemRandom::Get()) const;

 private:
  static Result<Ed25519PrivateKey> FromPrivateKeyBlob(std::string_view raw, std::string* comment);
  Ed25519PrivateKey(Secret secret, PublicKey public_key)
      : secret_(std::move(secret)), public_key_(std::move(public_key)) {}

  Secret secret_;
  PublicKey public_key_;
};

}  // namespace bg::ssh
