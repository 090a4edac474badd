#include "ssh/keys.h"

#include <gtest/gtest.h>

#include "ssh/test_util.h"
#include "util/encoding.h"

namespace bg::ssh {
namespace {

using bg::testing::CountingRandom;
using bg::testing::RepeatingRandom;

// RFC 8032 section 7.1, TEST 1.
constexpr std::string_view kRfcSeedHex =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr std::string_view kRfcSignatureHex =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b4"
    "6bd25bf5f0595bbe24655141438e7a100b";
// The OpenSSH line for RFC 8032's TEST 1 public key; ssh-keygen -l printed the fingerprint.
constexpr std::string_view kRfcLine =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea rfc8032";
constexpr std::string_view kRfcFingerprint = "SHA256:bbXpuKG6zhzdmnxq256TlqzFBzRl2f6OOg722cYNbU8";

Ed25519PrivateKey RfcKey() {
  RepeatingRandom seed(*HexDecode(kRfcSeedHex));
  return Ed25519PrivateKey::Generate(seed);
}

TEST(KeyTypeTest, NamesRoundTrip) {
  for (KeyType t : {KeyType::kEd25519, KeyType::kEcdsaNistp256, KeyType::kEcdsaNistp384,
                    KeyType::kEcdsaNistp521, KeyType::kRsa}) {
    auto parsed = ParseKeyType(ToString(t));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, t);
    EXPECT_EQ(std::string(CertificateTypeName(t)),
              std::string(ToString(t)) + "-cert-v01@openssh.com");
  }
}

TEST(Ed25519PrivateKeyTest, GeneratesRfc8032KeyFromSeed) {
  Ed25519PrivateKey key = RfcKey();
  EXPECT_EQ(key.PublicKeyLine("rfc8032"), kRfcLine);
  EXPECT_EQ(key.public_key().Fingerprint(), kRfcFingerprint);
  EXPECT_EQ(HexEncode(key.SignRaw("")), kRfcSignatureHex);
}

TEST(Ed25519PrivateKeyTest, SignatureBlobVerifiesAndRejectsTampering) {
  Ed25519PrivateKey key = Ed25519PrivateKey::Generate();
  const std::string sig = key.Sign("message");
  EXPECT_TRUE(VerifyEd25519Signature(key.public_key(), "message", sig).has_value());

  Status wrong_message = VerifyEd25519Signature(key.public_key(), "messagf", sig);
  ASSERT_FALSE(wrong_message.has_value());
  EXPECT_EQ(wrong_message.error().code(), ErrorCode::kPermissionDenied);

  Ed25519PrivateKey other = Ed25519PrivateKey::Generate();
  EXPECT_FALSE(VerifyEd25519Signature(other.public_key(), "message", sig).has_value());

  for (size_t i = 0; i < sig.size() * 8; ++i) {
    std::string flipped = sig;
    flipped[i / 8] = static_cast<char>(flipped[i / 8] ^ (1 << (i % 8)));
    EXPECT_FALSE(VerifyEd25519Signature(key.public_key(), "message", flipped).has_value()) << i;
  }
}

TEST(Ed25519PrivateKeyTest, StorageBytesRoundTrip) {
  Ed25519PrivateKey key = Ed25519PrivateKey::Generate();
  ASSERT_EQ(key.StorageBytes().size(), Ed25519PrivateKey::kStorageSize);
  auto back = Ed25519PrivateKey::FromStorageBytes(key.StorageBytes());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->public_key(), key.public_key());
  EXPECT_EQ(back->SignRaw("x"), key.SignRaw("x"));
}

TEST(Ed25519PrivateKeyTest, StorageBytesWithWrongSizeOrMismatchedHalvesAreRefused) {
  EXPECT_FALSE(Ed25519PrivateKey::FromStorageBytes(Secret(std::string(32, 'a'))).has_value());
  EXPECT_FALSE(Ed25519PrivateKey::FromStorageBytes(Secret(std::string(65, 'a'))).has_value());
  std::string bytes(RfcKey().StorageBytes().Reveal());
  bytes[40] ^= 1;  // the public half no longer matches the seed
  auto r = Ed25519PrivateKey::FromStorageBytes(Secret(bytes));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().field(), "private_key");
}

TEST(OpenSshPrivateKeyFileTest, HasArmorAndRoundTrips) {
  Ed25519PrivateKey key = RfcKey();
  RepeatingRandom random("\x01\x02\x03\x04");
  Secret file = key.ToOpenSshPrivateKeyFile("ephemeral", random);
  std::string_view text = file.Reveal();
  EXPECT_EQ(text.substr(0, 36), "-----BEGIN OPENSSH PRIVATE KEY-----\n");
  EXPECT_EQ(text.substr(text.size() - 34), "-----END OPENSSH PRIVATE KEY-----\n");
  size_t start = 36;
  while (start < text.size()) {
    const size_t nl = text.find('\n', start);
    EXPECT_LE(nl - start, 70u);
    start = nl + 1;
  }
  std::string comment;
  auto back = Ed25519PrivateKey::FromOpenSshPrivateKeyFile(text, &comment);
  ASSERT_TRUE(back.has_value()) << back.error().ToString();
  EXPECT_EQ(back->public_key(), key.public_key());
  EXPECT_TRUE(back->StorageBytes().Equals(key.StorageBytes()));
  EXPECT_EQ(comment, "ephemeral");
}

