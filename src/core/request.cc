// The request state machine. Each function checks its refusals first, in the order a person
// would want to hear them (who you are, what state the request is in, what you sent), then
// builds the new state and the effects. Nothing here reads a clock or does I/O.
#include "core/request.h"

#include "core/approval_groups.h"
#include "core/commands.h"

#include <fmt/format.h>

#include <algorithm>
#include <re2/re2.h>

namespace bg::core {
namespace {

constexpr size_t kMaxTicketLength = 200;


// Characters, not bytes: a reason in any script is measured the same way.
size_t CountCodePoints(std::string_view utf8) {
  return static_cast<size_t>(std::count_if(utf8.begin(), utf8.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string Secs(Seconds d) { return std::to_string(d.count()); }
std::string Bool(bool b) { return b ? "true" : "false"; }

AuditEvent Audit(std::string type, std::string_view actor, const Request& r,
                 std::map<std::string, std::string> details = {}) {
  return AuditEvent{std::move(type), std::string(actor), r.id, std::move(details)};
}

Transition Unchanged(const Request& r) { return Transition{r, {}}; }

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// The rule that decides the terms: the one with the requested tier, else the lowest tier (for an
// emergency request, the lowest tier that allows emergency auto-approval, if any does).
Result<const Rule*> ChooseRule(const Policy& policy, const Actor& actor, const CreateCommand& cmd) {
  std::vector<const Rule*> rules =
      policy.MatchingRules(actor.name, cmd.resource, cmd.privilege, !cmd.drill_id.empty());
  if (rules.empty()) {
    return Error::PermissionDenied(fmt::format("no rule lets {} request '{}' on '{}'", actor.name,
                                               cmd.privilege, cmd.resource));
  }
  if (cmd.tier.has_value()) {
    for (const Rule* rule : rules) {
      if (rule->tier == *cmd.tier) return rule;
    }
    std::vector<int> tiers;
    for (const Rule* rule : rules) tiers.push_back(rule->tier);
    return Error::InvalidArgument(
        "tier", fmt::format("tier {} is not available to you for '{}' on '{}'; available: {}",
                            *cmd.tier, cmd.privilege, cmd.resource, fmt::join(tiers, ", ")));
  }
  if (cmd.emergency) {
    for (const Rule* rule : rules) {
      if (rule->emergency_auto_approve) return rule;
    }
  }
  return rules.front();
}

Status CheckTicket(const PolicySettings& settings, const std::string& ticket) {
  if (ticket.empty())
    return Error::InvalidArgument("ticket", "a ticket or incident id is required");
  if (ticket.size() > kMaxTicketLength) {
    return Error::InvalidArgument(
        "ticket", fmt::format("is too long (at most {} characters)", kMaxTicketLength));
  }
  if (settings.ticket_pattern.empty()) return Ok();
  // RE2: linear in the ticket whatever the pattern (a backtracking engine is not: one request
  // with a long ticket against ^(a+)+$ would hold the writer for hours).
  re2::RE2 re(settings.ticket_pattern, re2::RE2::Quiet);
  if (!re.ok()) {
    return Error::Internal(fmt::format("the policy's ticket_pattern cannot be used: {}", re.error()));
  }
  const bool matches = re2::RE2::FullMatch(ticket, re);
  if (!matches) {
    return Error::InvalidArgument("ticket",
                                  fmt::format("'{}' does not match the required pattern {}", ticket,
                                              settings.ticket_pattern));
  }
  return Ok();
}

// The inputs that the chosen rule bounds: duration, reason, ticket, emergency.
Status CheckCreateTerms(const Policy& policy, const Rule& rule, const CreateCommand& cmd,
                        const std::string& reason, const std::string& ticket) {
  if (cmd.duration <= Seconds(0)) return Error::InvalidArgument("duration", "must be positive");
  if (cmd.duration > rule.max_duration) {
    return Error::InvalidArgument(
        "duration",
        fmt::format("is longer than the maximum of {} for '{}' on '{}' at tier {}",
                    FormatDuration(rule.max_duration), cmd.privilege, cmd.resource, rule.tier));
  }
  if (reason.empty()) return Error::InvalidArgument("reason", "a reason is required");
  if (ticket.empty() && !cmd.drill_id.empty()) {
    return Error::InvalidArgument("ticket", "a ticket or incident id is required");
  }
  size_t min = static_cast<size_t>(std::max(0, policy.settings.reason_min_length));
  if (cmd.drill_id.empty() && CountCodePoints(reason) < min) {
    return Error::InvalidArgument("reason", fmt::format("must be at least {} characters", min));
  }
  if (cmd.drill_id.empty()) BG_TRY(CheckTicket(policy.settings, ticket));
  if (!cmd.drill_id.empty() && cmd.emergency) {
    return Error::InvalidArgument("emergency", "a drill is not an emergency request");
  }
  if (cmd.emergency && !rule.emergency_auto_approve) {
    return Error::InvalidArgument(
        "emergency", fmt::format("emergency access is not allowed for '{}' on '{}' at tier {}",
                                 cmd.privilege, cmd.resource, rule.tier));
  }
  return Ok();
}


// The rule's groups with the extras of every risk signal present (tier 2 and above) added to
// the first group, capped at the number of its pool's members other than the requester but
// never below its count.
std::vector<ApprovalGroup> RequiredGroups(const Policy& policy, const Rule& rule,
                                          const std::string& requester, const RiskInputs& risk,
                                          std::vector<std::string>* signals) {
  std::vector<ApprovalGroup> groups = GroupsOf(rule);
  if (rule.tier < 2 || groups.empty()) return groups;
  int extra = 0;
  if (OffHours(policy.settings, risk)) {
    signals->push_back("off_hours");
    extra += policy.risk.off_hours_extra_approvals;
  }
  if (risk.new_source) {
    signals->push_back("new_source");
    extra += policy.risk.new_source_extra_approvals;
  }
  if (policy.risk.burst_threshold > 0 && risk.recent_requests + 1 >= policy.risk.burst_threshold) {
    signals->push_back("burst");
    extra += policy.risk.burst_extra_approvals;
  }
  ApprovalGroup& first = groups.front();
  int others = 0;
  auto pool = policy.pools.find(first.pool);
  if (pool != policy.pools.end()) {
    for (const std::string& person : policy.Expand(pool->second)) {
      if (person != requester) ++others;
    }
  }
  int cap = std::max(first.count, others);
  first.count = std::min(first.count + extra, cap);
  return groups;
}

int TotalCount(const std::vector<ApprovalGroup>& groups) {
  int total = 0;
  for (const ApprovalGroup& g : groups) total += g.count;
  return total;
}

// "dba-approvers:1,managers:1" (with "+escalate_to@seconds" for a group that escalates).
std::string GroupsDetail(const std::vector<ApprovalGroup>& groups) {
  std::vector<std::string> parts;
  for (const ApprovalGroup& g : groups) {
    std::string part = fmt::format("{}:{}", g.pool, g.count);
    if (!g.escalate_to.empty()) {
      part += fmt::format("+{}@{}", g.escalate_to, g.escalate_after.count());
    }
    parts.push_back(std::move(part));
  }
  return fmt::format("{}", fmt::join(parts, ","));
}

std::string Join(const std::vector<std::string>& v) { return fmt::format("{}", fmt::join(v, ",")); }

// The expiry timer, and the warning before it when that is still ahead.
void ScheduleExpiryTimers(const Policy& policy, const Request& r, Timestamp now,
                          std::vector<Effect>* effects) {
  effects->push_back(ScheduleTimer{TimerKind::kExpiry, r.id, *r.ends_at});
  Seconds warn = policy.settings.warn_before_expiry;
  if (warn > Seconds(0) && *r.ends_at - warn > now) {
    effects->push_back(ScheduleTimer{TimerKind::kExpiryWarning, r.id, *r.ends_at - warn});
  }
}

// The pending extension is granted: the window grows and the credential is re-issued for it.
void ApplyExtension(const Policy& policy, Request* r, std::string_view actor, Timestamp now,
                    std::vector<Effect>* effects) {
  Seconds added = r->extension->duration;
  r->duration += added;
  r->ends_at = r->ends_at.value_or(now) + added;
  r->warned = false;
  effects->push_back(Audit("request.extended", actor, *r,
                           {{"added", Secs(added)},
                            {"duration", Secs(r->duration)},
                            {"ends_at", FormatRfc3339(*r->ends_at)},
                            {"reason", r->extension->reason},
                            {"approvals", std::to_string(r->extension->approvals.size())}}));
  effects->push_back(IssueGrant{r->id});
  ScheduleExpiryTimers(policy, *r, now, effects);
  r->extension.reset();
}

// Who may approve or deny: not the requester, an approver, in the request's pool as the policy
// says now.
Status CheckApprover(const Policy& policy, const Request& r, const Actor& actor,
                     std::string_view verb) {
  if (actor.name == r.requester) {
    return Error::PermissionDenied(fmt::format("you cannot {} your own request", verb));
  }
  if (!actor.Has(Role::kApprover)) {
    return Error::PermissionDenied(fmt::format("you need the approver role to {} requests", verb));
  }
  if (!MayApproveFor(policy, r, actor.name)) {
    std::vector<ApprovalGroup> groups = GroupsOf(r);
    if (groups.size() == 1 && !groups[0].escalated) {
      return Error::PermissionDenied(
          fmt::format("you are not in pool '{}', which approves this request", r.pool));
    }
    std::vector<std::string> pools;
    for (const ApprovalGroup& g : groups) {
      pools.push_back(fmt::format("'{}'", g.pool));
      if (g.escalated) pools.push_back(fmt::format("'{}'", g.escalate_to));
    }
    return Error::PermissionDenied(fmt::format(
        "you are in none of the pools that approve this request ({})", fmt::join(pools, ", ")));
  }
  return Ok();
}

// How the actor's identity was confirmed for a decision CheckMfa let through, for its audit
// event: "totp" or "passkey" presented with this very action, else "session" (the token's own
// TOTP, no older than the rule's mfa_max_age); when it was; the rule's limit.
void AddMfaDetails(const Request& r, const Actor& actor, std::map<std::string, std::string>* d) {
  (*d)["mfa"] = actor.passkey_presented    ? "passkey"
                : actor.mfa_code_presented ? "totp"
                                           : "session";
  if (actor.mfa_verified_at) (*d)["mfa_verified_at"] = FormatRfc3339(*actor.mfa_verified_at);
  (*d)["mfa_max_age"] = Secs(r.mfa_max_age);
}

Status CheckMfa(const Request& r, const Actor& actor, Timestamp now) {
  if (r.approver_passkey) {
    if (actor.passkey_presented) return Ok();
    return Error(ErrorCode::kFailedPrecondition,
                 "this rule needs the decision made with a passkey (approver_mfa = \"passkey\")",
                 "passkey");
  }
  if (actor.mfa_code_presented || actor.passkey_presented) return Ok();
  bool fresh = r.mfa_max_age > Seconds(0) && actor.mfa_verified_at.has_value() &&
               now - *actor.mfa_verified_at <= r.mfa_max_age;
  if (fresh) return Ok();
  return Error(ErrorCode::kFailedPrecondition, "a fresh TOTP code is required", "totp");
}

// Approve and Deny act on the main round of a pending request or on the pending extension of an
// active grant (the command table allows nothing else).
Result<bool> ForExtension(const Request& r, Command c) {
  BG_TRY(CheckState(c, r));
  return r.state == RequestState::kActive;
}

Command TimerCommand(TimerKind kind) {
  switch (kind) {
    case TimerKind::kApprovalTimeout: return Command::kApprovalTimeout;
    case TimerKind::kExpiryWarning: return Command::kExpiryWarning;
    case TimerKind::kExpiry: return Command::kExpire;
    case TimerKind::kExtensionTimeout: return Command::kExtensionTimeout;
    case TimerKind::kEscalation: return Command::kEscalate;
  }
  return Command::kExpire;
}

bool ApprovedBy(const std::vector<Approval>& approvals, std::string_view name) {
  return std::any_of(approvals.begin(), approvals.end(),
                     [&](const Approval& a) { return a.approver == name; });
}

bool DeniedBy(const std::vector<Denial>& denials, std::string_view name) {
  return std::any_of(denials.begin(), denials.end(),
                     [&](const Denial& d) { return d.approver == name; });
}

}  // namespace

std::string Trim(std::string_view s) {
  const char* ws = " \t\r\n\f\v";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return std::string(s.substr(b, e - b + 1));
}

Result<Transition> CreateRequest(const Policy& policy, const Actor& requester,
                                 const CreateCommand& cmd, const RiskInputs& risk, RequestId id,
                                 Timestamp now) {
  const bool drill = !cmd.drill_id.empty();
  if (!drill && !requester.Has(Role::kRequester)) {
    return Error::PermissionDenied("you need the requester role to request access");
  }
  if (cmd.resource.empty()) return Error::InvalidArgument("resource", "a resource is required");
  const Resource* resource = policy.FindResource(cmd.resource);
  if (resource == nullptr) {
    return Error::InvalidArgument("resource", fmt::format("unknown resource '{}'", cmd.resource));
  }
  if (drill) BG_TRY(CheckDrillRunner(policy, requester, *resource));
  if (!Contains(resource->privileges, cmd.privilege)) {
    return Error::InvalidArgument(
        "privilege", fmt::format("resource '{}' has no privilege '{}'; it has: {}", resource->name,
                                 cmd.privilege, fmt::join(resource->privileges, ", ")));
  }
  BG_ASSIGN_OR_RETURN(const Rule* rule, ChooseRule(policy, requester, cmd));
  std::string reason = Trim(cmd.reason);
  std::string ticket = Trim(cmd.ticket);
  BG_TRY(CheckCreateTerms(policy, *rule, cmd, reason, ticket));

  Transition t;
  Request& r = t.request;
  r.id = std::move(id);
  r.requester = requester.name;
  r.resource = resource->name;
  r.privilege = cmd.privilege;
  r.connector = resource->connector;
  r.tier = rule->tier;
  r.emergency = cmd.emergency;
  r.reason = reason;
  r.ticket = ticket;
  r.source_address = requester.source_address;
  r.duration = cmd.duration;
  r.groups = RequiredGroups(policy, *rule, requester.name, risk, &r.risk_signals);
  r.pool = r.groups.empty() ? rule->pool : r.groups.front().pool;
  r.required_approvals = r.groups.empty() ? rule->approvals : TotalCount(r.groups);
  r.max_duration = rule->max_duration;
  r.approval_window = rule->approval_window;
  r.mfa_max_age = rule->mfa_max_age;
  r.deny_ends_request = rule->deny_ends_request;
  r.review_within = rule->review_within;
  r.reviewers = rule->reviewers;
  r.recording = rule->recording;
  r.approver_passkey = rule->approver_passkey;
  if (drill) {
    r.drill_id = cmd.drill_id;
    r.drill_target = resource->drill;
  }
  r.created_at = now;
  r.updated_at = now;
  r.approval_deadline = now + rule->approval_window;

  std::vector<Effect>& fx = t.effects;
  std::map<std::string, std::string> created_details = {{"resource", r.resource},
                      {"privilege", r.privilege},
                      {"tier", std::to_string(r.tier)},
                      {"duration", Secs(r.duration)},
                      {"reason", r.reason},
                      {"ticket", r.ticket},
                      {"source_address", r.source_address},
                      {"emergency", Bool(r.emergency)},
                      {"pool", r.pool},
                      {"required_approvals", std::to_string(r.required_approvals)},
                      {"risk_signals", Join(r.risk_signals)}};
  if (drill) created_details["drill"] = r.drill_id;
  const bool plain_groups =
      r.groups.size() <= 1 &&
      std::all_of(r.groups.begin(), r.groups.end(),
                  [](const ApprovalGroup& g) { return g.escalate_to.empty(); });
  if (!plain_groups) created_details["approval_groups"] = GroupsDetail(r.groups);
  if (requester.mfa_verified_at) {
    created_details["mfa_verified_at"] = FormatRfc3339(*requester.mfa_verified_at);
  }
  fx.push_back(Audit("request.created", requester.name, r, std::move(created_details)));

  if (cmd.emergency) {
    // CheckCreateTerms allowed it, so the rule auto-approves emergencies.
    r.state = RequestState::kApproved;
    r.auto_approved = true;
    r.needs_review = true;
    r.approval_deadline = now;
    std::vector<std::string> contacts = policy.Expand(policy.settings.security_contacts);
    fx.push_back(Audit("request.auto_approved", requester.name, r, {{"alerted", Join(contacts)}}));
    fx.push_back(Alert{
        "emergency_access", r.id, std::move(contacts),
        fmt::format("{} used emergency access: '{}' on '{}' for {} ({}): {}", r.requester,
                    r.privilege, r.resource, FormatDuration(r.duration), r.ticket, r.reason)});
    fx.push_back(IssueGrant{r.id});
  } else if (rule->tier == 1) {
    r.state = RequestState::kApproved;
    r.self_approved = true;
    r.needs_review = true;
    r.approval_deadline = now;
    fx.push_back(Audit("request.self_approved", requester.name, r));
    fx.push_back(IssueGrant{r.id});
  } else {
    r.state = RequestState::kPending;
    fx.push_back(ScheduleTimer{TimerKind::kApprovalTimeout, r.id, r.approval_deadline});
    std::vector<Seconds> escalations;  // one timer for each distinct moment
    for (const ApprovalGroup& g : r.groups) {
      if (g.escalate_to.empty() || g.escalate_after <= Seconds(0)) continue;
      if (std::find(escalations.begin(), escalations.end(), g.escalate_after) !=
          escalations.end()) {
        continue;
      }
      escalations.push_back(g.escalate_after);
      fx.push_back(ScheduleTimer{TimerKind::kEscalation, r.id, now + g.escalate_after});
    }
  }
  if (risk.able_approvers.has_value()) BG_TRY(CheckApprovable(policy, r, *risk.able_approvers));
  return t;
}

Status CheckDrillRunner(const Policy& policy, const Actor& actor, const Resource& resource) {
  // Who may ask is settled first: whether a resource has a drill target is not told to others.
  const bool runner = actor.Has(Role::kAdmin) || actor.Has(Role::kAuditor) ||
                      (!resource.owner.empty() && policy.Matches(actor.name, resource.owner));
  if (!runner) {
    return Error::PermissionDenied(fmt::format(
        "drills of '{}' are run by admins, auditors and the resource's owner", resource.name));
  }
  if (!resource.drill) {
    return Error(ErrorCode::kFailedPrecondition,
                 fmt::format("resource '{}' has no drill target (drill = {{...}} in the policy)",
                             resource.name),
                 "resource");
  }
  return Ok();
}

Status CheckApprovable(const Policy& policy, const Request& r,
                       const std::vector<std::string>& able_approvers) {
  if (r.state != RequestState::kPending) return Ok();
  const std::vector<ApprovalGroup> groups = GroupsOf(r);
  // Those who may approve after an escalation count: the escalation will let them.
  const GroupTally tally =
      TallyGroups(policy, groups, able_approvers, r.requester, /*assume_escalated=*/true);
  if (tally.complete()) return Ok();
  std::string needs = fmt::format("{} approvals", r.required_approvals);
  if (!r.risk_signals.empty()) {
    needs += fmt::format(" (with the risk signals {})", fmt::join(r.risk_signals, ", "));
  }
  if (groups.size() > 1) {
    return Error::FailedPrecondition(fmt::format(
        "this request cannot be approved: it needs {} from its groups, a person counting for one "
        "group only, and the approvers who can approve it now (enabled and enrolled, other than "
        "you) fill only {}: {}; ask an admin to enable or enrol approvers",
        needs, tally.filled, DescribeTally(groups, tally)));
  }
  std::vector<std::string> able;
  for (const std::string& name : able_approvers) {
    if (name != r.requester && !groups.empty() && EligibleFor(policy, groups[0], name, true) &&
        !Contains(able, name)) {
      able.push_back(name);
    }
  }
  std::sort(able.begin(), able.end());
  std::string who = able.empty() ? std::string("none")
                                 : fmt::format("only {} ({})", able.size(), fmt::join(able, ", "));
  return Error::FailedPrecondition(fmt::format(
      "this request cannot be approved: it needs {} from pool '{}', and {} of its "
      "members can approve it now (approvers who are enabled and enrolled, other than you); ask "
      "an admin to enable or enrol approvers",
      needs, r.pool, who));
}

AuditEvent RequestRefused(const Request& would_be, std::string_view reason,
                          std::string_view message) {
  return AuditEvent{"request.refused",
                    would_be.requester,
                    RequestId(),
                    {{"reason", std::string(reason)},
                     {"message", std::string(message)},
                     {"resource", would_be.resource},
                     {"privilege", would_be.privilege},
                     {"tier", std::to_string(would_be.tier)},
                     {"ticket", would_be.ticket},
                     {"source_address", would_be.source_address},
                     {"pool", would_be.pool},
                     {"required_approvals", std::to_string(would_be.required_approvals)},
                     {"risk_signals", Join(would_be.risk_signals)}}};
}

Result<Transition> Approve(const Policy& policy, const Request& r, const Actor& approver,
                           std::string comment, Timestamp now) {
  BG_ASSIGN_OR_RETURN(bool for_extension, ForExtension(r, Command::kApprove));
  BG_TRY(CheckApprover(policy, r, approver, "approve"));
  const std::vector<Approval>& so_far = for_extension ? r.extension->approvals : r.approvals;
  // A repeated approval (a retry, a double click) changes nothing and is not counted again.
  if (ApprovedBy(so_far, approver.name)) return Unchanged(r);
  if (!for_extension && DeniedBy(r.denials, approver.name)) {
    return Error::Conflict("you already denied this request");
  }
  Timestamp deadline = for_extension ? r.extension->deadline : r.approval_deadline;
  if (now > deadline) return Error::FailedPrecondition("the approval window has closed");
  BG_TRY(CheckMfa(r, approver, now));

  Transition t{r, {}};
  Request& n = t.request;
  n.updated_at = now;
  std::vector<Approval>& approvals = for_extension ? n.extension->approvals : n.approvals;
  approvals.push_back(Approval{approver.name, now, comment});
  int required = for_extension ? n.extension->required_approvals : n.required_approvals;
  std::map<std::string, std::string> details = {{"for", for_extension ? "extension" : "request"},
                                                 {"comment", std::move(comment)},
                                                 {"approvals", std::to_string(approvals.size())},
                                                 {"required_approvals", std::to_string(required)}};
  AddMfaDetails(n, approver, &details);
  t.effects.push_back(Audit("approval.recorded", approver.name, n, std::move(details)));
  if (!TallyApprovals(policy, n, for_extension).complete()) return t;
  if (for_extension) {
    ApplyExtension(policy, &n, approver.name, now, &t.effects);
  } else {
    n.state = RequestState::kApproved;
    t.effects.push_back(Audit("request.approved", approver.name, n,
                              {{"approvals", std::to_string(approvals.size())}}));
    t.effects.push_back(IssueGrant{n.id});
  }
  return t;
}

Result<Transition> Deny(const Policy& policy, const Request& r, const Actor& approver,
                        std::string reason, Timestamp now) {
  BG_ASSIGN_OR_RETURN(bool for_extension, ForExtension(r, Command::kDeny));
  BG_TRY(CheckApprover(policy, r, approver, "deny"));
  reason = Trim(reason);
  if (reason.empty()) return Error::InvalidArgument("reason", "a reason is required to deny");
  if (!for_extension && DeniedBy(r.denials, approver.name)) return Unchanged(r);
  BG_TRY(CheckMfa(r, approver, now));

  Transition t{r, {}};
  Request& n = t.request;
  n.updated_at = now;
  if (for_extension) {
    t.effects.push_back(Audit("extension.denied", approver.name, n,
                              {{"reason", reason}, {"duration", Secs(n.extension->duration)}}));
    n.extension.reset();
    return t;
  }
  n.denials.push_back(Denial{approver.name, now, reason});
  if (!n.deny_ends_request) {
    t.effects.push_back(Audit("denial.recorded", approver.name, n,
                              {{"reason", reason}, {"denials", std::to_string(n.denials.size())}}));
    return t;
  }
  n.state = RequestState::kDenied;
  n.ended_by = approver.name;
  n.end_reason = reason;
  t.effects.push_back(Audit("request.denied", approver.name, n, {{"reason", reason}}));
  return t;
}

Result<Transition> Cancel(const Request& r, const Actor& actor, Timestamp now) {
  if (actor.name != r.requester && !actor.Has(Role::kAdmin)) {
    return Error::PermissionDenied("only the requester or an admin can cancel a request");
  }
  BG_TRY(CheckState(Command::kCancel, r));
  Transition t{r, {}};
  Request& n = t.request;
  n.updated_at = now;
  n.state = RequestState::kCancelled;
  n.ended_by = actor.name;
  t.effects.push_back(Audit("request.cancelled", actor.name, n));
  return t;
}

Result<Transition> Revoke(const Policy& policy, const Request& r, const Actor& actor,
                          std::string reason, Timestamp now) {
  bool allowed = actor.name == r.requester || actor.Has(Role::kAdmin) ||
                 MayApproveFor(policy, r, actor.name);
  if (!allowed) {
    return Error::PermissionDenied(
        "only the requester, an admin or a member of the approving pool can revoke this grant");
  }
  BG_TRY(CheckState(Command::kRevoke, r));
  reason = Trim(reason);
  if (reason.empty()) return Error::InvalidArgument("reason", "a reason is required to revoke");

  Transition t{r, {}};
  Request& n = t.request;
  n.updated_at = now;
  n.state = RequestState::kRevoked;
  n.ended_by = actor.name;
  n.end_reason = reason;
  n.review_due = now + n.review_within;
  n.extension.reset();
  t.effects.push_back(Audit("request.revoked", actor.name, n,
                            {{"reason", reason}, {"review_due", FormatRfc3339(*n.review_due)}}));
  t.effects.push_back(RevokeGrant{n.id});
  return t;
}

std::string_view ToString(DisableEffect e) {
  switch (e) {
    case DisableEffect::kRevoked: return "revoked";
    case DisableEffect::kCancelled: return "cancelled";
    case DisableEffect::kApprovalWithdrawn: return "approval_withdrawn";
  }
  return "unknown";
}

std::optional<DisableStep> OnUserDisabled(const Request& r, std::string_view user,
                                          std::string_view actor, Timestamp now) {
  const std::string reason = fmt::format("account {} disabled", user);
  const Phase phase = PhaseOf(r);
  Transition t{r, {}};
  Request& n = t.request;
  n.updated_at = now;
  if (r.requester == user) {
    if (VerdictFor(Command::kRevoke, phase) == Verdict::kAllowed) {
      n.state = RequestState::kRevoked;
      n.ended_by = std::string(actor);
      n.end_reason = reason;
      n.review_due = now + n.review_within;
      n.extension.reset();
      t.effects.push_back(Audit("request.revoked", actor, n,
                                {{"reason", reason},
                                 {"cause", "user_disabled"},
                                 {"review_due", FormatRfc3339(*n.review_due)}}));
      t.effects.push_back(RevokeGrant{n.id});
      return DisableStep{DisableEffect::kRevoked, std::move(t)};
    }
    if (VerdictFor(Command::kCancel, phase) == Verdict::kAllowed) {
      n.state = RequestState::kCancelled;
      n.ended_by = std::string(actor);
      n.end_reason = reason;
      t.effects.push_back(
          Audit("request.cancelled", actor, n, {{"reason", reason}, {"cause", "user_disabled"}}));
      return DisableStep{DisableEffect::kCancelled, std::move(t)};
    }
    return std::nullopt;
  }
  if (VerdictFor(Command::kApprove, phase) != Verdict::kAllowed) return std::nullopt;
  const bool extension = phase == Phase::kActiveExtending;
  std::vector<Approval>& approvals = extension ? n.extension->approvals : n.approvals;
  auto by_user = [&](const Approval& a) { return a.approver == user; };
  if (std::none_of(approvals.begin(), approvals.end(), by_user)) return std::nullopt;
  approvals.erase(std::remove_if(approvals.begin(), approvals.end(), by_user), approvals.end());
  t.effects.push_back(Audit("request.approval_withdrawn", actor, n,
                            {{"approver", std::string(user)},
                             {"reason", reason},
                             {"extension", Bool(extension)},
                             {"approvals", std::to_string(approvals.size())}}));
  return DisableStep{DisableEffect::kApprovalWithdrawn, std::move(t)};
}

Result<Transition> RequestExtension(const Policy& policy, const Request& r, const Actor& actor,
                                    Seconds duration, std::string reason, Timestamp now) {
  if (actor.name != r.requester) {
    return Error::PermissionDenied("only the requester can extend their grant");
  }
  BG_TRY(CheckState(Command::kExtend, r));
  if (duration <= Seconds(0)) return Error::InvalidArgument("duration", "must be positive");
  Seconds left = r.max_duration - r.duration;
  if (left <= Seconds(0)) {
    return Error::InvalidArgument(
        "duration", fmt::format("the grant already has its maximum of {} and cannot be extended",
                                FormatDuration(r.max_duration)));
  }
  if (duration > left) {
    return Error::InvalidArgument(
        "duration", fmt::format("at most {} more can be added (the maximum is {})",
                                FormatDuration(left), FormatDuration(r.max_duration)));
  }
  reason = Trim(reason);
  if (reason.empty()) return Error::InvalidArgument("reason", "a reason is required to extend");

  Transition t{r, {}};
  Request& n = t.request;
  n.updated_at = now;
  n.extension = Extension{duration, reason, now, now + n.approval_window, n.required_approvals, {}};
  t.effects.push_back(Audit("extension.requested", actor.name, n,
                            {{"duration", Secs(duration)},
                             {"reason", reason},
                             {"deadline", FormatRfc3339(n.extension->deadline)},
                             {"required_approvals", std::to_string(n.required_approvals)}}));
  if (n.tier == 1) {
    ApplyExtension(policy, &n, actor.name, now, &t.effects);
  } else {
    t.effects.push_back(ScheduleTimer{TimerKind::kExtensionTimeout, n.id, n.extension->deadline});
  }
  return t;
}

Result<Transition> Activate(const Policy& policy, const Request& r, Timestamp now) {
  BG_TRY(CheckState(Command::kActivate, r));
  Transition t{r, {}};
  Request& n = t.request;
  n.updated_at = now;
  n.state = RequestState::kActive;
  n.starts_at = now;
  n.ends_at = now + n.duration;
  n.warned = false;
  n.last_error.clear();
  t.effects.push_back(
      Audit("request.activated", kSystemActor, n,
            {{"starts_at", FormatRfc3339(*n.starts_at)}, {"ends_at", FormatRfc3339(*n.ends_at)}}));
  ScheduleExpiryTimers(policy, n, now, &t.effects);
  return t;
}

Result<Transition> GrantFailed(const Request& r, std::string error, Timestamp now) {
  BG_TRY(CheckState(Command::kGrantFailed, r));
  Transition t{r, {}};
  Request& n = t.request;
  n.updated_at = now;
  n.last_error = error;
  t.effects.push_back(Audit("grant.failed", kSystemActor, n, {{"error", std::move(error)}}));
  return t;
}

Result<Transition> OnTimer(const Policy& policy, const Request& r, TimerKind kind, Timestamp now) {
  bool stale = false;
  BG_TRY(CheckState(TimerCommand(kind), r, &stale));
  if (stale) return Unchanged(r);
  Transition t{r, {}};
  Request& n = t.request;
  const bool active = r.ends_at.has_value();  // the table admits only active grants below
  switch (kind) {
    case TimerKind::kApprovalTimeout:
      if (now < r.approval_deadline) return Unchanged(r);
      n.state = RequestState::kTimedOut;
      t.effects.push_back(Audit("request.timed_out", kSystemActor, n,
                                {{"approvals", std::to_string(n.approvals.size())},
                                 {"required_approvals", std::to_string(n.required_approvals)}}));
      break;
    case TimerKind::kExpiry:
      if (!active || now < *r.ends_at) return Unchanged(r);
      n.state = RequestState::kExpired;
      n.review_due = now + n.review_within;
      n.extension.reset();
      t.effects.push_back(Audit("request.expired", kSystemActor, n,
                                {{"review_due", FormatRfc3339(*n.review_due)}}));
      t.effects.push_back(RevokeGrant{n.id});
      break;
    case TimerKind::kExpiryWarning:
      if (!active || r.warned || now < *r.ends_at - policy.settings.warn_before_expiry) {
        return Unchanged(r);
      }
      n.warned = true;
      t.effects.push_back(Audit("request.expiry_warning", kSystemActor, n,
                                {{"ends_at", FormatRfc3339(*n.ends_at)}}));
      t.effects.push_back(Alert{"expiry_warning",
                                n.id,
                                {n.requester},
                                fmt::format("your access '{}' on '{}' ends at {}", n.privilege,
                                            n.resource, FormatRfc3339(*n.ends_at))});
      break;
    case TimerKind::kExtensionTimeout:
      if (!active || now < r.extension->deadline) return Unchanged(r);
      t.effects.push_back(Audit("extension.timed_out", kSystemActor, n,
                                {{"duration", Secs(n.extension->duration)}}));
      n.extension.reset();
      break;
    case TimerKind::kEscalation: {
      bool escalated = false;
      for (ApprovalGroup& g : n.groups) {
        if (g.escalated || g.escalate_to.empty() || now < r.created_at + g.escalate_after) {
          continue;
        }
        g.escalated = true;
        escalated = true;
        std::vector<std::string> recipients;
        auto pool = policy.pools.find(g.escalate_to);
        if (pool != policy.pools.end()) {
          for (const std::string& who : policy.Expand(pool->second)) {
            if (who != n.requester) recipients.push_back(who);
          }
        }
        t.effects.push_back(Audit("request.escalated", kSystemActor, n,
                                  {{"pool", g.pool},
                                   {"escalate_to", g.escalate_to},
                                   {"after", Secs(g.escalate_after)},
                                   {"alerted", Join(recipients)}}));
        t.effects.push_back(Alert{
            "request_escalated", n.id, std::move(recipients),
            fmt::format("{} asks for '{}' on '{}' ({}): nobody of pool '{}' answered within {}; "
                        "you may approve it now",
                        n.requester, n.privilege, n.resource, n.ticket, g.pool,
                        FormatDuration(g.escalate_after))});
      }
      if (!escalated) return Unchanged(r);
      break;
    }
  }
  n.updated_at = now;
  return t;
}

bool OffHours(const PolicySettings& settings, const RiskInputs& risk) {
  if (!settings.working_hours.has_value()) return false;
  const WorkingHours& wh = *settings.working_hours;
  bool working_day = std::find(wh.days.begin(), wh.days.end(), risk.local_weekday) != wh.days.end();
  return !working_day || risk.local_minute < wh.start_minute || risk.local_minute >= wh.end_minute;
}

}  // namespace bg::core
