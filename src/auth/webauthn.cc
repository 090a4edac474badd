#include "auth/webauthn.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "util/encoding.h"
#include "util/secret.h"
#include "util/sha256.h"

namespace bg::auth::webauthn {

namespace {

Error Bad(std::string message) { return Error::InvalidArgument("passkey", std::move(message)); }
Error Refused(std::string message) {
  return Error(ErrorCode::kPermissionDenied, std::move(message), "passkey");
}

constexpr int kMaxDepth = 16;

struct Reader {
  std::string_view in;
  size_t pos = 0;
  bool Take(size_t n, std::string_view* out) {
    if (in.size() - pos < n) return false;
    *out = in.substr(pos, n);
    pos += n;
    return true;
  }
  bool Byte(uint8_t* b) {
    if (pos >= in.size()) return false;
    *b = static_cast<uint8_t>(in[pos++]);
    return true;
  }
};

Result<Cbor> DecodeItem(Reader& r, int depth) {
  if (depth > kMaxDepth) return Bad("CBOR nests too deep");
  uint8_t head = 0;
  if (!r.Byte(&head)) return Bad("CBOR ends early");
  const int major = head >> 5;
  const int info = head & 0x1f;
  uint64_t arg = 0;
  if (info < 24) {
    arg = static_cast<uint64_t>(info);
  } else if (info <= 27) {
    const size_t n = size_t{1} << (info - 24);
    std::string_view b;
    if (!r.Take(n, &b)) return Bad("CBOR ends early");
    for (char c : b) arg = (arg << 8) | static_cast<uint8_t>(c);
  } else {
    return Bad("CBOR indefinite lengths and reserved values are not accepted");
  }
  Cbor v;
  switch (major) {
    case 0:
      if (arg > static_cast<uint64_t>(INT64_MAX)) return Bad("CBOR integer out of range");
      v.type = Cbor::Type::kInt;
      v.i = static_cast<int64_t>(arg);
      return v;
    case 1:
      if (arg > static_cast<uint64_t>(INT64_MAX)) return Bad("CBOR integer out of range");
      v.type = Cbor::Type::kInt;
      v.i = -1 - static_cast<int64_t>(arg);
      return v;
    case 2:
    case 3: {
      std::string_view b;
      if (arg > r.in.size() || !r.Take(static_cast<size_t>(arg), &b)) return Bad("CBOR string ends early");
      v.type = major == 2 ? Cbor::Type::kBytes : Cbor::Type::kText;
      v.s = std::string(b);
      return v;
    }
    case 4:
      if (arg > r.in.size()) return Bad("CBOR array longer than its input");
      v.type = Cbor::Type::kArray;
      for (uint64_t k = 0; k < arg; ++k) {
        BG_ASSIGN_OR_RETURN(Cbor item, DecodeItem(r, depth + 1));
        v.items.push_back(std::move(item));
      }
      return v;
    case 5:
      if (arg > r.in.size()) return Bad("CBOR map longer than its input");
      v.type = Cbor::Type::kMap;
      for (uint64_t k = 0; k < arg; ++k) {
        BG_ASSIGN_OR_RETURN(Cbor key, DecodeItem(r, depth + 1));
        BG_ASSIGN_OR_RETURN(Cbor value, DecodeItem(r, depth + 1));
        v.entries.emplace_back(std::move(key), std::move(value));
      }
      return v;
    case 7:
      if (info == 20 || info == 21) {
        v.type = Cbor::Type::kBool;
        v.i = info == 21;
        return v;
      }
      if (info == 22) return v;  // null
      return Bad("CBOR simple value or float not accepted");
    default:
      return Bad("CBOR tags are not accepted");
  }
}

void EncodeHead(std::string& out, int major, uint64_t arg) {
  const auto m = static_cast<uint8_t>(major << 5);
  if (arg < 24) {
    out.push_back(static_cast<char>(m | arg));
    return;
  }
  int n = arg <= 0xff ? 1 : arg <= 0xffff ? 2 : arg <= 0xffffffff ? 4 : 8;
  out.push_back(static_cast<char>(m | (24 + (n == 1 ? 0 : n == 2 ? 1 : n == 4 ? 2 : 3))));
  for (int k = n - 1; k >= 0; --k) out.push_back(static_cast<char>((arg >> (8 * k)) & 0xff));
}

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

// An OpenSSL key for a stored credential's public key.
Result<Pkey> PublicKey(int alg, std::string_view raw) {
  if (alg == kEdDsa) {
    if (raw.size() != 32) return Bad("an Ed25519 key is 32 bytes");
    EVP_PKEY* k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                              reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
    if (!k) return Bad("not an Ed25519 public key");
    return Pkey(k);
  }
  if (alg == kEs256) {
    if (raw.size() != 65 || raw[0] != 0x04) return Bad("a P-256 key is an uncompressed point");
    OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
    if (!bld) return Error::Internal("out of memory");
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, raw.data(), raw.size());
    OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
    EVP_PKEY* k = nullptr;
    const bool ok = params && ctx && EVP_PKEY_fromdata_init(ctx) > 0 &&
                    EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) > 0;
    OSSL_PARAM_free(params);
    EVP_PKEY_CTX_free(ctx);
    if (!ok || !k) return Bad("not a P-256 public key");
    Pkey key(k);
    // The point must be on the curve (fromdata does not check it).
    EVP_PKEY_CTX* check = EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr);
    const bool valid = check && EVP_PKEY_public_check(check) > 0;
    EVP_PKEY_CTX_free(check);
    if (!valid) return Bad("the P-256 point is not on the curve");
    return key;
  }
  return Bad("only ES256 (-7) and EdDSA (-8) keys are accepted");
}

