#include "core/commands.h"

#include <algorithm>
#include <fmt/format.h>
#include <gtest/gtest.h>

namespace bg::core {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

constexpr std::string_view kPolicy = R"(version = 1
[settings]
timezone = "UTC"
reason_min_length = 3
warn_before_expiry = "5m"

[groups]
sre = ["alice"]
dba = ["carol", "dave"]

[pools]
dba-approvers = ["group:dba"]

[[resources]]
name = "prod-db"
connector = "prod-pg"
privileges = ["dba"]

[[rules]]
resource = "prod-db"
privileges = ["dba"]
requesters = ["group:sre"]
tier = 2
pool = "dba-approvers"
approvals = 2
max_duration = "4h"
approval_window = "30m"
mfa_max_age = "10m"
)";

const Timestamp kCreated = FromUnixSeconds(1772618400);  // 2026-03-04T10:00:00Z

Policy TestPolicy() {
  PolicyParseResult r = ParsePolicy(kPolicy, "test.toml");
  for (const PolicyProblem& p : r.problems) ADD_FAILURE() << p.ToString();
  return r.policy.value_or(Policy{});
}

Actor Person(std::string name, std::vector<Role> roles) {
  Actor a;
  a.name = std::move(name);
  a.roles = std::move(roles);
  a.mfa_code_presented = true;
  return a;
}

// A request of alice in `phase`: a 1h grant, approval window until 10:30, active from 10:10 to
// 11:10, an extension (when there is one) waiting until 10:50.
Request InPhase(Phase phase) {
  Request r;
  r.id = RequestId("req_1");
  r.requester = "alice";
  r.resource = "prod-db";
  r.privilege = "dba";
  r.connector = "prod-pg";
  r.tier = 2;
  r.reason = "replication stuck";
  r.ticket = "INC-1";
  r.duration = hours(1);
  r.pool = "dba-approvers";
  r.required_approvals = 2;
  r.max_duration = hours(4);
  r.approval_window = minutes(30);
  r.mfa_max_age = minutes(10);
  r.created_at = kCreated;
  r.updated_at = kCreated;
  r.approval_deadline = kCreated + minutes(30);
  auto started = [&r] {
    r.approvals = {{"carol", kCreated + minutes(5), ""}, {"dave", kCreated + minutes(6), ""}};
    r.starts_at = kCreated + minutes(10);
    r.ends_at = *r.starts_at + r.duration;
  };
  switch (phase) {
    case Phase::kPending: r.state = RequestState::kPending; break;
    case Phase::kApproved:
      r.state = RequestState::kApproved;
      r.approvals = {{"carol", kCreated + minutes(5), ""}, {"dave", kCreated + minutes(6), ""}};
      break;
    case Phase::kActive: r.state = RequestState::kActive; started(); break;
    case Phase::kActiveExtending:
      r.state = RequestState::kActive;
      started();
      r.extension = Extension{minutes(30), "more time", kCreated + minutes(20),
                              kCreated + minutes(50), 2, {}};
      break;
    case Phase::kExpired: r.state = RequestState::kExpired; started(); break;
    case Phase::kRevoked: r.state = RequestState::kRevoked; started(); break;
    case Phase::kDenied: r.state = RequestState::kDenied; break;
    case Phase::kCancelled: r.state = RequestState::kCancelled; break;
    case Phase::kTimedOut: r.state = RequestState::kTimedOut; break;
  }
  return r;
}

// Runs the real transition function for `c` with a caller it accepts and a moment at which its
// time condition holds, so that only the request's phase can make it refuse or ignore.
Result<Transition> RunCommand(const Policy& policy, Command c, const Request& r) {
  const Actor approver = Person("carol", {Role::kApprover});
  const Actor requester = Person("alice", {Role::kRequester});
  const Actor admin = Person("root", {Role::kAdmin});
  const Timestamp in_windows = kCreated + minutes(15);  // before every deadline and the end
  switch (c) {
    case Command::kApprove: return Approve(policy, r, approver, "ok", in_windows);
    case Command::kDeny: return Deny(policy, r, approver, "no reason to", in_windows);
    case Command::kCancel: return Cancel(r, requester, in_windows);
    case Command::kRevoke: return Revoke(policy, r, admin, "incident over", in_windows);
    case Command::kExtend:
      return RequestExtension(policy, r, requester, minutes(30), "more time", in_windows);
    case Command::kActivate: return Activate(policy, r, in_windows);
    case Command::kGrantFailed: return GrantFailed(r, "connection refused", in_windows);
    case Command::kApprovalTimeout:
      return OnTimer(policy, r, TimerKind::kApprovalTimeout, kCreated + minutes(31));
    case Command::kExpire: return OnTimer(policy, r, TimerKind::kExpiry, kCreated + hours(2));
    case Command::kExpiryWarning:
      return OnTimer(policy, r, TimerKind::kExpiryWarning, kCreated + minutes(66));
    case Command::kExtensionTimeout:
      return OnTimer(policy, r, TimerKind::kExtensionTimeout, kCreated + minutes(51));
    case Command::kEscalate: {
      Request escalating = r;  // a group that escalates after 10 minutes
      escalating.groups = {ApprovalGroup{"dba-approvers", 2, "dba-approvers", minutes(10), false}};
      return OnTimer(policy, escalating, TimerKind::kEscalation, kCreated + minutes(10));
    }
  }
  return Error::Internal("unknown command");
}

