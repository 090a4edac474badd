// WebAuthn checks against an authenticator made here with OpenSSL keys (ES256 and EdDSA), which
// builds exactly what a browser hands back: clientDataJSON, the CBOR attestation object with
// attested credential data and a COSE key, and assertions signed over authData || SHA-256(cd).
#include "auth/webauthn.h"
#include "test/fakes/test_authenticator.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include "util/encoding.h"
#include "util/sha256.h"

namespace bg::auth::webauthn {
namespace {

using testing_fakes::Bytes;
using testing_fakes::Int;
using testing_fakes::Map;
using testing_fakes::TestAuthenticator;
using testing_fakes::Text;

const Expected kExpected{"challenge-0123456789abcdef-32byt", "https://bg.example:8443", "bg.example"};

class WebAuthnTest : public ::testing::TestWithParam<int> {};

TEST_P(WebAuthnTest, RegistersAndAuthenticates) {
  TestAuthenticator auth(GetParam());
  auto cred = VerifyRegistration(auth.Register(kExpected), kExpected);
  ASSERT_TRUE(cred.has_value()) << cred.error().ToString();
  EXPECT_EQ(cred->alg, GetParam());
  EXPECT_EQ(cred->public_key.size(), GetParam() == kEs256 ? 65u : 32u);
  Expected login = kExpected;
  login.challenge = "another-challenge-for-the-login!!";
  auto count = VerifyAssertion(auth.Sign(login, 1), *cred, login);
  ASSERT_TRUE(count.has_value()) << count.error().ToString();
  EXPECT_EQ(*count, 1u);
  cred->sign_count = *count;
  EXPECT_TRUE(VerifyAssertion(auth.Sign(login, 7), *cred, login).has_value());
}

TEST_P(WebAuthnTest, RefusesWhatDoesNotMatchTheCeremony) {
  TestAuthenticator auth(GetParam());
  auto cred = VerifyRegistration(auth.Register(kExpected), kExpected);
  ASSERT_TRUE(cred.has_value());
  auto field_is_passkey = [](const auto& r) { return !r.has_value() && r.error().field() == "passkey"; };

  Expected other = kExpected;
  other.challenge = "a-different-challenge-than-signed";
  EXPECT_TRUE(field_is_passkey(VerifyAssertion(auth.Sign(kExpected, 1), *cred, other)));
  other = kExpected;
  other.origin = "https://evil.example";
  EXPECT_TRUE(field_is_passkey(VerifyAssertion(auth.Sign(kExpected, 1), *cred, other)));
  other = kExpected;
  other.rp_id = "evil.example";
  Expected signed_for_evil = kExpected;
  signed_for_evil.rp_id = "evil.example";
  // The phishing site's RP ID in authData, our origin in clientData: the hash does not match.
  EXPECT_TRUE(field_is_passkey(VerifyAssertion(auth.Sign(signed_for_evil, 1), *cred, kExpected)));
  // No user verification, no presence, wrong ceremony type.
  EXPECT_TRUE(field_is_passkey(VerifyAssertion(auth.Sign(kExpected, 1, kFlagUp), *cred, kExpected)));
  EXPECT_TRUE(field_is_passkey(VerifyAssertion(auth.Sign(kExpected, 1, kFlagUv), *cred, kExpected)));
  EXPECT_TRUE(field_is_passkey(
      VerifyAssertion(auth.Sign(kExpected, 1, kFlagUp | kFlagUv, "webauthn.create"), *cred, kExpected)));
  // A tampered signature, a tampered authData, another credential.
  Assertion a = auth.Sign(kExpected, 1);
  a.signature[a.signature.size() / 2] ^= 0x01;
  auto bad = VerifyAssertion(a, *cred, kExpected);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), ErrorCode::kPermissionDenied);
  a = auth.Sign(kExpected, 1);
  a.authenticator_data[34] ^= 0x01;  // the counter, under the signature
  EXPECT_FALSE(VerifyAssertion(a, *cred, kExpected).has_value());
  a = auth.Sign(kExpected, 1);
  a.credential_id += "x";
  EXPECT_TRUE(field_is_passkey(VerifyAssertion(a, *cred, kExpected)));
  // A counter that does not grow: a clone.
  cred->sign_count = 5;
  auto clone = VerifyAssertion(auth.Sign(kExpected, 5), *cred, kExpected);
  ASSERT_FALSE(clone.has_value());
  EXPECT_EQ(clone.error().code(), ErrorCode::kPermissionDenied);
}

