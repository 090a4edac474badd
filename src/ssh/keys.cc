#include "ssh/keys.h"

#include <fmt/format.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <sodium.h>

#include <array>
#include <memory>

#include "util/encoding.h"
#include "util/sha256.h"

namespace bg::ssh {
namespace {

constexpr std::string_view kField = "public_key";

struct KeyTypeInfo {
  KeyType type;
  std::string_view name;
  std::string_view cert_name;
  std::string_view curve;  // ECDSA curve identifier (RFC 5656), empty otherwise
  int nid;                 // OpenSSL curve, 0 otherwise
  size_t point_size;       // uncompressed point: 1 + 2 * field bytes
};

constexpr std::array<KeyTypeInfo, 5> kKeyTypes = {{
    {KeyType::kEd25519, "ssh-ed25519", "ssh-ed25519-cert-v01@openssh.com", "", 0, 0},
    {KeyType::kEcdsaNistp256, "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256-cert-v01@openssh.com",
     "nistp256", NID_X9_62_prime256v1, 65},
    {KeyType::kEcdsaNistp384, "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384-cert-v01@openssh.com",
     "nistp384", NID_secp384r1, 97},
    {KeyType::kEcdsaNistp521, "ecdsa-sha2-nistp521", "ecdsa-sha2-nistp521-cert-v01@openssh.com",
     "nistp521", NID_secp521r1, 133},
    {KeyType::kRsa, "ssh-rsa", "ssh-rsa-cert-v01@openssh.com", "", 0, 0},
}};

const KeyTypeInfo& Info(KeyType type) {
  for (const auto& info : kKeyTypes) {
    if (info.type == type) return info;
  }
  return kKeyTypes[0];  // unreachable: every enumerator is in the table
}

Error KeyError(std::string message) {
  return Error::InvalidArgument(std::string(kField), std::move(message));
}

Status CheckEcPoint(const KeyTypeInfo& info, std::string_view q) {
  if (q.size() != info.point_size || static_cast<uint8_t>(q[0]) != 0x04) {
    return KeyError(fmt::format("{} public point must be {} bytes, uncompressed (0x04 ...)",
                                info.name, info.point_size));
  }
  std::unique_ptr<EC_GROUP, decltype(&EC_GROUP_free)> group(EC_GROUP_new_by_curve_name(info.nid),
                                                            &EC_GROUP_free);
  if (!group) return Error::Internal("OpenSSL lacks curve " + std::string(info.curve));
  std::unique_ptr<EC_POINT, decltype(&EC_POINT_free)> point(EC_POINT_new(group.get()),
                                                            &EC_POINT_free);
  if (!point) return Error::Internal("out of memory");
  const auto* bytes = reinterpret_cast<const unsigned char*>(q.data());
  if (EC_POINT_oct2point(group.get(), point.get(), bytes, q.size(), nullptr) != 1 ||
      EC_POINT_is_at_infinity(group.get(), point.get()) == 1 ||
      EC_POINT_is_on_curve(group.get(), point.get(), nullptr) != 1) {
    return KeyError(fmt::format("{} public point is not on the curve", info.name));
  }
  return Ok();
}

// Bit length of a positive mpint given by its minimal wire bytes.
int MpintBits(std::string_view m) {
  size_t i = 0;
  while (i < m.size() && m[i] == '\0') ++i;
  if (i == m.size()) return 0;
  int bits = static_cast<int>((m.size() - i) * 8);
  for (auto top = static_cast<uint8_t>(m[i]); (top & 0x80) == 0; top <<= 1) --bits;
  return bits;
}

bool MpintIsOdd(std::string_view m) { return !m.empty() && (m.back() & 1) != 0; }

Status ReadKeyFields(const KeyTypeInfo& info, WireReader& reader) {
  switch (info.type) {
    case KeyType::kEd25519: {
      BG_ASSIGN_OR_RETURN(std::string_view pk, reader.String("ed25519 public key"));
      if (pk.size() != crypto_sign_PUBLICKEYBYTES) {
        return KeyError(fmt::format("ssh-ed25519 public key must be 32 bytes, not {}", pk.size()));
      }
      return Ok();
    }
    case KeyType::kEcdsaNistp256:
    case KeyType::kEcdsaNistp384:
    case KeyType::kEcdsaNistp521: {
      BG_ASSIGN_OR_RETURN(std::string_view curve, reader.String("ecdsa curve"));
      if (curve != info.curve) {
        return KeyError(fmt::format("{} key names curve \"{}\"", info.name, curve));
      }
      BG_ASSIGN_OR_RETURN(std::string_view q, reader.String("ecdsa public point"));
      return CheckEcPoint(info, q);
    }
    case KeyType::kRsa: {
      BG_ASSIGN_OR_RETURN(std::string_view e, reader.PositiveMpint("rsa exponent"));
      BG_ASSIGN_OR_RETURN(std::string_view n, reader.PositiveMpint("rsa modulus"));
      if (!MpintIsOdd(e) || MpintBits(e) < 2 || MpintBits(e) > 64) {
        return KeyError("ssh-rsa public exponent must be odd, at least 3 and at most 64 bits");
      }
      const int bits = MpintBits(n);
      if (!MpintIsOdd(n) || bits < kMinRsaBits || bits > kMaxRsaBits) {
        return KeyError(
            fmt::format("ssh-rsa modulus of {} bits refused: must be odd, {} to {} bits", bits,
                        kMinRsaBits, kMaxRsaBits));
      }
      return Ok();
    }
  }
  return Error::Internal("unknown key type");
}

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n";
  const size_t b = s.find_first_not_of(kSpace);
  if (b == s.npos) return {};
  return s.substr(b, s.find_last_not_of(kSpace) - b + 1);
}

constexpr std::string_view kAuthMagic("openssh-key-v1\0", 15);
constexpr std::string_view kBeginPrivate = "-----BEGIN OPENSSH PRIVATE KEY-----";
constexpr std::string_view kEndPrivate = "-----END OPENSSH PRIVATE KEY-----";
constexpr size_t kPrivateBlockSize = 8;  // the "none" cipher's block size in OpenSSH
constexpr size_t kArmorColumns = 70;

// Holds a std::string of secret bytes and zeroes it when done.
struct WipedString {
  std::string s;
  ~WipedString() {
    if (!s.empty()) sodium_memzero(s.data(), s.size());
  }
};

Result<PublicKey> Ed25519Public(std::string_view pk) {
  WireWriter w;
  w.String("ssh-ed25519");
  w.String(pk);
  return PublicKey::FromBlob(w.data());
}

}  // namespace

