// Post-incident review rules (core/review.h), table-driven: which requests open a review, who
// may review, verdicts and their findings, closing, the deadline, and blocking.
#include "core/review.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace bg::core {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using ::testing::HasSubstr;

const Timestamp kEnd = FromUnixSeconds(1772618400);

Policy WithContacts() {
  Policy p;
  p.groups["security"] = {"sam", "grace"};
  p.settings.security_contacts = {"group:security"};
  return p;
}

Request Ended(RequestState state) {
  Request r;
  r.id = RequestId("req_1");
  r.requester = "alice";
  r.resource = "prod-db";
  r.privilege = "dba";
  r.ticket = "INC-1";
  r.state = state;
  r.approvals = {{"carol", kEnd - hours(1), ""}, {"dave", kEnd - hours(1), ""}};
  r.review_within = hours(24);
  r.reviewers = 2;
  if (state == RequestState::kExpired || state == RequestState::kRevoked) {
    r.review_due = kEnd + hours(24);
  }
  return r;
}

Actor Person(std::string name, std::vector<Role> roles) {
  Actor a;
  a.name = std::move(name);
  a.roles = std::move(roles);
  return a;
}

TEST(ReviewTest, OnlyAnEndedGrantOpensAReview) {
  struct Case {
    RequestState state;
    bool opens;
  };
  const Case cases[] = {
      {RequestState::kPending, false},  {RequestState::kApproved, false},
      {RequestState::kActive, false},   {RequestState::kExpired, true},
      {RequestState::kRevoked, true},   {RequestState::kDenied, false},
      {RequestState::kCancelled, false}, {RequestState::kTimedOut, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(ToString(c.state));
    auto t = OpenReview(Ended(c.state), "rev_1", kEnd);
    ASSERT_EQ(t.has_value(), c.opens);
    if (!t) continue;
    EXPECT_EQ(t->review.due_at, kEnd + hours(24));
    EXPECT_EQ(t->review.reviewers_needed, 2);
    EXPECT_EQ(t->review.state, ReviewState::kOpen);
    EXPECT_EQ(t->review.trigger, ToString(c.state));
    ASSERT_EQ(t->effects.size(), 1u);
    EXPECT_EQ(std::get<AuditEvent>(t->effects[0]).type, "review.opened");
  }
  // A self-approved grant opens one review, saying how it was granted.
  Request self = Ended(RequestState::kExpired);
  self.self_approved = true;
  self.approvals.clear();
  auto t = OpenReview(self, "rev_2", kEnd);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(std::get<AuditEvent>(t->effects[0]).details.at("granted_by"), "self_approved");
}

TEST(ReviewTest, ReviewersAreIndependentAuditors) {
  Request r = Ended(RequestState::kExpired);
  r.extension = Extension{minutes(30), "more", kEnd, kEnd, 1, {{"erin", kEnd, ""}}};
  struct Case {
    Actor who;
    bool allowed;
    std::string why;
  };
  const Case cases[] = {
      {Person("sam", {Role::kAuditor}), true, ""},
      {Person("alice", {Role::kAuditor, Role::kRequester}), false, "your own grant"},
      {Person("carol", {Role::kAuditor, Role::kApprover}), false, "you approved"},
      {Person("erin", {Role::kAuditor, Role::kApprover}), false, "you approved"},  // extension
      {Person("root", {Role::kAdmin}), false, "auditor role"},
      {Person("frank", {Role::kApprover}), false, "auditor role"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.who.name);
    Status s = CheckReviewer(r, c.who);
    EXPECT_EQ(s.has_value(), c.allowed);
    if (!s) {
      EXPECT_EQ(s.error().code(), ErrorCode::kPermissionDenied);
      EXPECT_THAT(s.error().message(), HasSubstr(c.why));
    }
  }
}

TEST(ReviewTest, VerdictsNeedFindingsUnlessAppropriate) {
  const Policy policy = WithContacts();
  const Request r = Ended(RequestState::kRevoked);
  const Review rv = OpenReview(r, "rev_1", kEnd)->review;
  struct Case {
    ReviewVerdict verdict;
    std::string findings;
    bool ok;
    bool alerts;
  };
  const Case cases[] = {
      {ReviewVerdict::kAppropriate, "", true, false},
      {ReviewVerdict::kAppropriateWithFindings, "", false, false},
      {ReviewVerdict::kAppropriateWithFindings, "  ", false, false},
      {ReviewVerdict::kAppropriateWithFindings, "ticket was vague", true, false},
      {ReviewVerdict::kInappropriate, "", false, false},
      {ReviewVerdict::kInappropriate, "no incident at that time", true, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(fmt::format("{} '{}'", ToString(c.verdict), c.findings));
    auto t = SubmitReview(policy, rv, &r, Person("sam", {Role::kAuditor}),
                          SubmitVerdict{c.verdict, c.findings, ""}, kEnd + hours(1));
    ASSERT_EQ(t.has_value(), c.ok);
    if (!t) {
      EXPECT_EQ(t.error().code(), ErrorCode::kInvalidArgument);
      EXPECT_EQ(t.error().field(), "findings");
      continue;
    }
    EXPECT_EQ(t->review.verdicts.size(), 1u);
    EXPECT_EQ(t->review.state, ReviewState::kOpen);  // needs two reviewers
    bool alerted = false;
    for (const Effect& e : t->effects) {
      if (const auto* a = std::get_if<Alert>(&e)) {
        alerted = true;
        EXPECT_EQ(a->kind, "review_inappropriate");
        EXPECT_EQ(a->recipients, (std::vector<std::string>{"grace", "sam"}));
      }
    }
    EXPECT_EQ(alerted, c.alerts);
    EXPECT_EQ(std::get<AuditEvent>(t->effects[0]).type, "review.verdict");
  }
}

TEST(ReviewTest, ClosesWithEnoughVerdictsAndRefusesAfter) {
  const Policy policy = WithContacts();
  const Request r = Ended(RequestState::kExpired);
  Review rv = OpenReview(r, "rev_1", kEnd)->review;
  auto first = SubmitReview(policy, rv, &r, Person("sam", {Role::kAuditor}),
                            SubmitVerdict{ReviewVerdict::kAppropriate, "", ""}, kEnd + hours(1));
  ASSERT_TRUE(first.has_value());
  rv = first->review;
  // The same reviewer twice: refused.
  auto twice = SubmitReview(policy, rv, &r, Person("sam", {Role::kAuditor}),
                            SubmitVerdict{ReviewVerdict::kAppropriate, "", ""}, kEnd + hours(2));
  ASSERT_FALSE(twice.has_value());
  EXPECT_EQ(twice.error().code(), ErrorCode::kConflict);
  auto second = SubmitReview(policy, rv, &r, Person("grace", {Role::kAuditor}),
                             SubmitVerdict{ReviewVerdict::kAppropriate, "", "CHG-9"},
                             kEnd + hours(30));
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->review.state, ReviewState::kDone);
  ASSERT_EQ(second->effects.size(), 2u);
  const auto& closed = std::get<AuditEvent>(second->effects[1]);
  EXPECT_EQ(closed.type, "review.closed");
  EXPECT_EQ(closed.details.at("late"), "true");
  EXPECT_EQ(std::get<AuditEvent>(second->effects[0]).details.at("follow_up_ticket"), "CHG-9");
  auto after = SubmitReview(policy, second->review, &r, Person("heidi", {Role::kAuditor}),
                            SubmitVerdict{ReviewVerdict::kAppropriate, "", ""}, kEnd + hours(31));
  ASSERT_FALSE(after.has_value());
  EXPECT_EQ(after.error().code(), ErrorCode::kConflict);
}

TEST(ReviewTest, OverdueOnceWhileOpen) {
  const Policy policy = WithContacts();
  const Review rv = OpenReview(Ended(RequestState::kExpired), "rev_1", kEnd)->review;
  struct Case {
    Timestamp at;
    bool alerted_before;
    ReviewState state;
    size_t effects;
  };
  const Case cases[] = {
      {kEnd + hours(23), false, ReviewState::kOpen, 0},  // not yet due
      {kEnd + hours(24), false, ReviewState::kOpen, 2},  // due: audit + alert
      {kEnd + hours(25), true, ReviewState::kOpen, 0},   // alerted already
      {kEnd + hours(25), false, ReviewState::kDone, 0},  // closed
  };
  for (const Case& c : cases) {
    Review in = rv;
    in.overdue_alerted = c.alerted_before;
    in.state = c.state;
    ReviewTransition t = OnReviewDue(policy, in, c.at);
    EXPECT_EQ(t.effects.size(), c.effects);
    if (c.effects == 2) {
      EXPECT_TRUE(t.review.overdue_alerted);
      EXPECT_EQ(std::get<AuditEvent>(t.effects[0]).type, "review.overdue");
      EXPECT_EQ(std::get<Alert>(t.effects[1]).kind, "review_overdue");
    }
  }
}

TEST(ReviewTest, OverdueInappropriateBlocksNewNonEmergencyRequests) {
  Policy policy = WithContacts();
  Review open_bad = OpenReview(Ended(RequestState::kExpired), "rev_1", kEnd)->review;
  open_bad.verdicts.push_back({"sam", ReviewVerdict::kInappropriate, "no incident", "", kEnd});
  Review open_ok = open_bad;
  open_ok.verdicts[0].verdict = ReviewVerdict::kAppropriate;
  Review done_bad = open_bad;
  done_bad.state = ReviewState::kDone;
  struct Case {
    bool switch_on;
    std::vector<Review> reviews;
    bool emergency;
    Timestamp at;
    bool blocked;
  };
  const Case cases[] = {
      {true, {open_bad}, false, kEnd + hours(25), true},
      {true, {open_bad}, false, kEnd + hours(23), false},  // not past its deadline
      {true, {open_bad}, false, kEnd + hours(24), true},   // at the deadline: as overdue is
      {true, {open_bad}, true, kEnd + hours(25), false},   // emergency stays available
      {true, {open_ok}, false, kEnd + hours(25), false},
      {true, {done_bad}, false, kEnd + hours(25), false},
      {false, {open_bad}, false, kEnd + hours(25), false},  // switch off
      {true, {}, false, kEnd + hours(25), false},
  };
  int i = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(i++);
    policy.settings.block_on_overdue_inappropriate = c.switch_on;
    Status s = CheckNotBlockedByReviews(policy, c.reviews, c.emergency, c.at);
    EXPECT_EQ(!s.has_value(), c.blocked);
    if (!s) {
      EXPECT_EQ(s.error().code(), ErrorCode::kFailedPrecondition);
    }
  }
}

