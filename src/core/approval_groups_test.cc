// Approvals from several groups, escalation when nobody answers, and requests that can never be
// approved: table-driven tests of the pure rules (core/approval_groups.h, core/request.h).
#include "core/approval_groups.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/commands.h"
#include "core/request.h"

namespace bg::core {
namespace {

using std::chrono::minutes;
using ::testing::HasSubstr;

// pat is in both dba-approvers and managers; olga only in the escalation pool.
constexpr std::string_view kPolicy = R"(version = 1
[settings]
timezone = "UTC"
reason_min_length = 3

[groups]
sre = ["alice", "bob"]
dba = ["carol", "dave"]
mgr = ["mia", "max"]

[pools]
dba-approvers = ["group:dba", "pat"]
managers = ["group:mgr", "pat"]
oncall-leads = ["olga"]

[[resources]]
name = "prod-db"
connector = "prod-pg"
privileges = ["dba", "owner"]

[[resources]]
name = "bastion"
connector = "bastion-ssh"
privileges = ["root"]

# A peer AND a manager.
[[rules]]
resource = "prod-db"
privileges = ["dba"]
requesters = ["group:sre"]
tier = 2
approvals = [{pool = "dba-approvers", count = 1}, {pool = "managers", count = 1}]
approval_window = "30m"
mfa_max_age = "10m"

# One pool, escalating to the on-call leads after 10 minutes.
[[rules]]
resource = "prod-db"
privileges = ["owner"]
requesters = ["group:sre"]
tier = 2
pool = "dba-approvers"
approvals = 2
escalate_after = "10m"
escalate_to = "oncall-leads"
approval_window = "30m"
mfa_max_age = "10m"

# Two groups; only the managers' group escalates (after 5 minutes).
[[rules]]
resource = "bastion"
privileges = ["root"]
requesters = ["group:sre"]
tier = 2
approvals = [{pool = "dba-approvers", count = 1},
             {pool = "managers", count = 1, escalate_after = "5m", escalate_to = "oncall-leads"}]
approval_window = "30m"
mfa_max_age = "10m"
)";

const Timestamp kNow = FromUnixSeconds(1772618400);  // 2026-03-04T10:00:00Z, a Wednesday

Policy TestPolicy() {
  PolicyParseResult r = ParsePolicy(kPolicy, "groups.toml");
  for (const PolicyProblem& p : r.problems) ADD_FAILURE() << p.ToString();
  return r.policy.value_or(Policy{});
}

Actor Person(std::string name, Role role) {
  Actor a;
  a.name = std::move(name);
  a.roles = {role};
  a.mfa_code_presented = true;
  return a;
}

// alice's request; the policy has no working hours, so the risk inputs raise nothing unless
// the test asks.
Result<Transition> CreateTransition(const Policy& policy, std::string resource,
                                    std::string privilege, RiskInputs risk = {}) {
  CreateCommand cmd;
  cmd.resource = std::move(resource);
  cmd.privilege = std::move(privilege);
  cmd.duration = minutes(30);
  cmd.reason = "replication stuck";
  cmd.ticket = "INC-1";
  return CreateRequest(policy, Person("alice", Role::kRequester), cmd, risk, RequestId("req_1"),
                       kNow);
}

Request Create(const Policy& policy, std::string resource, std::string privilege) {
  Result<Transition> t = CreateTransition(policy, std::move(resource), std::move(privilege));
  EXPECT_TRUE(t.has_value()) << t.error().ToString();
  return t.has_value() ? t->request : Request{};
}

// Applies the approvals in order; returns the state after the last, or the first refusal.
Result<Request> ApproveAll(const Policy& policy, Request r, const std::vector<std::string>& who,
                           Timestamp at = kNow + minutes(1)) {
  for (const std::string& name : who) {
    BG_ASSIGN_OR_RETURN(Transition t, Approve(policy, r, Person(name, Role::kApprover), "", at));
    r = t.request;
  }
  return r;
}

TEST(ApprovalGroupsTest, PolicyReadsBothFormsIntoGroups) {
  const Policy policy = TestPolicy();
  ASSERT_EQ(policy.rules.size(), 3u);
  const Rule& multi = policy.rules[0];
  ASSERT_EQ(multi.groups.size(), 2u);
  EXPECT_EQ(multi.groups[0].pool, "dba-approvers");
  EXPECT_EQ(multi.groups[1].pool, "managers");
  EXPECT_EQ(multi.pool, "dba-approvers");
  EXPECT_EQ(multi.approvals, 2);
  const Rule& single = policy.rules[1];
  ASSERT_EQ(single.groups.size(), 1u);
  EXPECT_EQ(single.groups[0].count, 2);
  EXPECT_EQ(single.groups[0].escalate_to, "oncall-leads");
  EXPECT_EQ(single.groups[0].escalate_after, minutes(10));
  const Rule& per_group = policy.rules[2];
  EXPECT_TRUE(per_group.groups[0].escalate_to.empty());
  EXPECT_EQ(per_group.groups[1].escalate_after, minutes(5));
}

// A person counts for one group only, and for whichever group completes the request.
TEST(ApprovalGroupsTest, ApprovalsAreMatchedToGroupsNotCountedInOrder) {
  const Policy policy = TestPolicy();
  struct Case {
    std::vector<std::string> approvers;
    RequestState want;
  };
  const Case cases[] = {
      {{"carol"}, RequestState::kPending},
      {{"mia"}, RequestState::kPending},
      {{"carol", "mia"}, RequestState::kApproved},
      {{"mia", "carol"}, RequestState::kApproved},
      {{"carol", "dave"}, RequestState::kPending},  // two peers, no manager
      {{"mia", "max"}, RequestState::kPending},     // two managers, no peer
      {{"pat"}, RequestState::kPending},            // in both pools, counts once
      {{"pat", "carol"}, RequestState::kApproved},  // pat then counts as the manager
      {{"carol", "pat"}, RequestState::kApproved},
      {{"pat", "mia"}, RequestState::kApproved},    // pat then counts as the peer
      {{"mia", "pat"}, RequestState::kApproved},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(fmt::format("{}", fmt::join(c.approvers, ",")));
    Result<Request> r = ApproveAll(policy, Create(policy, "prod-db", "dba"), c.approvers);
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    EXPECT_EQ(r->state, c.want);
  }
}

TEST(ApprovalGroupsTest, TallyNamesWhoCountsForWhichGroup) {
  const Policy policy = TestPolicy();
  const std::vector<ApprovalGroup> groups = policy.rules[0].groups;
  GroupTally t = TallyGroups(policy, groups, {"pat", "carol"}, "alice");
  EXPECT_TRUE(t.complete());
  EXPECT_EQ(t.counted[0], std::vector<std::string>{"carol"});
  EXPECT_EQ(t.counted[1], std::vector<std::string>{"pat"});
  GroupTally partial = TallyGroups(policy, groups, {"carol", "dave", "alice"}, "alice");
  EXPECT_EQ(partial.filled, 1);
  EXPECT_EQ(partial.seats, 2);
  EXPECT_EQ(DescribeTally(groups, partial), "pool 'dba-approvers' (1 of 1: carol), pool 'managers' (0 of 1)");
}

TEST(ApprovalGroupsTest, StillMayApproveNamesWhoCanFillASeatOfEachGroup) {
  const Policy policy = TestPolicy();
  Request r = Create(policy, "prod-db", "dba");  // 1 of dba-approvers AND 1 of managers
  auto may = StillMayApprove(policy, r);
  ASSERT_EQ(may.size(), 2u);
  EXPECT_EQ(may[0], (std::vector<std::string>{"carol", "dave", "pat"}));
  EXPECT_EQ(may[1], (std::vector<std::string>{"max", "mia", "pat"}));
  // carol fills the peers' seat: only managers (and pat, who counts there) remain.
  Result<Request> after = ApproveAll(policy, r, {"carol"});
  ASSERT_TRUE(after.has_value());
  may = StillMayApprove(policy, *after);
  EXPECT_TRUE(may[0].empty());
  EXPECT_EQ(may[1], (std::vector<std::string>{"max", "mia", "pat"}));
  // pat first: pat counts for whichever group lets it complete, so either group's people can still fill
  // the other seat.
  Result<Request> pat = ApproveAll(policy, r, {"pat"});
  ASSERT_TRUE(pat.has_value());
  may = StillMayApprove(policy, *pat);
  EXPECT_EQ(may[0], (std::vector<std::string>{"carol", "dave"}));
  EXPECT_EQ(may[1], (std::vector<std::string>{"max", "mia"}));
  // The escalation pool appears once the group has escalated, never before.
  Request owner = Create(policy, "prod-db", "owner");
  EXPECT_EQ(StillMayApprove(policy, owner)[0], (std::vector<std::string>{"carol", "dave", "pat"}));
  owner.groups[0].escalated = true;
  EXPECT_EQ(StillMayApprove(policy, owner)[0], (std::vector<std::string>{"carol", "dave", "olga", "pat"}));
}

TEST(ApprovalGroupsTest, SomeoneInNoGroupCannotApprove) {
  const Policy policy = TestPolicy();
  Result<Request> r = ApproveAll(policy, Create(policy, "prod-db", "dba"), {"olga"});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_THAT(r.error().message(), HasSubstr("'dba-approvers', 'managers'"));
}

TEST(ApprovalGroupsTest, EscalationLetsTheOtherPoolApproveAndAlertsIt) {
  const Policy policy = TestPolicy();
  Request r = Create(policy, "prod-db", "owner");
  // Creation schedules the escalation timer beside the approval timeout.
  {
    Result<Transition> t = CreateTransition(policy, "prod-db", "owner");
    ASSERT_TRUE(t.has_value());
    bool timer = false;
    for (const Effect& e : t->effects) {
      if (const auto* s = std::get_if<ScheduleTimer>(&e)) {
        timer = timer || (s->kind == TimerKind::kEscalation && s->at == kNow + minutes(10));
      }
    }
    EXPECT_TRUE(timer);
  }
  // Before the escalation olga may not approve; a timer firing early changes nothing.
  EXPECT_FALSE(ApproveAll(policy, r, {"olga"}).has_value());
  Result<Transition> early = OnTimer(policy, r, TimerKind::kEscalation, kNow + minutes(9));
  ASSERT_TRUE(early.has_value());
  EXPECT_TRUE(early->effects.empty());

  Result<Transition> fired = OnTimer(policy, r, TimerKind::kEscalation, kNow + minutes(10));
  ASSERT_TRUE(fired.has_value()) << fired.error().ToString();
  ASSERT_EQ(fired->effects.size(), 2u);
  const auto* audit = std::get_if<AuditEvent>(&fired->effects[0]);
  ASSERT_NE(audit, nullptr);
  EXPECT_EQ(audit->type, "request.escalated");
  EXPECT_EQ(audit->details.at("escalate_to"), "oncall-leads");
  const auto* alert = std::get_if<Alert>(&fired->effects[1]);
  ASSERT_NE(alert, nullptr);
  EXPECT_EQ(alert->kind, "request_escalated");
  EXPECT_EQ(alert->recipients, std::vector<std::string>{"olga"});
  Request escalated = fired->request;
  EXPECT_TRUE(escalated.groups[0].escalated);

  // Olga's approval counts toward the same number (2 of the pool's group).
  Result<Request> one = ApproveAll(policy, escalated, {"olga"}, kNow + minutes(11));
  ASSERT_TRUE(one.has_value()) << one.error().ToString();
  EXPECT_EQ(one->state, RequestState::kPending);
  Result<Request> two = ApproveAll(policy, *one, {"carol"}, kNow + minutes(12));
  ASSERT_TRUE(two.has_value());
  EXPECT_EQ(two->state, RequestState::kApproved);

  // A second firing, and a firing once approved, change nothing.
  Result<Transition> again = OnTimer(policy, escalated, TimerKind::kEscalation, kNow + minutes(11));
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->effects.empty());
  Result<Transition> late = OnTimer(policy, *two, TimerKind::kEscalation, kNow + minutes(13));
  ASSERT_TRUE(late.has_value());
  EXPECT_TRUE(late->effects.empty());
}

