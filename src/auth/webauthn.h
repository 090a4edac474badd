// WebAuthn (Level 3) relying-party checks for passkeys: registration ("webauthn.create") and
// authentication ("webauthn.get") ceremonies, verified with OpenSSL. Pure: no clock, no store;
// the caller supplies the challenge it issued, the origin and RP ID it expects, and keeps the
// credential.
//
// Algorithms: ES256 (COSE -7, ECDSA P-256 with SHA-256) and EdDSA (COSE -8, Ed25519). Attestation
// is not evaluated: any attestation statement is accepted as "none" (breakglass trusts the
// account that registers the key, after a password+TOTP login, not the authenticator's maker),
// and only the attested credential data (id and public key) is read.
//
// Both ceremonies require user presence and user verification (the authenticator's PIN or
// biometric), so a passkey is two factors in one tap. An assertion's signature counter must
// grow when either side is non-zero (a cloned authenticator is refused).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace bg::auth::webauthn {

inline constexpr int kEs256 = -7;
inline constexpr int kEdDsa = -8;
// "ES256" or "EdDSA", as the API and the audit log name them.
inline const char* AlgorithmName(int alg) { return alg == kEs256 ? "ES256" : "EdDSA"; }

// What a ceremony is checked against.
struct Expected {
  std::string challenge;  // the raw bytes the server issued (not base64)
  std::string origin;     // "https://bg.example:8443"
  std::string rp_id;      // "bg.example"
};

// A registered credential, as kept by the server.
struct Credential {
  std::string id;          // raw credential id bytes
  int alg = 0;             // kEs256 or kEdDsa
  std::string public_key;  // ES256: 65-byte uncompressed point (0x04 | x | y); EdDSA: 32 bytes
  uint32_t sign_count = 0;
};

// The browser's answer to navigator.credentials.create(), decoded from base64url by the caller.
struct Registration {
  std::string client_data_json;
  std::string attestation_object;
};

// The browser's answer to navigator.credentials.get().
struct Assertion {
  std::string credential_id;  // raw
  std::string client_data_json;
  std::string authenticator_data;
  std::string signature;
};

// Checks a registration: clientDataJSON (type, challenge, origin, not cross-origin), the
// attestation object's authenticator data (RP ID hash, UP and UV flags, attested credential
// data) and the COSE public key (an algorithm above, a valid point or key). Errors:
// InvalidArgument with field "passkey" and what was wrong.
Result<Credential> VerifyRegistration(const Registration& reg, const Expected& expected);

// Checks an assertion by `credential` (whose id must match) and returns the new signature count.
// Errors: InvalidArgument field "passkey" (malformed, wrong challenge, origin, RP, flags),
// PermissionDenied field "passkey" (bad signature, a counter that did not grow).
Result<uint32_t> VerifyAssertion(const Assertion& assertion, const Credential& credential,
                                 const Expected& expected);

// The fixed parts a test authenticator needs to build what a real one sends.
std::string AuthenticatorData(std::string_view rp_id, uint8_t flags, uint32_t sign_count,
                              std::string_view attested_credential_data = {});
inline constexpr uint8_t kFlagUp = 0x01, kFlagUv = 0x04, kFlagAt = 0x40, kFlagEd = 0x80;

// A minimal CBOR value (RFC 8949) for what WebAuthn sends: unsigned and negative integers,
// byte and text strings, arrays, maps, booleans and null. Decode refuses indefinite lengths,
// tags, floats, nesting deeper than 16 and anything past the end of `bytes` (unless `rest` is
// given, which receives the bytes after the first item).
struct Cbor {
  enum class Type { kInt, kBytes, kText, kArray, kMap, kBool, kNull };
  Type type = Type::kNull;
  int64_t i = 0;      // kInt (and kBool: 0/1)
  std::string s;      // kBytes, kText
  std::vector<Cbor> items;                     // kArray
  std::vector<std::pair<Cbor, Cbor>> entries;  // kMap, in the order sent

  // Declared here, defined where Cbor is complete: an implicit one makes clang ask whether
  // std::pair<Cbor, Cbor> is default-constructible while Cbor is still being defined.
  Cbor();
  // The value of integer key `k` / text key `k` in a map, or null.
  const Cbor* Find(int64_t k) const;
  const Cbor* Find(std::string_view k) const;
  static Result<Cbor> Decode(std::string_view bytes, std::string_view* rest = nullptr);
  std::string Encode() const;  // canonical enough for tests: definite lengths, shortest heads
};

}  // namespace bg::auth::webauthn
