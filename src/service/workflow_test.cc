// The request workflow on its own: commands through a real writer and store, with People and
// the effects reader (service/test_parts.h), without a Service, a scheduler or a grant runner.
#include "service/workflow.h"

#include <gtest/gtest.h>

#include "service/test_parts.h"

namespace bg::service {
namespace {

using core::RequestState;
using core::Role;

constexpr char kPolicy[] = R"(
version = 1
[settings]
timezone = "UTC"
reason_min_length = 5
security_contacts = ["sam"]
[groups]
sre = ["alice"]
dba = ["carol", "dave"]
[pools]
dba-approvers = ["group:dba"]
[[resources]]
name = "db"
connector = "db-conn"
owner = "carol"
privileges = ["read_only", "dba"]
[[rules]]
resource = "db"
privileges = ["read_only"]
requesters = ["group:sre"]
tier = 1
max_duration = "1h"
[[rules]]
resource = "db"
privileges = ["dba"]
requesters = ["group:sre"]
tier = 2
pool = "dba-approvers"
approvals = 1
max_duration = "2h"
mfa_max_age = "10m"
)";

class WorkflowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    workflow_ = std::make_unique<RequestWorkflow>(*parts_.store, *parts_.writer, parts_.clock,
                                                  *parts_.effects, *parts_.people,
                                                  parts_.requests, nullptr);
  }
  core::CreateCommand Command(const std::string& privilege) {
    core::CreateCommand c;
    c.resource = "db";
    c.privilege = privilege;
    c.duration = std::chrono::minutes(30);
    c.reason = "disk full on primary";
    c.ticket = "INC-1234";
    return c;
  }
  Result<core::Request> Create(const core::Actor& a, const std::string& privilege) {
    return testing::Await([&](auto cb) { workflow_->Create(a, Command(privilege), cb); });
  }
  std::vector<store::OutboxJob> Jobs() { return *parts_.store->ListOutbox(); }

  testing::Parts parts_{kPolicy};
  std::unique_ptr<RequestWorkflow> workflow_;
};

TEST_F(WorkflowTest, ApprovedRequestQueuesItsGrantAndTheConnectorsAnswerActivatesIt) {
  core::Actor alice = parts_.Person("alice", {Role::kRequester});
  parts_.Person("carol", {Role::kApprover});  // someone able to approve must exist
  auto r = Create(alice, "read_only");  // tier 1: approved by the rule itself
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->state, RequestState::kApproved);
  EXPECT_GE(parts_.grant_wakeups, 1);
  auto jobs = Jobs();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].kind, "grant");

  Status recorded = parts_.writer->RunSync([&](Tx& tx) {
    return workflow_->RecordJobOutcome(tx, jobs[0], core::JobKind::kGrant, core::JobOutcome{});
  });
  ASSERT_TRUE(recorded.has_value()) << recorded.error().ToString();
  auto now = workflow_->Get(alice, r->id);
  ASSERT_TRUE(now.has_value());
  EXPECT_EQ(now->state, RequestState::kActive);
  EXPECT_TRUE(Jobs().empty());
  bool audited_ok = false;
  for (const auto& e : parts_.AuditEvents()) {
    if (e.type == "connector.grant") audited_ok = e.details.at("outcome") == "ok";
  }
  EXPECT_TRUE(audited_ok);
}

TEST_F(WorkflowTest, FailedGrantStaysQueuedWithBackoffAndIsNotAuditedAsOk) {
  core::Actor alice = parts_.Person("alice", {Role::kRequester});
  parts_.Person("carol", {Role::kApprover});
  auto r = Create(alice, "read_only");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  auto jobs = Jobs();
  ASSERT_EQ(jobs.size(), 1u);
  core::JobOutcome failed{core::JobOutcome::Kind::kFailed, "target down"};
  ASSERT_TRUE(parts_.writer->RunSync([&](Tx& tx) {
    return workflow_->RecordJobOutcome(tx, jobs[0], core::JobKind::kGrant, failed);
  }));
  auto after = Jobs();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].attempts, 1);
  EXPECT_GT(after[0].next_attempt, parts_.clock.Now());
  EXPECT_EQ(after[0].last_error, "target down");
  for (const auto& e : parts_.AuditEvents()) {
    if (e.type == "connector.grant") {
      EXPECT_NE(e.details.at("outcome"), "ok");
    }
  }
  EXPECT_EQ(workflow_->Get(alice, r->id)->state, RequestState::kApproved);
}

TEST_F(WorkflowTest, ApprovalWithAWrongCodeDecidesNothingAndWithTheRightOneCounts) {
  core::Actor alice = parts_.Person("alice", {Role::kRequester});
  core::Actor carol = parts_.Person("carol", {Role::kApprover});
  auto r = Create(alice, "dba");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_EQ(r->state, RequestState::kPending);
  parts_.clock.Advance(Seconds(60));
  auto wrong = testing::Await(
      [&](auto cb) { workflow_->Approve(carol, r->id, "ok", cb, "000000"); });
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().field(), "totp");
  EXPECT_EQ(workflow_->Get(carol, r->id)->state, RequestState::kPending);
  EXPECT_EQ(parts_.CountEvents("auth.mfa_failed"), 1u);

  auto right = testing::Await(
      [&](auto cb) { workflow_->Approve(carol, r->id, "ok", cb, parts_.Code("carol")); });
  ASSERT_TRUE(right.has_value()) << right.error().ToString();
  EXPECT_EQ(right->state, RequestState::kApproved);
}

TEST_F(WorkflowTest, RequestsTheCallerMayNotSeeDoNotExistForThem) {
  core::Actor alice = parts_.Person("alice", {Role::kRequester});
  core::Actor bob = parts_.Person("bob", {Role::kRequester});
  parts_.Person("carol", {Role::kApprover});
  auto r = Create(alice, "dba");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  auto seen = workflow_->Get(bob, r->id);
  ASSERT_FALSE(seen.has_value());
  EXPECT_EQ(seen.error().code(), ErrorCode::kNotFound);
  auto listed = workflow_->List(bob, {}, false);
  ASSERT_TRUE(listed.has_value());
  EXPECT_TRUE(listed->empty());
  // Approving it costs bob nothing either: not found, no code spent.
  auto approved = testing::Await([&](auto cb) { workflow_->Approve(bob, r->id, "", cb); });
  ASSERT_FALSE(approved.has_value());
  EXPECT_EQ(approved.error().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace bg::service
