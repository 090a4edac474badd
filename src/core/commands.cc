#include "core/commands.h"

#include <fmt/format.h>

namespace bg::core {
namespace {

constexpr Verdict A = Verdict::kAllowed;
constexpr Verdict R = Verdict::kRefused;
constexpr Verdict I = Verdict::kIgnored;

// Rows follow kAllCommands, columns kAllPhases:
//   pending approved active active+ext expired revoked denied cancelled timed_out
constexpr Verdict kTable[kAllCommands.size()][kAllPhases.size()] = {
    /* approve           */ {A, R, R, A, R, R, R, R, R},
    /* deny              */ {A, R, R, A, R, R, R, R, R},
    /* cancel            */ {A, R, R, R, R, R, R, R, R},
    /* revoke            */ {R, A, A, A, R, R, R, R, R},
    /* extend            */ {R, R, A, R, R, R, R, R, R},
    /* activate          */ {R, A, R, R, R, R, R, R, R},
    /* grant_failed      */ {R, A, A, A, R, R, R, R, R},
    /* approval_timeout  */ {A, I, I, I, I, I, I, I, I},
    /* expire            */ {I, I, A, A, I, I, I, I, I},
    /* expiry_warning    */ {I, I, A, A, I, I, I, I, I},
    /* extension_timeout */ {I, I, I, A, I, I, I, I, I},
    /* escalate          */ {A, I, I, I, I, I, I, I, I},
};

}  // namespace

std::string_view ToString(Command c) {
  switch (c) {
    case Command::kApprove: return "approve";
    case Command::kDeny: return "deny";
    case Command::kCancel: return "cancel";
    case Command::kRevoke: return "revoke";
    case Command::kExtend: return "extend";
    case Command::kActivate: return "activate";
    case Command::kGrantFailed: return "grant_failed";
    case Command::kApprovalTimeout: return "approval_timeout";
    case Command::kExpire: return "expire";
    case Command::kExpiryWarning: return "expiry_warning";
    case Command::kExtensionTimeout: return "extension_timeout";
    case Command::kEscalate: return "escalate";
  }
  return "unknown";
}

std::string_view ToString(Phase p) {
  switch (p) {
    case Phase::kPending: return "pending";
    case Phase::kApproved: return "approved";
    case Phase::kActive: return "active";
    case Phase::kActiveExtending: return "active+extension";
    case Phase::kExpired: return "expired";
    case Phase::kRevoked: return "revoked";
    case Phase::kDenied: return "denied";
    case Phase::kCancelled: return "cancelled";
    case Phase::kTimedOut: return "timed_out";
  }
  return "unknown";
}

Phase PhaseOf(const Request& r) {
  switch (r.state) {
    case RequestState::kPending: return Phase::kPending;
    case RequestState::kApproved: return Phase::kApproved;
    case RequestState::kActive:
      return r.extension.has_value() ? Phase::kActiveExtending : Phase::kActive;
    case RequestState::kExpired: return Phase::kExpired;
    case RequestState::kRevoked: return Phase::kRevoked;
    case RequestState::kDenied: return Phase::kDenied;
    case RequestState::kCancelled: return Phase::kCancelled;
    case RequestState::kTimedOut: return Phase::kTimedOut;
  }
  return Phase::kPending;
}

Verdict VerdictFor(Command c, Phase p) {
  return kTable[static_cast<size_t>(c)][static_cast<size_t>(p)];
}

Error StateRefusal(Command c, const Request& r) {
  const std::string_view state = ToString(r.state);
  switch (c) {
    case Command::kApprove:
    case Command::kDeny:
      return Error::FailedPrecondition(fmt::format(
          "the request is {}; only a pending request or a pending extension can be {}", state,
          c == Command::kApprove ? "approved" : "denied"));
    case Command::kCancel:
      return Error::FailedPrecondition(
          fmt::format("only a pending request can be cancelled; this one is {}", state));
    case Command::kRevoke:
      if (r.state == RequestState::kRevoked) {
        return Error::FailedPrecondition("the request is already revoked");
      }
      return Error::FailedPrecondition(fmt::format(
          "only an approved or active request can be revoked; this one is {}", state));
    case Command::kExtend:
      if (PhaseOf(r) == Phase::kActiveExtending) {
        return Error::Conflict("an extension of this grant is already waiting for approval");
      }
      return Error::FailedPrecondition(
          fmt::format("only an active grant can be extended; this one is {}", state));
    case Command::kActivate:
      return Error::FailedPrecondition(
          fmt::format("only an approved request can be activated; this one is {}", state));
    case Command::kGrantFailed:
      return Error::FailedPrecondition(fmt::format(
          "a grant failure applies to an approved or active request; this one is {}", state));
    case Command::kApprovalTimeout:
    case Command::kExpire:
    case Command::kExpiryWarning:
    case Command::kExtensionTimeout:
    case Command::kEscalate:
      break;
  }
  return Error::FailedPrecondition(
      fmt::format("'{}' does not apply to a {} request", ToString(c), state));
}

Status CheckState(Command c, const Request& r, bool* ignored) {
  switch (VerdictFor(c, PhaseOf(r))) {
    case Verdict::kAllowed:
      if (ignored != nullptr) *ignored = false;
      return Ok();
    case Verdict::kRefused:
      return StateRefusal(c, r);
    case Verdict::kIgnored:
      if (ignored == nullptr) return StateRefusal(c, r);
      *ignored = true;
      return Ok();
  }
  return StateRefusal(c, r);
}

std::string_view ToString(JobKind k) { return k == JobKind::kGrant ? "grant" : "revoke"; }

std::optional<JobKind> ParseJobKind(std::string_view s) {
  if (s == "grant") return JobKind::kGrant;
  if (s == "revoke") return JobKind::kRevoke;
  return std::nullopt;
}

bool ShouldCallConnector(JobKind kind, const Request& r) {
  if (kind == JobKind::kRevoke) return true;
  return r.state == RequestState::kApproved || r.state == RequestState::kActive;
}

Result<JobDecision> OnJobOutcome(const Policy& policy, const Request* current, JobKind kind,
                                 const JobOutcome& outcome, int attempts, Timestamp now) {
  JobDecision d;
  using K = JobOutcome::Kind;
  switch (outcome.kind) {
    case K::kNoRequest:
      // Nothing left to act on; the entry records the attempt, and the job is dropped.
      d.audit_outcome = "error";
      return d;
    case K::kSkipped:
      d.audit_outcome = "skipped";
      return d;
    case K::kOk:
      d.audit_outcome = "ok";
      // A re-issue for an extended window changes nothing; a first issue starts the window.
      if (kind == JobKind::kGrant && current != nullptr &&
          current->state == RequestState::kApproved) {
        BG_ASSIGN_OR_RETURN(Transition t, Activate(policy, *current, now));
        d.transition = std::move(t);
      }
      return d;
    case K::kFailed:
      break;
  }
  d.audit_outcome = "error";
  if (current == nullptr) return d;
  d.done = false;
  if (kind == JobKind::kGrant && current->state == RequestState::kApproved) {
    BG_ASSIGN_OR_RETURN(Transition t, GrantFailed(*current, outcome.error, now));
    d.transition = std::move(t);
  }
  d.alert_revocation_failing = kind == JobKind::kRevoke && attempts + 1 == kRevocationAlertAttempts;
  return d;
}

}  // namespace bg::core