bool VerifySignature(EVP_PKEY* key, int alg, std::string_view message, std::string_view sig) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (!ctx) return false;
  const EVP_MD* md = alg == kEs256 ? EVP_sha256() : nullptr;
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, md, nullptr, key) > 0 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                             reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

// The parts of clientDataJSON that matter, checked against what the server expects.
Status CheckClientData(std::string_view client_data_json, std::string_view type, const Expected& expected) {
  nlohmann::json cd = nlohmann::json::parse(client_data_json, nullptr, false);
  if (cd.is_discarded() || !cd.is_object()) return Bad("clientDataJSON is not a JSON object");
  auto text = [&](const char* key) -> std::string {
    auto it = cd.find(key);
    return it != cd.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (text("type") != type) return Bad("clientDataJSON.type is not " + std::string(type));
  auto challenge = Base64UrlDecode(text("challenge"));
  if (!challenge || !ConstantTimeEquals(*challenge, expected.challenge)) {
    return Bad("the challenge is not the one this server issued (or it was used)");
  }
  if (text("origin") != expected.origin) {
    return Bad("clientDataJSON.origin '" + text("origin") + "' is not " + expected.origin);
  }
  if (auto it = cd.find("crossOrigin"); it != cd.end() && it->is_boolean() && it->get<bool>()) {
    return Bad("a cross-origin ceremony is not accepted");
  }
  return Ok();
}

struct AuthData {
  std::string rp_id_hash;
  uint8_t flags = 0;
  uint32_t sign_count = 0;
  std::string credential_id;  // with AT
  Cbor cose_key;              // with AT
};

Result<AuthData> ParseAuthData(std::string_view data, bool attested) {
  if (data.size() < 37) return Bad("authenticator data is shorter than 37 bytes");
  AuthData a;
  a.rp_id_hash = std::string(data.substr(0, 32));
  a.flags = static_cast<uint8_t>(data[32]);
  for (int k = 0; k < 4; ++k) a.sign_count = (a.sign_count << 8) | static_cast<uint8_t>(data[33 + k]);
  std::string_view rest = data.substr(37);
  const bool at = (a.flags & kFlagAt) != 0;
  if (attested != at) {
    return Bad(attested ? "registration data has no attested credential"
                        : "an assertion carries attested credential data");
  }
  if (at) {
    if (rest.size() < 18) return Bad("attested credential data is too short");
    const size_t len = (static_cast<uint8_t>(rest[16]) << 8) | static_cast<uint8_t>(rest[17]);
    if (len == 0 || len > 1023 || rest.size() < 18 + len) return Bad("bad credential id length");
    a.credential_id = std::string(rest.substr(18, len));
    std::string_view after = rest.substr(18 + len);
    BG_ASSIGN_OR_RETURN(a.cose_key, Cbor::Decode(after, &rest));
  }
  if ((a.flags & kFlagEd) != 0) {
    std::string_view ext_rest;
    BG_ASSIGN_OR_RETURN(Cbor ext, Cbor::Decode(rest, &ext_rest));
    if (ext.type != Cbor::Type::kMap) return Bad("extensions are not a map");
    rest = ext_rest;
  }
  if (!rest.empty()) return Bad("authenticator data has trailing bytes");
  return a;
}

Status CheckRpAndFlags(const AuthData& a, const Expected& expected) {
  const Digest want = Sha256(expected.rp_id);
  if (!ConstantTimeEquals(a.rp_id_hash, AsBytes(want))) return Bad("the RP ID hash is not " + expected.rp_id + "'s");
  if ((a.flags & kFlagUp) == 0) return Bad("the user was not present (UP flag)");
  if ((a.flags & kFlagUv) == 0) return Bad("the user was not verified (UV flag): use a PIN or biometric");
  return Ok();
}

// COSE_Key -> (alg, raw public key).
Result<std::pair<int, std::string>> FromCose(const Cbor& key) {
  if (key.type != Cbor::Type::kMap) return Bad("the credential public key is not a COSE map");
  auto integer = [&](int64_t k) -> std::optional<int64_t> {
    const Cbor* v = key.Find(k);
    if (!v || v->type != Cbor::Type::kInt) return std::nullopt;
    return v->i;
  };
  auto bytes = [&](int64_t k) -> std::optional<std::string> {
    const Cbor* v = key.Find(k);
    if (!v || v->type != Cbor::Type::kBytes) return std::nullopt;
    return v->s;
  };
  const auto kty = integer(1), alg = integer(3), crv = integer(-1);
  const auto x = bytes(-2);
  if (alg == kEs256) {
    const auto y = bytes(-3);
    if (kty != 2 || crv != 1 || !x || !y || x->size() != 32 || y->size() != 32) {
      return Bad("an ES256 key is EC2 on P-256 with 32-byte x and y");
    }
    return std::make_pair(kEs256, std::string("\x04", 1) + *x + *y);
  }
  if (alg == kEdDsa) {
    if (kty != 1 || crv != 6 || !x || x->size() != 32) return Bad("an EdDSA key is OKP Ed25519 with a 32-byte x");
    return std::make_pair(kEdDsa, *x);
  }
  return Bad("only ES256 (-7) and EdDSA (-8) keys are accepted");
}

}  // namespace

