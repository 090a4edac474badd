#include "core/attestation.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <tuple>

namespace bg::core {
namespace {

AuditEvent Audit(std::string type, std::string_view actor, const Campaign& c,
                 std::map<std::string, std::string> details) {
  details["campaign"] = c.id;
  details["scope"] = std::string(ToString(c.scope));
  return AuditEvent{std::move(type), std::string(actor), RequestId(), std::move(details)};
}

std::vector<std::string> Contacts(const Policy& p) { return p.Expand(p.settings.security_contacts); }

std::vector<std::string> PoolOwners(const Policy& p, const std::string& pool) {
  auto it = p.pool_owners.find(pool);
  if (it != p.pool_owners.end() && !p.Expand(it->second).empty()) return p.Expand(it->second);
  return Contacts(p);
}

std::vector<std::string> RuleOwners(const Policy& p, const Rule& r) {
  const Resource* res = p.FindResource(r.resource);
  if (res != nullptr && !res->owner.empty()) {
    std::vector<std::string> owner = p.Expand({res->owner});
    if (!owner.empty()) return owner;
  }
  return Contacts(p);
}

std::string ItemText(const AttestItem& i) {
  return i.kind == "pool_member" ? fmt::format("{} in pool {}", i.principal, i.subject)
                                 : fmt::format("{} may request {}", i.principal, i.subject);
}

}  // namespace

std::string_view ToString(AttestScope s) { return s == AttestScope::kPools ? "pools" : "eligibility"; }
std::optional<AttestScope> ParseAttestScope(std::string_view s) {
  if (s == "pools") return AttestScope::kPools;
  if (s == "eligibility") return AttestScope::kEligibility;
  return std::nullopt;
}

std::string_view ToString(AttestAnswer a) {
  switch (a) {
    case AttestAnswer::kConfirm: return "confirm";
    case AttestAnswer::kRemove: return "remove";
    case AttestAnswer::kNone: break;
  }
  return "";
}
std::optional<AttestAnswer> ParseAttestAnswer(std::string_view s) {
  if (s == "confirm") return AttestAnswer::kConfirm;
  if (s == "remove") return AttestAnswer::kRemove;
  return std::nullopt;
}

std::string_view ToString(CampaignState s) { return s == CampaignState::kOpen ? "open" : "closed"; }
std::optional<CampaignState> ParseCampaignState(std::string_view s) {
  if (s == "open") return CampaignState::kOpen;
  if (s == "closed") return CampaignState::kClosed;
  return std::nullopt;
}

int Campaign::Unanswered() const {
  return static_cast<int>(std::count_if(items.begin(), items.end(), [](const AttestItem& i) {
    return i.answer == AttestAnswer::kNone;
  }));
}

std::string RuleKey(const Rule& r) {
  return fmt::format("{} {} tier {}", r.resource, fmt::join(r.privileges, ","), r.tier);
}

Result<CampaignTransition> OpenCampaign(const Policy& policy, AttestScope scope, std::string id,
                                        const Actor& by, Seconds due, Timestamp now) {
  if (!by.Has(Role::kAdmin) && !by.Has(Role::kAuditor)) {
    return Error::PermissionDenied("attestation campaigns are opened by admins and auditors");
  }
  if (due < std::chrono::hours(1) || due > std::chrono::hours(24 * 366)) {
    return Error::InvalidArgument("due", "the deadline must be between 1h and 366 days away");
  }
  CampaignTransition t;
  Campaign& c = t.campaign;
  c.id = std::move(id);
  c.scope = scope;
  c.opened_by = by.name;
  c.opened_at = now;
  c.due_at = now + due;
  auto add = [&](std::string kind, std::string subject, std::string principal,
                 std::vector<std::string> owners) {
    AttestItem i;
    i.id = fmt::format("i{}", c.items.size() + 1);
    i.kind = std::move(kind);
    i.subject = std::move(subject);
    i.principal = std::move(principal);
    i.owners = std::move(owners);
    c.items.push_back(std::move(i));
  };
  if (scope == AttestScope::kPools) {
    for (const auto& [pool, members] : policy.pools) {
      for (const std::string& m : members) add("pool_member", pool, m, PoolOwners(policy, pool));
    }
  } else {
    for (const Rule& r : policy.rules) {
      for (const std::string& who : r.requesters) {
        add("eligibility", RuleKey(r), who, RuleOwners(policy, r));
      }
    }
  }
  if (c.items.empty()) {
    return Error::InvalidArgument("scope", fmt::format("the policy has nothing to attest in "
                                                       "scope '{}'",
                                                       ToString(scope)));
  }
  std::vector<std::string> owners;
  for (const AttestItem& i : c.items) owners.insert(owners.end(), i.owners.begin(), i.owners.end());
  std::sort(owners.begin(), owners.end());
  owners.erase(std::unique(owners.begin(), owners.end()), owners.end());
  t.effects.push_back(Audit("attestation.opened", by.name, c,
                            {{"items", std::to_string(c.items.size())},
                             {"due_at", FormatRfc3339(c.due_at)},
                             {"owners", fmt::format("{}", fmt::join(owners, ","))}}));
  t.effects.push_back(Alert{"attestation_opened", RequestId(), owners,
                            fmt::format("attestation campaign {} ({}): please confirm or remove "
                                        "your {} items by {}",
                                        c.id, ToString(scope), c.items.size(),
                                        FormatRfc3339(c.due_at))});
  return t;
}

Result<CampaignTransition> AnswerItem(const Policy& policy, const Campaign& c,
                                      std::string_view item_id, const Actor& by,
                                      AttestAnswer answer, std::string note, Timestamp now) {
  auto it = std::find_if(c.items.begin(), c.items.end(),
                         [&](const AttestItem& i) { return i.id == item_id; });
  if (it == c.items.end()) {
    return Error::NotFound(fmt::format("campaign {} has no item {}", c.id, item_id));
  }
  if (std::find(it->owners.begin(), it->owners.end(), by.name) == it->owners.end()) {
    return Error::PermissionDenied(
        fmt::format("only {} may answer for {}", fmt::join(it->owners, ", "), ItemText(*it)));
  }
  if (c.state != CampaignState::kOpen) {
    return Error::Conflict(fmt::format("campaign {} is closed", c.id));
  }
  if (answer == AttestAnswer::kNone) {
    return Error::InvalidArgument("answer", "must be confirm or remove");
  }
  note = Trim(note);
  if (answer == AttestAnswer::kRemove && note.empty()) {
    return Error::InvalidArgument("note", "say why it should be removed");
  }
  CampaignTransition t{c, {}};
  AttestItem& item = t.campaign.items[static_cast<size_t>(it - c.items.begin())];
  const AttestAnswer before = item.answer;
  item.answer = answer;
  item.answered_by = by.name;
  item.answered_at = now;
  item.note = note;
  item.removed = answer == AttestAnswer::kRemove;
  std::map<std::string, std::string> details = {{"item", item.id},
                                                {"kind", item.kind},
                                                {"subject", item.subject},
                                                {"principal", item.principal},
                                                {"answer", std::string(ToString(answer))},
                                                {"note", note}};
  if (before != AttestAnswer::kNone) details["replaces"] = std::string(ToString(before));
  t.effects.push_back(Audit("attestation.answered", by.name, t.campaign, std::move(details)));
  if (answer == AttestAnswer::kRemove) {
    t.effects.push_back(Alert{"attestation_removed", RequestId(), Contacts(policy),
                              fmt::format("{} removed {} (campaign {}): {}", by.name,
                                          ItemText(item), c.id, note)});
  }
  return t;
}

CampaignTransition CloseIfDue(const Policy& policy, const Campaign& c, Timestamp now) {
  CampaignTransition t{c, {}};
  if (c.state != CampaignState::kOpen || now < c.due_at) return t;
  Campaign& n = t.campaign;
  n.state = CampaignState::kClosed;
  n.closed_at = now;
  const bool remove = policy.settings.attestation_remove_unanswered;
  std::vector<std::string> unanswered;
  int removed = 0;
  for (AttestItem& i : n.items) {
    if (i.answer == AttestAnswer::kNone) {
      unanswered.push_back(ItemText(i));
      if (remove) i.removed = true;
    }
    removed += i.removed ? 1 : 0;
  }
  t.effects.push_back(Audit("attestation.closed", kSystemActor, n,
                            {{"items", std::to_string(n.items.size())},
                             {"unanswered", std::to_string(unanswered.size())},
                             {"removed", std::to_string(removed)},
                             {"unanswered_removed", remove ? "true" : "false"}}));
  if (!unanswered.empty()) {
    t.effects.push_back(Alert{
        "attestation_unanswered", RequestId(), Contacts(policy),
        fmt::format("attestation campaign {} closed with {} unanswered item(s){}: {}", n.id,
                    unanswered.size(), remove ? ", removed" : "", fmt::join(unanswered, "; "))});
  }
  return t;
}

std::vector<Removal> RemovalsOf(const std::vector<Campaign>& campaigns) {
  // The latest answer (or removing close) of each item decides; campaigns are oldest first.
  std::map<std::tuple<std::string, std::string, std::string>, bool> removed;
  for (const Campaign& c : campaigns) {
    for (const AttestItem& i : c.items) {
      if (i.answer == AttestAnswer::kNone && !i.removed) continue;
      removed[{i.kind, i.subject, i.principal}] = i.removed;
    }
  }
  std::vector<Removal> out;
  for (const auto& [key, gone] : removed) {
    if (gone) out.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key)});
  }
  return out;
}

Policy WithoutRemoved(Policy policy, const std::vector<Removal>& removals) {
  for (const Removal& r : removals) {
    auto drop = [&](std::vector<std::string>& v) {
      v.erase(std::remove(v.begin(), v.end(), r.principal), v.end());
    };
    if (r.kind == "pool_member") {
      if (auto it = policy.pools.find(r.subject); it != policy.pools.end()) drop(it->second);
    } else if (r.kind == "eligibility") {
      for (Rule& rule : policy.rules) {
        if (RuleKey(rule) == r.subject) drop(rule.requesters);
      }
    }
  }
  return policy;
}

}  // namespace bg::core