// Every command in every phase: the transition function does what the table says.
TEST(CommandTable, EveryCommandInEveryPhaseFollowsTheTable) {
  const Policy policy = TestPolicy();
  int allowed = 0, refused = 0, ignored = 0;
  for (Command c : kAllCommands) {
    for (Phase p : kAllPhases) {
      SCOPED_TRACE(fmt::format("{} in {}", ToString(c), ToString(p)));
      const Request r = InPhase(p);
      ASSERT_EQ(PhaseOf(r), p);
      Result<Transition> t = RunCommand(policy, c, r);
      switch (VerdictFor(c, p)) {
        case Verdict::kAllowed:
          ++allowed;
          ASSERT_TRUE(t.has_value()) << t.error().ToString();
          EXPECT_FALSE(t->effects.empty());
          break;
        case Verdict::kRefused: {
          ++refused;
          ASSERT_FALSE(t.has_value());
          const Error want = StateRefusal(c, r);
          EXPECT_EQ(t.error().code(), want.code());
          EXPECT_EQ(t.error().message(), want.message());
          break;
        }
        case Verdict::kIgnored:
          ++ignored;
          ASSERT_TRUE(t.has_value()) << t.error().ToString();
          EXPECT_TRUE(t->effects.empty());
          EXPECT_EQ(t->request.state, r.state);
          EXPECT_EQ(t->request.updated_at, r.updated_at);
          break;
      }
    }
  }
  // The table is not degenerate: each verdict occurs (counts fixed by the table above).
  EXPECT_EQ(allowed + refused + ignored,
            static_cast<int>(kAllCommands.size() * kAllPhases.size()));
  EXPECT_EQ(allowed, 20);
  EXPECT_EQ(ignored, 38);
}

TEST(CommandTable, RefusalsNameTheState) {
  EXPECT_EQ(StateRefusal(Command::kRevoke, InPhase(Phase::kRevoked)).message(),
            "the request is already revoked");
  EXPECT_EQ(StateRefusal(Command::kExtend, InPhase(Phase::kActiveExtending)).code(),
            ErrorCode::kConflict);
  EXPECT_EQ(StateRefusal(Command::kCancel, InPhase(Phase::kActive)).message(),
            "only a pending request can be cancelled; this one is active");
}

TEST(CommandTable, NamesAreDistinct) {
  std::set<std::string_view> names;
  for (Command c : kAllCommands) EXPECT_TRUE(names.insert(ToString(c)).second) << ToString(c);
  std::set<std::string_view> phases;
  for (Phase p : kAllPhases) EXPECT_TRUE(phases.insert(ToString(p)).second) << ToString(p);
}

// ---- connector outcomes ----

struct OutcomeCase {
  std::string name;
  Phase phase;
  bool request_exists;
  JobKind kind;
  JobOutcome::Kind outcome;
  int attempts;
  // expected
  std::string_view audit_outcome;
  bool done;
  std::optional<RequestState> new_state;  // a transition to this state (or none)
  bool alert;
};

