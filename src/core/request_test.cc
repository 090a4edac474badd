#include "core/request.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace bg::core {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// The example policy's shape with a few more rules to exercise tier choice, the approval cap,
// deny_ends_request = false and a requester who sits in their own pool.
constexpr std::string_view kPolicy = R"(version = 1
[settings]
timezone = "UTC"
working_hours = { days = ["mon", "tue", "wed", "thu", "fri"], start = "08:00", end = "18:00" }
reason_min_length = 10
ticket_pattern = '^(INC|CHG)-[0-9]{3,}$'
warn_before_expiry = "5m"
security_contacts = ["group:security", "olga"]

[risk]
off_hours_extra_approvals = 1
new_source_extra_approvals = 1
burst_window = "1h"
burst_threshold = 3
burst_extra_approvals = 1

[groups]
sre = ["alice", "bob"]
dba = ["carol", "dave", "erin"]
security = ["sam", "grace", "heidi"]

[pools]
dba-approvers = ["group:dba", "frank"]
security-leads = ["group:security"]
owners = ["alice", "carol", "dave"]

[[resources]]
name = "prod-db"
connector = "prod-pg"
privileges = ["read_only", "dba", "owner"]

[[resources]]
name = "bastion"
connector = "bastion-ssh"
privileges = ["ops", "root"]

[[resources]]
name = "vault"
connector = "vault-exec"
privileges = ["admin"]

[[rules]]
resource = "prod-db"
privileges = ["read_only"]
requesters = ["group:sre", "group:dba"]
tier = 1
max_duration = "1h"
review_within = "72h"

[[rules]]
resource = "prod-db"
privileges = ["dba"]
requesters = ["group:sre"]
tier = 2
pool = "dba-approvers"
approvals = 2
max_duration = "2h"
approval_window = "30m"
mfa_max_age = "10m"
review_within = "24h"

[[rules]]
resource = "prod-db"
privileges = ["dba"]
requesters = ["group:sre"]
tier = 3
pool = "security-leads"
approvals = 3
max_duration = "4h"

[[rules]]
resource = "prod-db"
privileges = ["owner"]
requesters = ["alice"]
tier = 2
pool = "owners"
approvals = 1
deny_ends_request = false

[[rules]]
resource = "bastion"
privileges = ["ops", "root"]
requesters = ["group:sre"]
tier = 3
pool = "security-leads"
approvals = 2
max_duration = "30m"
approval_window = "15m"
mfa_max_age = "0s"
emergency_auto_approve = true
review_within = "12h"
reviewers = 2
)";

const Timestamp kNow = FromUnixSeconds(1772618400);  // 2026-03-04T10:00:00Z

Policy TestPolicy() {
  PolicyParseResult r = ParsePolicy(kPolicy, "test.toml");
  for (const PolicyProblem& p : r.problems) ADD_FAILURE() << p.ToString();
  return r.policy.value_or(Policy{});
}

Actor Person(std::string name, std::vector<Role> roles) {
  Actor a;
  a.name = std::move(name);
  a.roles = std::move(roles);
  a.mfa_verified_at = kNow;
  a.source_address = "192.0.2.7";
  return a;
}

Actor Requester(std::string name) { return Person(std::move(name), {Role::kRequester}); }
Actor Approver(std::string name) { return Person(std::move(name), {Role::kApprover}); }

CreateCommand Cmd(std::string resource, std::string privilege, Seconds duration) {
  CreateCommand c;
  c.resource = std::move(resource);
  c.privilege = std::move(privilege);
  c.duration = duration;
  c.reason = "rotate the replication slot";
  c.ticket = "INC-1234";
  return c;
}

// One line per effect, so a test can say exactly which effects, in which order.
std::string Describe(const Effect& e) {
  struct Visitor {
    std::string operator()(const AuditEvent& a) const { return "audit " + a.type; }
    std::string operator()(const ScheduleTimer& t) const {
      return fmt::format("timer {} {}", ToString(t.kind), FormatRfc3339(t.at));
    }
    std::string operator()(const IssueGrant&) const { return "issue"; }
    std::string operator()(const RevokeGrant&) const { return "revoke"; }
    std::string operator()(const Alert& a) const { return "alert " + a.kind; }
  };
  return std::visit(Visitor{}, e);
}

std::vector<std::string> Effects(const Transition& t) {
  std::vector<std::string> out;
  for (const Effect& e : t.effects) out.push_back(Describe(e));
  return out;
}

std::string Timer(TimerKind kind, Timestamp at) {
  return fmt::format("timer {} {}", ToString(kind), FormatRfc3339(at));
}

template <typename T>
std::vector<T> EffectsOfType(const Transition& t) {
  std::vector<T> out;
  for (const Effect& e : t.effects) {
    if (const T* v = std::get_if<T>(&e)) out.push_back(*v);
  }
  return out;
}

const AuditEvent& AuditOf(const Transition& t, std::string_view type) {
  for (const Effect& e : t.effects) {
    if (const auto* a = std::get_if<AuditEvent>(&e); a != nullptr && a->type == type) return *a;
  }
  static const AuditEvent kNone;
  ADD_FAILURE() << "no audit event " << type;
  return kNone;
}

class RequestTest : public ::testing::Test {
 protected:
  Policy policy_ = TestPolicy();

  Request Create(const Actor& who, const CreateCommand& cmd, RiskInputs risk = {}) {
    Result<Transition> t = CreateRequest(policy_, who, cmd, risk, RequestId("r1"), kNow);
    if (!t) {
      ADD_FAILURE() << t.error().ToString();
      return Request{};
    }
    return t->request;
  }

  // alice's pending tier-2 request for dba on prod-db, one hour, two approvals needed.
  Request PendingDba() { return Create(Requester("alice"), Cmd("prod-db", "dba", hours(1))); }

  Request Step(const Result<Transition>& t) {
    if (!t) {
      ADD_FAILURE() << t.error().ToString();
      return Request{};
    }
    return t->request;
  }

  // The same request approved by carol and dave and activated at kNow + 1m.
  Request ActiveDba() {
    Request r = PendingDba();
    r = Step(Approve(policy_, r, Approver("carol"), "", kNow));
    r = Step(Approve(policy_, r, Approver("dave"), "", kNow));
    return Step(Activate(policy_, r, kNow + minutes(1)));
  }
};

// ---- CreateRequest --------------------------------------------------------------------------

struct CreateRefusal {
  std::string name;
  std::string requester;
  std::vector<Role> roles;
  CreateCommand cmd;
  ErrorCode code;
  std::string field;
  std::string message_part;
};

class CreateRefusalTest : public RequestTest,
                          public ::testing::WithParamInterface<CreateRefusal> {};

TEST_P(CreateRefusalTest, IsRefused) {
  const CreateRefusal& c = GetParam();
  Result<Transition> t = CreateRequest(policy_, Person(c.requester, c.roles), c.cmd, RiskInputs{},
                                       RequestId("r1"), kNow);
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().code(), c.code) << t.error().ToString();
  EXPECT_EQ(t.error().field(), c.field) << t.error().ToString();
  EXPECT_THAT(t.error().message(), HasSubstr(c.message_part));
}

CreateCommand With(CreateCommand c, void (*edit)(CreateCommand&)) {
  edit(c);
  return c;
}

const CreateCommand kDba = Cmd("prod-db", "dba", hours(1));