Cbor::Cbor() = default;

const Cbor* Cbor::Find(int64_t k) const {
  for (const auto& [key, value] : entries) {
    if (key.type == Type::kInt && key.i == k) return &value;
  }
  return nullptr;
}

const Cbor* Cbor::Find(std::string_view k) const {
  for (const auto& [key, value] : entries) {
    if (key.type == Type::kText && key.s == k) return &value;
  }
  return nullptr;
}

Result<Cbor> Cbor::Decode(std::string_view bytes, std::string_view* rest) {
  Reader r{bytes};
  BG_ASSIGN_OR_RETURN(Cbor v, DecodeItem(r, 0));
  if (rest) {
    *rest = bytes.substr(r.pos);
  } else if (r.pos != bytes.size()) {
    return Bad("CBOR has trailing bytes");
  }
  return v;
}

std::string Cbor::Encode() const {
  std::string out;
  switch (type) {
    case Type::kInt:
      if (i >= 0) EncodeHead(out, 0, static_cast<uint64_t>(i));
      else EncodeHead(out, 1, static_cast<uint64_t>(-1 - i));
      break;
    case Type::kBytes:
    case Type::kText:
      EncodeHead(out, type == Type::kBytes ? 2 : 3, s.size());
      out += s;
      break;
    case Type::kArray:
      EncodeHead(out, 4, items.size());
      for (const auto& item : items) out += item.Encode();
      break;
    case Type::kMap:
      EncodeHead(out, 5, entries.size());
      for (const auto& [k, v] : entries) out += k.Encode() + v.Encode();
      break;
    case Type::kBool:
      out.push_back(static_cast<char>(i ? 0xf5 : 0xf4));
      break;
    case Type::kNull:
      out.push_back(static_cast<char>(0xf6));
      break;
  }
  return out;
}

