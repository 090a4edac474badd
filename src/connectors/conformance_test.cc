// The connector contract, checked the same way for every built-in kind: probe works; grant is
// idempotent by request id (a retry is harmless and the grant is in place); revoke is
// idempotent (twice is fine, the grant is gone); revoking a grant that was never made is done.
//
// Each kind brings a way to look at the target and tell whether the grant is in place: exec
// scripts and the webhook receiver keep one file per grant, ssh_ca answers whether a
// certificate can still be issued and is not in the KRL, postgres_role asks pg_roles through
// psql. PostgreSQL runs only when its server binaries are installed (else those cases skip).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "connectors/common/process.h"
#include "connectors/common/test_env.h"
#include "connectors/exec/exec_connector.h"
#include "connectors/postgres_role/postgres_role.h"
#include "ssh/krl.h"
#include "connectors/ssh_ca/ssh_ca_connector.h"
#include "connectors/webhook/webhook_connector.h"

namespace bg::connectors {
namespace {

namespace fs = std::filesystem;
using testing::Plugin;
using testing::TestEnv;

std::string RunOk(const std::vector<std::string>& argv, const std::string& input = "") {
  auto r = RunProcess(argv, input, std::chrono::seconds(300));
  if (!r || r->exit_code != 0) {
    ADD_FAILURE() << argv[0] << " failed: " << (r ? r->err : r.error().ToString());
    return "";
  }
  return r->out;
}

void WriteFile(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  chmod(path.c_str(), mode);
}

// What each kind needs: a connector over `env`, and a look at the target.
class Target {
 public:
  virtual ~Target() = default;
  virtual std::string SkipReason() { return ""; }
  virtual Result<std::unique_ptr<connector::Connector>> Make(TestEnv& env) = 0;
  // Whether the grant is in place on the target.
  virtual bool Granted(connector::Connector& c, const core::Request& r) = 0;
};

// exec: grant/revoke scripts keep a file per grant in a directory.
class ExecTarget : public Target {
 public:
  Result<std::unique_ptr<connector::Connector>> Make(TestEnv& env) override {
    state_ = env.dir() + "/exec-state";
    fs::create_directories(state_);
    std::string script = env.dir() + "/connector.sh";
    // The grant JSON is read with python3 (no shell parsing of its fields).
    WriteFile(script, R"(#!/bin/sh
set -eu
dir="$1"; action="$2"
id=$(python3 -c 'import json,sys; print(json.load(sys.stdin).get("grant_id",""))')
case "$action" in
  grant) touch "$dir/$id"; printf '{"token":"t-%s"}' "$id" ;;
  revoke) rm -f "$dir/$id" ;;
  probe) test -d "$dir" ;;
esac
)", 0700);
    nlohmann::json o = {{"grant", {script, state_, "grant"}},
                        {"revoke", {script, state_, "revoke"}},
                        {"probe", {script, state_, "probe"}},
                        {"timeout", "20s"}};
    BG_ASSIGN_OR_RETURN(auto c, ExecConnector::Create(Plugin("legacy", "exec", o.dump()),
                                                      env.context("legacy")));
    return std::unique_ptr<connector::Connector>(std::move(c));
  }
  bool Granted(connector::Connector&, const core::Request& r) override {
    return fs::exists(state_ + "/" + r.id.value());
  }

 private:
  std::string state_;
};