INSTANTIATE_TEST_SUITE_P(
    Cases, CreateRefusalTest,
    ::testing::Values(
        CreateRefusal{"WithoutRequesterRole",
                      "alice",
                      {Role::kApprover},
                      kDba,
                      ErrorCode::kPermissionDenied,
                      "",
                      "requester role"},
        CreateRefusal{"UnknownResource",
                      "alice",
                      {Role::kRequester},
                      With(kDba, [](CreateCommand& c) { c.resource = "prod-dbx"; }),
                      ErrorCode::kInvalidArgument,
                      "resource",
                      "unknown resource 'prod-dbx'"},
        CreateRefusal{"EmptyResource",
                      "alice",
                      {Role::kRequester},
                      With(kDba, [](CreateCommand& c) { c.resource = ""; }),
                      ErrorCode::kInvalidArgument,
                      "resource",
                      "required"},
        CreateRefusal{"UnknownPrivilege",
                      "alice",
                      {Role::kRequester},
                      With(kDba, [](CreateCommand& c) { c.privilege = "superuser"; }),
                      ErrorCode::kInvalidArgument,
                      "privilege",
                      "resource 'prod-db' has no privilege 'superuser'; it has: read_only, dba, "
                      "owner"},
        CreateRefusal{"NoRuleForRequester",
                      "carol",
                      {Role::kRequester},
                      kDba,
                      ErrorCode::kPermissionDenied,
                      "",
                      "no rule lets carol request 'dba'"},
        CreateRefusal{"TierNotAmongMatchingRules",
                      "alice",
                      {Role::kRequester},
                      With(kDba, [](CreateCommand& c) { c.tier = 1; }),
                      ErrorCode::kInvalidArgument,
                      "tier",
                      "available: 2, 3"},
        CreateRefusal{"ZeroDuration",
                      "alice",
                      {Role::kRequester},
                      With(kDba, [](CreateCommand& c) { c.duration = Seconds(0); }),
                      ErrorCode::kInvalidArgument,
                      "duration",
                      "must be positive"},
        CreateRefusal{"DurationOverTheMaximum",
                      "alice",
                      {Role::kRequester},
                      With(kDba, [](CreateCommand& c) { c.duration = hours(2) + Seconds(1); }),
                      ErrorCode::kInvalidArgument,
                      "duration",
                      "maximum of 2h"},
        CreateRefusal{"MissingReason",
                      "alice",
                      {Role::kRequester},
                      With(kDba, [](CreateCommand& c) { c.reason = ""; }),
                      ErrorCode::kInvalidArgument,
                      "reason",
                      "a reason is required"},
        CreateRefusal{"BlankReason",
                      "alice",
                      {Role::kRequester},
                      With(kDba, [](CreateCommand& c) { c.reason = "   \t "; }),
                      ErrorCode::kInvalidArgument,
                      "reason",
                      "a reason is required"},
        CreateRefusal{"ShortReason",
                      "alice",
                      {Role::kRequester},
                      With(kDba, [](CreateCommand& c) { c.reason = "  123456789  "; }),
                      ErrorCode::kInvalidArgument,
                      "reason",
                      "at least 10 characters"},
        CreateRefusal{"ShortReasonCountedInCharacters",
                      "alice",
                      {Role::kRequester},
                      With(kDba, [](CreateCommand& c) { c.reason = "äöüäöüäöü"; }),
                      ErrorCode::kInvalidArgument,
                      "reason",
                      "at least 10 characters"},
        CreateRefusal{"MissingTicket",
                      "alice",
                      {Role::kRequester},
                      With(kDba, [](CreateCommand& c) { c.ticket = ""; }),
                      ErrorCode::kInvalidArgument,
                      "ticket",
                      "required"},
        CreateRefusal{"TicketNotMatchingPattern",
                      "alice",
                      {Role::kRequester},
                      With(kDba, [](CreateCommand& c) { c.ticket = "INC-12"; }),
                      ErrorCode::kInvalidArgument,
                      "ticket",
                      "does not match"},
        CreateRefusal{"TicketMustMatchFully",
                      "alice",
                      {Role::kRequester},
                      With(kDba, [](CreateCommand& c) { c.ticket = "INC-1234 extra"; }),
                      ErrorCode::kInvalidArgument,
                      "ticket",
                      "does not match"},
        CreateRefusal{
            "HugeTicket",
            "alice",
            {Role::kRequester},
            With(kDba, [](CreateCommand& c) { c.ticket = "INC-" + std::string(300, '1'); }),
            ErrorCode::kInvalidArgument,
            "ticket",
            "too long"},
        CreateRefusal{"EmergencyWhereTheRuleDoesNotAllowIt",
                      "alice",
                      {Role::kRequester},
                      With(kDba, [](CreateCommand& c) { c.emergency = true; }),
                      ErrorCode::kInvalidArgument,
                      "emergency",
                      "not allowed"}),
    [](const auto& p) { return p.param.name; });

TEST_F(RequestTest, ReasonLengthCountsCharactersNotBytes) {
  CreateCommand c = kDba;
  c.reason = "Wartung äöü";  // 11 characters, 14 bytes
  EXPECT_TRUE(CreateRequest(policy_, Requester("alice"), c, {}, RequestId("r1"), kNow));
}

TEST_F(RequestTest, EmptyTicketPatternAcceptsAnyTicketButStillNeedsOne) {
  policy_.settings.ticket_pattern.clear();
  CreateCommand c = kDba;
  c.ticket = "whatever";
  EXPECT_TRUE(CreateRequest(policy_, Requester("alice"), c, {}, RequestId("r1"), kNow));
  c.ticket = "  ";
  Result<Transition> t = CreateRequest(policy_, Requester("alice"), c, {}, RequestId("r1"), kNow);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().field(), "ticket");
}

TEST_F(RequestTest, TierOneIsApprovedAtOnceAndNeedsReview) {
  Result<Transition> t =
      CreateRequest(policy_, Requester("carol"), Cmd("prod-db", "read_only", minutes(30)), {},
                    RequestId("r1"), kNow);
  ASSERT_TRUE(t) << t.error().ToString();
  const Request& r = t->request;
  EXPECT_EQ(r.state, RequestState::kApproved);
  EXPECT_EQ(r.tier, 1);
  EXPECT_TRUE(r.self_approved);
  EXPECT_TRUE(r.needs_review);
  EXPECT_FALSE(r.auto_approved);
  EXPECT_EQ(r.required_approvals, 0);
  EXPECT_EQ(r.review_within, hours(72));
  EXPECT_THAT(Effects(*t),
              ElementsAre("audit request.created", "audit request.self_approved", "issue"));
  EXPECT_EQ(AuditOf(*t, "request.self_approved").actor, "carol");
}

TEST_F(RequestTest, TierTwoWaitsForApprovalWithTheRuleTermsCopied) {
  RiskInputs risk;
  Result<Transition> t = CreateRequest(
      policy_, Requester("alice"), Cmd("prod-db", "dba", minutes(90)), risk, RequestId("r1"), kNow);
  ASSERT_TRUE(t) << t.error().ToString();
  const Request& r = t->request;
  EXPECT_EQ(r.id, RequestId("r1"));
  EXPECT_EQ(r.state, RequestState::kPending);
  EXPECT_EQ(r.requester, "alice");
  EXPECT_EQ(r.connector, "prod-pg");
  EXPECT_EQ(r.tier, 2);
  EXPECT_EQ(r.pool, "dba-approvers");
  EXPECT_EQ(r.required_approvals, 2);
  EXPECT_THAT(r.risk_signals, IsEmpty());
  EXPECT_EQ(r.duration, minutes(90));
  EXPECT_EQ(r.max_duration, hours(2));
  EXPECT_EQ(r.approval_window, minutes(30));
  EXPECT_EQ(r.mfa_max_age, minutes(10));
  EXPECT_TRUE(r.deny_ends_request);
  EXPECT_EQ(r.review_within, hours(24));
  EXPECT_EQ(r.reason, "rotate the replication slot");
  EXPECT_EQ(r.ticket, "INC-1234");
  EXPECT_EQ(r.source_address, "192.0.2.7");
  EXPECT_EQ(r.created_at, kNow);
  EXPECT_EQ(r.updated_at, kNow);
  EXPECT_EQ(r.approval_deadline, kNow + minutes(30));
  EXPECT_FALSE(r.self_approved);
  EXPECT_FALSE(r.needs_review);
  EXPECT_THAT(Effects(*t), ElementsAre("audit request.created",
                                       Timer(TimerKind::kApprovalTimeout, kNow + minutes(30))));
  const AuditEvent& created = AuditOf(*t, "request.created");
  EXPECT_EQ(created.actor, "alice");
  EXPECT_EQ(created.request, RequestId("r1"));
  EXPECT_EQ(created.details.at("resource"), "prod-db");
  EXPECT_EQ(created.details.at("privilege"), "dba");
  EXPECT_EQ(created.details.at("tier"), "2");
  EXPECT_EQ(created.details.at("duration"), "5400");
  EXPECT_EQ(created.details.at("reason"), "rotate the replication slot");
  EXPECT_EQ(created.details.at("ticket"), "INC-1234");
  EXPECT_EQ(created.details.at("source_address"), "192.0.2.7");
  EXPECT_EQ(created.details.at("emergency"), "false");
  EXPECT_EQ(created.details.at("required_approvals"), "2");
  EXPECT_EQ(created.details.at("risk_signals"), "");
}

