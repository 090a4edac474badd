#include "service/grant_runner.h"

#include <gtest/gtest.h>

#include "auth/master_key.h"
#include "service/connector_state.h"
#include "service/writer.h"
#include "test/fakes/temp_dir.h"
#include "util/random.h"

namespace bg::service {
namespace {

// Records its calls; fails while `fail` is set.
struct Calls {
  std::vector<std::string> seen;  // "grant req_1", ...
  bool fail = false;
};

class FakeConnector final : public connector::Connector {
 public:
  explicit FakeConnector(Calls& calls) : calls_(calls) {}
  Status Grant(const core::Request& r) override { return Call("grant", r); }
  Status Revoke(const core::Request& r) override { return Call("revoke", r); }
  Status Probe() override { return Ok(); }

 private:
  Status Call(const std::string& what, const core::Request& r) {
    calls_.seen.push_back(what + " " + r.id.value());
    if (calls_.fail) return Error::Unavailable("target down");
    return Ok();
  }
  Calls& calls_;
};

struct Recorded {
  std::string job_kind;
  core::JobKind kind;
  core::JobOutcome outcome;
};

class GrantRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::OpenStore("sqlite", tmp_.path());
    ASSERT_TRUE(s.has_value()) << s.error().message();
    store_ = std::move(*s);
    key_ = std::make_unique<auth::MasterKey>(auth::MasterKey::Generate(SystemRandom::Get()));
    registry_.RegisterKind("fake", [this](const PluginConfig&, const connector::ConnectorContext&) {
      return Result<std::unique_ptr<connector::Connector>>(std::make_unique<FakeConnector>(calls_));
    });
    ASSERT_TRUE(registry_.Configure(
        {{"target", {"target", "fake", "{}"}}},
        MakeConnectorHost(*key_, *store_, config_, SystemClock::Get(), SystemRandom::Get())));
    runner_ = std::make_unique<GrantRunner>(
        *store_, registry_,
        [this](std::function<Status(Tx&)> run, std::function<void(Status)> done) {
          Tx tx(*store_, AuditAppender(), FromUnixSeconds(1'795'000'000));
          done(run(tx));
        },
        [this](Tx&, const store::OutboxJob& job, core::JobKind kind,
               const core::JobOutcome& outcome) {
          recorded_.push_back({job.kind, kind, outcome});
          return Ok();
        },
        [this](const std::string& kind, bool ok) { counted_.push_back(kind + (ok ? "+" : "-")); });
  }

  void Store(const std::string& id, core::RequestState state, std::string connector = "target") {
    core::Request r;
    r.id = RequestId(id);
    r.requester = "alice";
    r.resource = "db";
    r.privilege = "read_only";
    r.connector = std::move(connector);
    r.state = state;
    store::WriteBatch batch;
    batch.requests.push_back({r, 0});
    ASSERT_TRUE(store_->Commit(batch)) << id;
  }
  void TearDown() override {
    runner_.reset();
    store_.reset();  // before the directory goes
  }

  static store::OutboxJob Job(std::string kind, const std::string& id) {
    store::OutboxJob j;
    j.id = 1;
    j.kind = std::move(kind);
    j.request = RequestId(id);
    return j;
  }

  bg::testing::TempDir tmp_{"bg_grant_runner"};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<auth::MasterKey> key_;
  ServerConfig config_;
  connector::ConnectorRegistry registry_;
  Calls calls_;
  std::vector<Recorded> recorded_;
  std::vector<std::string> counted_;
  std::unique_ptr<GrantRunner> runner_;
};

TEST_F(GrantRunnerTest, CallsTheConnectorAndRecordsItsAnswerInTheWriter) {
  Store("req_a", core::RequestState::kApproved);
  Store("req_b", core::RequestState::kActive);
  runner_->RunJobs({Job("grant", "req_a"), Job("revoke", "req_b")});
  EXPECT_EQ(calls_.seen, (std::vector<std::string>{"grant req_a", "revoke req_b"}));
  ASSERT_EQ(recorded_.size(), 2u);
  EXPECT_EQ(recorded_[0].kind, core::JobKind::kGrant);
  EXPECT_EQ(recorded_[0].outcome.kind, core::JobOutcome::Kind::kOk);
  EXPECT_EQ(recorded_[1].kind, core::JobKind::kRevoke);
  EXPECT_EQ(counted_, (std::vector<std::string>{"grant+", "revoke+"}));
}

TEST_F(GrantRunnerTest, AFailureIsRecordedWithItsErrorNeverAsOk) {
  Store("req_a", core::RequestState::kApproved);
  calls_.fail = true;
  runner_->RunJobs({Job("grant", "req_a")});
  ASSERT_EQ(recorded_.size(), 1u);
  EXPECT_EQ(recorded_[0].outcome.kind, core::JobOutcome::Kind::kFailed);
  EXPECT_EQ(recorded_[0].outcome.error, "target down");
  EXPECT_EQ(counted_, (std::vector<std::string>{"grant-"}));
}

TEST_F(GrantRunnerTest, AMootGrantIsSkippedAndAMissingConnectorOrRequestFails) {
  Store("req_ended", core::RequestState::kRevoked);  // revoked before its grant ran
  Store("req_nowhere", core::RequestState::kApproved, "unconfigured");
  runner_->RunJobs({Job("grant", "req_ended"), Job("grant", "req_nowhere"),
                    Job("grant", "req_gone"), Job("alert", "req_ended")});
  EXPECT_TRUE(calls_.seen.empty());  // nothing reached a target
  ASSERT_EQ(recorded_.size(), 3u);   // the alert job is not a connector job
  EXPECT_EQ(recorded_[0].outcome.kind, core::JobOutcome::Kind::kSkipped);
  EXPECT_EQ(recorded_[1].outcome.kind, core::JobOutcome::Kind::kFailed);
  EXPECT_NE(recorded_[1].outcome.error.find("'unconfigured' is not configured"), std::string::npos);
  EXPECT_EQ(recorded_[2].outcome.kind, core::JobOutcome::Kind::kNoRequest);
  EXPECT_EQ(counted_, (std::vector<std::string>{"grant-", "grant-"}));  // a skip is not a call
}

}  // namespace
}  // namespace bg::service
