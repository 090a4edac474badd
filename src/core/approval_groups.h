// Approvals from several groups: who may approve a request, and whether the approvals given so
// far complete it.
//
// A rule needs `count` approvals from each of its groups (core/policy.h ApprovalGroup). A person
// counts for one group only, and for whichever group lets the request complete: the approvers
// are matched to the groups' seats (a maximum bipartite matching), so the order of the list and
// the order of the approvals never decide. After a group has escalated, the members of its
// `escalate_to` pool may approve too, and count toward that group. Pool membership is read from
// the policy as it is now, as for a single pool.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/policy.h"
#include "core/request.h"

namespace bg::core {

// The request's groups: its own, or (a request stored before groups existed) one group of its
// pool needing all its approvals.
std::vector<ApprovalGroup> GroupsOf(const Request& r);
// A rule's groups: its own, or the one group of a `pool` + `approvals = N` rule (none on tier 1
// rules without a pool).
std::vector<ApprovalGroup> GroupsOf(const Rule& rule);

// Whether `name` may approve for `g` now. `assume_escalated`: as if the group had escalated
// (whether a request can ever be approved counts those who may approve later).
bool EligibleFor(const Policy& policy, const ApprovalGroup& g, std::string_view name,
                 bool assume_escalated = false);
// Whether `name` may approve for any of the request's groups now (never its requester).
bool MayApproveFor(const Policy& policy, const Request& r, std::string_view name);

struct GroupTally {
  std::vector<std::vector<std::string>> counted;  // per group, the people counted toward it
  int seats = 0;                                  // approvals needed, all groups together
  int filled = 0;                                 // how many of them `people` fill
  bool complete() const { return filled >= seats; }
};

// Matches `people` (duplicates and the requester ignored) to the seats of `groups`.
GroupTally TallyGroups(const Policy& policy, const std::vector<ApprovalGroup>& groups,
                       const std::vector<std::string>& people, std::string_view requester,
                       bool assume_escalated = false);

// The same for the approvals of the request's main round, or of its pending extension.
GroupTally TallyApprovals(const Policy& policy, const Request& r, bool for_extension);

// Per group of the request's current round (its pending extension's, when there is one): who may
// still approve toward it now — members of its pool (and of its escalate_to pool once escalated)
// who have not approved, are not the requester, and whose approval would fill a seat. Empty for
// a group whose seats are filled. Sorted names. The policy decides membership; whether an account
// is enabled and enrolled is the shell's to add.
std::vector<std::vector<std::string>> StillMayApprove(const Policy& policy, const Request& r);

// "pool 'a' (1 of 2: carol), pool 'b' (0 of 1)": what each group still needs, for messages.
std::string DescribeTally(const std::vector<ApprovalGroup>& groups, const GroupTally& tally);

}  // namespace bg::core
