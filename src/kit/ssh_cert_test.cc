#include "kit/ssh_cert.h"

#include <gtest/gtest.h>

#include "test/fakes/fake_random.h"

namespace bg::kit {
namespace {

using bg::testing::SeededRandom;

const Timestamp kNow = FromUnixSeconds(1767225600);  // 2026-01-01T00:00:00Z

struct CaKit {
  ssh::Ed25519PrivateKey ca;
  Kit kit;
};

CaKit MakeCaKit(Random& random, const std::string& connector = "ops-ssh") {
  ssh::Ed25519PrivateKey ca = ssh::Ed25519PrivateKey::Generate(random);
  auto kit = SplitSecret(ca.StorageBytes(), {2, 3, "ssh ca", SshCaProtects(connector, ca)}, kNow,
                         random);
  EXPECT_TRUE(kit.has_value());
  return {std::move(ca), std::move(kit).value()};
}

Secret Restore(const Kit& kit, std::vector<int> indices) {
  std::vector<SourcedShare> shares;
  for (int i : indices) {
    const Share& s = kit.shares[static_cast<size_t>(i - 1)];
    shares.push_back({"share", Share{s.kit_id, s.index, s.threshold, s.salt, s.payload}});
  }
  auto combined = CombineShares(shares, &kit.manifest);
  EXPECT_TRUE(combined.has_value());
  return std::move(combined).value().secret;
}

EmergencyCertificateOptions Options(Random& random) {
  EmergencyCertificateOptions o{ssh::Ed25519PrivateKey::Generate(random).public_key()};
  o.principals = {"root"};
  o.valid_for = Seconds(1800);
  o.record_id = "kor_abcdefghjkmnpqrstvwx";
  o.who = "alice";
  return o;
}

TEST(SshCaKitTest, AnyThresholdOfSharesRestoresTheCaTheManifestNames) {
  SeededRandom random("ca-kit");
  const CaKit k = MakeCaKit(random);
  EXPECT_EQ(k.kit.manifest.protects->public_key.rfind("ssh-ed25519 AAAA", 0), 0u);
  for (const std::vector<int>& subset : {std::vector<int>{1, 2}, {1, 3}, {2, 3}, {3, 1, 2}}) {
    auto ca = SshCaKeyFromSecret(Restore(k.kit, subset), k.kit.manifest);
    ASSERT_TRUE(ca.has_value()) << ca.error().message();
    EXPECT_EQ(ca->public_key(), k.ca.public_key());
  }
}

TEST(SshCaKitTest, RefusesKitsOfOtherThingsAndWrongManifests) {
  SeededRandom random("ca-kit-refuse");
  const CaKit k = MakeCaKit(random);
  const Secret restored = Restore(k.kit, {1, 2});

  KitManifest plain = k.kit.manifest;
  plain.protects.reset();
  auto no_protects = SshCaKeyFromSecret(restored, plain);
  ASSERT_FALSE(no_protects.has_value());
  EXPECT_EQ(no_protects.error().field(), "manifest");

  KitManifest master = k.kit.manifest;
  master.protects = KitProtects{"master-key", "", ""};
  EXPECT_EQ(SshCaKeyFromSecret(restored, master).error().field(), "manifest");

  // The manifest of another CA's kit: the restored key is genuine but not the one named.
  const CaKit other = MakeCaKit(random);
  auto wrong = SshCaKeyFromSecret(restored, other.kit.manifest);
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code(), ErrorCode::kPermissionDenied);

