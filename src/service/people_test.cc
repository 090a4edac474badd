// People on its own: accounts, login, tokens and step-up codes, on a real store and writer
// (service/test_parts.h), without a Service.
#include "service/people.h"

#include <gtest/gtest.h>

#include "service/test_parts.h"

namespace bg::service {
namespace {

using core::Role;

constexpr char kPolicy[] = R"(
version = 1
[settings]
timezone = "UTC"
security_contacts = ["sam"]
[groups]
sre = ["alice"]
[[resources]]
name = "db"
connector = "db-conn"
owner = "sam"
privileges = ["read_only"]
[[rules]]
resource = "db"
privileges = ["read_only"]
requesters = ["group:sre"]
tier = 1
max_duration = "1h"
)";

class PeopleTest : public ::testing::Test {
 protected:
  testing::Parts parts_{kPolicy};
  People& people() { return *parts_.people; }
};

TEST_F(PeopleTest, LoginTokenAuthenticatesUntilLogout) {
  core::Actor alice = parts_.Person("alice", {Role::kRequester});
  EXPECT_EQ(alice.name, "alice");
  EXPECT_EQ(alice.roles, std::vector<Role>{Role::kRequester});
  ASSERT_TRUE(alice.mfa_verified_at.has_value());
  const std::string token = parts_.tokens["alice"];
  ASSERT_TRUE(people().Logout(token).has_value());
  auto after = people().Authenticate(token, "10.0.0.1");
  ASSERT_FALSE(after.has_value());
  EXPECT_EQ(after.error().code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(parts_.CountEvents("auth.login"), 1u);
}

TEST_F(PeopleTest, RenewedTokenReplacesTheOldOneAndKeepsItsFamily) {
  core::Actor alice = parts_.Person("alice", {Role::kRequester});
  const std::string old_token = parts_.tokens["alice"];
  parts_.clock.Advance(Seconds(60));
  auto renewed = people().Renew(alice, old_token, "10.0.0.1");
  ASSERT_TRUE(renewed.has_value()) << renewed.error().ToString();
  EXPECT_FALSE(people().Authenticate(old_token, "10.0.0.1").has_value());
  auto actor = people().Authenticate(std::string(renewed->token.Reveal()), "10.0.0.1");
  ASSERT_TRUE(actor.has_value());
  EXPECT_EQ(actor->mfa_verified_at, alice.mfa_verified_at);  // inherited, not refreshed
}

TEST_F(PeopleTest, GuessedAccountAlertsTheSecurityContactsOverTheEventBus) {
  parts_.Person("alice", {Role::kRequester});
  std::vector<StateEvent> alerts;
  std::mutex mu;
  parts_.events.Subscribe([&](const StateEvent& e) {
    std::lock_guard lock(mu);
    if (e.type == "alert") alerts.push_back(e);
  });
  for (int i = 0; i < 12; ++i) {
    auto r = people().Login("alice", Secret("wrong-password-123"), "000000",
                            "203.0.113." + std::to_string(i));
    ASSERT_FALSE(r.has_value());
  }
  std::lock_guard lock(mu);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].alert_kind, "account_guessed");
  EXPECT_EQ(alerts[0].recipients, std::vector<std::string>{"sam"});
  EXPECT_EQ(parts_.CountEvents("alert.raised"), 1u);
  EXPECT_EQ(parts_.CountEvents("auth.login_failed"), 12u);
}

TEST_F(PeopleTest, StepUpRefusesAWrongCodeAndStopsTheTokenAfterTooMany) {
  core::Actor carol = parts_.Person("carol", {Role::kApprover});
  parts_.clock.Advance(Seconds(60));
  auto fresh = people().VerifyActionCode(carol, parts_.Code("carol"));
  ASSERT_TRUE(fresh.has_value()) << fresh.error().ToString();
  EXPECT_TRUE(fresh->mfa_code_presented);
  EXPECT_EQ(*fresh->mfa_verified_at, parts_.clock.Now());
  for (int i = 0; i < People::kMaxStepUpFailures; ++i) {
    // Each from its own address, so the throttle per source does not answer first.
    carol.source_address = "198.51.100." + std::to_string(i);
    auto wrong = people().VerifyActionCode(carol, "000000");
    ASSERT_FALSE(wrong.has_value());
    EXPECT_EQ(wrong.error().field(), "totp");
  }
  parts_.clock.Advance(Seconds(60));
  carol.source_address = "10.0.0.1";
  auto right = people().VerifyActionCode(carol, parts_.Code("carol"));
  ASSERT_FALSE(right.has_value());
  EXPECT_EQ(right.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(right.error().message().find("log in again"), std::string::npos);
  EXPECT_EQ(parts_.CountEvents("auth.mfa_failed"),
            static_cast<size_t>(People::kMaxStepUpFailures));
}

TEST_F(PeopleTest, DisablingEndsTheTokensAndIsAuditedOnce) {
  parts_.Person("alice", {Role::kRequester});
  auto report = people().DisableUser("admin", "alice");
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_FALSE(report->was_disabled);
  EXPECT_FALSE(people().Authenticate(parts_.tokens["alice"], "10.0.0.1").has_value());
  auto again = people().DisableUser("admin", "alice");
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->was_disabled);
  EXPECT_EQ(parts_.CountEvents("user.disabled"), 2u);
}

}  // namespace
}  // namespace bg::service
