#include "store/codec.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace bg::store {
namespace {

using core::RequestState;

const std::vector<RequestState> kAllStates = {RequestState::kPending,   RequestState::kApproved,
                                              RequestState::kActive,    RequestState::kExpired,
                                              RequestState::kRevoked,   RequestState::kDenied,
                                              RequestState::kCancelled, RequestState::kTimedOut};

TEST(CodecTest, EveryStateRoundTripsUnderADistinctName) {
  std::set<std::string_view> names;
  for (RequestState s : kAllStates) {
    names.insert(StoredName(s));
    auto back = ParseStoredState(StoredName(s), "c");
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, s);
  }
  EXPECT_EQ(names.size(), kAllStates.size());
  EXPECT_EQ(StoredName(RequestState::kTimedOut), "timed_out");
}

// ListOpenRequests' SQL and the partial index name these three spellings.
TEST(CodecTest, OpenStatesArePendingApprovedActive) {
  std::set<std::string_view> open;
  for (RequestState s : kAllStates) {
    if (IsOpenState(s)) open.insert(StoredName(s));
  }
  EXPECT_EQ(open, (std::set<std::string_view>{"pending", "approved", "active"}));
}

TEST(CodecTest, UnknownNamesAreInternalErrorsNamingTheColumn) {
  for (std::string_view bad : {"", "PENDING", "pending ", "timedout"}) {
    auto s = ParseStoredState(bad, "requests.state");
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error().code(), ErrorCode::kInternal);
    EXPECT_NE(s.error().message().find("requests.state"), std::string::npos);
  }
  auto k = ParseStoredTimerKind("alarm", "timers.kind");
  ASSERT_FALSE(k.has_value());
  EXPECT_NE(k.error().message().find("timers.kind"), std::string::npos);
}

TEST(CodecTest, EveryTimerKindRoundTrips) {
  for (core::TimerKind k : {core::TimerKind::kApprovalTimeout, core::TimerKind::kExpiryWarning,
                            core::TimerKind::kExpiry, core::TimerKind::kExtensionTimeout}) {
    auto back = ParseStoredTimerKind(StoredName(k), "c");
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, k);
  }
}

TEST(CodecTest, RoleListsRoundTrip) {
  using core::Role;
  const std::vector<std::vector<Role>> lists = {
      {}, {Role::kAdmin}, {Role::kRequester, Role::kApprover, Role::kAuditor, Role::kAdmin}};
  for (const auto& roles : lists) {
    auto back = DecodeRoles(EncodeRoles(roles), "users.roles");
    ASSERT_TRUE(back.has_value()) << back.error().ToString();
    EXPECT_EQ(*back, roles);
  }
  EXPECT_EQ(EncodeRoles({Role::kApprover, Role::kAdmin}), "approver,admin");
}

TEST(CodecTest, MalformedRoleListsAreRefused) {
  for (std::string_view bad :
       {",", "admin,", ",admin", "admin,,auditor", "root", "admin, auditor"}) {
    SCOPED_TRACE(bad);
    auto r = DecodeRoles(bad, "users.roles");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), ErrorCode::kInternal);
    EXPECT_NE(r.error().message().find("users.roles"), std::string::npos);
  }
}

core::Request BodyRequest() {
  core::Request r;
  r.resource = "db";
  r.tier = 2;
  r.risk_signals = {"burst"};
  r.approvals = {{"bob", FromUnixSeconds(5), "ok"}};
  r.denials = {{"carol", FromUnixSeconds(6), "no"}};
  core::Extension e;
  e.duration = Seconds(60);
  e.approvals = {{"dave", FromUnixSeconds(7), ""}};
  r.extension = e;
  r.starts_at = FromUnixSeconds(-5);  // before the epoch is still a time
  r.duration = Seconds(std::numeric_limits<int64_t>::max());
  return r;
}

TEST(CodecTest, BodyRoundTripsExtremeValues) {
  const core::Request r = BodyRequest();
  core::Request back;
  ASSERT_TRUE(DecodeRequestBody(EncodeRequestBody(r), "b", back).has_value());
  EXPECT_EQ(back.duration, r.duration);
  EXPECT_EQ(back.starts_at, r.starts_at);
  ASSERT_TRUE(back.extension.has_value());
  EXPECT_EQ(back.extension->approvals.size(), 1u);
  EXPECT_EQ(back.denials.size(), 1u);
  EXPECT_EQ(back.risk_signals, r.risk_signals);
}

