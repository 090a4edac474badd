// The request workflow: states, the people who act, and the pure transition functions.
//
// Every function takes the current state, the policy, the command and `now` and returns the new
// state plus the effects the shell must apply in the same store transaction (audit events,
// timers, connector jobs, alerts). Nothing here does I/O or reads a clock. A refusal is an
// Error whose field names the offending input (`duration`, `ticket`, `totp`, ...).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/policy.h"
#include "util/ids.h"
#include "util/result.h"
#include "util/time.h"

namespace bg::core {

enum class RequestState { kPending, kApproved, kActive, kExpired, kRevoked, kDenied, kCancelled, kTimedOut };
std::string_view ToString(RequestState s);  // "pending", "approved", ..., "timed_out"
std::optional<RequestState> ParseRequestState(std::string_view s);
bool IsTerminal(RequestState s);  // expired, revoked, denied, cancelled, timed_out

enum class Role { kRequester, kApprover, kAuditor, kAdmin };
std::string_view ToString(Role r);  // "requester", "approver", "auditor", "admin"
std::optional<Role> ParseRole(std::string_view s);

// The person acting, as the API layer authenticated them.
struct Actor {
  std::string name;
  std::vector<Role> roles;
  std::optional<Timestamp> mfa_verified_at;  // last successful TOTP of this actor's token
  bool mfa_code_presented = false;  // a TOTP code was verified with this very action
  std::string source_address;
  // Set when the caller holds a recording credential (not their own token): it may only
  // record sessions of this grant and read it; the API refuses everything else.
  std::optional<RequestId> recording_grant;
  // The stored hash of the bearer token that authenticated this actor (empty when none): what
  // a step-up code is verified for.
  std::string token_hash;
  bool passkey_presented = false;  // a passkey assertion was verified with this very action
  bool Has(Role r) const;
};

struct Approval {
  std::string approver;
  Timestamp at;
  std::string comment;
};

struct Denial {
  std::string approver;
  Timestamp at;
  std::string reason;
};

// A pending extension of an active grant: its own approval round.
struct Extension {
  Seconds duration{0};
  std::string reason;
  Timestamp requested_at;
  Timestamp deadline;  // the approval window for the extension
  int required_approvals = 0;
  std::vector<Approval> approvals;
};

struct Request {
  RequestId id;
  std::string requester;
  std::string resource;
  std::string privilege;
  std::string connector;  // from the resource, at creation
  int tier = 1;
  bool emergency = false;
  std::string reason;
  std::string ticket;
  std::string source_address;
  Seconds duration{0};  // granted length of the window; grows with approved extensions

  // Copied from the matching rule at creation, so a policy reload does not change the terms of
  // a request in flight (pool membership is read from the current policy at approval time).
  std::string pool;            // the first group's pool
  int required_approvals = 0;  // M plus risk extras: the total over all groups
  // The rule's groups (the risk extras added to the first); empty on a request stored before
  // groups existed, which is one group of `pool` (GroupsOf in core/approval_groups.h).
  std::vector<ApprovalGroup> groups;
  std::vector<std::string> risk_signals;  // "off_hours", "new_source", "burst"
  Seconds max_duration{0};
  Seconds approval_window{0};
  Seconds mfa_max_age{0};
  bool approver_passkey = false;  // the rule's approver_mfa = "passkey"
  bool deny_ends_request = true;
  Seconds review_within{0};
  int reviewers = 1;
  Recording recording = Recording::kBestEffort;

