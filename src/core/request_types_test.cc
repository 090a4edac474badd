#include <gtest/gtest.h>

#include <set>

#include "core/request.h"

namespace bg::core {
namespace {

TEST(RequestTypesTest, RequestStateRoundTrips) {
  const RequestState all[] = {RequestState::kPending,   RequestState::kApproved,
                              RequestState::kActive,    RequestState::kExpired,
                              RequestState::kRevoked,   RequestState::kDenied,
                              RequestState::kCancelled, RequestState::kTimedOut};
  std::set<std::string_view> names;
  for (RequestState s : all) {
    std::string_view name = ToString(s);
    EXPECT_NE(name, "unknown");
    names.insert(name);
    ASSERT_TRUE(ParseRequestState(name).has_value()) << name;
    EXPECT_EQ(*ParseRequestState(name), s);
  }
  EXPECT_EQ(names.size(), std::size(all));
  EXPECT_EQ(ToString(RequestState::kTimedOut), "timed_out");
  EXPECT_FALSE(ParseRequestState("Pending").has_value());
  EXPECT_FALSE(ParseRequestState("").has_value());
}

TEST(RequestTypesTest, TerminalStatesAreTheEndedOnes) {
  EXPECT_FALSE(IsTerminal(RequestState::kPending));
  EXPECT_FALSE(IsTerminal(RequestState::kApproved));
  EXPECT_FALSE(IsTerminal(RequestState::kActive));
  EXPECT_TRUE(IsTerminal(RequestState::kExpired));
  EXPECT_TRUE(IsTerminal(RequestState::kRevoked));
  EXPECT_TRUE(IsTerminal(RequestState::kDenied));
  EXPECT_TRUE(IsTerminal(RequestState::kCancelled));
  EXPECT_TRUE(IsTerminal(RequestState::kTimedOut));
}

TEST(RequestTypesTest, RoleRoundTrips) {
  const Role all[] = {Role::kRequester, Role::kApprover, Role::kAuditor, Role::kAdmin};
  const std::string_view expected[] = {"requester", "approver", "auditor", "admin"};
  for (size_t i = 0; i < std::size(all); ++i) {
    EXPECT_EQ(ToString(all[i]), expected[i]);
    ASSERT_TRUE(ParseRole(expected[i]).has_value());
    EXPECT_EQ(*ParseRole(expected[i]), all[i]);
  }
  EXPECT_FALSE(ParseRole("root").has_value());
}

TEST(RequestTypesTest, TimerKindRoundTrips) {
  const TimerKind all[] = {TimerKind::kApprovalTimeout, TimerKind::kExpiryWarning,
                           TimerKind::kExpiry, TimerKind::kExtensionTimeout};
  std::set<std::string_view> names;
  for (TimerKind k : all) {
    std::string_view name = ToString(k);
    EXPECT_NE(name, "unknown");
    names.insert(name);
    ASSERT_TRUE(ParseTimerKind(name).has_value()) << name;
    EXPECT_EQ(*ParseTimerKind(name), k);
  }
  EXPECT_EQ(names.size(), std::size(all));
  EXPECT_FALSE(ParseTimerKind("expiry ").has_value());
}

TEST(RequestTypesTest, ActorHasOnlyItsRoles) {
  Actor a{"alice", {Role::kRequester, Role::kAuditor}, std::nullopt, false, "", std::nullopt, ""};
  EXPECT_TRUE(a.Has(Role::kRequester));
  EXPECT_TRUE(a.Has(Role::kAuditor));
  EXPECT_FALSE(a.Has(Role::kApprover));
  EXPECT_FALSE(a.Has(Role::kAdmin));
}

}  // namespace
}  // namespace bg::core
