// The server master key and the sealing of secrets at rest (TOTP seeds, signing keys,
// connector credentials).
//
// The key is 32 random bytes in a file of its own (mode 0600, created exclusively). Sealed
// values are "v1:" + base64(nonce[24] || ciphertext || tag[16]) using XChaCha20-Poly1305 with
// a random nonce, and with associated data (AAD) naming the value's purpose, e.g.
// "totp:alice": a sealed value copied to another row or purpose does not open.
// Thread-safe (MasterKey is immutable after construction).
#pragma once

#include <string>
#include <string_view>

#include "util/random.h"
#include "util/result.h"
#include "util/secret.h"

namespace bg::auth {

inline constexpr size_t kMasterKeyBytes = 32;
inline constexpr std::string_view kSealedPrefix = "v1:";

class MasterKey {
 public:
  // InvalidArgument (field "master_key") unless `bytes` is exactly kMasterKeyBytes long.
  static Result<MasterKey> FromBytes(Secret bytes);
  static MasterKey Generate(Random& random = SystemRandom::Get());

  const Secret& bytes() const { return bytes_; }

 private:
  explicit MasterKey(Secret bytes) : bytes_(std::move(bytes)) {}
  Secret bytes_;
};

// Loads the key at `path`, or creates it (O_CREAT|O_EXCL, mode 0600, fsynced, with its
// directory) when no file exists. Refuses, with FailedPrecondition and a message naming the
// path and the fix:
//   - a file that group or others may read or write (chmod 600 it);
//   - a symbolic link or anything but a regular file;
//   - a file that is not exactly 32 bytes.
// Unavailable for other I/O errors (missing directory, permission denied), with errno's text.
Result<MasterKey> LoadOrCreateMasterKey(const std::string& path,
                                        Random& random = SystemRandom::Get());

// Encrypts `plaintext` bound to `aad`. Never fails.
std::string Seal(const MasterKey& key, const Secret& plaintext, std::string_view aad,
                 Random& random = SystemRandom::Get());

// Decrypts a value made by Seal with the same key and aad. InvalidArgument (field "sealed")
// when the text is not a v1 sealed value; PermissionDenied when authentication fails (tampered,
// wrong key, or wrong aad; the three cannot be told apart by design).
Result<Secret> Open(const MasterKey& key, std::string_view sealed, std::string_view aad);

}  // namespace bg::auth
