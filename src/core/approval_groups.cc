#include "core/approval_groups.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>

namespace bg::core {

std::vector<ApprovalGroup> GroupsOf(const Request& r) {
  if (!r.groups.empty()) return r.groups;
  if (r.pool.empty()) return {};
  return {OnePool(r.pool, r.required_approvals)};
}

std::vector<ApprovalGroup> GroupsOf(const Rule& rule) {
  if (!rule.groups.empty()) return rule.groups;
  if (rule.pool.empty()) return {};
  return {OnePool(rule.pool, rule.approvals)};
}

bool EligibleFor(const Policy& policy, const ApprovalGroup& g, std::string_view name,
                 bool assume_escalated) {
  if (policy.InPool(name, g.pool)) return true;
  return (g.escalated || assume_escalated) && !g.escalate_to.empty() &&
         policy.InPool(name, g.escalate_to);
}

bool MayApproveFor(const Policy& policy, const Request& r, std::string_view name) {
  if (name == r.requester) return false;
  for (const ApprovalGroup& g : GroupsOf(r)) {
    if (EligibleFor(policy, g, name)) return true;
  }
  return false;
}

GroupTally TallyGroups(const Policy& policy, const std::vector<ApprovalGroup>& groups,
                       const std::vector<std::string>& people, std::string_view requester,
                       bool assume_escalated) {
  GroupTally tally;
  tally.counted.resize(groups.size());
  std::vector<size_t> seat_group;  // the group of each seat
  for (size_t g = 0; g < groups.size(); ++g) {
    for (int i = 0; i < groups[g].count; ++i) seat_group.push_back(g);
  }
  tally.seats = static_cast<int>(seat_group.size());

  std::vector<std::string> persons;
  for (const std::string& p : people) {
    if (p != requester && std::find(persons.begin(), persons.end(), p) == persons.end()) {
      persons.push_back(p);
    }
  }
  // eligible[p][g]
  std::vector<std::vector<bool>> eligible(persons.size(), std::vector<bool>(groups.size()));
  for (size_t p = 0; p < persons.size(); ++p) {
    for (size_t g = 0; g < groups.size(); ++g) {
      eligible[p][g] = EligibleFor(policy, groups[g], persons[p], assume_escalated);
    }
  }
  // Augmenting paths (Kuhn): each person in turn takes a free seat of a group they may approve
  // for, or one whose holder can move to another seat.
  constexpr size_t kFree = static_cast<size_t>(-1);
  std::vector<size_t> holder(seat_group.size(), kFree);
  std::vector<bool> visited;
  std::function<bool(size_t)> place = [&](size_t p) {
    for (size_t s = 0; s < seat_group.size(); ++s) {
      if (visited[s] || !eligible[p][seat_group[s]]) continue;
      visited[s] = true;
      if (holder[s] == kFree || place(holder[s])) {
        holder[s] = p;
        return true;
      }
    }
    return false;
  };
  for (size_t p = 0; p < persons.size(); ++p) {
    visited.assign(seat_group.size(), false);
    if (place(p)) ++tally.filled;
  }
  for (size_t s = 0; s < seat_group.size(); ++s) {
    if (holder[s] != kFree) tally.counted[seat_group[s]].push_back(persons[holder[s]]);
  }
  return tally;
}

GroupTally TallyApprovals(const Policy& policy, const Request& r, bool for_extension) {
  const std::vector<Approval>& given =
      for_extension && r.extension ? r.extension->approvals : r.approvals;
  std::vector<std::string> people;
  for (const Approval& a : given) people.push_back(a.approver);
  std::vector<ApprovalGroup> groups = GroupsOf(r);
  if (for_extension && r.extension && groups.size() == 1) {
    groups[0].count = r.extension->required_approvals;
  }
  return TallyGroups(policy, groups, people, r.requester);
}

std::vector<std::vector<std::string>> StillMayApprove(const Policy& policy, const Request& r) {
  const bool extension = r.state == RequestState::kActive && r.extension.has_value();
  const std::vector<Approval>& given = extension ? r.extension->approvals : r.approvals;
  std::vector<std::string> people;
  for (const Approval& a : given) people.push_back(a.approver);
  std::vector<ApprovalGroup> groups = GroupsOf(r);
  if (extension && groups.size() == 1) groups[0].count = r.extension->required_approvals;
  const GroupTally now = TallyGroups(policy, groups, people, r.requester);
  // A person who would fill a seat is listed under the groups with an open seat they may
  // approve for; one whose approval fills a seat only by moving someone else (the matching) is
  // listed under the groups they may approve for.
  auto open = [&](size_t g) {
    return g >= now.counted.size() || static_cast<int>(now.counted[g].size()) < groups[g].count;
  };
  std::vector<std::string> principals;
  for (const ApprovalGroup& g : groups) {
    for (const std::string& pool : {g.pool, g.escalated ? g.escalate_to : std::string()}) {
      auto it = policy.pools.find(pool);
      if (it != policy.pools.end()) principals.insert(principals.end(), it->second.begin(), it->second.end());
    }
  }
  std::vector<std::vector<std::string>> out(groups.size());
  for (const std::string& name : policy.Expand(principals)) {
    if (name == r.requester || std::find(people.begin(), people.end(), name) != people.end()) continue;
    std::vector<std::string> with = people;
    with.push_back(name);
    if (TallyGroups(policy, groups, with, r.requester).filled <= now.filled) continue;
    std::vector<size_t> eligible, eligible_open;
    for (size_t g = 0; g < groups.size(); ++g) {
      if (!EligibleFor(policy, groups[g], name)) continue;
      eligible.push_back(g);
      if (open(g)) eligible_open.push_back(g);
    }
    for (size_t g : eligible_open.empty() ? eligible : eligible_open) out[g].push_back(name);
  }
  return out;
}

std::string DescribeTally(const std::vector<ApprovalGroup>& groups, const GroupTally& tally) {
  std::vector<std::string> parts;
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto& who = g < tally.counted.size() ? tally.counted[g] : std::vector<std::string>{};
    std::string part = fmt::format("pool '{}' ({} of {}", groups[g].pool, who.size(),
                                   groups[g].count);
    if (!who.empty()) part += fmt::format(": {}", fmt::join(who, ", "));
    part += ")";
    parts.push_back(std::move(part));
  }
  return fmt::format("{}", fmt::join(parts, ", "));
}

}  // namespace bg::core