TEST(OnJobOutcome, DecidesWhatAConnectorAnswerMeans) {
  using K = JobOutcome::Kind;
  const Policy policy = TestPolicy();
  const std::vector<OutcomeCase> cases = {
      {"first issue activates", Phase::kApproved, true, JobKind::kGrant, K::kOk, 0, "ok", true,
       RequestState::kActive, false},
      {"re-issue after extension changes nothing", Phase::kActive, true, JobKind::kGrant, K::kOk,
       0, "ok", true, std::nullopt, false},
      {"failed issue is recorded and retried", Phase::kApproved, true, JobKind::kGrant,
       K::kFailed, 2, "error", false, RequestState::kApproved, false},
      {"failed re-issue is retried", Phase::kActive, true, JobKind::kGrant, K::kFailed, 0,
       "error", false, std::nullopt, false},
      {"skipped grant is not ok", Phase::kRevoked, true, JobKind::kGrant, K::kSkipped, 0,
       "skipped", true, std::nullopt, false},
      {"issued while the request ended: its revocation is queued already", Phase::kRevoked, true,
       JobKind::kGrant, K::kOk, 0, "ok", true, std::nullopt, false},
      {"revocation done", Phase::kExpired, true, JobKind::kRevoke, K::kOk, 0, "ok", true,
       std::nullopt, false},
      {"failing revocation stays queued", Phase::kRevoked, true, JobKind::kRevoke, K::kFailed, 0,
       "error", false, std::nullopt, false},
      {"fifth failing revocation alerts", Phase::kRevoked, true, JobKind::kRevoke, K::kFailed,
       kRevocationAlertAttempts - 1, "error", false, std::nullopt, true},
      {"sixth failing revocation does not alert again", Phase::kRevoked, true, JobKind::kRevoke,
       K::kFailed, kRevocationAlertAttempts, "error", false, std::nullopt, false},
      {"request gone: job dropped", Phase::kApproved, false, JobKind::kGrant, K::kNoRequest, 0,
       "error", true, std::nullopt, false},
  };
  for (const OutcomeCase& tc : cases) {
    SCOPED_TRACE(tc.name);
    const Request r = InPhase(tc.phase);
    JobOutcome o{tc.outcome, tc.outcome == K::kFailed ? "connection refused" : ""};
    auto d = OnJobOutcome(policy, tc.request_exists ? &r : nullptr, tc.kind, o, tc.attempts,
                          kCreated + minutes(15));
    ASSERT_TRUE(d.has_value()) << d.error().ToString();
    EXPECT_EQ(d->audit_outcome, tc.audit_outcome);
    EXPECT_EQ(d->done, tc.done);
    EXPECT_EQ(d->alert_revocation_failing, tc.alert);
    EXPECT_EQ(d->transition.has_value(), tc.new_state.has_value());
    if (d->transition && tc.new_state) {
      EXPECT_EQ(d->transition->request.state, *tc.new_state);
      EXPECT_FALSE(d->transition->effects.empty());
    }
    if (tc.outcome == K::kFailed && tc.new_state) {
      EXPECT_EQ(d->transition->request.last_error, "connection refused");
    }
  }
}

TEST(OnJobOutcome, OnlyLiveRequestsAreGranted) {
  for (Phase p : kAllPhases) {
    const Request r = InPhase(p);
    const bool live = r.state == RequestState::kApproved || r.state == RequestState::kActive;
    EXPECT_EQ(ShouldCallConnector(JobKind::kGrant, r), live) << ToString(p);
    EXPECT_TRUE(ShouldCallConnector(JobKind::kRevoke, r)) << ToString(p);
  }
}

TEST(OnJobOutcome, JobKindsRoundTrip) {
  for (JobKind k : {JobKind::kGrant, JobKind::kRevoke}) EXPECT_EQ(ParseJobKind(ToString(k)), k);
  EXPECT_EQ(ParseJobKind("alert"), std::nullopt);
}

// ---- disabling a person's account ----

struct DisableCase {
  Phase phase;
  std::optional<DisableEffect> effect;  // nullopt: the request is left alone
  std::optional<RequestState> state;    // the new state, when the request ends
};