TEST(ReviewTest, AnOfflineKitUseOpensAReviewOnlyTheKitUserCannotGive) {
  const Policy policy = WithContacts();
  ReviewTransition t = OpenOfflineUseReview({"rec_1", "alice", "kit_9", "INC-7"}, "rev_k",
                                            hours(48), kEnd);
  const Review& rv = t.review;
  EXPECT_EQ(rv.trigger, "offline_use");
  EXPECT_EQ(rv.Subject(), "kit:rec_1");
  EXPECT_TRUE(rv.request.value().empty());
  EXPECT_EQ(rv.due_at, kEnd + hours(48));
  EXPECT_EQ(rv.reviewers_needed, 1);
  ASSERT_EQ(t.effects.size(), 1u);
  const auto& opened = std::get<AuditEvent>(t.effects[0]);
  EXPECT_EQ(opened.type, "review.opened");
  EXPECT_EQ(opened.details.at("record_id"), "rec_1");
  EXPECT_EQ(opened.details.at("granted_by"), "offline_kit");

  auto own = SubmitReview(policy, rv, nullptr, Person("alice", {Role::kAuditor}),
                          SubmitVerdict{ReviewVerdict::kAppropriate, "", ""}, kEnd);
  ASSERT_FALSE(own.has_value());
  EXPECT_EQ(own.error().code(), ErrorCode::kPermissionDenied);
  auto bad = SubmitReview(policy, rv, nullptr, Person("sam", {Role::kAuditor}),
                          SubmitVerdict{ReviewVerdict::kInappropriate, "no outage then", ""}, kEnd);
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->review.state, ReviewState::kDone);
  const Alert* alert = nullptr;
  for (const Effect& e : bad->effects) {
    if (const auto* a = std::get_if<Alert>(&e)) alert = a;
  }
  ASSERT_NE(alert, nullptr);
  EXPECT_THAT(alert->message, HasSubstr("offline kit use rec_1"));
  ReviewTransition due = OnReviewDue(policy, rv, kEnd + hours(48));
  ASSERT_EQ(due.effects.size(), 2u);
  EXPECT_THAT(std::get<Alert>(due.effects[1]).message, HasSubstr("kit:rec_1"));
}

TEST(ReviewTest, NamesRoundTrip) {
  for (ReviewVerdict v : {ReviewVerdict::kAppropriate, ReviewVerdict::kAppropriateWithFindings,
                          ReviewVerdict::kInappropriate}) {
    EXPECT_EQ(ParseReviewVerdict(ToString(v)), v);
  }
  EXPECT_FALSE(ParseReviewVerdict("fine").has_value());
  EXPECT_EQ(ParseReviewState("open"), ReviewState::kOpen);
  EXPECT_EQ(ParseReviewState("done"), ReviewState::kDone);
  EXPECT_FALSE(ParseReviewState("closed").has_value());
}

}  // namespace
}  // namespace bg::core