  // 64 bytes that are not seed || public key, and a 32-byte secret.
  std::string bytes(restored.Reveal());
  bytes[40] = static_cast<char>(bytes[40] ^ 1);
  EXPECT_EQ(SshCaKeyFromSecret(Secret(bytes), k.kit.manifest).error().code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(SshCaKeyFromSecret(Secret(std::string(32, 'k')), k.kit.manifest).error().code(),
            ErrorCode::kPermissionDenied);
}

TEST(EmergencyCertificateTest, SignsAShortLivedCertificateTheCaVouchesFor) {
  SeededRandom random("emergency");
  const CaKit k = MakeCaKit(random);
  EmergencyCertificateOptions o = Options(random);
  o.principals = {"root", "deploy"};
  o.source_address = "10.0.0.0/8";
  auto cert = SignEmergencyCertificate(k.ca, o, kNow, random);
  ASSERT_TRUE(cert.has_value()) << cert.error().message();

  auto parsed = ssh::ParseCertificate(cert->line, &k.ca.public_key());
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message();
  EXPECT_EQ(parsed->type, ssh::kUserCertificate);
  EXPECT_EQ(parsed->public_key, o.user_key);
  EXPECT_EQ(parsed->principals, (std::vector<std::string>{"root", "deploy"}));
  EXPECT_EQ(parsed->key_id, "breakglass-kit:kor_abcdefghjkmnpqrstvwx:alice");
  EXPECT_EQ(parsed->valid_after, ToUnixSeconds(kNow - Seconds(300)));
  EXPECT_EQ(parsed->valid_before, ToUnixSeconds(kNow + Seconds(1800)));
  EXPECT_TRUE(parsed->HasExtension("permit-pty"));
  EXPECT_FALSE(parsed->HasExtension("permit-port-forwarding"));
  EXPECT_EQ(parsed->CriticalOption("source-address"), "10.0.0.0/8");
  EXPECT_FALSE(parsed->CriticalOption("force-command").has_value());

  // Offline serials live above the server's counter, and the record describes the certificate.
  EXPECT_EQ(parsed->serial, cert->serial);
  EXPECT_NE(cert->serial & kOfflineSerialBit, 0u);
  EXPECT_EQ(cert->use.serial, std::to_string(cert->serial));
  EXPECT_EQ(cert->use.key_id, parsed->key_id);
  EXPECT_EQ(cert->use.principals, parsed->principals);
  EXPECT_EQ(cert->use.valid_before, kNow + Seconds(1800));
  EXPECT_EQ(cert->use.ca_public_key, k.kit.manifest.protects->public_key);
  EXPECT_EQ(cert->use.key_fingerprint, o.user_key.Fingerprint());

  // Two certificates never share a serial or a nonce.
  auto second = SignEmergencyCertificate(k.ca, o, kNow, random);
  ASSERT_TRUE(second.has_value());
  EXPECT_NE(second->serial, cert->serial);
  EXPECT_NE(second->line, cert->line);
}

TEST(EmergencyCertificateTest, KeyIdIsPrintableWhateverTheName) {
  SeededRandom random("emergency-keyid");
  const CaKit k = MakeCaKit(random);
  EmergencyCertificateOptions o = Options(random);
  o.who = "Zoë\n\\evil";
  auto cert = SignEmergencyCertificate(k.ca, o, kNow, random);
  ASSERT_TRUE(cert.has_value()) << cert.error().message();
  EXPECT_EQ(cert->use.key_id, "breakglass-kit:kor_abcdefghjkmnpqrstvwx:Zo\\xc3\\xab\\x0a\\x5cevil");
}

TEST(EmergencyCertificateTest, RefusalsNameTheOption) {
  SeededRandom random("emergency-bad");
  const CaKit k = MakeCaKit(random);
  struct Case {
    std::string field;
    std::function<void(EmergencyCertificateOptions&)> mutate;
  };
  const std::vector<Case> cases = {
      {"valid_for", [](auto& o) { o.valid_for = Seconds(59); }},
      {"valid_for", [](auto& o) { o.valid_for = kMaxEmergencyValidity + Seconds(1); }},
      {"backdate", [](auto& o) { o.backdate = Seconds(-1); }},
      {"principal", [](auto& o) { o.principals = {}; }},
      {"principal", [](auto& o) { o.principals = {"root", "root"}; }},
      {"principal", [](auto& o) { o.principals = {"a b"}; }},
      {"source_address", [](auto& o) { o.source_address = "not-an-address"; }},
      {"force_command", [](auto& o) { o.force_command = ""; }},
      {"who", [](auto& o) { o.who = ""; }},
  };
  for (const Case& c : cases) {
    EmergencyCertificateOptions o = Options(random);
    c.mutate(o);
    auto cert = SignEmergencyCertificate(k.ca, o, kNow, random);
    ASSERT_FALSE(cert.has_value()) << c.field;
    EXPECT_EQ(cert.error().field(), c.field) << cert.error().message();
  }
  // The longest window is allowed.
  EmergencyCertificateOptions o = Options(random);
  o.valid_for = kMaxEmergencyValidity;
  EXPECT_TRUE(SignEmergencyCertificate(k.ca, o, kNow, random).has_value());
}

}  // namespace
}  // namespace bg::kit