// webhook: a python3 receiver on 127.0.0.1 checks the HMAC and keeps a file per grant.
class WebhookTarget : public Target {
 public:
  ~WebhookTarget() override {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  std::string SkipReason() override {
    return RunProcess({"python3", "-c", "pass"}, "", std::chrono::seconds(120)) ? ""
                                                                               : "no python3";
  }
  Result<std::unique_ptr<connector::Connector>> Make(TestEnv& env) override {
    state_ = env.dir() + "/hook-state";
    fs::create_directories(state_);
    WriteFile(env.dir() + "/hook.secret", "hook-secret-123\n", 0600);
    std::string port_file = env.dir() + "/hook.port";
    pid_ = fork();
    if (pid_ == 0) {
      execlp("python3", "python3", BG_SOURCE_DIR "/test/integration/connectors_webhook_receiver.py",
             "hook-secret-123", state_.c_str(), port_file.c_str(), nullptr);
      _exit(127);
    }
    for (int i = 0; i < 6000 && !fs::exists(port_file); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::string port;
    std::ifstream(port_file) >> port;
    if (port.empty()) return Error::Unavailable("the webhook receiver did not start");
    nlohmann::json o = {{"url", "http://127.0.0.1:" + port + "/breakglass"},
                        {"secret_file", "hook.secret"},
                        {"timeout", "20s"}};
    BG_ASSIGN_OR_RETURN(auto c, WebhookConnector::Create(Plugin("hook", "webhook", o.dump()),
                                                         env.context("hook")));
    return std::unique_ptr<connector::Connector>(std::move(c));
  }
  bool Granted(connector::Connector&, const core::Request& r) override {
    return fs::exists(state_ + "/" + r.id.value());
  }

 private:
  std::string state_;
  pid_t pid_ = -1;
};

// ssh_ca: a grant is in place while a certificate can be issued and is not revoked.
class SshCaTarget : public Target {
 public:
  Result<std::unique_ptr<connector::Connector>> Make(TestEnv& env) override {
    BG_ASSIGN_OR_RETURN(auto c, SshCaConnector::Create(Plugin("bastion", "ssh_ca", "{}"),
                                                       env.context("bastion")));
    return std::unique_ptr<connector::Connector>(std::move(c));
  }
  bool Granted(connector::Connector& c, const core::Request& r) override {
    connector::SshCertificateIssuer* ca = c.AsSshIssuer();
    if (ca == nullptr) return false;
    auto cert = ca->IssueCertificate(r, ssh::Ed25519PrivateKey::Generate().PublicKeyLine("t"));
    if (!cert) return false;
    auto krl = ssh::ParseKrl(*ca->Krl());
    auto parsed = ssh::ParseCertificate(cert->certificate);
    return krl && parsed && !krl->IsRevoked(*parsed);
  }
};

// postgres_role: a real server started by test/integration/connectors_pg_server.sh.
class PostgresTarget : public Target {
 public:
  ~PostgresTarget() override {
    if (!dir_.empty()) RunOk({"bash", Script(), "stop", dir_});
  }
  static std::string Script() { return BG_SOURCE_DIR "/test/integration/connectors_pg_server.sh"; }
  std::string SkipReason() override {
    auto r = RunProcess({"bash", Script(), "available"}, "", std::chrono::seconds(120));
    return r && r->exit_code == 0 ? "" : "PostgreSQL server binaries not installed";
  }
  Result<std::unique_ptr<connector::Connector>> Make(TestEnv& env) override {
    dir_ = env.dir() + "/pg";
    std::string out = RunOk({"bash", Script(), "start", dir_});
    auto j = nlohmann::json::parse(out, nullptr, false);
    if (!j.is_object()) return Error::Unavailable("PostgreSQL did not start: " + out);
    psql_ = {"bash", Script(), "psql", dir_};
    WriteFile(env.dir() + "/pg.secret", j["admin_password"].get<std::string>() + "\n", 0600);
    RunOk(psql_ = {"bash", Script(), "psql", dir_}, "CREATE ROLE app_read NOLOGIN;");
    nlohmann::json o = {{"dsn", j["dsn"]}, {"password_file", "pg.secret"}};
    BG_ASSIGN_OR_RETURN(auto c, PostgresRoleConnector::Create(
                                    Plugin("prod-pg", "postgres_role", o.dump()), env.context("prod-pg")));
    return std::unique_ptr<connector::Connector>(std::move(c));
  }
  const std::vector<std::string>& Psql() const { return psql_; }
  bool Granted(connector::Connector&, const core::Request& r) override {
    std::string role = DerivePostgresRoleName("bg_", r.requester, r.id);
    std::string out = RunOk(psql_, "SELECT count(*) FROM pg_roles WHERE rolname = '" + role +
                                     "' AND rolcanlogin;");
    return out.find('1') != std::string::npos;
  }

 private:
  std::string dir_;
  std::vector<std::string> psql_;
};

struct Kind {
  std::string name;
  std::function<std::unique_ptr<Target>()> make;
};

// Test names and failure messages show the kind, not the parameter's bytes.
void PrintTo(const Kind& kind, std::ostream* os) { *os << kind.name; }

class ConnectorConformanceTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    target_ = GetParam().make();
    if (auto why = target_->SkipReason(); !why.empty()) GTEST_SKIP() << why;
    auto c = target_->Make(env_);
    ASSERT_TRUE(c) << c.error().ToString();
    connector_ = std::move(*c);
  }
  core::Request Grant(std::string id) {
    core::Request r;
    r.id = RequestId(std::move(id));
    r.requester = "alice";
    r.resource = "res";
    r.privilege = GetParam().name == "postgres_role" ? "app_read" : "breakglass-root";
    r.connector = "c";
    r.state = core::RequestState::kApproved;
    r.duration = Seconds(600);
    return r;
  }
  // After the service's Activate.
  static core::Request Activated(core::Request r) {
    r.state = core::RequestState::kActive;
    r.starts_at = SystemClock::Get().Now();
    r.ends_at = *r.starts_at + r.duration;
    return r;
  }

  TestEnv env_;
  std::unique_ptr<Target> target_;
  std::unique_ptr<connector::Connector> connector_;
};

TEST_P(ConnectorConformanceTest, ProbeSucceeds) {
  Status s = connector_->Probe();
  EXPECT_TRUE(s) << s.error().ToString();
}

