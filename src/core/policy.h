// The policy model: who may request which privilege on which resource, on which tier, approved
// by whom. Parsed from TOML (ParsePolicy) and evaluated by pure functions; no I/O, no clock.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"
#include "util/time.h"

namespace bg::core {

// Days are 0 = Sunday .. 6 = Saturday; minutes since local midnight, end exclusive.
struct WorkingHours {
  std::vector<int> days;
  int start_minute = 0;
  int end_minute = 24 * 60;
};

struct PolicySettings {
  std::string timezone = "UTC";
  std::optional<WorkingHours> working_hours;
  int reason_min_length = 10;
  std::string ticket_pattern;  // RE2 syntax, matched whole; empty = any non-empty ticket
  Seconds warn_before_expiry = std::chrono::minutes(5);
  std::vector<std::string> security_contacts;  // principals: "sam" or "group:security"
  // Refuse new non-emergency requests of a person with an inappropriate verdict on a review of
  // theirs that is open past its deadline (core/review.h); emergency requests stay possible.
  bool block_on_overdue_inappropriate = false;
  // An attestation campaign that closes removes the items nobody answered (core/attestation.h).
  bool attestation_remove_unanswered = false;
};

// A campaign opened by itself every `every` (the last one of its scope opened that long ago).
struct AttestationSchedule {
  std::string scope;  // "pools" or "eligibility"
  Seconds every{0};
  Seconds due = std::chrono::hours(24 * 14);
  int line = 0;
};

struct RiskSettings {
  int off_hours_extra_approvals = 0;
  int new_source_extra_approvals = 0;
  Seconds burst_window = std::chrono::hours(1);
  int burst_threshold = 0;  // 0 = off; the n-th request within the window adds burst_extra
  int burst_extra_approvals = 0;
};

// Where a drill of a resource uses its grant (`drill = {...}` on the resource): the connector
// issues a drill grant for this target only and the drill proves it works. Which keys apply
// depends on the connector's kind, checked when the server loads the policy: ssh_ca needs
// principal, user and host (port 22, known_hosts optional); postgres_role needs database; exec
// needs check (a program and its arguments).
struct DrillTarget {
  std::string principal;    // ssh_ca: the certificate's only principal
  std::string user;         // ssh_ca: the account logged into
  std::string host;         // ssh_ca
  int port = 22;            // ssh_ca
  std::string known_hosts;  // ssh_ca: empty = accept the host key on first use, report it
  std::string database;     // postgres_role
  std::vector<std::string> check;  // exec: the program proving the path, with its arguments
  bool operator==(const DrillTarget&) const = default;
};

struct Resource {
  std::string name;
  std::string connector;
  std::string owner;
  std::vector<std::string> privileges;
  std::optional<DrillTarget> drill = std::nullopt;
};

// A drill run by itself ([[drills]]): `resource` with `privilege` whenever the cron schedule
// (core/cron.h) matches a minute in settings.timezone.
struct DrillSchedule {
  std::string resource;
  std::string privilege;
  std::string schedule;  // as written: "30 3 * * mon"
  int line = 0;
};

// Whether a grant's sessions may run when the recorder cannot reach the server: kRequired (the
// session starts only once the recorder reached the server and its first chunk was committed;
// later outages spool) or kBestEffort (it starts anyway and records into the local spool).
enum class Recording { kBestEffort, kRequired };
std::string_view ToString(Recording r);  // "best_effort", "required"
std::optional<Recording> ParseRecording(std::string_view s);

// One group whose approvals a tier-2 or tier-3 rule needs: `count` people of `pool`. A person
// counts for one group only (core/approval_groups.h). When `escalate_after` has passed and the
// request still waits, the members of the pool `escalate_to` may approve too, counting toward
// this group.
struct ApprovalGroup {
  std::string pool;
  int count = 1;
  std::string escalate_to;    // a pool name, or empty
  Seconds escalate_after{0};  // 0: never escalates
  bool escalated = false;     // on a request: the escalation has happened
};
// The one group of a `pool = P` + `approvals = N` rule (no escalation).
inline ApprovalGroup OnePool(std::string pool, int count) {
  ApprovalGroup g;
  g.pool = std::move(pool);
  g.count = count;
  return g;
}

struct Rule {
  std::string resource;
  std::vector<std::string> privileges;
  std::vector<std::string> requesters;  // principals
  int tier = 1;
  // Tier >= 2: every group must approve (`pool` + `approvals = N` is one group; `approvals =
  // [{pool, count}, ...]` several). `pool` and `approvals` then name the first group's pool and
  // the total of all groups (what messages and the request's summary show).
  std::vector<ApprovalGroup> groups;
  std::string pool;       // required for tier >= 2
  int approvals = 0;      // M; 0 on tier 1
  Seconds max_duration = std::chrono::hours(1);
  Seconds approval_window = std::chrono::minutes(30);
  Seconds mfa_max_age = std::chrono::minutes(10);  // 0 = a code with every approval
  // approver_mfa = "passkey": every approval and denial carries a passkey assertion made for it
  // (a password, a TOTP code or a fresh login is not enough). "any" (the default): a TOTP code,
  // a passkey, or a login within mfa_max_age.
  bool approver_passkey = false;
  bool deny_ends_request = true;
  bool emergency_auto_approve = false;
  Seconds review_within = std::chrono::hours(72);  // default: DefaultReviewWithin(tier)
  int reviewers = 1;
  Recording recording = Recording::kBestEffort;
  int line = 0;  // where the rule starts in the policy file, for messages
};

// How soon a rule's grants are reviewed when the rule does not say (review_within): the higher
// the tier, the sooner; 72h for tier 1, 24h for tier 2, 12h for tier 3.
Seconds DefaultReviewWithin(int tier);

struct Policy {
  int version = 1;
  PolicySettings settings;
  RiskSettings risk;
  std::map<std::string, std::vector<std::string>> groups;  // group -> members (names)
  std::map<std::string, std::vector<std::string>> pools;   // pool -> principals
  std::vector<Resource> resources;
  std::vector<Rule> rules;
  // Who answers an attestation campaign for each pool ([pool_owners]; default: the security
  // contacts), and the scheduled campaigns ([[attestations]]).
  std::map<std::string, std::vector<std::string>> pool_owners = {};
  std::vector<AttestationSchedule> attestations = {};
  std::vector<DrillSchedule> drills = {};