TEST_F(RequestTest, LowestMatchingTierIsChosenUnlessTierIsGiven) {
  Request lowest = PendingDba();
  EXPECT_EQ(lowest.tier, 2);
  EXPECT_EQ(lowest.pool, "dba-approvers");

  CreateCommand c = kDba;
  c.tier = 3;
  c.duration = hours(3);  // over tier 2's maximum, within tier 3's
  Request chosen = Create(Requester("alice"), c);
  EXPECT_EQ(chosen.tier, 3);
  EXPECT_EQ(chosen.pool, "security-leads");
  EXPECT_EQ(chosen.required_approvals, 3);
  EXPECT_EQ(chosen.max_duration, hours(4));
}

struct RiskCase {
  std::string name;
  RiskInputs inputs;
  std::vector<std::string> signals;
  int required;
};

class RiskTest : public RequestTest, public ::testing::WithParamInterface<RiskCase> {};

TEST_P(RiskTest, SignalsRaiseRequiredApprovals) {
  const RiskCase& c = GetParam();
  Request r = Create(Requester("alice"), kDba, c.inputs);
  EXPECT_EQ(r.risk_signals, c.signals);
  EXPECT_EQ(r.required_approvals, c.required);
}

RiskInputs Risk(bool new_source, int recent, int weekday, int minute) {
  return RiskInputs{new_source, recent, weekday, minute, std::nullopt};
}

// The tier-2 dba rule needs 2 of dba-approvers (carol, dave, erin, frank: 4 people besides
// alice), each signal adds 1.
INSTANTIATE_TEST_SUITE_P(
    Cases, RiskTest,
    ::testing::Values(RiskCase{"NoSignal", Risk(false, 0, 3, 600), {}, 2},
                      RiskCase{"FirstMinuteOfWorkIsInside", Risk(false, 0, 1, 480), {}, 2},
                      RiskCase{"WeekendIsOffHours", Risk(false, 0, 0, 600), {"off_hours"}, 3},
                      RiskCase{"BeforeStartIsOffHours", Risk(false, 0, 3, 479), {"off_hours"}, 3},
                      RiskCase{"EndIsExclusive", Risk(false, 0, 3, 18 * 60), {"off_hours"}, 3},
                      RiskCase{"NewSource", Risk(true, 0, 3, 600), {"new_source"}, 3},
                      RiskCase{"BurstAtTheThirdRequest", Risk(false, 2, 3, 600), {"burst"}, 3},
                      RiskCase{"NoBurstAtTheSecondRequest", Risk(false, 1, 3, 600), {}, 2},
                      RiskCase{"AllSignalsCappedAtTheOtherPoolMembers",
                               Risk(true, 5, 6, 1400),
                               {"off_hours", "new_source", "burst"},
                               4}),
    [](const auto& p) { return p.param.name; });

// Whether a new request can be approved by the people able to approve now (the shell's list:
// approver role, enabled, enrolled), in the chosen rule's pool, other than the requester.
struct ApprovableCase {
  std::string name;
  std::string requester;
  CreateCommand cmd;
  RiskInputs risk;
  std::vector<std::string> able;  // RiskInputs::able_approvers
  bool approvable;
  std::string message_part;  // of the refusal
};

class ApprovableTest : public RequestTest,
                       public ::testing::WithParamInterface<ApprovableCase> {};

TEST_P(ApprovableTest, RefusedAtOnceWhenTooFewCanApprove) {
  const ApprovableCase& c = GetParam();
  RiskInputs risk = c.risk;
  risk.able_approvers = c.able;
  Result<Transition> t =
      CreateRequest(policy_, Requester(c.requester), c.cmd, risk, RequestId("r1"), kNow);
  if (c.approvable) {
    ASSERT_TRUE(t) << t.error().ToString();
    return;
  }
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(t.error().field(), "");
  EXPECT_THAT(t.error().message(), HasSubstr("this request cannot be approved"));
  EXPECT_THAT(t.error().message(), HasSubstr(c.message_part));
}

RiskInputs Calm() { return RiskInputs{false, 0, 3, 600, std::nullopt}; }  // a Wednesday at 10:00, known source
RiskInputs OffHoursAndBurst() { return RiskInputs{false, 2, 0, 600, std::nullopt}; }

const CreateCommand kEmergencyRoot =
    With(Cmd("bastion", "root", minutes(20)), [](CreateCommand& c) { c.emergency = true; });

// dba-approvers: carol, dave, erin, frank. security-leads: sam, grace, heidi.
INSTANTIATE_TEST_SUITE_P(
    Cases, ApprovableTest,
    ::testing::Values(
        ApprovableCase{"EnoughAble", "alice", kDba, Calm(), {"carol", "dave"}, true, ""},
        ApprovableCase{"OneTooFew",
                       "alice",
                       kDba,
                       Calm(),
                       {"carol"},
                       false,
                       "it needs 2 approvals from pool 'dba-approvers', and only 1 (carol)"},
        ApprovableCase{"NobodyAble", "alice", kDba, Calm(), {}, false, "and none of its members"},
        ApprovableCase{"AbleOutsideThePoolDoNotCount",
                       "alice",
                       kDba,
                       Calm(),
                       {"carol", "sam", "grace"},
                       false,
                       "only 1 (carol)"},
        ApprovableCase{"RepeatedNamesCountOnce",
                       "alice",
                       kDba,
                       Calm(),
                       {"carol", "carol"},
                       false,
                       "only 1 (carol)"},
        // The issue's case: risk signals ask for 4 of the pool's 4, one of whom cannot approve.
        ApprovableCase{"RiskSignalsAskForMoreThanCanApprove",
                       "alice",
                       kDba,
                       OffHoursAndBurst(),
                       {"carol", "dave", "frank"},
                       false,
                       "it needs 4 approvals (with the risk signals off_hours, burst) from pool "
                       "'dba-approvers', and only 3 (carol, dave, frank)"},
        ApprovableCase{"RiskSignalsWithEnoughAble",
                       "alice",
                       kDba,
                       OffHoursAndBurst(),
                       {"carol", "dave", "erin", "frank"},
                       true,
                       ""},
        // owners = alice, carol, dave: alice cannot approve her own request.
        ApprovableCase{"TheRequesterDoesNotCount",
                       "alice",
                       Cmd("prod-db", "owner", minutes(10)),
                       RiskInputs{true, 0, 0, 600, std::nullopt},
                       {"alice", "carol"},
                       false,
                       "it needs 2 approvals (with the risk signals off_hours, new_source) from "
                       "pool 'owners', and only 1 (carol)"},
        ApprovableCase{"TierOneNeedsNobody",
                       "alice",
                       Cmd("prod-db", "read_only", minutes(10)),
                       Calm(),
                       {},
                       true,
                       ""},
        ApprovableCase{"EmergencyNeedsNobody", "bob", kEmergencyRoot, Calm(), {}, true, ""}),
    [](const auto& p) { return p.param.name; });

TEST_F(RequestTest, ApprovabilityIsNotCheckedWithoutTheList) {
  Result<Transition> t = CreateRequest(policy_, Requester("alice"), kDba, Calm(),
                                       RequestId("r1"), kNow);
  ASSERT_TRUE(t) << t.error().ToString();
  EXPECT_EQ(t->request.state, RequestState::kPending);
}

TEST_F(RequestTest, RefusalEventNamesTheTermsAndTheReason) {
  Request would_be = Create(Requester("alice"), kDba, OffHoursAndBurst());
  AuditEvent e = RequestRefused(would_be, "unapprovable", "this request cannot be approved");
  EXPECT_EQ(e.type, "request.refused");
  EXPECT_EQ(e.actor, "alice");
  EXPECT_EQ(e.request.value(), "");
  EXPECT_EQ(e.details["reason"], "unapprovable");
  EXPECT_EQ(e.details["message"], "this request cannot be approved");
  EXPECT_EQ(e.details["resource"], "prod-db");
  EXPECT_EQ(e.details["privilege"], "dba");
  EXPECT_EQ(e.details["pool"], "dba-approvers");
  EXPECT_EQ(e.details["required_approvals"], "4");
  EXPECT_EQ(e.details["risk_signals"], "off_hours,burst");
}