  RequestState state = RequestState::kPending;
  Timestamp created_at;
  Timestamp updated_at;
  Timestamp approval_deadline;
  std::optional<Timestamp> starts_at;  // set on activation
  std::optional<Timestamp> ends_at;
  std::vector<Approval> approvals;
  std::vector<Denial> denials;
  std::optional<Extension> extension;
  bool self_approved = false;
  bool auto_approved = false;  // emergency auto-approval
  bool needs_review = false;   // post-facto review required
  std::optional<Timestamp> review_due;  // set when the grant ends
  bool warned = false;         // the pre-expiry warning was emitted
  std::string ended_by;        // who revoked/cancelled/denied
  std::string end_reason;
  std::string last_error;      // the last connector failure, shown to requester and approvers
  // A drill's request (CreateCommand::drill_id): its id, and the target its grant reaches (the
  // resource's drill target, copied at creation). Connectors issue a drill grant for this
  // target only, and the API hands its credential to nobody: the drill uses it.
  std::string drill_id;
  std::optional<DrillTarget> drill_target;
  int64_t version = 0;         // bumped by the store on every write
};

// ---- Effects ------------------------------------------------------------------------------

// One audit log entry. `type` is e.g. "request.created", "request.approved". Details are plain
// strings (times RFC 3339, durations as seconds); the audit module turns them into canonical JSON.
struct AuditEvent {
  std::string type;
  std::string actor;
  RequestId request;
  std::map<std::string, std::string> details;
};

// The actor named in audit events for what timers and connectors cause.
inline constexpr std::string_view kSystemActor = "system";

enum class TimerKind { kApprovalTimeout, kExpiryWarning, kExpiry, kExtensionTimeout, kEscalation };
std::string_view ToString(TimerKind k);
std::optional<TimerKind> ParseTimerKind(std::string_view s);

// A durable timer. Timers are never cancelled: a stale one is a no-op when it fires.
struct ScheduleTimer {
  TimerKind kind;
  RequestId request;
  Timestamp at;
};

// Ask the request's connector to issue (or, after an extension, re-issue for the new window)
// the credential. On success the shell applies Activate (or nothing, for a re-issue).
struct IssueGrant {
  RequestId request;
};

// Ask the connector to revoke; stays queued until confirmed.
struct RevokeGrant {
  RequestId request;
};

// An alert to people (security contacts on emergency use; the requester before expiry).
struct Alert {
  std::string kind;  // "emergency_access", "expiry_warning", "request_escalated"
  RequestId request;
  std::vector<std::string> recipients;  // account names, groups expanded
  std::string message;
};

using Effect = std::variant<AuditEvent, ScheduleTimer, IssueGrant, RevokeGrant, Alert>;

struct Transition {
  Request request;
  std::vector<Effect> effects;
};

// Free text as the workflow keeps it: ASCII whitespace trimmed from both ends.
std::string Trim(std::string_view s);

// ---- Commands -----------------------------------------------------------------------------

struct CreateCommand {
  std::string resource;
  std::string privilege;
  Seconds duration{0};
  std::string reason;
  std::string ticket;
  std::optional<int> tier;
  bool emergency = false;
  // Set by a drill (service/drills.h): the request is a drill of the resource's drill target.
  // It is exempt from the ticket pattern and the reason minimum, takes the lowest-tier rule for
  // the resource and privilege whoever its requesters are, and its grant reaches only the
  // drill target (Request::drill_target).
  std::string drill_id;
};

// Who may run a drill of `resource`: admins, auditors and the resource's owner; PermissionDenied
// for anyone else. Then FailedPrecondition (field "resource") when it has no drill target.
Status CheckDrillRunner(const Policy& policy, const Actor& actor, const Resource& resource);

// Facts about the requester the shell looks up before creating a request.
struct RiskInputs {
  bool new_source = false;   // the source address was never used by this requester
  int recent_requests = 0;   // this requester's requests within risk.burst_window, before this
  int local_weekday = 1;     // 0 = Sunday, in settings.timezone
  int local_minute = 600;    // minutes since local midnight, in settings.timezone
  // The accounts that can approve anything right now, as the shell knows them: the approver
  // role, not disabled, TOTP enrolled. CreateRequest keeps those in the rule's pool other than
  // the requester and refuses a request that needs more approvals than they can give
  // (CheckApprovable). Unset: not checked.
  std::optional<std::vector<std::string>> able_approvers;
};

// Whether the local weekday and minute of `risk` fall outside settings.working_hours (never,
// when the policy has none).
bool OffHours(const PolicySettings& settings, const RiskInputs& risk);

Result<Transition> CreateRequest(const Policy& policy, const Actor& requester,
                                 const CreateCommand& cmd, const RiskInputs& risk, RequestId id,
                                 Timestamp now);
// Ok when the people in `able_approvers` (see RiskInputs) who are in `r`'s pool and are not its
// requester can give `r.required_approvals`; a request that needs no approval (self-approved,
// emergency) always is. Otherwise FailedPrecondition saying that the request cannot be
// approved, how many approvals it needs (the rule's and the risk signals') and who could give
// them, so it is refused at once instead of waiting for its approval window to close.
Status CheckApprovable(const Policy& policy, const Request& r,
                       const std::vector<std::string>& able_approvers);
// The audit event of a request refused before it was stored: "request.refused" by its
// requester, naming no request id, with the request's terms, `reason` (a short code such as
// "unapprovable") and `message`.
AuditEvent RequestRefused(const Request& would_be, std::string_view reason,
                          std::string_view message);
// Counts toward the pending request, or toward the pending extension of an active grant.
Result<Transition> Approve(const Policy& policy, const Request& r, const Actor& approver,
                           std::string comment, Timestamp now);
Result<Transition> Deny(const Policy& policy, const Request& r, const Actor& approver,
                        std::string reason, Timestamp now);
Result<Transition> Cancel(const Request& r, const Actor& actor, Timestamp now);
Result<Transition> Revoke(const Policy& policy, const Request& r, const Actor& actor,
                          std::string reason, Timestamp now);
Result<Transition> RequestExtension(const Policy& policy, const Request& r, const Actor& actor,
                                    Seconds duration, std::string reason, Timestamp now);
// The connector issued the credential: approved -> active, window starts now.
Result<Transition> Activate(const Policy& policy, const Request& r, Timestamp now);
// The connector failed: the request stays approved, the error is recorded.
Result<Transition> GrantFailed(const Request& r, std::string error, Timestamp now);
// A timer fired. A stale timer yields the request unchanged and no effects.
Result<Transition> OnTimer(const Policy& policy, const Request& r, TimerKind kind, Timestamp now);

// What disabling a person's account does to one request. Their own approved or active grant
// is revoked (request.revoked, with the reason, and the connector revocation queued), their own
// pending request cancelled (request.cancelled, with the reason): whichever of revoke and
// cancel the command x state table (commands.h) allows in the request's phase. Their approval
// of another person's request or extension that still waits for approvals (the phases where the
// table allows approve) is withdrawn (request.approval_withdrawn {approver, reason, extension}).
// nullopt: the request is not theirs and does not wait on their approval, or it has ended.
// `actor` is who disables the account (named in the events and as ended_by).
enum class DisableEffect { kRevoked, kCancelled, kApprovalWithdrawn };
std::string_view ToString(DisableEffect e);  // "revoked", "cancelled", "approval_withdrawn"
struct DisableStep {
  DisableEffect effect;
  Transition transition;
};
std::optional<DisableStep> OnUserDisabled(const Request& r, std::string_view user,
                                          std::string_view actor, Timestamp now);

// Who sees what: the requester their own, approvers what their pools may approve, auditors and
// admins everything.
bool CanView(const Policy& policy, const Request& r, const Actor& actor);

}  // namespace bg::core
