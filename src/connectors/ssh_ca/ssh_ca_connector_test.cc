#include "connectors/ssh_ca/ssh_ca_connector.h"

#include <gtest/gtest.h>

#include "connectors/common/test_env.h"
#include "ssh/krl.h"
#include "test/fakes/fake_clock.h"

namespace bg::connectors {
namespace {

using testing::Plugin;
using testing::TestEnv;

class SshCaConnectorTest : public ::testing::Test {
 protected:
  std::unique_ptr<SshCaConnector> Make(std::string options = "{}", bool create = true) {
    auto c = SshCaConnector::Create(Plugin("bastion", "ssh_ca", std::move(options)),
                                    env_.context("bastion", clock_), create);
    if (!c) ADD_FAILURE() << c.error().ToString();
    return c ? std::move(*c) : nullptr;
  }
  core::Request ActiveGrant(std::string id = "req_one") {
    core::Request r;
    r.id = RequestId(std::move(id));
    r.requester = "alice";
    r.resource = "bastion";
    r.privilege = "breakglass-root";
    r.connector = "bastion";
    r.state = core::RequestState::kActive;
    r.duration = Seconds(1800);
    r.starts_at = clock_.Now();
    r.ends_at = clock_.Now() + r.duration;
    return r;
  }
  std::string UserKey() { return ssh::Ed25519PrivateKey::Generate().PublicKeyLine("me"); }