TEST_F(RequestTest, RiskSignalsDoNotApplyOnTierOne) {
  Request r =
      Create(Requester("alice"), Cmd("prod-db", "read_only", minutes(10)), Risk(true, 9, 0, 0));
  EXPECT_THAT(r.risk_signals, IsEmpty());
  EXPECT_EQ(r.required_approvals, 0);
}

TEST_F(RequestTest, CapCountsPoolMembersOtherThanTheRequester) {
  // owners = alice, carol, dave: two people besides alice; M = 1, two signals would make 3.
  Request r =
      Create(Requester("alice"), Cmd("prod-db", "owner", minutes(10)), Risk(true, 0, 0, 600));
  EXPECT_THAT(r.risk_signals, ElementsAre("off_hours", "new_source"));
  EXPECT_EQ(r.required_approvals, 2);
}

TEST_F(RequestTest, CapNeverGoesBelowTheRuleApprovals) {
  // pair = alice, carol: one person besides alice, but the rule says 2. ParsePolicy refuses
  // such a rule; the core keeps M for a policy built otherwise.
  policy_.pools["pair"] = {"alice", "carol"};
  Rule vault;
  vault.resource = "vault";
  vault.privileges = {"admin"};
  vault.requesters = {"alice"};
  vault.tier = 2;
  vault.pool = "pair";
  vault.approvals = 2;
  policy_.rules.push_back(vault);
  Request r = Create(Requester("alice"), Cmd("vault", "admin", minutes(10)), Risk(true, 0, 0, 600));
  EXPECT_EQ(r.required_approvals, 2);
}

TEST_F(RequestTest, WithoutWorkingHoursNothingIsOffHours) {
  policy_.settings.working_hours.reset();
  Request r = Create(Requester("alice"), kDba, Risk(false, 0, 0, 0));
  EXPECT_THAT(r.risk_signals, IsEmpty());
  EXPECT_EQ(r.required_approvals, 2);
}

TEST_F(RequestTest, EmergencyIsAutoApprovedAndAlertsTheExpandedSecurityContacts) {
  CreateCommand c = Cmd("bastion", "root", minutes(20));
  c.emergency = true;
  Result<Transition> t =
      CreateRequest(policy_, Requester("bob"), c, Risk(true, 0, 0, 0), RequestId("r9"), kNow);
  ASSERT_TRUE(t) << t.error().ToString();
  const Request& r = t->request;
  EXPECT_EQ(r.state, RequestState::kApproved);
  EXPECT_TRUE(r.emergency);
  EXPECT_TRUE(r.auto_approved);
  EXPECT_TRUE(r.needs_review);
  EXPECT_FALSE(r.self_approved);
  EXPECT_EQ(r.tier, 3);
  EXPECT_EQ(r.reviewers, 2);
  EXPECT_THAT(Effects(*t), ElementsAre("audit request.created", "audit request.auto_approved",
                                       "alert emergency_access", "issue"));
  std::vector<Alert> alerts = EffectsOfType<Alert>(*t);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].request, RequestId("r9"));
  EXPECT_THAT(alerts[0].recipients, ElementsAre("grace", "heidi", "olga", "sam"));
  EXPECT_THAT(alerts[0].message, HasSubstr("bob"));
  EXPECT_EQ(AuditOf(*t, "request.created").details.at("emergency"), "true");
  EXPECT_EQ(AuditOf(*t, "request.created").details.at("risk_signals"), "off_hours,new_source");
}

TEST_F(RequestTest, EmergencyWithoutTierPicksTheRuleThatAllowsIt) {
  // Add a tier-2 rule for bastion ops without emergency auto-approval: an emergency request
  // without a tier still lands on the tier-3 rule that allows it.
  Rule low = policy_.rules.back();
  low.tier = 2;
  low.emergency_auto_approve = false;
  policy_.rules.push_back(low);
  CreateCommand c = Cmd("bastion", "ops", minutes(10));
  c.emergency = true;
  Request r = Create(Requester("bob"), c);
  EXPECT_EQ(r.tier, 3);
  EXPECT_TRUE(r.auto_approved);
  c.emergency = false;
  EXPECT_EQ(Create(Requester("bob"), c).tier, 2);
}

// ---- Approve --------------------------------------------------------------------------------

TEST_F(RequestTest, RequiredApprovalsApproveAndIssueTheGrant) {
  Request r = PendingDba();
  Result<Transition> first =
      Approve(policy_, r, Approver("carol"), "looks right", kNow + minutes(1));
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(first->request.state, RequestState::kPending);
  ASSERT_EQ(first->request.approvals.size(), 1u);
  EXPECT_EQ(first->request.approvals[0].approver, "carol");
  EXPECT_EQ(first->request.approvals[0].comment, "looks right");
  EXPECT_EQ(first->request.updated_at, kNow + minutes(1));
  EXPECT_THAT(Effects(*first), ElementsAre("audit approval.recorded"));
  EXPECT_EQ(AuditOf(*first, "approval.recorded").details.at("comment"), "looks right");
  EXPECT_EQ(AuditOf(*first, "approval.recorded").details.at("approvals"), "1");

  Result<Transition> second =
      Approve(policy_, first->request, Approver("frank"), "", kNow + minutes(2));
  ASSERT_TRUE(second) << second.error().ToString();
  EXPECT_EQ(second->request.state, RequestState::kApproved);
  EXPECT_EQ(second->request.approvals.size(), 2u);
  EXPECT_THAT(Effects(*second),
              ElementsAre("audit approval.recorded", "audit request.approved", "issue"));
  EXPECT_EQ(AuditOf(*second, "request.approved").actor, "frank");
}

TEST_F(RequestTest, SecondApprovalBySamePersonIsIdempotentAndNotCounted) {
  Request r = Step(Approve(policy_, PendingDba(), Approver("carol"), "", kNow));
  Result<Transition> again = Approve(policy_, r, Approver("carol"), "again", kNow + minutes(5));
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_THAT(again->effects, IsEmpty());
  EXPECT_EQ(again->request.state, RequestState::kPending);
  EXPECT_EQ(again->request.approvals.size(), 1u);
  EXPECT_EQ(again->request.updated_at, kNow);
}

struct ApproveRefusal {
  std::string name;
  Actor approver;
  Seconds after;  // since kNow
  ErrorCode code;
  std::string field;
  std::string message_part;
};

class ApproveRefusalTest : public RequestTest,
                           public ::testing::WithParamInterface<ApproveRefusal> {};

TEST_P(ApproveRefusalTest, IsRefused) {
  const ApproveRefusal& c = GetParam();
  Result<Transition> t = Approve(policy_, PendingDba(), c.approver, "", kNow + c.after);
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().code(), c.code) << t.error().ToString();
  EXPECT_EQ(t.error().field(), c.field);
  EXPECT_THAT(t.error().message(), HasSubstr(c.message_part));
}

Actor WithMfa(Actor a, std::optional<Timestamp> at, bool code) {
  a.mfa_verified_at = at;
  a.mfa_code_presented = code;
  return a;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ApproveRefusalTest,
    ::testing::Values(
        ApproveRefusal{"SelfApproval", Person("alice", {Role::kApprover, Role::kRequester}),
                       Seconds(0), ErrorCode::kPermissionDenied, "",
                       "you cannot approve your own request"},
        ApproveRefusal{"ApproverOutsideThePool", Approver("sam"), Seconds(0),
                       ErrorCode::kPermissionDenied, "", "not in pool 'dba-approvers'"},
        ApproveRefusal{"PoolMemberWithoutApproverRole", Requester("carol"), Seconds(0),
                       ErrorCode::kPermissionDenied, "", "approver role"},
        ApproveRefusal{"AfterTheWindow", WithMfa(Approver("carol"), std::nullopt, true),
                       minutes(30) + Seconds(1), ErrorCode::kFailedPrecondition, "",
                       "the approval window has closed"},
        ApproveRefusal{"StaleMfa", WithMfa(Approver("carol"), kNow - minutes(1), false),
                       minutes(10), ErrorCode::kFailedPrecondition, "totp",
                       "a fresh TOTP code is required"},
        ApproveRefusal{"NeverVerifiedMfa", WithMfa(Approver("carol"), std::nullopt, false),
                       Seconds(0), ErrorCode::kFailedPrecondition, "totp",
                       "a fresh TOTP code is required"}),
    [](const auto& p) { return p.param.name; });