TEST_P(ConnectorConformanceTest, GrantIsIdempotentByRequestId) {
  core::Request r = Grant("req_conf1");
  Status first = connector_->Grant(r);
  ASSERT_TRUE(first) << first.error().ToString();
  Status retry = connector_->Grant(r);  // the outbox retries when the outcome was not stored
  ASSERT_TRUE(retry) << retry.error().ToString();
  EXPECT_TRUE(target_->Granted(*connector_, Activated(r)));
  // An extension re-issues for the longer window.
  core::Request extended = Activated(r);
  extended.ends_at = *extended.ends_at + Seconds(600);
  Status reissue = connector_->Grant(extended);
  EXPECT_TRUE(reissue) << reissue.error().ToString();
  EXPECT_TRUE(target_->Granted(*connector_, extended));
}

TEST_P(ConnectorConformanceTest, RevokeIsIdempotentAndEndsTheGrant) {
  core::Request r = Grant("req_conf2");
  ASSERT_TRUE(connector_->Grant(r));
  core::Request active = Activated(r);
  Status first = connector_->Revoke(active);
  ASSERT_TRUE(first) << first.error().ToString();
  Status again = connector_->Revoke(active);
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_FALSE(target_->Granted(*connector_, active));
}

TEST_P(ConnectorConformanceTest, RevokingAnUnknownGrantIsDone) {
  Status s = connector_->Revoke(Activated(Grant("req_never_granted")));
  EXPECT_TRUE(s) << s.error().ToString();
}

TEST_P(ConnectorConformanceTest, GrantsAreIndependent) {
  core::Request a = Grant("req_conf_a"), b = Grant("req_conf_b");
  ASSERT_TRUE(connector_->Grant(a));
  ASSERT_TRUE(connector_->Grant(b));
  ASSERT_TRUE(connector_->Revoke(Activated(a)));
  EXPECT_FALSE(target_->Granted(*connector_, Activated(a)));
  EXPECT_TRUE(target_->Granted(*connector_, Activated(b)));
}

// Hostile names reach PostgreSQL only as escaped identifiers and literals: a person and a
// privilege role full of quotes, semicolons and non-ASCII still give exactly one login role,
// member of exactly that role, and nothing else is touched.
TEST(PostgresRoleHostileNamesTest, QuotesSemicolonsAndUnicodeDoNotBreakTheSql) {
  TestEnv env;  // outlives the server, which lives in its directory
  PostgresTarget pg;
  if (auto why = pg.SkipReason(); !why.empty()) GTEST_SKIP() << why;
  auto c = pg.Make(env);
  ASSERT_TRUE(c) << c.error().ToString();
  const std::string hostile_role = "r\"o'le; DROP TABLE victim; --\xc3\xa9\xe2\x98\x83";
  std::string psql_role = "\"r\"\"o'le; DROP TABLE victim; --\xc3\xa9\xe2\x98\x83\"";
  RunOk(pg.Psql(), "CREATE TABLE victim (x int); CREATE ROLE " + psql_role + " NOLOGIN;");
  core::Request r;
  r.id = RequestId("req_hostile");
  r.requester = "o'brien\"; DROP ROLE bg_admin; --\xc3\xb6";
  r.privilege = hostile_role;
  r.state = core::RequestState::kApproved;
  r.duration = Seconds(600);
  Status g = (*c)->Grant(r);
  ASSERT_TRUE(g) << g.error().ToString();
  ASSERT_TRUE((*c)->Grant(r));  // and again (the ALTER path)
  std::string role = DerivePostgresRoleName("bg_", r.requester, r.id);
  EXPECT_EQ(role, "bg_o_brien___drop_role_bg_admin_______req_hostile");
  std::string members = RunOk(pg.Psql(),
      "SELECT b.rolname FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid "
      "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = '" + role + "';");
  EXPECT_EQ(members, hostile_role + "\n");
  EXPECT_EQ(RunOk(pg.Psql(), "SELECT count(*) FROM victim;"), "0\n");
  EXPECT_EQ(RunOk(pg.Psql(), "SELECT count(*) FROM pg_roles WHERE rolname = 'bg_admin';"), "1\n");
  ASSERT_TRUE((*c)->Revoke(r));
  EXPECT_EQ(RunOk(pg.Psql(), "SELECT count(*) FROM pg_roles WHERE rolname = '" + role + "';"),
            "0\n");
}

INSTANTIATE_TEST_SUITE_P(
    AllKinds, ConnectorConformanceTest,
    ::testing::Values(Kind{"exec", [] { return std::make_unique<ExecTarget>(); }},
                      Kind{"webhook", [] { return std::make_unique<WebhookTarget>(); }},
                      Kind{"ssh_ca", [] { return std::make_unique<SshCaTarget>(); }},
                      Kind{"postgres_role", [] { return std::make_unique<PostgresTarget>(); }}),
    [](const ::testing::TestParamInfo<Kind>& p) { return p.param.name; });

}  // namespace
}  // namespace bg::connectors