// For a multi-group rule the escalated pool counts toward the group that escalated only.
TEST(ApprovalGroupsTest, EscalationCountsTowardTheGroupThatEscalated) {
  const Policy policy = TestPolicy();
  Request r = Create(policy, "bastion", "root");
  Result<Transition> fired = OnTimer(policy, r, TimerKind::kEscalation, kNow + minutes(5));
  ASSERT_TRUE(fired.has_value());
  Request e = fired->request;
  EXPECT_FALSE(e.groups[0].escalated);
  EXPECT_TRUE(e.groups[1].escalated);
  struct Case {
    std::vector<std::string> approvers;
    RequestState want;
  };
  const Case cases[] = {
      {{"olga", "carol"}, RequestState::kApproved},  // olga as the manager
      {{"olga", "mia"}, RequestState::kPending},     // two for the managers' group, no peer
      {{"olga", "pat"}, RequestState::kApproved},    // pat then counts as the peer
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(fmt::format("{}", fmt::join(c.approvers, ",")));
    Result<Request> out = ApproveAll(policy, e, c.approvers, kNow + minutes(6));
    ASSERT_TRUE(out.has_value()) << out.error().ToString();
    EXPECT_EQ(out->state, c.want);
  }
}

// A request that can never be approved is refused at once; escalation pools count.
TEST(ApprovalGroupsTest, UnapprovableRequestsAreRefusedWithTheReason) {
  const Policy policy = TestPolicy();
  struct Case {
    std::string privilege;
    std::vector<std::string> able;
    bool approvable;
  };
  const Case cases[] = {
      {"dba", {"carol", "dave"}, false},       // no manager at all
      {"dba", {"pat"}, false},                 // pat counts for one group only
      {"dba", {"pat", "alice"}, false},        // the requester never counts
      {"dba", {"pat", "carol"}, true},
      {"dba", {"mia", "dave"}, true},
      {"owner", {"carol"}, false},
      {"owner", {"carol", "olga"}, true},      // olga may approve after the escalation
      {"owner", {"carol", "dave"}, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(fmt::format("{} by {}", c.privilege, fmt::join(c.able, ",")));
    Request r = Create(policy, "prod-db", c.privilege);
    Status s = CheckApprovable(policy, r, c.able);
    EXPECT_EQ(s.has_value(), c.approvable) << (s ? "" : s.error().ToString());
    if (!s && c.privilege == "dba") {
      EXPECT_EQ(s.error().code(), ErrorCode::kFailedPrecondition);
      EXPECT_THAT(s.error().message(), HasSubstr("pool 'managers' (0 of 1)"));
    }
  }
}

TEST(ApprovalGroupsTest, ApproversOfAnyGroupSeeTheRequest) {
  const Policy policy = TestPolicy();
  Request r = Create(policy, "prod-db", "dba");
  EXPECT_TRUE(CanView(policy, r, Person("mia", Role::kApprover)));
  EXPECT_TRUE(CanView(policy, r, Person("carol", Role::kApprover)));
  EXPECT_FALSE(CanView(policy, r, Person("olga", Role::kApprover)));
}

// Policy mistakes in the new keys are problems naming the key.
TEST(ApprovalGroupsTest, PolicyRefusesBadGroupsAndEscalation) {
  const std::string head = R"(version = 1
[groups]
sre = ["alice"]
[pools]
a = ["carol", "dave"]
b = ["carol", "mia"]
[[resources]]
name = "db"
connector = "pg"
privileges = ["dba"]
[[rules]]
resource = "db"
privileges = ["dba"]
requesters = ["group:sre"]
tier = 2
)";
  struct Case {
    std::string rule;
    std::string problem;
  };
  const Case cases[] = {
      {"pool = \"a\"\napprovals = [{pool = \"a\", count = 1}]", "remove 'pool'"},
      {"approvals = [{pool = \"a\", count = 1}, {pool = \"a\", count = 1}]", "lists pool 'a' twice"},
      {"approvals = [{pool = \"a\", count = 0}]", "'count' in an entry of 'approvals' must be between 1"},
      {"approvals = [{pool = \"zz\", count = 1}]", "pool 'zz', which is not defined"},
      {"approvals = [{pool = \"a\", count = 1, color = 1}]", "unknown key 'color'"},
      {"approvals = []", "at least one group"},
      {"approvals = [\"a\"]", "must be a table"},
      // carol, dave and mia can fill 3 seats, not 4.
      {"approvals = [{pool = \"a\", count = 2}, {pool = \"b\", count = 2}]", "only 3 people"},
      {"pool = \"a\"\napprovals = 1\nescalate_after = \"10m\"", "go together"},
      {"pool = \"a\"\napprovals = 1\nescalate_to = \"b\"", "go together"},
      {"pool = \"a\"\napprovals = 1\nescalate_after = \"0s\"\nescalate_to = \"b\"",
       "longer than zero"},
      {"pool = \"a\"\napprovals = 1\nescalate_after = \"1m\"\nescalate_to = \"zz\"",
       "pool 'zz', which is not defined"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.rule);
    PolicyParseResult r = ParsePolicy(head + c.rule + "\n", "bad.toml");
    ASSERT_FALSE(r.problems.empty());
    std::string all;
    for (const PolicyProblem& p : r.problems) all += p.ToString() + "\n";
    EXPECT_THAT(all, HasSubstr(c.problem));
  }
  // Tier 1 takes none of them.
  PolicyParseResult t1 = ParsePolicy(R"(version = 1
[pools]
a = ["carol"]
[[resources]]
name = "db"
connector = "pg"
privileges = ["dba"]
[[rules]]
resource = "db"
privileges = ["dba"]
requesters = ["alice"]
tier = 1
escalate_after = "1m"
escalate_to = "a"
)", "t1.toml");
  ASSERT_FALSE(t1.problems.empty());
  EXPECT_THAT(t1.problems[0].message, HasSubstr("must not set 'escalate_after'"));
  // A satisfiable one parses, a requester in a pool included.
  PolicyParseResult ok = ParsePolicy(head + "approvals = [{pool = \"a\", count = 1}, {pool = \"b\", count = 2}]\n",
                                     "ok.toml");
  EXPECT_TRUE(ok.problems.empty()) << ok.problems[0].ToString();
}

// Risk extras raise the first group's count, and the total.
TEST(ApprovalGroupsTest, RiskExtrasGoToTheFirstGroup) {
  std::string text(kPolicy);
  text.insert(text.find("[groups]"), "[risk]\nnew_source_extra_approvals = 1\n\n");
  PolicyParseResult parsed = ParsePolicy(text, "risk.toml");
  ASSERT_TRUE(parsed.problems.empty()) << parsed.problems[0].ToString();
  const Policy& policy = *parsed.policy;
  RiskInputs risk;
  risk.new_source = true;
  Result<Transition> t = CreateTransition(policy, "prod-db", "dba", risk);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->request.groups[0].count, 2);
  EXPECT_EQ(t->request.groups[1].count, 1);
  EXPECT_EQ(t->request.required_approvals, 3);
  Result<Request> r = ApproveAll(policy, t->request, {"carol", "mia"});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->state, RequestState::kPending);
  r = ApproveAll(policy, *r, {"pat"});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->state, RequestState::kApproved);
}

}  // namespace
}  // namespace bg::core
