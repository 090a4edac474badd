// ToString/Parse pairs for the request workflow's enums, Actor::Has and CanView.
#include <algorithm>
#include <array>
#include <utility>

#include "core/request.h"

#include "core/approval_groups.h"

namespace bg::core {
namespace {

constexpr std::array<std::pair<RequestState, std::string_view>, 8> kStates = {{
    {RequestState::kPending, "pending"},
    {RequestState::kApproved, "approved"},
    {RequestState::kActive, "active"},
    {RequestState::kExpired, "expired"},
    {RequestState::kRevoked, "revoked"},
    {RequestState::kDenied, "denied"},
    {RequestState::kCancelled, "cancelled"},
    {RequestState::kTimedOut, "timed_out"},
}};

constexpr std::array<std::pair<Role, std::string_view>, 4> kRoles = {{
    {Role::kRequester, "requester"},
    {Role::kApprover, "approver"},
    {Role::kAuditor, "auditor"},
    {Role::kAdmin, "admin"},
}};

constexpr std::array<std::pair<TimerKind, std::string_view>, 5> kTimerKinds = {{
    {TimerKind::kApprovalTimeout, "approval_timeout"},
    {TimerKind::kExpiryWarning, "expiry_warning"},
    {TimerKind::kExpiry, "expiry"},
    {TimerKind::kExtensionTimeout, "extension_timeout"},
    {TimerKind::kEscalation, "escalation"},
}};

template <typename E, size_t N>
std::string_view NameOf(const std::array<std::pair<E, std::string_view>, N>& table, E value) {
  for (const auto& [e, name] : table) {
    if (e == value) return name;
  }
  return "unknown";
}

template <typename E, size_t N>
std::optional<E> ValueOf(const std::array<std::pair<E, std::string_view>, N>& table,
                         std::string_view name) {
  for (const auto& [e, n] : table) {
    if (n == name) return e;
  }
  return std::nullopt;
}

}  // namespace

std::string_view ToString(RequestState s) { return NameOf(kStates, s); }
std::optional<RequestState> ParseRequestState(std::string_view s) { return ValueOf(kStates, s); }

bool IsTerminal(RequestState s) {
  switch (s) {
    case RequestState::kPending:
    case RequestState::kApproved:
    case RequestState::kActive:
      return false;
    case RequestState::kExpired:
    case RequestState::kRevoked:
    case RequestState::kDenied:
    case RequestState::kCancelled:
    case RequestState::kTimedOut:
      return true;
  }
  return false;
}

std::string_view ToString(Role r) { return NameOf(kRoles, r); }
std::optional<Role> ParseRole(std::string_view s) { return ValueOf(kRoles, s); }

std::string_view ToString(TimerKind k) { return NameOf(kTimerKinds, k); }
std::optional<TimerKind> ParseTimerKind(std::string_view s) { return ValueOf(kTimerKinds, s); }

bool Actor::Has(Role r) const { return std::find(roles.begin(), roles.end(), r) != roles.end(); }

bool CanView(const Policy& policy, const Request& r, const Actor& actor) {
  // A recording credential sees its own grant and nothing else.
  if (actor.recording_grant) return *actor.recording_grant == r.id && actor.name == r.requester;
  if (actor.Has(Role::kAuditor) || actor.Has(Role::kAdmin)) return true;
  if (!actor.name.empty() && actor.name == r.requester) return true;
  return actor.Has(Role::kApprover) && MayApproveFor(policy, r, actor.name);
}

}  // namespace bg::core