// The evidence report reads how each approver's identity was confirmed from the log alone.
TEST_F(RequestTest, ApprovalEventSaysHowAndWhenTheApproversMfaWasConfirmed) {
  Request r = PendingDba();
  Actor session = WithMfa(Approver("carol"), kNow - minutes(4), false);
  Transition first = *Approve(policy_, r, session, "", kNow + minutes(1));
  const auto& d1 = AuditOf(first, "approval.recorded").details;
  EXPECT_EQ(d1.at("mfa"), "session");
  EXPECT_EQ(d1.at("mfa_verified_at"), FormatRfc3339(kNow - minutes(4)));
  EXPECT_EQ(d1.at("mfa_max_age"), "600");

  Actor code = WithMfa(Approver("frank"), kNow + minutes(2), true);
  Transition second = *Approve(policy_, first.request, code, "", kNow + minutes(2));
  EXPECT_EQ(AuditOf(second, "approval.recorded").details.at("mfa"), "totp");
  Actor passkey = Approver("frank");
  passkey.passkey_presented = true;
  Transition third = *Approve(policy_, first.request, passkey, "", kNow + minutes(2));
  EXPECT_EQ(AuditOf(third, "approval.recorded").details.at("mfa"), "passkey");

  // And the requester's own confirmation comes with the request.
  Transition t = *CreateRequest(policy_, Requester("alice"), Cmd("prod-db", "dba", minutes(10)),
                                {}, RequestId("req_mfa"), kNow);
  EXPECT_EQ(AuditOf(t, "request.created").details.at("mfa_verified_at"), FormatRfc3339(kNow));
}

TEST_F(RequestTest, SelfApprovalIsRefusedEvenForAPoolMember) {
  // owners = alice, carol, dave; alice asks and holds the approver role too.
  Request r = Create(Requester("alice"), Cmd("prod-db", "owner", minutes(10)));
  ASSERT_TRUE(policy_.InPool("alice", r.pool));
  Actor alice = Person("alice", {Role::kRequester, Role::kApprover});
  Result<Transition> t = Approve(policy_, r, alice, "", kNow);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(t.error().message(), "you cannot approve your own request");
  EXPECT_TRUE(Approve(policy_, r, Approver("carol"), "", kNow));
}

TEST_F(RequestTest, ApprovalAtTheEdgesOfWindowAndMfaAgeIsAccepted) {
  Actor carol = WithMfa(Approver("carol"), kNow + minutes(20), false);
  Result<Transition> t = Approve(policy_, PendingDba(), carol, "", kNow + minutes(30));
  EXPECT_TRUE(t) << t.error().ToString();
}

TEST_F(RequestTest, PresentedCodeOutweighsStaleMfa) {
  Actor carol = WithMfa(Approver("carol"), kNow - hours(5), true);
  EXPECT_TRUE(Approve(policy_, PendingDba(), carol, "", kNow));
}

TEST_F(RequestTest, MfaMaxAgeZeroNeedsACodeWithEveryApproval) {
  Request r = Create(Requester("bob"), Cmd("bastion", "root", minutes(10)));
  ASSERT_EQ(r.state, RequestState::kPending);
  EXPECT_EQ(r.mfa_max_age, Seconds(0));
  Result<Transition> just_verified =
      Approve(policy_, r, WithMfa(Approver("sam"), kNow, false), "", kNow);
  ASSERT_FALSE(just_verified);
  EXPECT_EQ(just_verified.error().field(), "totp");
  EXPECT_TRUE(Approve(policy_, r, WithMfa(Approver("sam"), kNow, true), "", kNow));
}

// approver_mfa = "passkey": neither a presented TOTP code nor a fresh login decides; a passkey
// assertion made with the decision does, for approvals and denials alike.
TEST_F(RequestTest, PasskeyRuleNeedsAPasskeyWithEveryDecision) {
  Request r = PendingDba();
  r.approver_passkey = true;
  for (const Actor& a : {WithMfa(Approver("carol"), kNow, true), WithMfa(Approver("carol"), kNow, false)}) {
    Result<Transition> t = Approve(policy_, r, a, "", kNow);
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().code(), ErrorCode::kFailedPrecondition);
    EXPECT_EQ(t.error().field(), "passkey");
    Result<Transition> d = Deny(policy_, r, a, "no", kNow);
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().field(), "passkey");
  }
  Actor with_key = Approver("carol");
  with_key.passkey_presented = true;
  EXPECT_TRUE(Approve(policy_, r, with_key, "", kNow));
  EXPECT_TRUE(Deny(policy_, r, with_key, "no", kNow));
  // On an "any" rule a passkey counts as a fresh factor, like a code.
  r.approver_passkey = false;
  Actor stale = WithMfa(Approver("carol"), kNow - hours(5), false);
  stale.passkey_presented = true;
  EXPECT_TRUE(Approve(policy_, r, stale, "", kNow));
}

TEST_F(RequestTest, CreateCopiesTheRulesApproverMfa) {
  for (auto& rule : policy_.rules) rule.approver_passkey = rule.privileges == std::vector<std::string>{"dba"};
  EXPECT_TRUE(PendingDba().approver_passkey);
  EXPECT_FALSE(Create(Requester("bob"), Cmd("bastion", "root", minutes(10))).approver_passkey);
}

TEST_F(RequestTest, PoolMembershipIsReadFromTheCurrentPolicy) {
  Request r = PendingDba();
  EXPECT_TRUE(Approve(policy_, r, Approver("frank"), "", kNow));
  policy_.pools["dba-approvers"] = {"group:dba"};
  Result<Transition> t = Approve(policy_, r, Approver("frank"), "", kNow);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code(), ErrorCode::kPermissionDenied);
}

TEST_F(RequestTest, ApprovalOfAnExpiredRequestIsRefused) {
  Request r = ActiveDba();
  r = Step(OnTimer(policy_, r, TimerKind::kExpiry, *r.ends_at));
  ASSERT_EQ(r.state, RequestState::kExpired);
  Result<Transition> t = Approve(policy_, r, Approver("erin"), "", *r.ends_at);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(t.error().message(), HasSubstr("expired"));
}

TEST_F(RequestTest, ApprovalAfterTimeoutIsRefused) {
  Request r = Step(OnTimer(policy_, PendingDba(), TimerKind::kApprovalTimeout, kNow + minutes(30)));
  ASSERT_EQ(r.state, RequestState::kTimedOut);
  Result<Transition> t = Approve(policy_, r, Approver("carol"), "", kNow);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code(), ErrorCode::kFailedPrecondition);
}

// ---- Deny -----------------------------------------------------------------------------------

TEST_F(RequestTest, DenyEndsTheRequestWhenTheRuleSaysSo) {
  Result<Transition> t =
      Deny(policy_, PendingDba(), Approver("dave"), " not during the freeze ", kNow + minutes(3));
  ASSERT_TRUE(t) << t.error().ToString();
  EXPECT_EQ(t->request.state, RequestState::kDenied);
  EXPECT_EQ(t->request.ended_by, "dave");
  EXPECT_EQ(t->request.end_reason, "not during the freeze");
  EXPECT_EQ(t->request.updated_at, kNow + minutes(3));
  EXPECT_THAT(Effects(*t), ElementsAre("audit request.denied"));
  EXPECT_EQ(AuditOf(*t, "request.denied").details.at("reason"), "not during the freeze");
}

