// Signed checkpoints: C2SP tlog-checkpoint bodies in C2SP signed-note envelopes, Ed25519.
//
//   <origin>\n<size>\n<base64 root>\n[<extension line>\n...]\n— <key name> <base64(key id || sig)>\n
//
// The key id is the first 4 bytes (big-endian) of SHA-256(name || "\n" || 0x01 || public key),
// as golang.org/x/mod/sumdb/note computes it; keys are written in that package's text forms:
//   verifier key  "<name>+<8 hex key id>+<base64(0x01 || 32-byte public key)>"
//   signer key    "PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 || 32-byte seed)>"
// so `note.NewVerifier` / `note.NewSigner` accept ours and we accept theirs.
// Values and pure functions; NoteSigner is immutable after construction (thread-safe reads).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/random.h"
#include "util/result.h"
#include "util/secret.h"

namespace bg::audit {

struct Checkpoint {
  std::string origin;
  int64_t size = 0;
  std::string root;                     // 32 raw bytes
  std::vector<std::string> extensions;  // opaque extra body lines (we write none)
  bool operator==(const Checkpoint&) const = default;
};

// The note body (the signed text) of a checkpoint. InvalidArgument naming "origin", "size",
// "root" or "extensions" when the checkpoint cannot be written as a valid note.
Result<std::string> CheckpointBody(const Checkpoint& checkpoint);

// A parsed verifier key.
struct NoteVerifier {
  std::string name;
  uint32_t key_id = 0;
  std::string public_key;  // 32 bytes Ed25519
};

// Parses "<name>+<hex8>+<base64(0x01||pub)>"; refuses a bad name, a key id that does not match
// the key, another algorithm or a key of the wrong length (InvalidArgument, field "key").
Result<NoteVerifier> ParseVerifierKey(std::string_view verifier_key);
std::string FormatVerifierKey(std::string_view name, std::string_view public_key);
// note's key id: first 4 bytes of SHA-256(name || "\n" || 0x01 || public_key), big-endian.
uint32_t NoteKeyId(std::string_view name, std::string_view public_key);
// C2SP signed-note key names: non-empty UTF-8 with no Unicode space and no '+'.
bool IsValidKeyName(std::string_view name);

// An Ed25519 note signing key.
class NoteSigner {
 public:
  // A new key from `random` (32 seed bytes). InvalidArgument("name") for an invalid key name.
  static Result<NoteSigner> Generate(std::string_view name, Random& random = SystemRandom::Get());
  // Parses the signer key text (see above); refuses it if the key id does not match.
  static Result<NoteSigner> FromSignerKey(const Secret& signer_key);

  const std::string& name() const { return name_; }
  uint32_t key_id() const { return key_id_; }
  const std::string& public_key() const { return public_key_; }
  std::string VerifierKey() const;
  // The signer key text, for sealing at rest. Secret: never log it.
  Secret SignerKey() const;

  // The note text: body, blank line, one signature line by this key.
  Result<std::string> Sign(const Checkpoint& checkpoint) const;

 private:
  NoteSigner(std::string name, Secret secret_key, std::string public_key);
  static NoteSigner FromSeed(std::string_view name, const uint8_t* seed);
  std::string name_;
  Secret secret_key_;  // libsodium's 64 bytes: seed || public key
  std::string public_key_;
  uint32_t key_id_ = 0;
};

// Opens a signed checkpoint note with one trusted verifier key. Follows note.Open: the note must
// be valid UTF-8 without control characters other than '\n', have a blank line before a
// non-empty block of "— <name> <base64>" lines (at most 100); signatures by other keys are
// ignored; a signature by the trusted key that does not verify is refused, and so is a note with
// no signature by it. The body must be a tlog-checkpoint (origin, size without leading zeros,
// base64 32-byte root, non-empty extension lines). Errors are InvalidArgument with field
// "checkpoint"; a bad signature says "checkpoint signature does not verify".
Result<Checkpoint> ParseAndVerifyCheckpoint(std::string_view note, std::string_view verifier_key);

}  // namespace bg::audit
