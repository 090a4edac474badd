// The rules of a drill's request (CreateCommand::drill_id): who may run one, what it is exempt
// from, which rule it takes and what its grant reaches.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/request.h"

namespace bg::core {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kPolicy = R"(version = 1
[settings]
reason_min_length = 20
ticket_pattern = '^INC-[0-9]+$'
[groups]
dba = ["carol", "dave"]
[pools]
dba-approvers = ["group:dba"]
[[resources]]
name = "bastion"
connector = "ssh"
owner = "group:dba"
privileges = ["ops"]
drill = { principal = "canary", user = "drill", host = "127.0.0.1" }
[[resources]]
name = "db"
connector = "pg"
privileges = ["ro", "rw"]
drill = { database = "app" }
[[resources]]
name = "plain"
connector = "pg"
privileges = ["ro"]
[[rules]]
resource = "bastion"
privileges = ["ops"]
requesters = ["alice"]
tier = 1
[[rules]]
resource = "db"
privileges = ["ro"]
requesters = ["alice"]
tier = 2
pool = "dba-approvers"
approvals = 1
[[rules]]
resource = "plain"
privileges = ["ro"]
requesters = ["alice"]
tier = 1
)";

const Timestamp kNow = FromUnixSeconds(1772618400);

Policy TestPolicy() {
  PolicyParseResult r = ParsePolicy(kPolicy, "drill.toml");
  for (const PolicyProblem& p : r.problems) ADD_FAILURE() << p.ToString();
  return r.policy.value_or(Policy{});
}

Actor Person(std::string name, std::vector<Role> roles) {
  Actor a;
  a.name = std::move(name);
  a.roles = std::move(roles);
  return a;
}

CreateCommand Drill(std::string resource, std::string privilege) {
  CreateCommand c;
  c.resource = std::move(resource);
  c.privilege = std::move(privilege);
  c.duration = Seconds(60);
  c.reason = "drill dr_7";
  c.ticket = "DRILL-7";
  c.drill_id = "dr_7";
  return c;
}

Result<Transition> Create(const Actor& who, const CreateCommand& c) {
  return CreateRequest(TestPolicy(), who, c, RiskInputs{}, RequestId("r1"), kNow);
}

TEST(DrillTest, AdminsAuditorsAndTheOwnerMayRunDrills) {
  struct Case {
    Actor who;
    bool allowed;
  };
  const Case cases[] = {
      {Person("root", {Role::kAdmin}), true},
      {Person("audrey", {Role::kAuditor}), true},
      {Person("carol", {Role::kApprover}), true},  // in group:dba, the owner
      {Person("alice", {Role::kRequester}), false},
      {Person("bob", {Role::kApprover, Role::kRequester}), false},
  };
  for (const Case& c : cases) {
    Result<Transition> t = Create(c.who, Drill("bastion", "ops"));
    EXPECT_EQ(t.has_value(), c.allowed) << c.who.name;
    if (!c.allowed && !t.has_value()) {
      EXPECT_EQ(t.error().code(), ErrorCode::kPermissionDenied) << c.who.name;
      EXPECT_THAT(t.error().message(), HasSubstr("admins, auditors and the resource's owner"));
    }
  }
}

TEST(DrillTest, IsExemptFromTheTicketPatternAndTheReasonMinimum) {
  Result<Transition> t = Create(Person("root", {Role::kAdmin}), Drill("bastion", "ops"));
  ASSERT_TRUE(t.has_value()) << t.error().message();
  EXPECT_EQ(t->request.ticket, "DRILL-7");
  EXPECT_EQ(t->request.reason, "drill dr_7");
  // The same terms without drill_id are refused by both.
  CreateCommand plain = Drill("bastion", "ops");
  plain.drill_id.clear();
  Result<Transition> refused = Create(Person("alice", {Role::kRequester}), plain);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().field(), "reason");
  // A ticket is still required.
  CreateCommand no_ticket = Drill("bastion", "ops");
  no_ticket.ticket = " ";
  Result<Transition> r = Create(Person("root", {Role::kAdmin}), no_ticket);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().field(), "ticket");
}

TEST(DrillTest, TakesTheRuleWhateverItsRequestersAndMarksTheRequest) {
  Result<Transition> t = Create(Person("audrey", {Role::kAuditor}), Drill("db", "ro"));
  ASSERT_TRUE(t.has_value()) << t.error().message();
  const Request& r = t->request;
  EXPECT_EQ(r.requester, "audrey");
  EXPECT_EQ(r.tier, 2);
  EXPECT_EQ(r.state, RequestState::kPending);  // the pool approves for real
  EXPECT_EQ(r.drill_id, "dr_7");
  ASSERT_TRUE(r.drill_target.has_value());
  EXPECT_EQ(r.drill_target->database, "app");
  const auto* created = std::get_if<AuditEvent>(&t->effects.front());
  ASSERT_NE(created, nullptr);
  EXPECT_EQ(created->type, "request.created");
  EXPECT_EQ(created->details.at("drill"), "dr_7");
}

TEST(DrillTest, ATierOneDrillCompletesByItself) {
  Result<Transition> t = Create(Person("root", {Role::kAdmin}), Drill("bastion", "ops"));
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->request.state, RequestState::kApproved);
  EXPECT_TRUE(t->request.self_approved);
  EXPECT_EQ(t->request.drill_target->principal, "canary");
  bool issues = false;
  for (const Effect& e : t->effects) issues = issues || std::holds_alternative<IssueGrant>(e);
  EXPECT_TRUE(issues);
}

TEST(DrillTest, WhoMayNotRunOneLearnsNothingOfTheDrillTarget) {
  Result<Transition> t = Create(Person("alice", {Role::kRequester}), Drill("plain", "ro"));
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().code(), ErrorCode::kPermissionDenied);
}

TEST(DrillTest, IsRefusedWithoutADrillTargetOrAsAnEmergency) {
  Result<Transition> t = Create(Person("root", {Role::kAdmin}), Drill("plain", "ro"));
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(t.error().field(), "resource");
  CreateCommand emergency = Drill("bastion", "ops");
  emergency.emergency = true;
  Result<Transition> e = Create(Person("root", {Role::kAdmin}), emergency);
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().field(), "emergency");
  // A privilege no rule gives is refused as for anyone.
  Result<Transition> rw = Create(Person("root", {Role::kAdmin}), Drill("db", "rw"));
  ASSERT_FALSE(rw.has_value());
  EXPECT_EQ(rw.error().code(), ErrorCode::kPermissionDenied);
}

TEST(DrillTest, ARequestThatIsNoDrillCarriesNoTarget) {
  CreateCommand c = Drill("bastion", "ops");
  c.drill_id.clear();
  c.reason = "a reason long enough for the rule";
  c.ticket = "INC-1";
  Result<Transition> t = Create(Person("alice", {Role::kRequester}), c);
  ASSERT_TRUE(t.has_value()) << t.error().message();
  EXPECT_TRUE(t->request.drill_id.empty());
  EXPECT_FALSE(t->request.drill_target.has_value());
}

}  // namespace
}  // namespace bg::core