std::string_view ToString(KeyType type) { return Info(type).name; }
std::string_view CertificateTypeName(KeyType type) { return Info(type).cert_name; }

Result<KeyType> ParseKeyType(std::string_view name) {
  for (const auto& info : kKeyTypes) {
    if (info.name == name) return info.type;
  }
  if (name.size() > 21 && name.substr(name.size() - 21) == "-cert-v01@openssh.com") {
    return KeyError(fmt::format("\"{}\" is a certificate; give the plain public key", name));
  }
  if (name == "ssh-dss") return KeyError("DSA keys (ssh-dss) are not supported");
  if (name.substr(0, 3) == "sk-") {
    return KeyError(fmt::format("security-key type \"{}\" is not supported", name));
  }
  return KeyError(
      fmt::format("unsupported key type \"{}\"; supported: ssh-ed25519, ecdsa-sha2-nistp256, "
                  "ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, ssh-rsa",
                  name.substr(0, 64)));
}

Result<PublicKey> PublicKey::ReadFields(KeyType type, WireReader& reader) {
  const size_t start = reader.consumed().size();
  BG_TRY(ReadKeyFields(Info(type), reader));
  std::string_view fields = reader.consumed().substr(start);
  WireWriter w;
  w.String(ToString(type));
  const size_t offset = w.size();
  w.Raw(fields);
  return PublicKey(type, w.Take(), offset);
}