  TestEnv env_;
  bg::testing::FakeClock clock_;
};

TEST_F(SshCaConnectorTest, TheCaIsCreatedOnceAndSurvivesARestart) {
  auto local = SshCaConnector::Create(Plugin("bastion", "ssh_ca", "{}"), env_.context("bastion", clock_),
                                      /*create_ca=*/false);
  ASSERT_FALSE(local);
  EXPECT_EQ(local.error().code(), ErrorCode::kFailedPrecondition);
  std::string line = Make()->PublicKeyLine();
  EXPECT_EQ(line.rfind("ssh-ed25519 AAAA", 0), 0u);
  env_.Reopen();
  EXPECT_EQ(Make()->PublicKeyLine(), line);
  EXPECT_EQ(Make("{}", false)->PublicKeyLine(), line);
  // Another instance has its own CA.
  auto other = SshCaConnector::Create(Plugin("other", "ssh_ca", "{}"), env_.context("other", clock_));
  ASSERT_TRUE(other);
  EXPECT_NE((*other)->PublicKeyLine(), line);
}

TEST_F(SshCaConnectorTest, CertificateCarriesWindowPrincipalKeyIdAndOptions) {
  auto c = Make(R"({"extensions":["permit-pty"],"force_command":"record --grant %g %g",
                    "source_address":"10.0.0.0/8","backdate":"1m"})");
  core::Request g = ActiveGrant();
  auto issued = c->IssueCertificate(g, UserKey());
  ASSERT_TRUE(issued) << issued.error().ToString();
  auto ca = ssh::PublicKey::ParseLine(c->PublicKeyLine());
  auto cert = ssh::ParseCertificate(issued->certificate, &*ca);
  ASSERT_TRUE(cert) << cert.error().ToString();
  EXPECT_EQ(cert->principals, std::vector<std::string>{"breakglass-root"});
  EXPECT_EQ(cert->key_id, "breakglass:req_one:alice");
  EXPECT_EQ(cert->valid_after, static_cast<uint64_t>(ToUnixSeconds(*g.starts_at) - 60));
  EXPECT_EQ(cert->valid_before, static_cast<uint64_t>(ToUnixSeconds(*g.ends_at)));
  EXPECT_EQ(cert->serial, issued->serial);
  EXPECT_EQ(cert->CriticalOption("force-command"), "record --grant req_one req_one");
  EXPECT_EQ(cert->CriticalOption("source-address"), "10.0.0.0/8");
  EXPECT_TRUE(cert->HasExtension("permit-pty"));
  EXPECT_FALSE(cert->HasExtension("permit-port-forwarding"));
}

TEST_F(SshCaConnectorTest, RequiredRecordingIsCarriedInTheForceCommand) {
  auto c = Make(R"({"force_command":"/usr/bin/breakglass record --grant %g --server https://s"})");
  core::Request g = ActiveGrant();
  g.recording = core::Recording::kRequired;
  auto issued = c->IssueCertificate(g, UserKey());
  ASSERT_TRUE(issued) << issued.error().ToString();
  auto cert = ssh::ParseCertificate(issued->certificate);
  ASSERT_TRUE(cert);
  EXPECT_EQ(cert->CriticalOption("force-command"),
            "/usr/bin/breakglass record --recording required --grant req_one --server https://s");
  g.recording = core::Recording::kBestEffort;
  cert = ssh::ParseCertificate(c->IssueCertificate(g, UserKey())->certificate);
  EXPECT_EQ(cert->CriticalOption("force-command"),
            "/usr/bin/breakglass record --grant req_one --server https://s");
}

TEST_F(SshCaConnectorTest, RequiredRecordingIsRefusedWithoutAForcedRecorder) {
  for (const char* options : {"{}", R"({"force_command":"/bin/bash -l"})"}) {
    auto c = Make(options);
    core::Request g = ActiveGrant();
    g.recording = core::Recording::kRequired;
    auto issued = c->IssueCertificate(g, UserKey());
    ASSERT_FALSE(issued) << options;
    EXPECT_EQ(issued.error().code(), ErrorCode::kFailedPrecondition);
    EXPECT_NE(issued.error().message().find("does not force the recorder"), std::string::npos);
    env_.Reopen();
  }
}

TEST_F(SshCaConnectorTest, NoExtensionsByDefault) {
  auto c = Make();
  auto issued = c->IssueCertificate(ActiveGrant(), UserKey());
  ASSERT_TRUE(issued);
  auto cert = ssh::ParseCertificate(issued->certificate);
  ASSERT_TRUE(cert);
  EXPECT_TRUE(cert->extensions.empty());
  EXPECT_TRUE(cert->critical_options.empty());
}

TEST_F(SshCaConnectorTest, SerialsAreUniqueAcrossRestarts) {
  std::set<uint64_t> serials;
  for (int round = 0; round < 3; ++round) {
    auto c = Make();
    for (int i = 0; i < 5; ++i) {
      auto issued = c->IssueCertificate(ActiveGrant("req_" + std::to_string(i)), UserKey());
      ASSERT_TRUE(issued);
      EXPECT_TRUE(serials.insert(issued->serial).second) << issued->serial;
    }
    env_.Reopen();
  }
  EXPECT_EQ(serials.size(), 15u);
  EXPECT_EQ(*serials.begin(), 1u);
}

TEST_F(SshCaConnectorTest, OnlyActiveGrantsGetCertificates) {
  auto c = Make();
  core::Request g = ActiveGrant();
  g.state = core::RequestState::kApproved;
  EXPECT_EQ(c->IssueCertificate(g, UserKey()).error().code(), ErrorCode::kFailedPrecondition);
  g = ActiveGrant();
  clock_.Advance(g.duration);
  EXPECT_EQ(c->IssueCertificate(g, UserKey()).error().code(), ErrorCode::kFailedPrecondition);
}

TEST_F(SshCaConnectorTest, BadPublicKeysAreRefusedWithTheField) {
  auto c = Make();
  for (const char* bad : {"", "ssh-ed25519 !!!", "ssh-dss AAAAB3NzaC1kc3M= x"}) {
    auto r = c->IssueCertificate(ActiveGrant(), bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().field(), "public_key");
  }
}

TEST_F(SshCaConnectorTest, RevokePutsTheGrantsSerialsInTheKrlOnce) {
  auto c = Make();
  core::Request g = ActiveGrant(), other = ActiveGrant("req_two");
  auto a = c->IssueCertificate(g, UserKey());
  auto b = c->IssueCertificate(g, UserKey());
  auto keep = c->IssueCertificate(other, UserKey());
  ASSERT_TRUE(a && b && keep);
  uint64_t v0 = c->krl_version();
  ASSERT_TRUE(c->Revoke(g));
  EXPECT_EQ(c->krl_version(), v0 + 1);
  ASSERT_TRUE(c->Revoke(g));  // idempotent: nothing changes
  EXPECT_EQ(c->krl_version(), v0 + 1);
  auto ca = ssh::PublicKey::ParseLine(c->PublicKeyLine());
  auto check = [&](SshCaConnector& conn) {
    auto krl = ssh::ParseKrl(*conn.Krl());
    ASSERT_TRUE(krl);
    EXPECT_TRUE(krl->IsRevoked(*ca, a->serial, ""));
    EXPECT_TRUE(krl->IsRevoked(*ca, b->serial, ""));
    EXPECT_FALSE(krl->IsRevoked(*ca, keep->serial, ""));
    EXPECT_EQ(krl->krl_version, v0 + 1);
  };
  check(*c);
  env_.Reopen();
  auto reader = Make("{}", false);
  check(*reader);
  // No certificate for a revoked grant, even while its window lasts.
  EXPECT_EQ(reader->IssueCertificate(g, UserKey()).error().code(),
            ErrorCode::kFailedPrecondition);
}

TEST_F(SshCaConnectorTest, EverySerialOfAGrantIsRevokedAcrossBlocksAndRestarts) {
  core::Request g = ActiveGrant();
  std::vector<uint64_t> serials;
  for (int round = 0; round < 2; ++round) {
    auto c = Make();
    for (int i = 0; i < 300; ++i) {
      auto issued = c->IssueCertificate(g, UserKey());
      ASSERT_TRUE(issued);
      serials.push_back(issued->serial);
    }
    env_.Reopen();
  }
  auto c = Make();
  ASSERT_TRUE(c->Revoke(g));
  auto ca = ssh::PublicKey::ParseLine(c->PublicKeyLine());
  auto krl = ssh::ParseKrl(*c->Krl());
  ASSERT_TRUE(krl);
  for (uint64_t s : serials) EXPECT_TRUE(krl->IsRevoked(*ca, s, "")) << s;
  EXPECT_EQ(std::set<uint64_t>(serials.begin(), serials.end()).size(), serials.size());
  auto other = c->IssueCertificate(ActiveGrant("req_other"), UserKey());
  ASSERT_TRUE(other);
  EXPECT_FALSE(krl->IsRevoked(*ca, other->serial, ""));
}

TEST_F(SshCaConnectorTest, RevokingAnUnknownGrantIsDone) {
  auto c = Make();
  EXPECT_TRUE(c->Revoke(ActiveGrant("req_never")));
  EXPECT_TRUE(c->Probe());
  EXPECT_TRUE(c->Grant(ActiveGrant()));
}

TEST_F(SshCaConnectorTest, ExpiredSerialsLeaveTheKrl) {
  auto c = Make();
  core::Request g = ActiveGrant();
  auto a = c->IssueCertificate(g, UserKey());
  ASSERT_TRUE(a);
  ASSERT_TRUE(c->Revoke(g));
  auto ca = ssh::PublicKey::ParseLine(c->PublicKeyLine());
  clock_.Advance(g.duration + Seconds(1));
  auto krl = ssh::ParseKrl(*c->Krl());
  ASSERT_TRUE(krl);
  EXPECT_FALSE(krl->IsRevoked(*ca, a->serial, ""));
}

TEST_F(SshCaConnectorTest, AnOfflineSerialCanBeRevokedUntilItsEnd) {
  auto c = Make();
  auto ca = ssh::PublicKey::ParseLine(c->PublicKeyLine());
  // Offline serials have the top bit set; the largest one must not trip the range loops.
  const uint64_t top = ~uint64_t{0}, other = (uint64_t{1} << 63) | 12345;
  const Timestamp until = clock_.Now() + Seconds(3600);
  const uint64_t v0 = c->krl_version();
  ASSERT_TRUE(c->RevokeSerial(top, until));
  ASSERT_TRUE(c->RevokeSerial(other, until));
  EXPECT_EQ(c->krl_version(), v0 + 2);
  ASSERT_TRUE(c->RevokeSerial(top, until));  // again: nothing changes
  EXPECT_EQ(c->krl_version(), v0 + 2);
  EXPECT_EQ(c->RevokeSerial(0, until).error().field(), "serial");
  auto check = [&](SshCaConnector& conn, bool revoked) {
    auto krl = ssh::ParseKrl(*conn.Krl());
    ASSERT_TRUE(krl);
    EXPECT_EQ(krl->IsRevoked(*ca, top, ""), revoked);
    EXPECT_EQ(krl->IsRevoked(*ca, other, ""), revoked);
    EXPECT_FALSE(krl->IsRevoked(*ca, top - 1, ""));
  };
  check(*c, true);
  env_.Reopen();
  auto reader = Make("{}", false);
  ASSERT_NE(reader, nullptr);
  check(*reader, true);
  // A certificate already past its end needs no entry, and leaves the KRL when it ends.
  ASSERT_TRUE(reader->RevokeSerial(top - 7, clock_.Now() - Seconds(1)));
  EXPECT_FALSE(ssh::ParseKrl(*reader->Krl())->IsRevoked(*ca, top - 7, ""));
  clock_.Advance(Seconds(3601));
  check(*reader, false);
}

TEST_F(SshCaConnectorTest, BadOptionsFailAtStart) {
  for (const char* bad : {R"({"extensions":["permit-everything"]})", R"({"extensions":"permit-pty"})",
                          R"({"source_address":"not an address"})", R"({"backdate":"2h"})",
                          R"({"principal":"x"})"}) {
    EXPECT_FALSE(SshCaConnector::Create(Plugin("b", "ssh_ca", bad), env_.context("b", clock_))) << bad;
  }
}

TEST(CertificateKeyIdTest, NonPrintableBytesAreEscaped) {
  core::Request r;
  r.id = RequestId("req_1");
  r.requester = "j\xc3\xb6rg\n\\";
  EXPECT_EQ(CertificateKeyId(r), "breakglass:req_1:j\\xc3\\xb6rg\\x0a\\x5c");
}

}  // namespace
}  // namespace bg::connectors
