// WebAuthn (auth/webauthn.h): what a browser sends for a passkey, decoded from base64url by the
// API. The first byte picks:
//   0  CBOR bytes for Cbor::Decode
//   1  "CLIENT DATA JSON <sep> ATTESTATION OBJECT": a registration (VerifyRegistration)
//   2  "CLIENT DATA JSON <sep> AUTHENTICATOR DATA <sep> SIGNATURE": an assertion by a stored
//      credential (ES256 or EdDSA by the first byte's next bit)
//   3  "CLIENT DATA JSON <sep> AUTHENTICATOR DATA": an assertion the target signs with its own
//      Ed25519 credential, so the checks after the signature are reached
// The expected challenge, origin and RP ID are fixed (kExpected), as the seeds use them.
//
// Invariants: decoded CBOR encodes to bytes that decode to the same value (Encode is the
// shortest form); a registration yields a usable credential (its key accepted by an assertion
// check); an assertion is accepted only with a counter that grew (or stays 0 on both sides),
// and the counter it returns is refused next time unless both are 0; refusals name "passkey".
#include "auth/webauthn.h"

#include <sodium.h>

#include <string>

#include "fuzz/fuzz.h"
#include "util/sha256.h"

namespace {

namespace w = bg::auth::webauthn;

const w::Expected kExpected{"fuzz-challenge-0123456789abcdef", "https://bg.example:8443",
                            "bg.example"};

void CheckRefusal(const bg::Error& e) {
  bg::fuzz::CheckError(e);
  BG_FUZZ_CHECK(e.field() == "passkey");
  BG_FUZZ_CHECK(e.code() == bg::ErrorCode::kInvalidArgument ||
                e.code() == bg::ErrorCode::kPermissionDenied);
}

void Cbor(std::string_view bytes) {
  std::string_view rest;
  auto with_rest = w::Cbor::Decode(bytes, &rest);
  auto whole = w::Cbor::Decode(bytes);
  BG_FUZZ_CHECK(whole.has_value() == (with_rest.has_value() && rest.empty()));
  if (!with_rest) return;
  BG_FUZZ_CHECK(rest.size() < bytes.size());
  const std::string encoded = with_rest->Encode();
  BG_FUZZ_CHECK(encoded.size() <= bytes.size() - rest.size());
  auto again = w::Cbor::Decode(encoded);
  BG_FUZZ_CHECK(again.has_value() && again->Encode() == encoded);
}

// An Ed25519 credential whose private key the target holds.
struct Signer {
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  w::Credential credential;
  Signer() {
    unsigned char seed[crypto_sign_SEEDBYTES] = {42};
    crypto_sign_seed_keypair(pk, sk, seed);
    credential = {"fuzz-credential", w::kEdDsa, std::string(reinterpret_cast<char*>(pk), sizeof pk),
                  0};
  }
  std::string Sign(std::string_view auth_data, std::string_view client_data) const {
    std::string message(auth_data);
    message.append(bg::AsBytes(bg::Sha256(client_data)));
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                         message.size(), sk);
    return {reinterpret_cast<char*>(sig), sizeof sig};
  }
};

const Signer& TestSigner() {
  static const Signer signer;
  return signer;
}

void Registration(std::string_view client_data, std::string_view attestation) {
  auto c = w::VerifyRegistration({std::string(client_data), std::string(attestation)}, kExpected);
  if (!c) return CheckRefusal(c.error());
  BG_FUZZ_CHECK(c->alg == w::kEs256 || c->alg == w::kEdDsa);
  BG_FUZZ_CHECK(c->public_key.size() == (c->alg == w::kEs256 ? 65u : 32u));
  BG_FUZZ_CHECK(!c->id.empty() && c->id.size() <= 1023);
  // The stored key is usable: an assertion check gets as far as the signature.
  w::Assertion a{
      c->id,
      "{\"type\":\"webauthn.get\",\"challenge\":\"ZnV6ei1jaGFsbGVuZ2UtMDEyMzQ1Njc4OWFiY2RlZg\","
      "\"origin\":\"https://bg.example:8443\"}",
      w::AuthenticatorData(kExpected.rp_id, w::kFlagUp | w::kFlagUv, c->sign_count + 1), "x"};
  auto r = w::VerifyAssertion(a, *c, kExpected);
  BG_FUZZ_CHECK(!r && r.error().code() == bg::ErrorCode::kPermissionDenied);
}

void Assertion(std::string_view client_data, std::string_view auth_data, std::string_view signature,
               bool es256) {
  static const w::Credential kEs256Credential = {
      "fuzz-credential", w::kEs256,
      std::string(
          "\x04\x6b\x17\xd1\xf2\xe1\x2c\x42\x47\xf8\xbc\xe6\xe5\x63\xa4\x40\xf2\x77\x03\x7d\x81\x2d"
          "\xeb"
          "\x33\xa0\xf4\xa1\x39\x45\xd8\x98\xc2\x96\x4f\xe3\x42\xe2\xfe\x1a\x7f\x9b\x8e\xe7\xeb\x4a"
          "\x7c\x0f\x9e\x16\x2b\xce\x33\x57\x6b\x31\x5e\xce\xcb\xb6\x40\x68\x37\xbf\x51\xf5",
          65),
      5};
  const w::Credential& credential = es256 ? kEs256Credential : TestSigner().credential;
  w::Assertion a{credential.id, std::string(client_data), std::string(auth_data),
                 std::string(signature)};
  auto r = w::VerifyAssertion(a, credential, kExpected);
  if (!r) return CheckRefusal(r.error());
  BG_FUZZ_CHECK(!es256);  // nobody holds the P-256 generator's private key
}

void SignedAssertion(std::string_view client_data, std::string_view auth_data, uint8_t stored) {
  const Signer& s = TestSigner();
  w::Credential credential = s.credential;
  credential.sign_count = stored % 4;
  w::Assertion a{credential.id, std::string(client_data), std::string(auth_data),
                 s.Sign(auth_data, client_data)};
  auto count = w::VerifyAssertion(a, credential, kExpected);
  if (!count) return CheckRefusal(count.error());
  BG_FUZZ_CHECK(auth_data.size() >= 37);
  BG_FUZZ_CHECK((*count == 0 && credential.sign_count == 0) || *count > credential.sign_count);
  // The same assertion again, against the counter it returned: a replay.
  credential.sign_count = *count;
  auto replay = w::VerifyAssertion(a, credential, kExpected);
  BG_FUZZ_CHECK(replay.has_value() == (*count == 0));
  // Another credential id is refused before anything else.
  a.credential_id += "x";
  BG_FUZZ_CHECK(!w::VerifyAssertion(a, credential, kExpected).has_value());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto [selector, rest] = bg::fuzz::Select(bg::fuzz::AsText(data, size));
  switch (selector % 4) {
    case 0:
      Cbor(rest);
      break;
    case 1: {
      auto p = bg::fuzz::Parts(rest, 2);
      Registration(p[0], p[1]);
      break;
    }
    case 2: {
      auto p = bg::fuzz::Parts(rest, 3);
      Assertion(p[0], p[1], p[2], (selector & 4) != 0);
      break;
    }
    case 3: {
      auto p = bg::fuzz::Parts(rest, 2);
      SignedAssertion(p[0], p[1], selector / 4);
      break;
    }
  }
  return 0;
}