std::string AuthenticatorData(std::string_view rp_id, uint8_t flags, uint32_t sign_count,
                              std::string_view attested_credential_data) {
  std::string out(AsBytes(Sha256(rp_id)));
  out.push_back(static_cast<char>(flags));
  for (int k = 3; k >= 0; --k) out.push_back(static_cast<char>((sign_count >> (8 * k)) & 0xff));
  out += attested_credential_data;
  return out;
}

Result<Credential> VerifyRegistration(const Registration& reg, const Expected& expected) {
  BG_TRY(CheckClientData(reg.client_data_json, "webauthn.create", expected));
  BG_ASSIGN_OR_RETURN(Cbor att, Cbor::Decode(reg.attestation_object));
  if (att.type != Cbor::Type::kMap) return Bad("the attestation object is not a map");
  const Cbor* auth_data = att.Find("authData");
  const Cbor* fmt = att.Find("fmt");
  if (!auth_data || auth_data->type != Cbor::Type::kBytes || !fmt || fmt->type != Cbor::Type::kText) {
    return Bad("the attestation object lacks fmt or authData");
  }
  BG_ASSIGN_OR_RETURN(AuthData a, ParseAuthData(auth_data->s, true));
  BG_TRY(CheckRpAndFlags(a, expected));
  BG_ASSIGN_OR_RETURN(auto key, FromCose(a.cose_key));
  BG_TRY(PublicKey(key.first, key.second));  // a usable key, checked once now
  Credential c;
  c.id = a.credential_id;
  c.alg = key.first;
  c.public_key = std::move(key.second);
  c.sign_count = a.sign_count;
  return c;
}

Result<uint32_t> VerifyAssertion(const Assertion& assertion, const Credential& credential,
                                 const Expected& expected) {
  if (assertion.credential_id != credential.id) return Bad("the assertion is by another credential");
  BG_TRY(CheckClientData(assertion.client_data_json, "webauthn.get", expected));
  BG_ASSIGN_OR_RETURN(AuthData a, ParseAuthData(assertion.authenticator_data, false));
  BG_TRY(CheckRpAndFlags(a, expected));
  BG_ASSIGN_OR_RETURN(Pkey key, PublicKey(credential.alg, credential.public_key));
  const Digest client_hash = Sha256(assertion.client_data_json);
  std::string message = assertion.authenticator_data;
  message.append(AsBytes(client_hash));
  if (!VerifySignature(key.get(), credential.alg, message, assertion.signature)) {
    return Refused("the passkey's signature does not verify");
  }
  if ((a.sign_count != 0 || credential.sign_count != 0) && a.sign_count <= credential.sign_count) {
    return Refused("the passkey's signature counter did not grow: it may have been cloned");
  }
  return a.sign_count;
}

}  // namespace bg::auth::webauthn