  // True if `user` is `principal` ("alice") or a member of it ("group:sre").
  bool Matches(std::string_view user, std::string_view principal) const;
  bool MatchesAny(std::string_view user, const std::vector<std::string>& principals) const;
  bool InPool(std::string_view user, std::string_view pool) const;
  // Every account name the principals name, groups expanded, sorted, unique.
  std::vector<std::string> Expand(const std::vector<std::string>& principals) const;
  const Resource* FindResource(std::string_view name) const;
  // Rules whose resource, privilege and requesters match, lowest tier first. With
  // `any_requester` (a drill), the requesters are not looked at.
  std::vector<const Rule*> MatchingRules(std::string_view requester, std::string_view resource,
                                         std::string_view privilege,
                                         bool any_requester = false) const;
};

struct PolicyProblem {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
  std::string message;  // a plain sentence on one line (quoted text escaped: TerminalSafe)
  std::string ToString() const;  // "file:line:column: message"
};

struct PolicyParseResult {
  std::optional<Policy> policy;         // set only if problems is empty
  std::vector<PolicyProblem> problems;  // every problem found, in file order
};

// Parses and validates policy TOML text. `path` only names the file in problems.
// Unknown keys are problems (a typo must not silently weaken a rule).
PolicyParseResult ParsePolicy(std::string_view text, std::string_view path);

}  // namespace bg::core