TEST(CodecTest, DrillRequestsKeepTheirTarget) {
  core::Request r = BodyRequest();
  r.drill_id = "dr_1";
  core::DrillTarget d;
  d.principal = "canary";
  d.user = "drill";
  d.host = "127.0.0.1";
  d.port = 2222;
  d.check = {"/bin/true", "x"};
  r.drill_target = d;
  core::Request back;
  ASSERT_TRUE(DecodeRequestBody(EncodeRequestBody(r), "b", back).has_value());
  EXPECT_EQ(back.drill_id, "dr_1");
  ASSERT_TRUE(back.drill_target.has_value());
  EXPECT_EQ(*back.drill_target, d);
  // A request that is no drill says nothing of drills, and decoding it clears them.
  core::Request plain = BodyRequest();
  EXPECT_EQ(EncodeRequestBody(plain).find("drill"), std::string::npos);
  ASSERT_TRUE(DecodeRequestBody(EncodeRequestBody(plain), "b", back).has_value());
  EXPECT_TRUE(back.drill_id.empty());
  EXPECT_FALSE(back.drill_target.has_value());
}

// Decoding replaces the list and optional fields rather than adding to them.
TEST(CodecTest, DecodingOverwritesCollections) {
  core::Request target = BodyRequest();
  ASSERT_TRUE(DecodeRequestBody(EncodeRequestBody(core::Request{}), "b", target).has_value());
  EXPECT_TRUE(target.approvals.empty());
  EXPECT_TRUE(target.denials.empty());
  EXPECT_TRUE(target.risk_signals.empty());
  EXPECT_FALSE(target.extension.has_value());
  EXPECT_FALSE(target.starts_at.has_value());
}

TEST(CodecTest, WrongTypesNameTheKey) {
  struct Case {
    std::string json;
    std::string key;
  };
  const std::vector<Case> cases = {
      {R"({"resource": 1})", "b.resource"},
      {R"({"emergency": "yes"})", "b.emergency"},
      {R"({"duration": 1.5})", "b.duration"},
      {R"({"duration": 18446744073709551615})", "b.duration"},
      {R"({"reviewers": -3000000000})", "b.reviewers"},
      {R"({"risk_signals": ["a", 2]})", "b.risk_signals"},
      {R"({"risk_signals": "a"})", "b.risk_signals"},
      {R"({"denials": [{"at": "x"}]})", "b.denials[0].at"},
      {R"({"extension": []})", "b.extension"},
      {R"({"extension": {"approvals": [{"approver": false}]}})",
       "b.extension.approvals[0].approver"},
      {R"({"starts_at": "2026-01-01T00:00:00Z"})", "b.starts_at"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.json);
    core::Request r;
    Status s = DecodeRequestBody(c.json, "b", r);
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error().code(), ErrorCode::kInternal);
    EXPECT_NE(s.error().message().find(c.key), std::string::npos) << s.error().message();
  }
}

// Truncations and bit flips of a real body never crash: each decodes or is an Internal error.
TEST(CodecTest, DamagedBodiesDecodeOrFailCleanly) {
  const std::string good = EncodeRequestBody(BodyRequest());
  std::mt19937 rng(7);
  int failures = 0;
  for (size_t cut = 0; cut < good.size(); ++cut) {
    core::Request r;
    Status s = DecodeRequestBody(good.substr(0, cut), "b", r);
    if (!s.has_value()) {
      ++failures;
      EXPECT_EQ(s.error().code(), ErrorCode::kInternal);
    }
  }
  EXPECT_EQ(failures, static_cast<int>(good.size()));  // every proper prefix is malformed
  for (int i = 0; i < 3000; ++i) {
    std::string bad = good;
    bad[rng() % bad.size()] ^= static_cast<char>(1 << (rng() % 8));
    core::Request r;
    Status s = DecodeRequestBody(bad, "b", r);
    if (!s.has_value()) {
      EXPECT_EQ(s.error().code(), ErrorCode::kInternal);
    }
  }
}

}  // namespace
}  // namespace bg::store
