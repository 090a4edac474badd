// Attestation campaign rules (core/attestation.h), table-driven: what a campaign asks and of
// whom, who may answer, removals taking effect in the policy, closing at the deadline.
#include "core/attestation.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace bg::core {
namespace {

using std::chrono::hours;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const Timestamp kNow = FromUnixSeconds(1772618400);

Policy Sample() {
  auto parsed = ParsePolicy(R"(
version = 1
[settings]
security_contacts = ["sam"]
[groups]
sre = ["alice", "bob"]
[pools]
dba = ["carol", "dave"]
leads = ["heidi"]
[pool_owners]
dba = ["heidi"]
[[resources]]
name = "db"
connector = "c"
owner = "carol"
privileges = ["read", "dba"]
[[resources]]
name = "app"
connector = "c"
privileges = ["admin"]
[[rules]]
resource = "db"
privileges = ["read"]
requesters = ["group:sre", "erin"]
tier = 1
[[rules]]
resource = "app"
privileges = ["admin"]
requesters = ["alice"]
tier = 2
pool = "dba"
approvals = 1
[[attestations]]
scope = "pools"
every = "2160h"
due = "336h"
)",
                            "p.toml");
  EXPECT_TRUE(parsed.problems.empty()) << parsed.problems[0].ToString();
  return *parsed.policy;
}

Actor Person(std::string name, std::vector<Role> roles) {
  Actor a;
  a.name = std::move(name);
  a.roles = std::move(roles);
  return a;
}

const Actor kAuditor = Person("sam", {Role::kAuditor});

TEST(AttestationTest, ACampaignAsksEachOwnerAboutEachItem) {
  const Policy p = Sample();
  ASSERT_EQ(p.attestations.size(), 1u);
  EXPECT_EQ(p.attestations[0].every, hours(2160));
  struct Case {
    AttestScope scope;
    std::vector<std::string> items;  // "kind subject principal <- owners"
  };
  const Case cases[] = {
      {AttestScope::kPools,
       {"pool_member dba carol <- heidi", "pool_member dba dave <- heidi",
        "pool_member leads heidi <- sam"}},  // leads has no owner: the security contacts
      {AttestScope::kEligibility,
       {"eligibility db read tier 1 group:sre <- carol", "eligibility db read tier 1 erin <- carol",
        "eligibility app admin tier 2 alice <- sam"}},  // app has no owner
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(ToString(c.scope));
    auto t = OpenCampaign(p, c.scope, "att_1", kAuditor, hours(24 * 14), kNow);
    ASSERT_TRUE(t.has_value()) << t.error().ToString();
    std::vector<std::string> got;
    for (const AttestItem& i : t->campaign.items) {
      got.push_back(i.kind + " " + i.subject + " " + i.principal + " <- " +
                    fmt::format("{}", fmt::join(i.owners, ",")));
    }
    EXPECT_EQ(got, c.items);
    EXPECT_EQ(t->campaign.due_at, kNow + hours(24 * 14));
    EXPECT_EQ(std::get<AuditEvent>(t->effects[0]).type, "attestation.opened");
    EXPECT_EQ(std::get<Alert>(t->effects[1]).kind, "attestation_opened");
  }
}

TEST(AttestationTest, OnlyAdminsAndAuditorsOpenAndTheDeadlineIsBounded) {
  const Policy p = Sample();
  struct Case {
    Actor by;
    Seconds due;
    std::optional<ErrorCode> code;
    std::string field;
  };
  const Case cases[] = {
      {kAuditor, hours(24), std::nullopt, ""},
      {Person("root", {Role::kAdmin}), hours(1), std::nullopt, ""},
      {Person("carol", {Role::kApprover}), hours(24), ErrorCode::kPermissionDenied, ""},
      {kAuditor, std::chrono::minutes(59), ErrorCode::kInvalidArgument, "due"},
      {kAuditor, hours(24 * 400), ErrorCode::kInvalidArgument, "due"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.by.name + " " + std::to_string(c.due.count()));
    auto t = OpenCampaign(p, AttestScope::kPools, "att_1", c.by, c.due, kNow);
    ASSERT_EQ(t.has_value(), !c.code.has_value());
    if (!t) {
      EXPECT_EQ(t.error().code(), *c.code);
      EXPECT_EQ(t.error().field(), c.field);
    }
  }
  Policy empty = p;
  empty.pools.clear();
  auto none = OpenCampaign(empty, AttestScope::kPools, "att_1", kAuditor, hours(24), kNow);
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().field(), "scope");
}

