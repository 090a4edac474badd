// Password hashing (Argon2id via libsodium) and the password policy.
//
// Hashes are libsodium's encoded strings ("$argon2id$v=19$m=...,t=...,p=1$salt$hash"), which
// carry their own salt and cost parameters, so stored hashes stay verifiable when the default
// cost changes; NeedsRehash says when to replace one after a successful login.
// All functions are thread-safe. Hashing costs ~64 MiB and tens of milliseconds by design.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "util/result.h"
#include "util/secret.h"

namespace bg::auth {

inline constexpr size_t kMinPasswordLength = 12;   // characters (UTF-8 code points)
inline constexpr size_t kMaxPasswordBytes = 1024;  // bytes

// Argon2id cost. Interactive() is what the server uses; tests may use ForTests() (cheap).
struct PasswordHashParams {
  uint64_t ops_limit;
  size_t mem_limit;  // bytes
  static PasswordHashParams Interactive();
  static PasswordHashParams ForTests();
};

// OK, or InvalidArgument(field "password") when the password is shorter than
// kMinPasswordLength characters or longer than kMaxPasswordBytes bytes.
Status CheckPasswordPolicy(const Secret& password);

// Hashes a new password with Argon2id and a fresh random salt. Refuses a password that fails
// CheckPasswordPolicy; Internal if libsodium cannot allocate the memory.
Result<std::string> HashPassword(const Secret& password);
Result<std::string> HashPassword(const Secret& password, const PasswordHashParams& params);

// True when `encoded` is a valid Argon2 hash of `password`. Malformed or empty `encoded` is
// false. The cost is set by the parameters inside `encoded`, never by how much of the password
// matches (the final comparison is constant time inside libsodium).
bool VerifyPassword(const std::string& encoded, const Secret& password);

// Spends the time of one VerifyPassword against a hash made with `params`, and returns false.
// Call it for unknown accounts so that response time does not tell whether an account exists.
// The reference hash is made once per distinct params and cached: call it once at start-up so
// that the first unknown-account login is not the slow one.
bool DummyVerify(const Secret& password,
                 const PasswordHashParams& params = PasswordHashParams::Interactive());

// True when `encoded` is not an Argon2id hash with exactly `params` (or is malformed): rehash
// the password (known correct right after a successful login) and store the new hash.
bool NeedsRehash(const std::string& encoded,
                 const PasswordHashParams& params = PasswordHashParams::Interactive());

}  // namespace bg::auth