TEST_F(RequestTest, DenyWithDenyEndsRequestFalseIsRecordedAndTheRequestStaysPending) {
  Request r = Create(Requester("alice"), Cmd("prod-db", "owner", minutes(10)));
  ASSERT_FALSE(r.deny_ends_request);
  Result<Transition> t = Deny(policy_, r, Approver("carol"), "I would rather not", kNow);
  ASSERT_TRUE(t) << t.error().ToString();
  EXPECT_EQ(t->request.state, RequestState::kPending);
  ASSERT_EQ(t->request.denials.size(), 1u);
  EXPECT_EQ(t->request.denials[0].approver, "carol");
  EXPECT_THAT(Effects(*t), ElementsAre("audit denial.recorded"));

  // carol cannot now approve; dave still can, and his approval is enough.
  Result<Transition> flip = Approve(policy_, t->request, Approver("carol"), "", kNow);
  ASSERT_FALSE(flip);
  EXPECT_EQ(flip.error().code(), ErrorCode::kConflict);
  Result<Transition> repeat = Deny(policy_, t->request, Approver("carol"), "still no", kNow);
  ASSERT_TRUE(repeat);
  EXPECT_THAT(repeat->effects, IsEmpty());
  Result<Transition> dave = Approve(policy_, t->request, Approver("dave"), "", kNow);
  ASSERT_TRUE(dave);
  EXPECT_EQ(dave->request.state, RequestState::kApproved);
}

TEST_F(RequestTest, DenyRefusals) {
  Request r = PendingDba();
  auto code_and_field = [](const Result<Transition>& t) {
    return t ? std::string("ok")
             : fmt::format("{} {}", ToString(t.error().code()), t.error().field());
  };
  std::string denied = std::string(ToString(ErrorCode::kPermissionDenied)) + " ";
  EXPECT_EQ(code_and_field(Deny(policy_, r, Approver("dave"), "", kNow)),
            std::string(ToString(ErrorCode::kInvalidArgument)) + " reason");
  EXPECT_EQ(code_and_field(Deny(policy_, r, Approver("dave"), "   ", kNow)),
            std::string(ToString(ErrorCode::kInvalidArgument)) + " reason");
  EXPECT_EQ(code_and_field(Deny(policy_, r, Person("alice", {Role::kApprover}), "no", kNow)),
            denied);
  EXPECT_EQ(code_and_field(Deny(policy_, r, Approver("sam"), "no", kNow)), denied);
  EXPECT_EQ(code_and_field(Deny(policy_, r, Requester("dave"), "no", kNow)), denied);
  EXPECT_EQ(
      code_and_field(Deny(policy_, r, WithMfa(Approver("dave"), std::nullopt, false), "no", kNow)),
      std::string(ToString(ErrorCode::kFailedPrecondition)) + " totp");
  Request approved = Step(Approve(policy_, Step(Approve(policy_, r, Approver("carol"), "", kNow)),
                                  Approver("dave"), "", kNow));
  EXPECT_EQ(code_and_field(Deny(policy_, approved, Approver("erin"), "no", kNow)),
            std::string(ToString(ErrorCode::kFailedPrecondition)) + " ");
}

// ---- Cancel ---------------------------------------------------------------------------------

TEST_F(RequestTest, RequesterOrAdminCancelsAPendingRequest) {
  for (const Actor& who : {Requester("alice"), Person("root", {Role::kAdmin})}) {
    Result<Transition> t = Cancel(PendingDba(), who, kNow + minutes(1));
    ASSERT_TRUE(t) << t.error().ToString();
    EXPECT_EQ(t->request.state, RequestState::kCancelled);
    EXPECT_EQ(t->request.ended_by, who.name);
    EXPECT_EQ(t->request.updated_at, kNow + minutes(1));
    EXPECT_THAT(Effects(*t), ElementsAre("audit request.cancelled"));
    EXPECT_EQ(AuditOf(*t, "request.cancelled").actor, who.name);
  }
}

TEST_F(RequestTest, CancelBySomeoneElseIsRefused) {
  Result<Transition> t = Cancel(PendingDba(), Approver("carol"), kNow);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code(), ErrorCode::kPermissionDenied);
}

TEST_F(RequestTest, CancelAfterApprovalIsRefused) {
  Result<Transition> t = Cancel(ActiveDba(), Requester("alice"), kNow);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(t.error().message(), HasSubstr("active"));
}

// ---- Revoke ---------------------------------------------------------------------------------

TEST_F(RequestTest, RevokeEndsTheGrantAndSetsTheReviewDeadline) {
  for (const Actor& who : {Requester("alice"), Approver("erin"), Person("root", {Role::kAdmin})}) {
    Result<Transition> t = Revoke(policy_, ActiveDba(), who, "done early", kNow + minutes(10));
    ASSERT_TRUE(t) << who.name << ": " << t.error().ToString();
    EXPECT_EQ(t->request.state, RequestState::kRevoked);
    EXPECT_EQ(t->request.ended_by, who.name);
    EXPECT_EQ(t->request.end_reason, "done early");
    ASSERT_TRUE(t->request.review_due.has_value());
    EXPECT_EQ(*t->request.review_due, kNow + minutes(10) + hours(24));
    EXPECT_THAT(Effects(*t), ElementsAre("audit request.revoked", "revoke"));
  }
}

TEST_F(RequestTest, RevokeOfAnApprovedNotYetActiveGrantRevokes) {
  Request r =
      Step(Approve(policy_, Step(Approve(policy_, PendingDba(), Approver("carol"), "", kNow)),
                   Approver("dave"), "", kNow));
  Result<Transition> t = Revoke(policy_, r, Requester("alice"), "not needed after all", kNow);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->request.state, RequestState::kRevoked);
  EXPECT_THAT(Effects(*t), ElementsAre("audit request.revoked", "revoke"));
}

TEST_F(RequestTest, RevokeRefusals) {
  Request active = ActiveDba();
  Result<Transition> outsider = Revoke(policy_, active, Approver("sam"), "why not", kNow);
  ASSERT_FALSE(outsider);
  EXPECT_EQ(outsider.error().code(), ErrorCode::kPermissionDenied);

  Result<Transition> no_reason = Revoke(policy_, active, Requester("alice"), " ", kNow);
  ASSERT_FALSE(no_reason);
  EXPECT_EQ(no_reason.error().field(), "reason");

  Request revoked = Step(Revoke(policy_, active, Requester("alice"), "done", kNow));
  Result<Transition> twice = Revoke(policy_, revoked, Requester("alice"), "done", kNow);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(twice.error().message(), "the request is already revoked");

  Result<Transition> pending = Revoke(policy_, PendingDba(), Requester("alice"), "done", kNow);
  ASSERT_FALSE(pending);
  EXPECT_EQ(pending.error().code(), ErrorCode::kFailedPrecondition);
}

// ---- Activate, GrantFailed ------------------------------------------------------------------

TEST_F(RequestTest, ActivateStartsTheWindowAndSchedulesExpiryAndWarning) {
  Request approved =
      Step(Approve(policy_, Step(Approve(policy_, PendingDba(), Approver("carol"), "", kNow)),
                   Approver("dave"), "", kNow));
  Timestamp at = kNow + minutes(2);
  Result<Transition> t = Activate(policy_, approved, at);
  ASSERT_TRUE(t) << t.error().ToString();
  EXPECT_EQ(t->request.state, RequestState::kActive);
  EXPECT_EQ(t->request.starts_at, at);
  EXPECT_EQ(t->request.ends_at, at + hours(1));
  EXPECT_EQ(t->request.updated_at, at);
  EXPECT_THAT(Effects(*t),
              ElementsAre("audit request.activated", Timer(TimerKind::kExpiry, at + hours(1)),
                          Timer(TimerKind::kExpiryWarning, at + minutes(55))));
  EXPECT_EQ(AuditOf(*t, "request.activated").details.at("ends_at"), FormatRfc3339(at + hours(1)));
}

TEST_F(RequestTest, ShortGrantGetsNoWarningTimer) {
  Request r = Create(Requester("alice"), Cmd("prod-db", "read_only", minutes(5)));
  Result<Transition> t = Activate(policy_, r, kNow);
  ASSERT_TRUE(t);
  EXPECT_THAT(Effects(*t),
              ElementsAre("audit request.activated", Timer(TimerKind::kExpiry, kNow + minutes(5))));
}

TEST_F(RequestTest, NoWarningTimerWhenWarningIsOff) {
  policy_.settings.warn_before_expiry = Seconds(0);
  Request r = Create(Requester("alice"), Cmd("prod-db", "read_only", minutes(30)));
  Result<Transition> t = Activate(policy_, r, kNow);
  ASSERT_TRUE(t);
  EXPECT_THAT(Effects(*t), ElementsAre("audit request.activated",
                                       Timer(TimerKind::kExpiry, kNow + minutes(30))));
}