TEST(AttestationTest, OwnersAnswerAndARemovalTakesEffectInThePolicy) {
  const Policy p = Sample();
  Campaign c = OpenCampaign(p, AttestScope::kPools, "att_1", kAuditor, hours(24), kNow)->campaign;
  struct Case {
    std::string item;
    Actor by;
    AttestAnswer answer;
    std::string note;
    std::optional<ErrorCode> code;
  };
  const Case cases[] = {
      {"i1", Person("carol", {Role::kApprover}), AttestAnswer::kConfirm, "", ErrorCode::kPermissionDenied},
      {"i1", kAuditor, AttestAnswer::kConfirm, "", ErrorCode::kPermissionDenied},  // not dba's owner
      {"i9", Person("heidi", {}), AttestAnswer::kConfirm, "", ErrorCode::kNotFound},
      {"i2", Person("heidi", {}), AttestAnswer::kRemove, " ", ErrorCode::kInvalidArgument},
      {"i1", Person("heidi", {}), AttestAnswer::kConfirm, "", std::nullopt},
      {"i2", Person("heidi", {}), AttestAnswer::kRemove, "left the team", std::nullopt},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.item + " " + k.by.name);
    auto t = AnswerItem(p, c, k.item, k.by, k.answer, k.note, kNow + hours(1));
    ASSERT_EQ(t.has_value(), !k.code.has_value()) << (t ? "" : t.error().ToString());
    if (!t) {
      EXPECT_EQ(t.error().code(), *k.code);
      continue;
    }
    c = t->campaign;
    EXPECT_EQ(std::get<AuditEvent>(t->effects[0]).type, "attestation.answered");
  }
  EXPECT_EQ(c.Unanswered(), 1);
  std::vector<Removal> removals = RemovalsOf({c});
  EXPECT_THAT(removals, ElementsAre(Removal{"pool_member", "dba", "dave"}));
  Policy effective = WithoutRemoved(p, removals);
  EXPECT_FALSE(effective.InPool("dave", "dba"));
  EXPECT_TRUE(effective.InPool("carol", "dba"));
  // A later campaign that confirms dave puts him back.
  Campaign later = c;
  later.id = "att_2";
  later.items[1].answer = AttestAnswer::kConfirm;
  later.items[1].removed = false;
  EXPECT_TRUE(RemovalsOf({c, later}).empty());
}

TEST(AttestationTest, EligibilityRemovalsDropTheRequesterFromTheRule) {
  const Policy p = Sample();
  Campaign c =
      OpenCampaign(p, AttestScope::kEligibility, "att_1", kAuditor, hours(24), kNow)->campaign;
  auto t = AnswerItem(p, c, "i2", Person("carol", {}), AttestAnswer::kRemove, "contractor gone",
                      kNow);
  ASSERT_TRUE(t.has_value()) << t.error().ToString();
  Policy effective = WithoutRemoved(p, RemovalsOf({t->campaign}));
  EXPECT_THAT(effective.rules[0].requesters, ElementsAre("group:sre"));
  EXPECT_TRUE(effective.MatchingRules("erin", "db", "read").empty());
  EXPECT_FALSE(effective.MatchingRules("alice", "db", "read").empty());
}

TEST(AttestationTest, ClosingAtTheDeadlineReportsAndOptionallyRemovesTheUnanswered) {
  for (bool remove : {false, true}) {
    SCOPED_TRACE(remove);
    Policy p = Sample();
    p.settings.attestation_remove_unanswered = remove;
    Campaign c = OpenCampaign(p, AttestScope::kPools, "att_1", kAuditor, hours(24), kNow)->campaign;
    c = AnswerItem(p, c, "i1", Person("heidi", {}), AttestAnswer::kConfirm, "", kNow)->campaign;
    EXPECT_TRUE(CloseIfDue(p, c, kNow + hours(23)).effects.empty());
    CampaignTransition t = CloseIfDue(p, c, kNow + hours(24));
    EXPECT_EQ(t.campaign.state, CampaignState::kClosed);
    ASSERT_EQ(t.effects.size(), 2u);
    const auto& closed = std::get<AuditEvent>(t.effects[0]);
    EXPECT_EQ(closed.details.at("unanswered"), "2");
    EXPECT_EQ(closed.details.at("removed"), remove ? "2" : "0");
    EXPECT_THAT(std::get<Alert>(t.effects[1]).message, HasSubstr("dave in pool dba"));
    EXPECT_EQ(RemovalsOf({t.campaign}).size(), remove ? 2u : 0u);
    EXPECT_TRUE(CloseIfDue(p, t.campaign, kNow + hours(25)).effects.empty());
    auto late = AnswerItem(p, t.campaign, "i2", Person("heidi", {}), AttestAnswer::kConfirm, "",
                           kNow + hours(25));
    ASSERT_FALSE(late.has_value());
    EXPECT_EQ(late.error().code(), ErrorCode::kConflict);
  }
}

TEST(AttestationTest, PolicyProblemsAreLocated) {
  struct Case {
    std::string toml;
    std::string message;
  };
  const Case cases[] = {
      {"[pools]\np = [\"a\"]\n[pool_owners]\nq = [\"a\"]\n", "'q' in [pool_owners] is not a pool"},
      {"[[attestations]]\nscope = \"users\"\nevery = \"2160h\"\n", "must be \"pools\" or"},
      {"[[attestations]]\nscope = \"pools\"\nevery = \"1h\"\n", "at least 24h"},
      {"[[attestations]]\nscope = \"pools\"\n", "needs 'every'"},
      {"[[attestations]]\nscope = \"pools\"\nevery = \"48h\"\ndue = \"72h\"\n", "at most 'every'"},
      {"[settings]\nattestation_remove_unanswered = \"yes\"\n", "attestation_remove_unanswered"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.toml);
    auto parsed = ParsePolicy("version = 1\n" + c.toml, "p.toml");
    ASSERT_FALSE(parsed.problems.empty());
    EXPECT_THAT(parsed.problems[0].message, HasSubstr(c.message));
  }
}

}  // namespace
}  // namespace bg::core