TEST(OpenSshPrivateKeyFileTest, LayoutFollowsProtocolKey) {
  RepeatingRandom random("\xab");
  Secret file = RfcKey().ToOpenSshPrivateKeyFile("c", random);
  std::string b64;
  for (char c : file.Reveal().substr(36, file.size() - 36 - 34)) {
    if (c != '\n') b64 += c;
  }
  const std::string raw = *Base64Decode(b64);
  WireReader r(raw);
  EXPECT_EQ(*r.Raw(15, "magic"), std::string_view("openssh-key-v1\0", 15));
  EXPECT_EQ(*r.String("cipher"), "none");
  EXPECT_EQ(*r.String("kdf"), "none");
  EXPECT_EQ(*r.String("kdfoptions"), "");
  EXPECT_EQ(*r.U32("n"), 1u);
  EXPECT_EQ(*r.String("pub"), RfcKey().public_key().blob());
  const std::string priv(*r.String("priv"));
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(priv.size() % 8, 0u);
  WireReader p(priv);
  EXPECT_EQ(*p.U32("check1"), 0xababababu);
  EXPECT_EQ(*p.U32("check2"), 0xababababu);
  EXPECT_EQ(*p.String("type"), "ssh-ed25519");
  EXPECT_EQ(p.String("pk")->size(), 32u);
  EXPECT_EQ(p.String("sk")->size(), 64u);
  EXPECT_EQ(*p.String("comment"), "c");
  for (uint8_t i = 1; !p.empty(); ++i) EXPECT_EQ(*p.U8("pad"), i);
}

TEST(OpenSshPrivateKeyFileTest, TruncationsAndForeignFilesAreRefused) {
  const std::string text(RfcKey().ToOpenSshPrivateKeyFile("c").Reveal());
  for (size_t n = 0; n + 1 < text.size(); ++n) {
    // Cutting only the final newline leaves the file whole.
    if (n == text.size() - 1) continue;
    EXPECT_FALSE(Ed25519PrivateKey::FromOpenSshPrivateKeyFile(text.substr(0, n)).has_value()) << n;
  }
  EXPECT_FALSE(Ed25519PrivateKey::FromOpenSshPrivateKeyFile("-----BEGIN RSA PRIVATE KEY-----\n"
                                                            "-----END RSA PRIVATE KEY-----\n")
                   .has_value());
}

struct LineCase {
  const char* line;
  KeyType type;
  const char* fingerprint;
  const char* comment;
};

class ParseLineTest : public ::testing::TestWithParam<LineCase> {};

TEST_P(ParseLineTest, AcceptsSshKeygenKeysWithTheirFingerprints) {
  const LineCase& c = GetParam();
  auto key = PublicKey::ParseLine(std::string(c.line) + "\n");
  ASSERT_TRUE(key.has_value()) << key.error().ToString();
  EXPECT_EQ(key->type(), c.type);
  EXPECT_EQ(key->Fingerprint(), c.fingerprint);
  EXPECT_EQ(key->comment(), c.comment);
  EXPECT_EQ(key->ToLine(), c.line);
  auto again = PublicKey::FromBlob(key->blob());
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, *key);
  // fields() is the blob after the type string.
  EXPECT_EQ(key->blob().substr(4 + ToString(c.type).size()), key->fields());
}

INSTANTIATE_TEST_SUITE_P(SshKeygenKeys, ParseLineTest,
                         ::testing::Values(LineCase{testing::kEd25519Line, KeyType::kEd25519,
                                                    testing::kEd25519Fp, "root@vm"},
                                           LineCase{testing::kEcdsa256Line, KeyType::kEcdsaNistp256,
                                                    testing::kEcdsa256Fp, "ecdsab256@test"},
                                           LineCase{testing::kEcdsa384Line, KeyType::kEcdsaNistp384,
                                                    testing::kEcdsa384Fp, "ecdsab384@test"},
                                           LineCase{testing::kEcdsa521Line, KeyType::kEcdsaNistp521,
                                                    testing::kEcdsa521Fp, "ecdsab521@test"},
                                           LineCase{testing::kRsa2048Line, KeyType::kRsa,
                                                    testing::kRsa2048Fp, "rsab2048@test"}));

TEST(ParseLineTest, KeepsSpacesInsideTheCommentAndAcceptsNoComment) {
  auto key = PublicKey::ParseLine(std::string(kRfcLine.substr(0, 80)) + "  alice at laptop \r\n");
  ASSERT_TRUE(key.has_value()) << key.error().ToString();
  EXPECT_EQ(key->comment(), "alice at laptop");
  auto bare = PublicKey::ParseLine(kRfcLine.substr(0, 80));
  ASSERT_TRUE(bare.has_value());
  EXPECT_EQ(bare->comment(), "");
}