TEST_F(RequestTest, ActivateOfAnythingButApprovedIsRefused) {
  for (const Request& r : {PendingDba(), ActiveDba()}) {
    Result<Transition> t = Activate(policy_, r, kNow);
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().code(), ErrorCode::kFailedPrecondition);
  }
}

TEST_F(RequestTest, GrantFailureKeepsTheRequestApprovedWithTheError) {
  Request r = Create(Requester("alice"), Cmd("prod-db", "read_only", minutes(5)));
  Result<Transition> t = GrantFailed(r, "connection refused", kNow + Seconds(3));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->request.state, RequestState::kApproved);
  EXPECT_EQ(t->request.last_error, "connection refused");
  EXPECT_EQ(t->request.updated_at, kNow + Seconds(3));
  EXPECT_THAT(Effects(*t), ElementsAre("audit grant.failed"));
  EXPECT_EQ(AuditOf(*t, "grant.failed").details.at("error"), "connection refused");
  // A later success clears it.
  EXPECT_EQ(Step(Activate(policy_, t->request, kNow)).last_error, "");
  EXPECT_FALSE(GrantFailed(PendingDba(), "x", kNow));
}

// ---- Extensions -----------------------------------------------------------------------------

TEST_F(RequestTest, ExtensionIsApprovedLikeTheRequestAndGrowsTheWindow) {
  Request r = ActiveDba();  // one hour from kNow + 1m, maximum two hours
  Timestamp at = kNow + minutes(40);
  Result<Transition> ask =
      RequestExtension(policy_, r, Requester("alice"), minutes(30), "migration is slower", at);
  ASSERT_TRUE(ask) << ask.error().ToString();
  ASSERT_TRUE(ask->request.extension.has_value());
  EXPECT_EQ(ask->request.extension->duration, minutes(30));
  EXPECT_EQ(ask->request.extension->deadline, at + minutes(30));
  EXPECT_EQ(ask->request.extension->required_approvals, 2);
  EXPECT_EQ(ask->request.state, RequestState::kActive);
  EXPECT_THAT(Effects(*ask), ElementsAre("audit extension.requested",
                                         Timer(TimerKind::kExtensionTimeout, at + minutes(30))));

  Request one = Step(Approve(policy_, ask->request, WithMfa(Approver("carol"), at, false), "", at));
  EXPECT_EQ(one.extension->approvals.size(), 1u);
  EXPECT_EQ(one.approvals.size(), 2u);  // the original round is untouched
  Result<Transition> two =
      Approve(policy_, one, WithMfa(Approver("erin"), at, false), "", at + minutes(1));
  ASSERT_TRUE(two) << two.error().ToString();
  const Request& n = two->request;
  Timestamp ends = kNow + minutes(1) + hours(1) + minutes(30);
  EXPECT_EQ(n.state, RequestState::kActive);
  EXPECT_FALSE(n.extension.has_value());
  EXPECT_EQ(n.duration, minutes(90));
  EXPECT_EQ(n.ends_at, ends);
  EXPECT_FALSE(n.warned);
  EXPECT_THAT(Effects(*two), ElementsAre("audit approval.recorded", "audit request.extended",
                                         "issue", Timer(TimerKind::kExpiry, ends),
                                         Timer(TimerKind::kExpiryWarning, ends - minutes(5))));
  // The old expiry timer is now stale.
  Result<Transition> old = OnTimer(policy_, n, TimerKind::kExpiry, kNow + minutes(61));
  ASSERT_TRUE(old);
  EXPECT_THAT(old->effects, IsEmpty());
  EXPECT_EQ(old->request.state, RequestState::kActive);
}

TEST_F(RequestTest, ExtensionNeverGoesPastTheMaximum) {
  Request r = ActiveDba();
  Result<Transition> t =
      RequestExtension(policy_, r, Requester("alice"), minutes(61), "need more time", kNow);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().field(), "duration");
  EXPECT_THAT(t.error().message(), HasSubstr("at most 1h more can be added (the maximum is 2h)"));
  EXPECT_TRUE(
      RequestExtension(policy_, r, Requester("alice"), minutes(60), "need more time", kNow));

  r.duration = hours(2);
  Result<Transition> full =
      RequestExtension(policy_, r, Requester("alice"), Seconds(1), "more", kNow);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().field(), "duration");
  EXPECT_THAT(full.error().message(), HasSubstr("cannot be extended"));
}

TEST_F(RequestTest, ExtensionRefusals) {
  Request active = ActiveDba();
  auto code = [](const Result<Transition>& t) {
    return t ? std::string("ok")
             : std::string(ToString(t.error().code())) + " " + t.error().field();
  };
  std::string invalid(ToString(ErrorCode::kInvalidArgument));
  EXPECT_EQ(code(RequestExtension(policy_, active, Requester("bob"), minutes(5), "x", kNow)),
            std::string(ToString(ErrorCode::kPermissionDenied)) + " ");
  EXPECT_EQ(
      code(RequestExtension(policy_, PendingDba(), Requester("alice"), minutes(5), "x", kNow)),
      std::string(ToString(ErrorCode::kFailedPrecondition)) + " ");
  EXPECT_EQ(code(RequestExtension(policy_, active, Requester("alice"), Seconds(0), "x", kNow)),
            invalid + " duration");
  EXPECT_EQ(code(RequestExtension(policy_, active, Requester("alice"), minutes(5), " ", kNow)),
            invalid + " reason");
  Request asked =
      Step(RequestExtension(policy_, active, Requester("alice"), minutes(5), "x", kNow));
  EXPECT_EQ(code(RequestExtension(policy_, asked, Requester("alice"), minutes(5), "y", kNow)),
            std::string(ToString(ErrorCode::kConflict)) + " ");
}

TEST_F(RequestTest, TierOneExtensionIsAppliedAtOnce) {
  Request r = Step(Activate(
      policy_, Create(Requester("alice"), Cmd("prod-db", "read_only", minutes(20))), kNow));
  Result<Transition> t = RequestExtension(policy_, r, Requester("alice"), minutes(10), "a bit more",
                                          kNow + minutes(5));
  ASSERT_TRUE(t) << t.error().ToString();
  EXPECT_FALSE(t->request.extension.has_value());
  EXPECT_EQ(t->request.duration, minutes(30));
  EXPECT_EQ(t->request.ends_at, kNow + minutes(30));
  EXPECT_THAT(Effects(*t), ElementsAre("audit extension.requested", "audit request.extended",
                                       "issue", Timer(TimerKind::kExpiry, kNow + minutes(30)),
                                       Timer(TimerKind::kExpiryWarning, kNow + minutes(25))));
}

TEST_F(RequestTest, DenyOfAnExtensionDropsItAndTheGrantContinues) {
  Request asked =
      Step(RequestExtension(policy_, ActiveDba(), Requester("alice"), minutes(5), "more", kNow));
  Result<Transition> t = Deny(policy_, asked, Approver("carol"), "wrap it up", kNow + minutes(1));
  ASSERT_TRUE(t) << t.error().ToString();
  EXPECT_EQ(t->request.state, RequestState::kActive);
  EXPECT_FALSE(t->request.extension.has_value());
  EXPECT_EQ(t->request.ends_at, asked.ends_at);
  EXPECT_THAT(Effects(*t), ElementsAre("audit extension.denied"));
}

TEST_F(RequestTest, ExtensionApprovalAfterItsWindowIsRefused) {
  Request asked =
      Step(RequestExtension(policy_, ActiveDba(), Requester("alice"), minutes(5), "more", kNow));
  Result<Transition> t = Approve(policy_, asked, Approver("carol"), "", kNow + minutes(31));
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().message(), "the approval window has closed");
}

// ---- Timers ---------------------------------------------------------------------------------

struct TimerCase {
  std::string name;
  std::string setup;  // "pending", "active", "extension", "revoked"
  TimerKind kind;
  Seconds after;                          // since kNow
  std::optional<RequestState> new_state;  // nullopt: stale, nothing happens
  std::vector<std::string> effects;
};