// Disabling the requester ends their request in every phase where it still lives: a pending
// one is cancelled, an approved or active grant (also one with an extension waiting) revoked.
TEST(OnUserDisabled, EndsTheRequestersRequestInEveryLivePhase) {
  const DisableCase cases[] = {
      {Phase::kPending, DisableEffect::kCancelled, RequestState::kCancelled},
      {Phase::kApproved, DisableEffect::kRevoked, RequestState::kRevoked},
      {Phase::kActive, DisableEffect::kRevoked, RequestState::kRevoked},
      {Phase::kActiveExtending, DisableEffect::kRevoked, RequestState::kRevoked},
      {Phase::kExpired, std::nullopt, std::nullopt},
      {Phase::kRevoked, std::nullopt, std::nullopt},
      {Phase::kDenied, std::nullopt, std::nullopt},
      {Phase::kCancelled, std::nullopt, std::nullopt},
      {Phase::kTimedOut, std::nullopt, std::nullopt},
  };
  ASSERT_EQ(std::size(cases), kAllPhases.size());
  const Timestamp now = kCreated + minutes(15);
  for (const DisableCase& c : cases) {
    SCOPED_TRACE(ToString(c.phase));
    auto step = OnUserDisabled(InPhase(c.phase), "alice", "carol", now);
    ASSERT_EQ(step.has_value(), c.effect.has_value());
    if (!step) continue;
    EXPECT_EQ(step->effect, *c.effect);
    const Request& n = step->transition.request;
    EXPECT_EQ(n.state, *c.state);
    EXPECT_EQ(n.ended_by, "carol");
    EXPECT_EQ(n.end_reason, "account alice disabled");
    EXPECT_FALSE(n.extension.has_value() && n.state == RequestState::kRevoked);
    const auto& effects = step->transition.effects;
    ASSERT_FALSE(effects.empty());
    const auto* ev = std::get_if<AuditEvent>(&effects.front());
    ASSERT_NE(ev, nullptr);
    EXPECT_EQ(ev->type, n.state == RequestState::kRevoked ? "request.revoked" : "request.cancelled");
    EXPECT_EQ(ev->actor, "carol");
    EXPECT_EQ(ev->details.at("reason"), "account alice disabled");
    EXPECT_EQ(ev->details.at("cause"), "user_disabled");
    const bool revokes = std::any_of(effects.begin(), effects.end(), [](const Effect& e) {
      return std::holds_alternative<RevokeGrant>(e);
    });
    // The credential is taken back through the connector exactly when a grant is revoked.
    EXPECT_EQ(revokes, n.state == RequestState::kRevoked);
    if (n.state == RequestState::kRevoked) {
      EXPECT_EQ(n.review_due, now + n.review_within);
    }
  }
}

// Disabling an approver withdraws their approval wherever approvals are still being collected
// (a pending request, a pending extension) and leaves decided requests alone.
TEST(OnUserDisabled, WithdrawsAnApprovalThatStillCounts) {
  const Timestamp now = kCreated + minutes(15);
  Request pending = InPhase(Phase::kPending);
  pending.approvals = {{"carol", kCreated + minutes(5), "ok"}, {"dave", kCreated + minutes(6), ""}};
  pending.required_approvals = 3;
  auto step = OnUserDisabled(pending, "carol", "root", now);
  ASSERT_TRUE(step.has_value());
  EXPECT_EQ(step->effect, DisableEffect::kApprovalWithdrawn);
  ASSERT_EQ(step->transition.request.approvals.size(), 1u);
  EXPECT_EQ(step->transition.request.approvals[0].approver, "dave");
  EXPECT_EQ(step->transition.request.state, RequestState::kPending);
  ASSERT_EQ(step->transition.effects.size(), 1u);
  const auto& ev = std::get<AuditEvent>(step->transition.effects[0]);
  EXPECT_EQ(ev.type, "request.approval_withdrawn");
  EXPECT_EQ(ev.details.at("approver"), "carol");
  EXPECT_EQ(ev.details.at("extension"), "false");
  EXPECT_EQ(ev.details.at("approvals"), "1");

  Request extending = InPhase(Phase::kActiveExtending);
  extending.extension->approvals = {{"carol", kCreated + minutes(21), ""}};
  step = OnUserDisabled(extending, "carol", "root", now);
  ASSERT_TRUE(step.has_value());
  EXPECT_EQ(step->effect, DisableEffect::kApprovalWithdrawn);
  EXPECT_TRUE(step->transition.request.extension->approvals.empty());
  EXPECT_EQ(step->transition.request.state, RequestState::kActive);
  EXPECT_EQ(std::get<AuditEvent>(step->transition.effects[0]).details.at("extension"), "true");

  // Carol approved these too, but the approval round is over: nothing to withdraw.
  for (Phase p : {Phase::kApproved, Phase::kActive, Phase::kExpired, Phase::kRevoked}) {
    SCOPED_TRACE(ToString(p));
    ASSERT_FALSE(InPhase(p).approvals.empty());
    EXPECT_FALSE(OnUserDisabled(InPhase(p), "carol", "root", now).has_value());
  }
  // A pending request carol has not approved, and a person with nothing to do with it.
  EXPECT_FALSE(OnUserDisabled(InPhase(Phase::kPending), "carol", "root", now).has_value());
  EXPECT_FALSE(OnUserDisabled(pending, "bob", "root", now).has_value());
}

TEST(OnUserDisabled, EffectNamesAreDistinct) {
  EXPECT_EQ(ToString(DisableEffect::kRevoked), "revoked");
  EXPECT_EQ(ToString(DisableEffect::kCancelled), "cancelled");
  EXPECT_EQ(ToString(DisableEffect::kApprovalWithdrawn), "approval_withdrawn");
}

}  // namespace
}  // namespace bg::core
