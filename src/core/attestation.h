// Attestation campaigns: the rules, as pure functions (no I/O, no clock).
//
// A campaign asks the owners of what grants access to confirm or remove each item in its scope:
//   - scope "pools": every principal of every pool (as the policy writes it: "bob" or
//     "group:dba"), answered by the pool's owners ([pool_owners], else the security contacts);
//   - scope "eligibility": every requester principal of every rule, answered by the rule's
//     resource owner (`owner` in [[resources]]), else the security contacts.
// An answer "remove" takes the item out of the policy in force at once (WithoutRemoved): the
// pool no longer has that member, the rule no longer that requester, until a later campaign
// confirms it back or the policy file drops it. At the deadline the campaign closes; items
// nobody answered are reported, and with [settings] attestation_remove_unanswered removed too.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/policy.h"
#include "core/request.h"
#include "util/result.h"
#include "util/time.h"

namespace bg::core {

enum class AttestScope { kPools, kEligibility };
std::string_view ToString(AttestScope s);  // "pools", "eligibility"
std::optional<AttestScope> ParseAttestScope(std::string_view s);

enum class AttestAnswer { kNone, kConfirm, kRemove };
std::string_view ToString(AttestAnswer a);  // "", "confirm", "remove"
std::optional<AttestAnswer> ParseAttestAnswer(std::string_view s);  // "confirm" or "remove"

struct AttestItem {
  std::string id;         // "i1", "i2", ... within the campaign
  std::string kind;       // "pool_member" or "eligibility"
  std::string subject;    // the pool, or the rule's key (RuleKey)
  std::string principal;  // as the policy writes it: "bob" or "group:sre"
  std::vector<std::string> owners;  // account names who may answer
  AttestAnswer answer = AttestAnswer::kNone;
  std::string answered_by;
  std::optional<Timestamp> answered_at;
  std::string note;
  bool removed = false;  // in force: removed by its answer, or unanswered at a removing close
};

enum class CampaignState { kOpen, kClosed };
std::string_view ToString(CampaignState s);  // "open", "closed"
std::optional<CampaignState> ParseCampaignState(std::string_view s);

struct Campaign {
  std::string id;
  AttestScope scope = AttestScope::kPools;
  std::string opened_by;
  Timestamp opened_at;
  Timestamp due_at;
  CampaignState state = CampaignState::kOpen;
  std::vector<AttestItem> items;
  int64_t version = 0;  // bumped by the store on every write
  std::optional<Timestamp> closed_at = {};
  int Unanswered() const;
};

struct CampaignTransition {
  Campaign campaign;
  std::vector<Effect> effects;  // audit events (request empty) and alerts
};

// "prod-db dba,owner tier 2": names a rule in items and removals.
std::string RuleKey(const Rule& r);

// Opens a campaign over `scope`, due `due` from now (at least an hour, at most a year). Admins
// and auditors only (PermissionDenied); InvalidArgument (field "scope") when the scope has no
// item, (field "due") for a deadline out of range.
Result<CampaignTransition> OpenCampaign(const Policy& policy, AttestScope scope, std::string id,
                                        const Actor& by, Seconds due, Timestamp now);

// An owner's answer on one item (`note` kept; required for "remove"). PermissionDenied unless
// `by` is one of the item's owners; NotFound for an unknown item; Conflict for a closed
// campaign; answering again replaces the earlier answer (audited as such).
Result<CampaignTransition> AnswerItem(const Policy& policy, const Campaign& c,
                                      std::string_view item_id, const Actor& by,
                                      AttestAnswer answer, std::string note, Timestamp now);

// Past its deadline an open campaign closes: "attestation.closed" with the counts, an alert to
// the security contacts naming the unanswered items, and with attestation_remove_unanswered
// those items removed. Before the deadline, or closed already: unchanged and no effects.
CampaignTransition CloseIfDue(const Policy& policy, const Campaign& c, Timestamp now);

// What the campaigns take out of the policy in force: for each (kind, subject, principal) the
// latest answered campaign's word counts (a confirm after a remove puts it back).
struct Removal {
  std::string kind;
  std::string subject;
  std::string principal;
  bool operator==(const Removal&) const = default;
};
// `campaigns` oldest first.
std::vector<Removal> RemovalsOf(const std::vector<Campaign>& campaigns);
// The policy without those items: the principal out of the pool or the rule's requesters.
Policy WithoutRemoved(Policy policy, const std::vector<Removal>& removals);

}  // namespace bg::core
