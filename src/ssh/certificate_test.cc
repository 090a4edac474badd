#include "ssh/certificate.h"

#include <gtest/gtest.h>

#include "ssh/test_util.h"
#include "util/encoding.h"

namespace bg::ssh {
namespace {

using bg::testing::CountingRandom;
using bg::testing::RepeatingRandom;

const Timestamp kAfter = FromUnixSeconds(1900000000);
const Timestamp kBefore = FromUnixSeconds(1900003600);

Ed25519PrivateKey TestCa() {
  RepeatingRandom seed("ca-seed");
  return Ed25519PrivateKey::Generate(seed);
}

CertificateSpec BaseSpec(const char* user_line = testing::kEd25519Line) {
  CertificateSpec spec{.public_key = *PublicKey::ParseLine(user_line)};
  spec.serial = 42;
  spec.key_id = "req_abc alice@example.com";
  spec.principals = {"root", "deploy"};
  spec.valid_after = kAfter;
  spec.valid_before = kBefore;
  return spec;
}

std::string BlobOf(const std::string& line) {
  const size_t a = line.find(' ');
  const size_t b = line.find(' ', a + 1);
  return *Base64Decode(line.substr(a + 1, b - a - 1));
}

TEST(ExtensionTest, NamesRoundTrip) {
  for (Extension e :
       {Extension::kPermitX11Forwarding, Extension::kPermitAgentForwarding,
        Extension::kPermitPortForwarding, Extension::kPermitPty, Extension::kPermitUserRc}) {
    EXPECT_EQ(*ParseExtension(ToString(e)), e);
  }
  EXPECT_FALSE(ParseExtension("permit-everything").has_value());
}

TEST(SignCertificateTest, RoundTripsEveryField) {
  CertificateSpec spec = BaseSpec();
  spec.force_command = "/usr/bin/true";
  spec.source_address = "127.0.0.1/32,::1";
  spec.extensions = {Extension::kPermitPty, Extension::kPermitPortForwarding};
  Ed25519PrivateKey ca = TestCa();
  auto line = SignCertificate(spec, ca);
  ASSERT_TRUE(line.has_value()) << line.error().ToString();
  EXPECT_EQ(line->substr(0, 33), "ssh-ed25519-cert-v01@openssh.com ");
  EXPECT_EQ(line->substr(line->size() - spec.key_id.size() - 1), " " + spec.key_id);

  auto cert = ParseCertificate(*line, &ca.public_key());
  ASSERT_TRUE(cert.has_value()) << cert.error().ToString();
  EXPECT_EQ(cert->public_key, spec.public_key);
  EXPECT_EQ(cert->nonce.size(), kNonceSize);
  EXPECT_EQ(cert->serial, 42u);
  EXPECT_EQ(cert->type, kUserCertificate);
  EXPECT_EQ(cert->key_id, spec.key_id);
  EXPECT_EQ(cert->principals, spec.principals);
  EXPECT_EQ(cert->valid_after, 1900000000u);
  EXPECT_EQ(cert->valid_before, 1900003600u);
  EXPECT_EQ(cert->CriticalOption("force-command"), "/usr/bin/true");
  EXPECT_EQ(cert->CriticalOption("source-address"), "127.0.0.1/32,::1");
  EXPECT_TRUE(cert->HasExtension("permit-pty"));
  EXPECT_TRUE(cert->HasExtension("permit-port-forwarding"));
  EXPECT_FALSE(cert->HasExtension("permit-agent-forwarding"));
  EXPECT_EQ(cert->signature_key, ca.public_key());
  EXPECT_EQ(cert->comment, spec.key_id);
  EXPECT_EQ(cert->ToLine(), *line);
}

TEST(SignCertificateTest, OptionsAndExtensionsAreSortedByName) {
  CertificateSpec spec = BaseSpec();
  spec.source_address = "10.0.0.0/8";
  spec.force_command = "uptime";
  spec.extensions = {Extension::kPermitUserRc, Extension::kPermitPty,
                     Extension::kPermitX11Forwarding, Extension::kPermitAgentForwarding,
                     Extension::kPermitPortForwarding};
  auto cert = ParseCertificate(*SignCertificate(spec, TestCa()));
  ASSERT_TRUE(cert.has_value()) << cert.error().ToString();
  std::vector<std::string> names;
  for (const auto& [name, data] : cert->extensions) {
    names.push_back(name);
    EXPECT_EQ(data, "");  // flag extensions carry empty data
  }
  // Byte order: 'X' (0x58) sorts before 'a'.
  EXPECT_EQ(names,
            (std::vector<std::string>{"permit-X11-forwarding", "permit-agent-forwarding",
                                      "permit-port-forwarding", "permit-pty", "permit-user-rc"}));
  ASSERT_EQ(cert->critical_options.size(), 2u);
  EXPECT_EQ(cert->critical_options[0].first, "force-command");
  EXPECT_EQ(cert->critical_options[1].first, "source-address");
}

TEST(SignCertificateTest, NoOptionsNoExtensionsMeansEmptyFields) {
  auto cert = ParseCertificate(*SignCertificate(BaseSpec(), TestCa()));
  ASSERT_TRUE(cert.has_value());
  EXPECT_TRUE(cert->critical_options.empty());
  EXPECT_TRUE(cert->extensions.empty());
}

TEST(SignCertificateTest, CertificateTypeFollowsTheUserKeyType) {
  struct Case {
    const char* user_line;
    const char* cert_type;
  };
  const Case cases[] = {
      {testing::kEd25519Line, "ssh-ed25519-cert-v01@openssh.com"},
      {testing::kEcdsa256Line, "ecdsa-sha2-nistp256-cert-v01@openssh.com"},
      {testing::kEcdsa384Line, "ecdsa-sha2-nistp384-cert-v01@openssh.com"},
      {testing::kEcdsa521Line, "ecdsa-sha2-nistp521-cert-v01@openssh.com"},
      {testing::kRsa2048Line, "ssh-rsa-cert-v01@openssh.com"},
  };
  for (const Case& c : cases) {
    CertificateSpec spec = BaseSpec(c.user_line);
    auto line = SignCertificate(spec, TestCa());
    ASSERT_TRUE(line.has_value()) << c.cert_type;
    EXPECT_EQ(line->substr(0, line->find(' ')), c.cert_type);
    // The blob embeds the user key's fields byte for byte right after type and nonce.
    const std::string blob = BlobOf(*line);
    const size_t fields_at = 4 + std::string_view(c.cert_type).size() + 4 + kNonceSize;
    EXPECT_EQ(blob.substr(fields_at, spec.public_key.fields().size()), spec.public_key.fields());
    auto cert = ParseCertificate(*line);
    ASSERT_TRUE(cert.has_value()) << cert.error().ToString();
    EXPECT_EQ(cert->public_key, spec.public_key);
  }
}

TEST(SignCertificateTest, NonceComesFromRandom) {
  RepeatingRandom r1("n1"), r2("n1"), r3("n2");
  const CertificateSpec spec = BaseSpec();
  const Ed25519PrivateKey ca = TestCa();
  const std::string a = *SignCertificate(spec, ca, r1);
  EXPECT_EQ(a, *SignCertificate(spec, ca, r2));
  EXPECT_NE(a, *SignCertificate(spec, ca, r3));
  EXPECT_EQ(ParseCertificate(a)->nonce, std::string("n1n1n1n1n1n1n1n1n1n1n1n1n1n1n1n1"));
  // With the system CSPRNG two certificates for the same spec differ.
  EXPECT_NE(*SignCertificate(spec, ca), *SignCertificate(spec, ca));
}

TEST(SignCertificateTest, InvalidSpecsAreRefusedNamingTheField) {
  struct Case {
    std::string name;
    std::function<void(CertificateSpec&)> mutate;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"SerialZero", [](CertificateSpec& s) { s.serial = 0; }, "serial"},
      {"EmptyKeyId", [](CertificateSpec& s) { s.key_id = ""; }, "key_id"},
      {"KeyIdNewline", [](CertificateSpec& s) { s.key_id = "a\nb"; }, "key_id"},
      {"KeyIdNonAscii", [](CertificateSpec& s) { s.key_id = "caf\xc3\xa9"; }, "key_id"},
      {"NoPrincipals", [](CertificateSpec& s) { s.principals.clear(); }, "principals"},
      {"EmptyPrincipal", [](CertificateSpec& s) { s.principals = {""}; }, "principals"},
      {"PrincipalComma", [](CertificateSpec& s) { s.principals = {"a,b"}; }, "principals"},
      {"PrincipalSpace", [](CertificateSpec& s) { s.principals = {"a b"}; }, "principals"},
      {"PrincipalControl", [](CertificateSpec& s) { s.principals = {"a\tb"}; }, "principals"},
      {"PrincipalRepeated",
       [](CertificateSpec& s) {
         s.principals = {"a", "a"};
       },
       "principals"},
      {"WindowEmpty", [](CertificateSpec& s) { s.valid_before = s.valid_after; }, "valid_before"},
      {"WindowBackwards", [](CertificateSpec& s) { s.valid_before = s.valid_after - Seconds(1); },
       "valid_before"},
      {"BeforeEpoch", [](CertificateSpec& s) { s.valid_after = FromUnixSeconds(-1); },
       "valid_after"},
      {"EmptyForceCommand", [](CertificateSpec& s) { s.force_command = ""; }, "force_command"},
      {"NulForceCommand", [](CertificateSpec& s) { s.force_command = std::string("a\0b", 3); },
       "force_command"},
  };
  for (const Case& c : cases) {
    CertificateSpec spec = BaseSpec();
    c.mutate(spec);
    auto line = SignCertificate(spec, TestCa());
    ASSERT_FALSE(line.has_value()) << c.name;
    EXPECT_EQ(line.error().code(), ErrorCode::kInvalidArgument) << c.name;
    EXPECT_EQ(line.error().field(), c.field) << c.name << ": " << line.error().ToString();
  }
}

TEST(SignCertificateTest, SourceAddressMustBeWhatSshdAccepts) {
  const char* good[] = {"127.0.0.1", "10.0.0.0/8",    "0.0.0.0/0",
                        "::1",       "2001:db8::/32", "192.168.1.7/32,10.1.0.0/16,fe80::/10"};
  const char* bad[] = {"",           "10.0.0.1/8", "300.1.1.1",  "10.0.0.0/33", "::1/129",
                       "host.local", "10.0.0.0/",  "1.2.3.4,",   ",1.2.3.4",    "1.2.3.4/-1",
                       "1.2.3.4/ 8", "*",          "1.2.3.4/08x"};
  for (const char* a : good) {
    CertificateSpec spec = BaseSpec();
    spec.source_address = a;
    EXPECT_TRUE(SignCertificate(spec, TestCa()).has_value()) << a;
  }
  for (const char* a : bad) {
    CertificateSpec spec = BaseSpec();
    spec.source_address = a;
    auto line = SignCertificate(spec, TestCa());
    ASSERT_FALSE(line.has_value()) << a;
    EXPECT_EQ(line.error().field(), "source_address") << a;
  }
}

TEST(ParseCertificateTest, ReadsACertificateSshKeygenSigned) {
  auto ca = PublicKey::ParseLine(testing::kCaLine);
  auto cert = ParseCertificate(testing::kSshKeygenCert, &*ca);
  ASSERT_TRUE(cert.has_value()) << cert.error().ToString();
  EXPECT_EQ(cert->public_key.Fingerprint(), testing::kEd25519Fp);
  EXPECT_EQ(cert->signature_key.Fingerprint(), testing::kCaFp);
  EXPECT_EQ(cert->serial, 42u);
  EXPECT_EQ(cert->key_id, "kg");
  EXPECT_EQ(cert->principals, std::vector<std::string>{"root"});
  EXPECT_EQ(cert->valid_after, 1893456000u);   // 2030-01-01T00:00:00Z
  EXPECT_EQ(cert->valid_before, 1893459600u);  // 2030-01-01T01:00:00Z
  EXPECT_EQ(cert->CriticalOption("force-command"), "echo hi");
  EXPECT_EQ(cert->CriticalOption("source-address"), "127.0.0.1/32");
  EXPECT_TRUE(cert->HasExtension("permit-pty"));
  EXPECT_EQ(cert->extensions.size(), 1u);
  EXPECT_EQ(cert->comment, "root@vm");
}

TEST(ParseCertificateTest, AnotherCaIsRefused) {
  const std::string line = *SignCertificate(BaseSpec(), TestCa());
  Ed25519PrivateKey other = Ed25519PrivateKey::Generate();
  auto cert = ParseCertificate(line, &other.public_key());
  ASSERT_FALSE(cert.has_value());
  EXPECT_EQ(cert.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(cert.error().field(), "certificate");
}

TEST(ParseCertificateTest, AcceptsTheRawBlob) {
  const std::string line = *SignCertificate(BaseSpec(), TestCa());
  auto cert = ParseCertificate(BlobOf(line));
  ASSERT_TRUE(cert.has_value()) << cert.error().ToString();
  EXPECT_EQ(cert->serial, 42u);
}

TEST(ParseCertificateTest, EveryTruncationIsRefused) {
  CertificateSpec spec = BaseSpec(testing::kEcdsa256Line);
  spec.force_command = "true";
  spec.extensions = {Extension::kPermitPty};
  const std::string blob = BlobOf(*SignCertificate(spec, TestCa()));
  for (size_t n = 0; n < blob.size(); ++n) {
    auto cert = ParseCertificate(blob.substr(0, n));
    ASSERT_FALSE(cert.has_value()) << n;
    EXPECT_EQ(cert.error().field(), "certificate") << cert.error().ToString();
  }
  EXPECT_FALSE(ParseCertificate(blob + std::string(1, '\0')).has_value());
}

TEST(ParseCertificateTest, EveryBitFlipIsRefused) {
  CertificateSpec spec = BaseSpec();
  spec.source_address = "10.0.0.0/8";
  spec.extensions = {Extension::kPermitPty, Extension::kPermitUserRc};
  const std::string blob = BlobOf(*SignCertificate(spec, TestCa()));
  for (size_t i = 0; i < blob.size() * 8; ++i) {
    std::string flipped = blob;
    flipped[i / 8] = static_cast<char>(flipped[i / 8] ^ (1 << (i % 8)));
    EXPECT_FALSE(ParseCertificate(flipped).has_value()) << "bit " << i;
  }
}

TEST(ParseCertificateTest, RandomInputNeverParses) {
  CountingRandom random;
  std::string junk;
  for (int round = 0; round < 2000; ++round) {
    junk = random.Bytes(static_cast<size_t>(round % 300));
    EXPECT_FALSE(ParseCertificate(junk).has_value());
    EXPECT_FALSE(
        ParseCertificate("ssh-ed25519-cert-v01@openssh.com " + Base64Encode(junk)).has_value());
  }
}

// Builds and signs a certificate by hand so that only the extensions are wrong.
std::string SignedWithExtensions(const Ed25519PrivateKey& ca, const std::string& extensions) {
  const PublicKey user = *PublicKey::ParseLine(testing::kEd25519Line);
  WireWriter principals;
  principals.String("root");
  WireWriter w;
  w.String("ssh-ed25519-cert-v01@openssh.com");
  w.String(std::string(32, 'n'));
  w.Raw(user.fields());
  w.U64(1);
  w.U32(kUserCertificate);
  w.String("id");
  w.String(principals.data());
  w.U64(0);
  w.U64(UINT64_MAX);
  w.String("");
  w.String(extensions);
  w.String("");
  w.String(ca.public_key().blob());
  w.String(ca.Sign(w.data()));
  return w.Take();
}

TEST(ParseCertificateTest, UnsortedOrRepeatedExtensionsAreRefusedEvenWhenSigned) {
  const Ed25519PrivateKey ca = TestCa();
  auto ext = [](std::vector<std::string> names) {
    WireWriter w;
    for (const auto& n : names) {
      w.String(n);
      w.String("");
    }
    return w.Take();
  };
  auto sorted =
      ParseCertificate(SignedWithExtensions(ca, ext({"permit-X11-forwarding", "permit-pty"})));
  ASSERT_TRUE(sorted.has_value()) << sorted.error().ToString();
  EXPECT_EQ(sorted->valid_before, UINT64_MAX);
  EXPECT_FALSE(
      ParseCertificate(SignedWithExtensions(ca, ext({"permit-pty", "permit-X11-forwarding"})))
          .has_value());
  EXPECT_FALSE(
      ParseCertificate(SignedWithExtensions(ca, ext({"permit-pty", "permit-pty"}))).has_value());
}

TEST(ParseCertificateTest, LineTypeMustMatchTheBlob) {
  const std::string line = *SignCertificate(BaseSpec(), TestCa());
  const std::string swapped = "ssh-rsa-cert-v01@openssh.com" + line.substr(line.find(' '));
  EXPECT_FALSE(ParseCertificate(swapped).has_value());
}

}  // namespace
}  // namespace bg::ssh