class TimerTest : public RequestTest, public ::testing::WithParamInterface<TimerCase> {
 protected:
  Request Setup(const std::string& what) {
    if (what == "pending") return PendingDba();
    Request active = ActiveDba();  // ends at kNow + 61m
    if (what == "active") return active;
    if (what == "extension") {
      return Step(RequestExtension(policy_, active, Requester("alice"), minutes(5), "more",
                                   kNow + minutes(10)));  // deadline kNow + 40m
    }
    return Step(Revoke(policy_, active, Requester("alice"), "done", kNow + minutes(2)));
  }
};

TEST_P(TimerTest, FiresWhenDueAndIsANoOpWhenStale) {
  const TimerCase& c = GetParam();
  Request before = Setup(c.setup);
  Timestamp at = kNow + c.after;
  Result<Transition> t = OnTimer(policy_, before, c.kind, at);
  ASSERT_TRUE(t) << t.error().ToString();
  EXPECT_EQ(Effects(*t), c.effects);
  if (!c.new_state) {
    EXPECT_EQ(t->request.state, before.state);
    EXPECT_EQ(t->request.updated_at, before.updated_at);
    EXPECT_EQ(t->request.warned, before.warned);
    EXPECT_EQ(t->request.extension.has_value(), before.extension.has_value());
    return;
  }
  EXPECT_EQ(t->request.state, *c.new_state);
  EXPECT_EQ(t->request.updated_at, at);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, TimerTest,
    ::testing::Values(
        TimerCase{"ApprovalTimeoutDue",
                  "pending",
                  TimerKind::kApprovalTimeout,
                  minutes(30),
                  RequestState::kTimedOut,
                  {"audit request.timed_out"}},
        TimerCase{"ApprovalTimeoutEarly",
                  "pending",
                  TimerKind::kApprovalTimeout,
                  minutes(30) - Seconds(1),
                  std::nullopt,
                  {}},
        TimerCase{"ApprovalTimeoutAfterApproval",
                  "active",
                  TimerKind::kApprovalTimeout,
                  minutes(30),
                  std::nullopt,
                  {}},
        TimerCase{"ExpiryDue",
                  "active",
                  TimerKind::kExpiry,
                  minutes(61),
                  RequestState::kExpired,
                  {"audit request.expired", "revoke"}},
        TimerCase{"ExpiryEarly", "active", TimerKind::kExpiry, minutes(60), std::nullopt, {}},
        TimerCase{
            "ExpiryAfterRevocation", "revoked", TimerKind::kExpiry, minutes(61), std::nullopt, {}},
        TimerCase{"ExpiryOfPending", "pending", TimerKind::kExpiry, hours(5), std::nullopt, {}},
        TimerCase{"WarningDue",
                  "active",
                  TimerKind::kExpiryWarning,
                  minutes(56),
                  RequestState::kActive,
                  {"audit request.expiry_warning", "alert expiry_warning"}},
        TimerCase{
            "WarningEarly", "active", TimerKind::kExpiryWarning, minutes(55), std::nullopt, {}},
        TimerCase{"WarningAfterRevocation",
                  "revoked",
                  TimerKind::kExpiryWarning,
                  minutes(56),
                  std::nullopt,
                  {}},
        TimerCase{"ExtensionTimeoutDue",
                  "extension",
                  TimerKind::kExtensionTimeout,
                  minutes(40),
                  RequestState::kActive,
                  {"audit extension.timed_out"}},
        TimerCase{"ExtensionTimeoutEarly",
                  "extension",
                  TimerKind::kExtensionTimeout,
                  minutes(39),
                  std::nullopt,
                  {}},
        TimerCase{"ExtensionTimeoutWithoutExtension",
                  "active",
                  TimerKind::kExtensionTimeout,
                  minutes(40),
                  std::nullopt,
                  {}}),
    [](const auto& p) { return p.param.name; });

TEST_F(RequestTest, ExpiryRevokesAndOpensTheReview) {
  Request r = ActiveDba();
  Result<Transition> t = OnTimer(policy_, r, TimerKind::kExpiry, *r.ends_at + Seconds(1));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->request.review_due, *r.ends_at + Seconds(1) + hours(24));
  EXPECT_EQ(AuditOf(*t, "request.expired").actor, "system");
}

TEST_F(RequestTest, WarningGoesToTheRequesterOnce) {
  Request r = ActiveDba();
  Result<Transition> t = OnTimer(policy_, r, TimerKind::kExpiryWarning, *r.ends_at - minutes(5));
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->request.warned);
  std::vector<Alert> alerts = EffectsOfType<Alert>(*t);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_THAT(alerts[0].recipients, ElementsAre("alice"));
  Result<Transition> again =
      OnTimer(policy_, t->request, TimerKind::kExpiryWarning, *r.ends_at - minutes(1));
  ASSERT_TRUE(again);
  EXPECT_THAT(again->effects, IsEmpty());
}

TEST_F(RequestTest, ExtensionTimeoutDropsTheExtension) {
  Request asked =
      Step(RequestExtension(policy_, ActiveDba(), Requester("alice"), minutes(5), "more", kNow));
  Request n = Step(OnTimer(policy_, asked, TimerKind::kExtensionTimeout, kNow + minutes(30)));
  EXPECT_FALSE(n.extension.has_value());
  EXPECT_EQ(n.ends_at, asked.ends_at);
}

// ---- CanView --------------------------------------------------------------------------------

TEST_F(RequestTest, WhoSeesWhat) {
  Request r = PendingDba();
  struct Case {
    Actor who;
    bool sees;
  };
  const Case cases[] = {
      {Requester("alice"), true},
      {Requester("bob"), false},
      {Approver("frank"), true},
      {Approver("sam"), false},
      {Requester("carol"), false},  // in the pool but not an approver
      {Person("audra", {Role::kAuditor}), true},
      {Person("root", {Role::kAdmin}), true},
  };
  for (const Case& c : cases) EXPECT_EQ(CanView(policy_, r, c.who), c.sees) << c.who.name;
}

TEST_F(RequestTest, ARecordingCredentialSeesOnlyItsGrant) {
  Request r = PendingDba();
  Actor recorder = Requester("alice");
  recorder.roles = {};
  recorder.recording_grant = r.id;
  EXPECT_TRUE(CanView(policy_, r, recorder));
  recorder.recording_grant = RequestId("req_other");
  EXPECT_FALSE(CanView(policy_, r, recorder));
  // Even with roles (which it never gets), the scope wins.
  Actor auditor = Person("audra", {Role::kAuditor});
  auditor.recording_grant = RequestId("req_other");
  EXPECT_FALSE(CanView(policy_, r, auditor));
}

// A backtracking engine takes time exponential in the ticket for such a pattern (2^200 steps for
// this one), holding the store's one writer; RE2 answers at once.
TEST(TicketPatternTest, NestedQuantifiersCannotHoldTheWriter) {
  PolicyParseResult p = ParsePolicy(R"(version = 1
[settings]
ticket_pattern = '^(a+)+$'
[[resources]]
name = "db"
connector = "pg"
privileges = ["ro"]
[[rules]]
resource = "db"
privileges = ["ro"]
requesters = ["alice"]
tier = 1
)",
                                    "redos.toml");
  ASSERT_TRUE(p.policy.has_value()) << (p.problems.empty() ? "" : p.problems[0].ToString());
  Actor alice = Person("alice", {Role::kRequester});
  CreateCommand c;
  c.resource = "db";
  c.privilege = "ro";
  c.duration = minutes(5);
  c.reason = "a reason that is long enough";
  c.ticket = std::string(199, 'a') + "!";
  Result<Transition> refused = CreateRequest(*p.policy, alice, c, RiskInputs{}, RequestId("r1"), kNow);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().field(), "ticket");
  c.ticket = std::string(200, 'a');
  EXPECT_TRUE(CreateRequest(*p.policy, alice, c, RiskInputs{}, RequestId("r2"), kNow).has_value());
}

TEST(TicketPatternTest, PatternsAreRe2AndBackReferencesAreRefused) {
  PolicyParseResult p = ParsePolicy("version = 1\n[settings]\nticket_pattern = '(INC)-\\1'\n", "p.toml");
  ASSERT_FALSE(p.policy.has_value());
  ASSERT_EQ(p.problems.size(), 1u);
  EXPECT_THAT(p.problems[0].message, HasSubstr("is not a valid regular expression (RE2 syntax)"));
}

}  // namespace
}  // namespace bg::core
