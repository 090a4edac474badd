#include "ssh/krl.h"

#include <gtest/gtest.h>

#include "ssh/test_util.h"
#include "util/encoding.h"

namespace bg::ssh {
namespace {

using bg::testing::CountingRandom;
using bg::testing::RepeatingRandom;

PublicKey SshKeygenCa() { return *PublicKey::ParseLine(testing::kCaLine); }

// `ssh-keygen -k -f krl -z 1 -s ca.pub` revoking "serial: 42", for testing::kCaLine.
constexpr std::string_view kSshKeygenKrl42 =
    "5353484b524c0a00000000010000000000000001000000006b06081d00000000000000000000000000000000010000"
    "00"
    "48000000330000000b7373682d65643235353139000000206d70957de83d6c4dc73006bb6d2454ee52803aab92ca84"
    "45"
    "f52a6b96fd7f1268000000002000000008000000000000002a";
// The same CA, -z 5, revoking "serial: 1-3", 100, 102, 104, 105, 107, 109 and "id: bad-id":
// ssh-keygen chose a bitmap section for the serials and a key-id section.
constexpr std::string_view kSshKeygenKrlBitmap =
    "5353484b524c0a00000000010000000000000005000000006b06081d00000000000000000000000000000000010000"
    "00"
    "6f000000330000000b7373682d65643235353139000000206d70957de83d6c4dc73006bb6d2454ee52803aab92ca84"
    "45"
    "f52a6b96fd7f126800000000220000000d00000000000000010000000107220000000e000000000000006400000002"
    "02"
    "b5230000000a000000066261642d6964";

TEST(BuildKrlTest, MatchesSshKeygenByteForByte) {
  KrlSpec spec{.ca_key = SshKeygenCa()};
  spec.revoked_serials = {42};
  spec.krl_version = 1;
  spec.generated_at = FromUnixSeconds(0x6b06081d);
  auto krl = BuildKrl(spec);
  ASSERT_TRUE(krl.has_value());
  EXPECT_EQ(HexEncode(*krl), kSshKeygenKrl42);
}

TEST(BuildKrlTest, RunsBecomeRangesAndTheRestOneSortedList) {
  const Ed25519PrivateKey ca = Ed25519PrivateKey::Generate();
  KrlSpec spec{.ca_key = ca.public_key()};
  spec.revoked_serials = {9, 1, 2, 3, 5, 7, 8, 100, 101, 102, 103, UINT64_MAX};
  spec.krl_version = 7;
  spec.generated_at = FromUnixSeconds(1700000000);
  spec.comment = "breakglass";
  auto bytes = BuildKrl(spec);
  ASSERT_TRUE(bytes.has_value());
  auto krl = ParseKrl(*bytes);
  ASSERT_TRUE(krl.has_value()) << krl.error().ToString();
  EXPECT_EQ(krl->krl_version, 7u);
  EXPECT_EQ(krl->generated_date, 1700000000u);
  EXPECT_EQ(krl->comment, "breakglass");
  ASSERT_EQ(krl->certificate_sections.size(), 1u);
  const auto& s = krl->certificate_sections[0];
  EXPECT_EQ(s.ca_key_blob, ca.public_key().blob());
  EXPECT_EQ(s.serial_ranges,
            (std::vector<std::pair<uint64_t, uint64_t>>{{1, 3}, {7, 9}, {100, 103}}));
  EXPECT_EQ(s.serials, (std::vector<uint64_t>{5, UINT64_MAX}));

  for (uint64_t serial = 0; serial < 120; ++serial) {
    EXPECT_EQ(krl->IsRevoked(ca.public_key(), serial, ""), spec.revoked_serials.count(serial) == 1)
        << serial;
  }
  EXPECT_TRUE(krl->IsRevoked(ca.public_key(), UINT64_MAX, ""));
  EXPECT_FALSE(krl->IsRevoked(Ed25519PrivateKey::Generate().public_key(), 5, ""));
}

TEST(BuildKrlTest, EmptyKrlIsJustTheHeader) {
  KrlSpec spec{.ca_key = SshKeygenCa()};
  auto bytes = BuildKrl(spec);
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ(bytes->size(), 8u + 4 + 8 + 8 + 8 + 4 + 4);
  auto krl = ParseKrl(*bytes);
  ASSERT_TRUE(krl.has_value());
  EXPECT_TRUE(krl->certificate_sections.empty());
  EXPECT_FALSE(krl->IsRevoked(SshKeygenCa(), 1, ""));
}

TEST(BuildKrlTest, SerialZeroIsRefused) {
  KrlSpec spec{.ca_key = SshKeygenCa()};
  spec.revoked_serials = {0, 1};
  auto krl = BuildKrl(spec);
  ASSERT_FALSE(krl.has_value());
  EXPECT_EQ(krl.error().field(), "serial");
}

TEST(ParseKrlTest, ReadsSshKeygenBitmapsAndKeyIds) {
  auto krl = ParseKrl(*HexDecode(kSshKeygenKrlBitmap));
  ASSERT_TRUE(krl.has_value()) << krl.error().ToString();
  EXPECT_EQ(krl->krl_version, 5u);
  const std::set<uint64_t> revoked = {1, 2, 3, 100, 102, 104, 105, 107, 109};
  for (uint64_t serial = 0; serial < 200; ++serial) {
    EXPECT_EQ(krl->IsRevoked(SshKeygenCa(), serial, "x"), revoked.count(serial) == 1) << serial;
  }
  EXPECT_TRUE(krl->IsRevoked(SshKeygenCa(), 55, "bad-id"));
  EXPECT_FALSE(krl->IsRevoked(Ed25519PrivateKey::Generate().public_key(), 1, "bad-id"));
}

TEST(ParseKrlTest, IsRevokedTakesACertificate) {
  const Ed25519PrivateKey ca = Ed25519PrivateKey::Generate();
  CertificateSpec spec{.public_key = *PublicKey::ParseLine(testing::kEd25519Line)};
  spec.serial = 77;
  spec.key_id = "k";
  spec.principals = {"root"};
  spec.valid_after = FromUnixSeconds(0);
  spec.valid_before = FromUnixSeconds(10);
  auto cert = ParseCertificate(*SignCertificate(spec, ca));
  ASSERT_TRUE(cert.has_value());
  KrlSpec krl_spec{.ca_key = ca.public_key()};
  krl_spec.revoked_serials = {76, 78};
  EXPECT_FALSE(ParseKrl(*BuildKrl(krl_spec))->IsRevoked(*cert));
  krl_spec.revoked_serials.insert(77);
  EXPECT_TRUE(ParseKrl(*BuildKrl(krl_spec))->IsRevoked(*cert));
}

TEST(ParseKrlTest, TruncationsBitFlipsAndJunkNeverCrash) {
  KrlSpec spec{.ca_key = SshKeygenCa()};
  spec.revoked_serials = {1, 2, 3, 10};
  const std::string bytes = *BuildKrl(spec);
  // The header, certificate section and its subsections all have fixed layouts: any cut is
  // detected.
  for (size_t n = 0; n < bytes.size(); ++n) {
    const bool header_only = n == 8 + 4 + 8 + 8 + 8 + 4 + 4;  // a valid empty KRL
    EXPECT_EQ(ParseKrl(bytes.substr(0, n)).has_value(), header_only) << n;
  }
  int accepted = 0;
  for (size_t i = 0; i < bytes.size() * 8; ++i) {
    std::string flipped = bytes;
    flipped[i / 8] = static_cast<char>(flipped[i / 8] ^ (1 << (i % 8)));
    accepted += ParseKrl(flipped).has_value() ? 1 : 0;  // must not crash either way
  }
  EXPECT_LT(accepted, static_cast<int>(bytes.size() * 8));
  CountingRandom random;
  for (int round = 0; round < 2000; ++round) {
    std::string junk = std::string(kKrlMagic) + std::string("\0\0\0\1", 4) +
                       random.Bytes(static_cast<size_t>(round % 200));
    (void)ParseKrl(junk);
  }
}

TEST(ParseKrlTest, RefusesWhatSshdWouldNotLoad) {
  KrlSpec spec{.ca_key = SshKeygenCa()};
  const std::string header = *BuildKrl(spec);
  struct Case {
    std::string name;
    std::string bytes;
  };
  std::string bad_magic = header;
  bad_magic[0] = 'X';
  std::string bad_version = header;
  bad_version[11] = 2;
  WireWriter critical_ext;
  critical_ext.String("foo@example.com");
  critical_ext.Bool(true);
  critical_ext.String("");
  WireWriter signature;
  signature.U8(4);
  signature.String(SshKeygenCa().blob());
  WireWriter unknown;
  unknown.U8(9);
  unknown.String("");
  const Case cases[] = {
      {"BadMagic", bad_magic},
      {"BadVersion", bad_version},
      {"CriticalExtension", header + "\xff" +
                                [&] {
                                  WireWriter w;
                                  w.String(critical_ext.data());
                                  return w.Take();
                                }()},
      {"Signature", header + signature.data()},
      {"UnknownSection", header + unknown.data()},
  };
  for (const Case& c : cases) {
    auto krl = ParseKrl(c.bytes);
    ASSERT_FALSE(krl.has_value()) << c.name;
    EXPECT_EQ(krl.error().field(), "krl") << c.name;
  }
  WireWriter optional_ext;
  optional_ext.String("foo@example.com");
  optional_ext.Bool(false);
  optional_ext.String("x");
  WireWriter section;
  section.U8(255);
  section.String(optional_ext.data());
  EXPECT_TRUE(ParseKrl(header + section.data()).has_value());
}

}  // namespace
}  // namespace bg::ssh