Result<PublicKey> PublicKey::FromBlob(std::string_view blob) {
  Result<PublicKey> key = FromBlobUnlabelled(blob);
  if (!key.has_value()) return WithField(key.error(), kField);
  return key;
}

Result<PublicKey> PublicKey::FromBlobUnlabelled(std::string_view blob) {
  WireReader reader(blob, "public key");
  BG_ASSIGN_OR_RETURN(std::string_view name, reader.String("key type"));
  BG_ASSIGN_OR_RETURN(KeyType type, ParseKeyType(name));
  BG_ASSIGN_OR_RETURN(PublicKey key, ReadFields(type, reader));
  BG_TRY(reader.ExpectEnd());
  return key;
}

Result<PublicKey> PublicKey::ParseLine(std::string_view line) {
  line = Trim(line);
  if (line.empty()) return KeyError("empty public key");
  if (line.find_first_of("\r\n") != line.npos) return KeyError("expected one line, got several");
  const size_t sp = line.find_first_of(" \t");
  if (sp == line.npos) return KeyError("expected \"type base64 [comment]\"");
  std::string_view type_name = line.substr(0, sp);
  BG_ASSIGN_OR_RETURN(KeyType type, ParseKeyType(type_name));
  std::string_view rest = Trim(line.substr(sp));
  const size_t sp2 = rest.find_first_of(" \t");
  std::string_view b64 = rest.substr(0, sp2);
  std::string_view comment = sp2 == rest.npos ? std::string_view() : Trim(rest.substr(sp2));
  std::optional<std::string> blob = Base64Decode(b64);
  if (!blob) return KeyError("key data is not valid base64");
  BG_ASSIGN_OR_RETURN(PublicKey key, FromBlob(*blob));
  if (key.type() != type) {
    return KeyError(
        fmt::format("line says {} but the key data is {}", type_name, ToString(key.type())));
  }
  key.set_comment(std::string(comment));
  return key;
}

std::string PublicKey::ToLine() const {
  std::string line = fmt::format("{} {}", ToString(type_), Base64Encode(blob_));
  if (!comment_.empty()) line += " " + comment_;
  return line;
}

std::string PublicKey::Fingerprint() const {
  std::string b64 = Base64Encode(AsBytes(Sha256(blob_)));
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  return "SHA256:" + b64;
}

Status VerifyEd25519Signature(const PublicKey& key, std::string_view message,
                              std::string_view signature_blob) {
  if (key.type() != KeyType::kEd25519) {
    return Error::InvalidArgument("signature", "only Ed25519 signatures are supported");
  }
  WireReader reader(signature_blob, "signature");
  BG_ASSIGN_OR_RETURN(std::string_view alg, reader.String("signature algorithm"));
  if (alg != "ssh-ed25519") {
    return Error::InvalidArgument(
        "signature",
        fmt::format("signature algorithm \"{}\" is not ssh-ed25519", alg.substr(0, 64)));
  }
  BG_ASSIGN_OR_RETURN(std::string_view sig, reader.String("signature bytes"));
  BG_TRY(reader.ExpectEnd());
  if (sig.size() != crypto_sign_BYTES) {
    return Error::InvalidArgument("signature", "Ed25519 signature must be 64 bytes");
  }
  WireReader key_reader(key.fields(), "public key");
  BG_ASSIGN_OR_RETURN(std::string_view pk, key_reader.String("ed25519 public key"));
  if (crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig.data()),
                                  reinterpret_cast<const unsigned char*>(message.data()),
                                  message.size(),
                                  reinterpret_cast<const unsigned char*>(pk.data())) != 0) {
    return Error::PermissionDenied("Ed25519 signature does not verify");
  }
  return Ok();
}

