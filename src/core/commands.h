// The request workflow's command x state table, and what a connector's answer means.
//
// Every command that acts on an existing request, and for each phase of a request whether it is
// allowed, refused with a documented error, or ignored (a stale timer: the request is left as
// it is). The transition functions of request.h consult this table for their state check, so
// the rules read in one place and a test can try every command in every phase.
//
// OnJobOutcome decides what a connector's answer to an outbox job means for the request
// (activate, record the failure and retry, give up, or nothing) and how it is audited. Pure: the
// shell calls the connector and applies the decision.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "core/request.h"
#include "util/result.h"
#include "util/time.h"

namespace bg::core {

enum class Command {
  kApprove,           // an approver's approval (of the request, or of its pending extension)
  kDeny,              // an approver's denial
  kCancel,            // the requester withdraws a pending request
  kRevoke,            // the grant ends early
  kExtend,            // the requester asks for more time
  kActivate,          // the connector issued the credential
  kGrantFailed,       // the connector could not issue it
  kApprovalTimeout,   // timer: the approval window closed
  kExpire,            // timer: the grant's window ended
  kExpiryWarning,     // timer: the warning before the end
  kExtensionTimeout,  // timer: the extension's approval window closed
  kEscalate,          // timer: nobody answered; a group's escalate_to pool may approve too
};
inline constexpr std::array kAllCommands = {
    Command::kApprove,         Command::kDeny,   Command::kCancel,
    Command::kRevoke,          Command::kExtend, Command::kActivate,
    Command::kGrantFailed,     Command::kApprovalTimeout, Command::kExpire,
    Command::kExpiryWarning,   Command::kExtensionTimeout, Command::kEscalate};
std::string_view ToString(Command c);  // "approve", ..., "extension_timeout"

// Where a request stands for the table: its state, with an active grant split by whether an
// extension waits for approval.
enum class Phase {
  kPending,
  kApproved,
  kActive,
  kActiveExtending,
  kExpired,
  kRevoked,
  kDenied,
  kCancelled,
  kTimedOut,
};
inline constexpr std::array kAllPhases = {
    Phase::kPending, Phase::kApproved, Phase::kActive, Phase::kActiveExtending, Phase::kExpired,
    Phase::kRevoked, Phase::kDenied,   Phase::kCancelled, Phase::kTimedOut};
std::string_view ToString(Phase p);  // "pending", ..., "active+extension", ...
Phase PhaseOf(const Request& r);

enum class Verdict {
  kAllowed,  // the transition function goes on to its other checks
  kRefused,  // the command fails with StateRefusal(c, r)
  kIgnored,  // a timer that no longer applies: the request is returned unchanged, no effects
};
Verdict VerdictFor(Command c, Phase p);

// The documented error of a command refused in the request's phase (FailedPrecondition, or
// Conflict for a second extension while one waits).
Error StateRefusal(Command c, const Request& r);

// Ok when the table allows `c` in the request's phase; the refusal otherwise. For an ignored
// command returns Ok and sets *ignored (which must then be non-null).
Status CheckState(Command c, const Request& r, bool* ignored = nullptr);

// ---- connector outcomes -------------------------------------------------------------------

enum class JobKind { kGrant, kRevoke };
std::string_view ToString(JobKind k);  // "grant", "revoke"
std::optional<JobKind> ParseJobKind(std::string_view s);

// Whether the shell calls the connector for a job on request `r`: a grant only while the
// request is approved or active (a grant whose request has since ended is skipped, not issued);
// a revocation always (revoking twice is harmless; missing one is not).
bool ShouldCallConnector(JobKind kind, const Request& r);

// What came back from the connector, or why it was not asked.
struct JobOutcome {
  enum class Kind {
    kOk,       // the connector did it
    kFailed,   // the connector (or its absence) failed: `error` says why
    kSkipped,  // not called: ShouldCallConnector said no
    kNoRequest,  // the request no longer exists
  };
  Kind kind = Kind::kOk;
  std::string error;
};

// After this many failed revocation attempts the security contacts are alerted (once).
inline constexpr int kRevocationAlertAttempts = 5;

struct JobDecision {
  std::optional<Transition> transition;  // to apply in the same transaction (activate / failed)
  std::string_view audit_outcome;        // "ok", "error" or "skipped" in the connector.* event
  bool done = true;                      // delete the job; false: retry later with backoff
  bool alert_revocation_failing = false;
};

// `current` is the request as stored now (null when it no longer exists); `attempts` counts the
// attempts before this one.
Result<JobDecision> OnJobOutcome(const Policy& policy, const Request* current, JobKind kind,
                                 const JobOutcome& outcome, int attempts, Timestamp now);

}  // namespace bg::core