TEST_P(WebAuthnTest, RegistrationRefusals) {
  TestAuthenticator auth(GetParam());
  EXPECT_FALSE(VerifyRegistration(auth.Register(kExpected, kFlagUp | kFlagAt), kExpected).has_value())
      << "no user verification";
  EXPECT_FALSE(VerifyRegistration(auth.Register(kExpected, kFlagUp | kFlagUv), kExpected).has_value())
      << "no attested credential";
  Expected other = kExpected;
  other.origin = "http://bg.example:8443";
  EXPECT_FALSE(VerifyRegistration(auth.Register(kExpected), other).has_value());
  // An RS256 key (COSE -257) is not accepted; neither is a point off the curve.
  Cbor rsa = Map({{Int(1), Int(3)}, {Int(3), Int(-257)}, {Int(-1), Bytes("n")}, {Int(-2), Bytes("e")}});
  EXPECT_FALSE(VerifyRegistration(auth.Register(kExpected, kFlagUp | kFlagUv | kFlagAt, rsa), kExpected).has_value());
  Cbor off = Map({{Int(1), Int(2)}, {Int(3), Int(kEs256)}, {Int(-1), Int(1)},
                  {Int(-2), Bytes(std::string(32, '\x01'))}, {Int(-3), Bytes(std::string(32, '\x02'))}});
  EXPECT_FALSE(VerifyRegistration(auth.Register(kExpected, kFlagUp | kFlagUv | kFlagAt, off), kExpected).has_value());
  Registration r = auth.Register(kExpected);
  r.attestation_object += "x";
  EXPECT_FALSE(VerifyRegistration(r, kExpected).has_value()) << "trailing bytes";
  r = auth.Register(kExpected);
  r.client_data_json = "not json";
  EXPECT_FALSE(VerifyRegistration(r, kExpected).has_value());
}

INSTANTIATE_TEST_SUITE_P(Algorithms, WebAuthnTest, ::testing::Values(kEs256, kEdDsa),
                         [](const auto& p) { return p.param == kEs256 ? "ES256" : "EdDSA"; });

TEST(Cbor, DecodesWhatItEncodesAndRefusesWhatWebAuthnNeverSends) {
  Cbor m = Map({{Text("a"), Int(-300)}, {Int(7), Bytes(std::string(300, 'x'))}});
  auto back = Cbor::Decode(m.Encode());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->Encode(), m.Encode());
  EXPECT_EQ(back->Find("a")->i, -300);
  EXPECT_EQ(back->Find(7)->s.size(), 300u);
  EXPECT_FALSE(Cbor::Decode("\x9f").has_value()) << "indefinite array";
  EXPECT_FALSE(Cbor::Decode("\xc1\x01").has_value()) << "tag";
  EXPECT_FALSE(Cbor::Decode("\xfa\x00\x00\x00\x00").has_value()) << "float";
  EXPECT_FALSE(Cbor::Decode("\x5a\xff\xff\xff\xff").has_value()) << "a string longer than its input";
  EXPECT_FALSE(Cbor::Decode("\x9b\xff\xff\xff\xff\xff\xff\xff\xff").has_value()) << "a huge array";
  EXPECT_FALSE(Cbor::Decode(std::string(40, '\x81')).has_value()) << "nesting";
  EXPECT_FALSE(Cbor::Decode(std::string_view("\x01\x02", 2)).has_value()) << "trailing";
  EXPECT_FALSE(Cbor::Decode("").has_value());
}

}  // namespace
}  // namespace bg::auth::webauthn