Ed25519PrivateKey Ed25519PrivateKey::Generate(Random& random) {
  InitCrypto();
  std::array<unsigned char, crypto_sign_SEEDBYTES> seed{};
  random.Fill(seed.data(), seed.size());
  std::vector<uint8_t> sk(crypto_sign_SECRETKEYBYTES);
  std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> pk{};
  crypto_sign_seed_keypair(pk.data(), sk.data(), seed.data());
  sodium_memzero(seed.data(), seed.size());
  Secret secret(std::move(sk));
  Result<PublicKey> pub =
      Ed25519Public(std::string_view(reinterpret_cast<const char*>(pk.data()), pk.size()));
  return Ed25519PrivateKey(std::move(secret), std::move(pub).value());
}

Result<Ed25519PrivateKey> Ed25519PrivateKey::FromStorageBytes(const Secret& bytes) {
  InitCrypto();
  if (bytes.size() != kStorageSize) {
    return Error::InvalidArgument("private_key", "Ed25519 private key must be 64 bytes");
  }
  std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> pk{};
  std::vector<uint8_t> sk(crypto_sign_SECRETKEYBYTES);
  crypto_sign_seed_keypair(pk.data(), sk.data(), bytes.data());
  Secret derived(std::move(sk));
  if (!derived.Equals(bytes)) {
    return Error::InvalidArgument("private_key",
                                  "Ed25519 private key's public half does not match its seed");
  }
  BG_ASSIGN_OR_RETURN(PublicKey pub, Ed25519Public(std::string_view(
                                         reinterpret_cast<const char*>(pk.data()), pk.size())));
  return Ed25519PrivateKey(std::move(derived), std::move(pub));
}

std::string Ed25519PrivateKey::PublicKeyLine(std::string_view comment) const {
  PublicKey key = public_key_;
  key.set_comment(std::string(comment));
  return key.ToLine();
}

std::string Ed25519PrivateKey::SignRaw(std::string_view message) const {
  std::string sig(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       secret_.data());
  return sig;
}

std::string Ed25519PrivateKey::Sign(std::string_view message) const {
  WireWriter w;
  w.String("ssh-ed25519");
  w.String(SignRaw(message));
  return w.Take();
}

Secret Ed25519PrivateKey::ToOpenSshPrivateKeyFile(std::string_view comment, Random& random) const {
  uint32_t check = 0;
  random.Fill(reinterpret_cast<uint8_t*>(&check), sizeof check);
  WireWriter priv;
  priv.U32(check);
  priv.U32(check);
  priv.String("ssh-ed25519");
  priv.String(std::string_view(secret_.Reveal()).substr(crypto_sign_SEEDBYTES));
  priv.String(secret_.Reveal());
  priv.String(comment);
  for (uint8_t pad = 1; priv.size() % kPrivateBlockSize != 0; ++pad) priv.U8(pad);

  WireWriter file;
  file.Raw(kAuthMagic);
  file.String("none");
  file.String("none");
  file.String("");
  file.U32(1);
  file.String(public_key_.blob());
  file.String(priv.data());
  priv.Wipe();

  WipedString b64{Base64Encode(file.data())};
  file.Wipe();
  WipedString armored;
  armored.s.reserve(b64.s.size() + b64.s.size() / kArmorColumns + 80);
  armored.s.append(kBeginPrivate).push_back('\n');
  for (size_t i = 0; i < b64.s.size(); i += kArmorColumns) {
    armored.s.append(std::string_view(b64.s).substr(i, kArmorColumns)).push_back('\n');
  }
  armored.s.append(kEndPrivate).push_back('\n');
  return Secret(std::string_view(armored.s));
}