std::string BlobLine(std::string_view type, const WireWriter& w) {
  return std::string(type) + " " + Base64Encode(w.data());
}

TEST(ParseLineTest, RefusesWhatCannotBeCertified) {
  const std::string ed = testing::kEd25519Line;
  const std::string ed_b64 = ed.substr(12, 68);
  std::string ecdsa_blob = *Base64Decode(std::string_view(testing::kEcdsa256Line).substr(20, 140));
  std::string off_curve = ecdsa_blob;
  off_curve.back() ^= 1;
  WireWriter short_ed;
  short_ed.String("ssh-ed25519");
  short_ed.String(std::string(31, 'x'));
  WireWriter wrong_curve;
  wrong_curve.String("ecdsa-sha2-nistp256");
  wrong_curve.String("nistp384");
  wrong_curve.String(std::string(65, '\x04'));
  WireWriter trailing;
  trailing.Raw(*Base64Decode(ed_b64));
  trailing.U8(0);
  WireWriter compressed;
  compressed.String("ecdsa-sha2-nistp256");
  compressed.String("nistp256");
  compressed.String("\x02" + std::string(32, '\x01'));
  WireWriter rsa_even;
  rsa_even.String("ssh-rsa");
  rsa_even.MpintFromUnsigned("\x01\x00\x01");
  rsa_even.MpintFromUnsigned(std::string(256, '\xff').substr(0, 255) + "\xfe");

  struct Case {
    std::string name;
    std::string line;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {"Empty", "  \n", "empty"},
      {"OnlyType", "ssh-ed25519", "type base64"},
      {"Dsa", "ssh-dss AAAAB3NzaC1kc3MAAACBAP", "DSA"},
      {"SecurityKey", "sk-ssh-ed25519@openssh.com AAAA", "security-key"},
      {"Certificate", "ssh-ed25519-cert-v01@openssh.com AAAA", "is a certificate"},
      {"AuthorizedKeysOptions", "from=\"10.0.0.1\" " + ed, "unsupported key type"},
      {"Unknown", "ssh-foo AAAA", "unsupported key type"},
      {"BadBase64", "ssh-ed25519 AAAA$AAA", "base64"},
      {"TypeMismatch", "ssh-rsa " + ed_b64, "says ssh-rsa"},
      {"TwoLines", ed + "\n" + ed, "several"},
      {"ShortEd25519", BlobLine("ssh-ed25519", short_ed), "32 bytes"},
      {"TrailingBytes", BlobLine("ssh-ed25519", trailing), "trailing"},
      {"PointOffCurve", "ecdsa-sha2-nistp256 " + Base64Encode(off_curve), "not on the curve"},
      {"CurveMismatch", BlobLine("ecdsa-sha2-nistp256", wrong_curve), "curve"},
      {"CompressedPoint", BlobLine("ecdsa-sha2-nistp256", compressed), "uncompressed"},
      {"Rsa1024", testing::kRsa1024Line, "1024 bits refused"},
      {"RsaEvenModulus", BlobLine("ssh-rsa", rsa_even), "must be odd"},
  };
  for (const Case& c : cases) {
    auto key = PublicKey::ParseLine(c.line);
    ASSERT_FALSE(key.has_value()) << c.name;
    EXPECT_EQ(key.error().code(), ErrorCode::kInvalidArgument) << c.name;
    EXPECT_EQ(key.error().field(), "public_key") << c.name << ": " << key.error().ToString();
    EXPECT_NE(key.error().message().find(c.message_part), std::string::npos)
        << c.name << ": " << key.error().message();
  }
}

TEST(PublicKeyTest, EveryTruncationAndBitFlipOfABlobIsHandled) {
  struct Case {
    const char* line;
    // Byte ranges [lo, hi) where a flipped bit can leave a well-formed key (the key's own
    // value bytes); a flip anywhere else (type, lengths, curve, an ECDSA point) is refused.
    std::vector<std::pair<size_t, size_t>> value_ranges;
  };
  const Case cases[] = {
      {testing::kEd25519Line, {{19, 51}}},
      {testing::kEcdsa384Line, {}},
      {testing::kRsa2048Line, {{15, 18}, {22, 22 + 257}}},
  };
  for (const Case& c : cases) {
    const std::string blob = PublicKey::ParseLine(c.line)->blob();
    for (size_t n = 0; n < blob.size(); ++n) {
      EXPECT_FALSE(PublicKey::FromBlob(blob.substr(0, n)).has_value()) << n;
    }
    for (size_t i = 0; i < blob.size() * 8; ++i) {
      std::string flipped = blob;
      flipped[i / 8] = static_cast<char>(flipped[i / 8] ^ (1 << (i % 8)));
      if (!PublicKey::FromBlob(flipped).has_value()) continue;
      const size_t byte = i / 8;
      bool in_value = false;
      for (const auto& [lo, hi] : c.value_ranges) in_value |= lo <= byte && byte < hi;
      EXPECT_TRUE(in_value) << c.line << " accepted a flip at byte " << byte;
    }
  }
}

}  // namespace
}  // namespace bg::ssh
