// A WebAuthn authenticator for tests, made with OpenSSL keys (ES256 or EdDSA): it builds what a
// browser hands back (clientDataJSON, the CBOR attestation object with a COSE key, assertions
// signed over authData || SHA-256(clientDataJSON)), so the relying party's checks run on real
// signatures.
#pragma once

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "auth/webauthn.h"
#include "util/encoding.h"
#include "util/sha256.h"

namespace bg::auth::webauthn::testing_fakes {

inline Cbor Int(int64_t v) {
  Cbor c;
  c.type = Cbor::Type::kInt;
  c.i = v;
  return c;
}
inline Cbor Bytes(std::string s) {
  Cbor c;
  c.type = Cbor::Type::kBytes;
  c.s = std::move(s);
  return c;
}
inline Cbor Text(std::string s) {
  Cbor c;
  c.type = Cbor::Type::kText;
  c.s = std::move(s);
  return c;
}
inline Cbor Map(std::vector<std::pair<Cbor, Cbor>> entries) {
  Cbor c;
  c.type = Cbor::Type::kMap;
  c.entries = std::move(entries);
  return c;
}

class TestAuthenticator {
 public:
  explicit TestAuthenticator(int alg, std::string name = "") : alg_(alg) {
    key_ = alg == kEs256 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")
                         : EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    id_ = std::string("cred-") + (alg == kEs256 ? "es256" : "eddsa") + name + std::string(8, '\x01');
  }
  TestAuthenticator(const TestAuthenticator&) = delete;
  TestAuthenticator& operator=(const TestAuthenticator&) = delete;
  const std::string& id() const { return id_; }
  ~TestAuthenticator() { EVP_PKEY_free(key_); }

  Cbor CoseKey() const {
    if (alg_ == kEdDsa) {
      std::string raw(32, '\0');
      size_t len = raw.size();
      EVP_PKEY_get_raw_public_key(key_, reinterpret_cast<unsigned char*>(raw.data()), &len);
      return Map({{Int(1), Int(1)}, {Int(3), Int(kEdDsa)}, {Int(-1), Int(6)}, {Int(-2), Bytes(raw)}});
    }
    std::string point(65, '\0');
    size_t len = 0;
    EVP_PKEY_get_octet_string_param(key_, OSSL_PKEY_PARAM_PUB_KEY,
                                    reinterpret_cast<unsigned char*>(point.data()), point.size(), &len);
    return Map({{Int(1), Int(2)}, {Int(3), Int(kEs256)}, {Int(-1), Int(1)},
                {Int(-2), Bytes(point.substr(1, 32))}, {Int(-3), Bytes(point.substr(33, 32))}});
  }

  static std::string ClientData(const std::string& type, const Expected& e) {
    return nlohmann::json{{"type", type}, {"challenge", Base64UrlEncode(e.challenge)},
                          {"origin", e.origin}, {"crossOrigin", false}}
        .dump();
  }

  Registration Register(const Expected& e, uint8_t flags = kFlagUp | kFlagUv | kFlagAt,
                        std::optional<Cbor> cose = std::nullopt) const {
    std::string attested(16, '\0');  // AAGUID
    attested.push_back(static_cast<char>(id_.size() >> 8));
    attested.push_back(static_cast<char>(id_.size() & 0xff));
    attested += id_;
    attested += (cose ? *cose : CoseKey()).Encode();
    Cbor att = Map({{Text("fmt"), Text("none")},
                    {Text("attStmt"), Map({})},
                    {Text("authData"), Bytes(AuthenticatorData(e.rp_id, flags, 0, attested))}});
    return Registration{ClientData("webauthn.create", e), att.Encode()};
  }

  Assertion Sign(const Expected& e, uint32_t counter, uint8_t flags = kFlagUp | kFlagUv,
                 const std::string& type = "webauthn.get") const {
    Assertion a;
    a.credential_id = id_;
    a.client_data_json = ClientData(type, e);
    a.authenticator_data = AuthenticatorData(e.rp_id, flags, counter);
    std::string msg = a.authenticator_data;
    msg.append(AsBytes(Sha256(a.client_data_json)));
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestSignInit(ctx, nullptr, alg_ == kEs256 ? EVP_sha256() : nullptr, nullptr, key_);
    size_t len = 0;
    EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(msg.data()), msg.size());
    a.signature.resize(len);
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(a.signature.data()), &len,
                   reinterpret_cast<const unsigned char*>(msg.data()), msg.size());
    a.signature.resize(len);
    EVP_MD_CTX_free(ctx);
    return a;
  }

 private:
  int alg_;
  EVP_PKEY* key_ = nullptr;
  std::string id_;
};

}  // namespace bg::auth::webauthn::testing_fakes
