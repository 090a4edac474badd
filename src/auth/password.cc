#include "auth/password.h"

#include <sodium.h>

#include <map>
#include <mutex>
#include <utility>

#include "util/random.h"

namespace bg::auth {

PasswordHashParams PasswordHashParams::Interactive() {
  return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
}

PasswordHashParams PasswordHashParams::ForTests() {
  return {crypto_pwhash_OPSLIMIT_MIN, size_t{64} * 1024};  // 64 KiB, 1 pass: fast, still Argon2id
}

namespace {

size_t CountCodePoints(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;  // every byte but UTF-8 continuation bytes starts a character
  }
  return n;
}

// libsodium declares the password pointer non-null even for length 0; an empty Secret has none.
const char* PasswordBytes(const Secret& password) {
  return password.empty() ? "" : password.Reveal().data();
}

}  // namespace

Status CheckPasswordPolicy(const Secret& password) {
  if (password.size() > kMaxPasswordBytes) {
    return Error::InvalidArgument(
        "password", "must be at most " + std::to_string(kMaxPasswordBytes) + " bytes");
  }
  if (CountCodePoints(password.Reveal()) < kMinPasswordLength) {
    return Error::InvalidArgument(
        "password", "must be at least " + std::to_string(kMinPasswordLength) + " characters");
  }
  return Ok();
}

Result<std::string> HashPassword(const Secret& password) {
  return HashPassword(password, PasswordHashParams::Interactive());
}

Result<std::string> HashPassword(const Secret& password, const PasswordHashParams& params) {
  BG_TRY(CheckPasswordPolicy(password));
  InitCrypto();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, PasswordBytes(password), password.size(), params.ops_limit,
                            params.mem_limit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Error::Internal("password hashing failed (out of memory?)");
  }
  return std::string(out);
}

bool VerifyPassword(const std::string& encoded, const Secret& password) {
  // libsodium reads `encoded` as a C string; a stored value with an embedded NUL or longer
  // than any valid hash cannot be one of ours.
  if (encoded.empty() || encoded.size() >= crypto_pwhash_STRBYTES ||
      encoded.find('\0') != std::string::npos) {
    return false;
  }
  InitCrypto();
  return crypto_pwhash_str_verify(encoded.c_str(), PasswordBytes(password), password.size()) == 0;
}

bool DummyVerify(const Secret& password, const PasswordHashParams& params) {
  static std::mutex mu;
  static std::map<std::pair<uint64_t, size_t>, std::string> cache;
  std::string reference;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto key = std::make_pair(params.ops_limit, params.mem_limit);
    auto it = cache.find(key);
    if (it == cache.end()) {
      // A random password nobody knows: the verification below can never succeed.
      Secret unguessable(SystemRandom::Get().Bytes(32));
      char out[crypto_pwhash_STRBYTES];
      if (crypto_pwhash_str_alg(out, unguessable.Reveal().data(), unguessable.size(),
                                params.ops_limit, params.mem_limit,
                                crypto_pwhash_ALG_ARGON2ID13) != 0) {
        return false;
      }
      it = cache.emplace(key, std::string(out)).first;
    }
    reference = it->second;
  }
  VerifyPassword(reference, password);
  return false;
}

bool NeedsRehash(const std::string& encoded, const PasswordHashParams& params) {
  if (encoded.size() >= crypto_pwhash_STRBYTES || encoded.find('\0') != std::string::npos) {
    return true;
  }
  InitCrypto();
  // 0 = Argon2id with these parameters; 1 = other parameters; -1 = not an Argon2id hash.
  // (The generic crypto_pwhash_str_needs_rehash would answer 0 for an Argon2i hash.)
  return crypto_pwhash_argon2id_str_needs_rehash(encoded.c_str(), params.ops_limit,
                                                 params.mem_limit) != 0;
}

}  // namespace bg::auth