Result<Ed25519PrivateKey> Ed25519PrivateKey::FromOpenSshPrivateKeyFile(std::string_view file,
                                                                       std::string* comment) {
  constexpr std::string_view kF = "private_key";
  file = Trim(file);
  if (file.substr(0, kBeginPrivate.size()) != kBeginPrivate ||
      file.size() < kBeginPrivate.size() + kEndPrivate.size() ||
      file.substr(file.size() - kEndPrivate.size()) != kEndPrivate) {
    return Error::InvalidArgument(std::string(kF), "not an OpenSSH private key file");
  }
  std::string_view body =
      file.substr(kBeginPrivate.size(), file.size() - kBeginPrivate.size() - kEndPrivate.size());
  WipedString b64;
  for (char c : body) {
    if (c != '\n' && c != '\r') b64.s.push_back(c);
  }
  std::optional<std::string> decoded = Base64Decode(b64.s);
  if (!decoded) return Error::InvalidArgument(std::string(kF), "private key is not valid base64");
  WipedString raw{std::move(*decoded)};
  Result<Ed25519PrivateKey> key = FromPrivateKeyBlob(raw.s, comment);
  if (!key.has_value()) return WithField(key.error(), kF);
  return key;
}

Result<Ed25519PrivateKey> Ed25519PrivateKey::FromPrivateKeyBlob(std::string_view raw,
                                                                std::string* comment) {
  constexpr std::string_view kF = "private_key";

  WireReader r(raw, "private key file");
  BG_ASSIGN_OR_RETURN(std::string_view magic, r.Raw(kAuthMagic.size(), "magic"));
  if (magic != kAuthMagic) return Error::InvalidArgument(std::string(kF), "bad magic");
  BG_ASSIGN_OR_RETURN(std::string_view cipher, r.String("cipher"));
  BG_ASSIGN_OR_RETURN(std::string_view kdf, r.String("kdf"));
  BG_ASSIGN_OR_RETURN(std::string_view kdf_options, r.String("kdf options"));
  if (cipher != "none" || kdf != "none" || !kdf_options.empty()) {
    return Error::InvalidArgument(std::string(kF), "encrypted private keys are not supported");
  }
  BG_ASSIGN_OR_RETURN(uint32_t count, r.U32("key count"));
  if (count != 1) return Error::InvalidArgument(std::string(kF), "expected exactly one key");
  BG_ASSIGN_OR_RETURN(std::string_view pub_blob, r.String("public key"));
  BG_ASSIGN_OR_RETURN(std::string_view priv_blob, r.String("private section"));
  BG_TRY(r.ExpectEnd());

  WireReader p(priv_blob, "private section");
  BG_ASSIGN_OR_RETURN(uint32_t check1, p.U32("checkint"));
  BG_ASSIGN_OR_RETURN(uint32_t check2, p.U32("checkint"));
  if (check1 != check2) return Error::InvalidArgument(std::string(kF), "checkint mismatch");
  BG_ASSIGN_OR_RETURN(std::string_view type, p.String("key type"));
  if (type != "ssh-ed25519") {
    return Error::InvalidArgument(std::string(kF), "only Ed25519 private keys are supported");
  }
  BG_ASSIGN_OR_RETURN(std::string_view pk, p.String("ed25519 public key"));
  BG_ASSIGN_OR_RETURN(std::string_view sk, p.String("ed25519 secret key"));
  BG_ASSIGN_OR_RETURN(std::string_view key_comment, p.String("comment"));
  for (uint8_t pad = 1; !p.empty(); ++pad) {
    BG_ASSIGN_OR_RETURN(uint8_t b, p.U8("padding"));
    if (b != pad) return Error::InvalidArgument(std::string(kF), "bad padding");
  }
  if (priv_blob.size() % kPrivateBlockSize != 0) {
    return Error::InvalidArgument(std::string(kF), "private section is not padded to 8 bytes");
  }
  if (sk.size() != kStorageSize || pk != sk.substr(crypto_sign_SEEDBYTES)) {
    return Error::InvalidArgument(std::string(kF), "inconsistent Ed25519 key");
  }
  BG_ASSIGN_OR_RETURN(Ed25519PrivateKey key, FromStorageBytes(Secret(sk)));
  if (key.public_key().blob() != pub_blob) {
    return Error::InvalidArgument(std::string(kF), "public key does not match the private key");
  }
  if (comment != nullptr) *comment = std::string(key_comment);
  return key;
}

}  // namespace bg::ssh
