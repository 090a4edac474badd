#include "session/grant.h"

#include <gtest/gtest.h>

#include <map>

namespace bg::session {
namespace {

using Kind = GrantTimer::Action::Kind;

TEST(GrantTimerTest, WarnsBeforeAndAtOneMinuteThenEnds) {
  GrantTimer t(300);
  const int64_t end = 10'000;
  struct Step {
    int64_t now;
    Kind kind;
    int64_t remaining;
  };
  const std::vector<Step> steps = {
      {end - 600, Kind::kNone, 0}, {end - 301, Kind::kNone, 0}, {end - 300, Kind::kWarn, 300},
      {end - 299, Kind::kNone, 0}, {end - 61, Kind::kNone, 0},  {end - 60, Kind::kWarn, 60},
      {end - 30, Kind::kNone, 0},  {end, Kind::kEnd, 0},        {end + 5, Kind::kEnd, 0},
  };
  for (const Step& s : steps) {
    SCOPED_TRACE(s.now - end);
    auto a = t.Check(s.now, end);
    EXPECT_EQ(a.kind, s.kind);
    if (s.kind == Kind::kWarn) {
      EXPECT_EQ(a.remaining, s.remaining);
    }
  }
}

TEST(GrantTimerTest, ALateStartGetsOneWarningAndUnknownEndNone) {
  GrantTimer t(300);
  EXPECT_EQ(t.Check(100, 0).kind, Kind::kNone);
  EXPECT_EQ(t.NextDue(100, 0), -1);
  auto a = t.Check(1000 - 45, 1000);
  EXPECT_EQ(a.kind, Kind::kWarn);
  EXPECT_EQ(a.remaining, 45);
  EXPECT_EQ(t.Check(1000 - 44, 1000).kind, Kind::kNone);
  EXPECT_EQ(t.Check(1000, 1000).kind, Kind::kEnd);
}

TEST(GrantTimerTest, AnExtensionRearmsTheWarningsAhead) {
  GrantTimer t(300);
  EXPECT_EQ(t.Check(700, 1000).kind, Kind::kWarn);
  // Extended by an hour: no repeat now, but both warnings come again before the new end.
  EXPECT_EQ(t.Check(701, 4600).kind, Kind::kNone);
  EXPECT_EQ(t.NextDue(701, 4600), 4300 - 701);
  EXPECT_EQ(t.Check(4300, 4600).kind, Kind::kWarn);
  EXPECT_EQ(t.Check(4540, 4600).kind, Kind::kWarn);
  EXPECT_EQ(t.Check(4600, 4600).kind, Kind::kEnd);
}

TEST(GrantTimerTest, AWarningTimeOfAMinuteOrLessGivesOneWarning) {
  GrantTimer t(30);
  EXPECT_EQ(t.Check(960, 1000).kind, Kind::kNone);
  EXPECT_EQ(t.Check(970, 1000).kind, Kind::kWarn);
  EXPECT_EQ(t.Check(990, 1000).kind, Kind::kNone);
  GrantTimer none(0);
  EXPECT_EQ(none.Check(999, 1000).kind, Kind::kNone);
  EXPECT_EQ(none.Check(1000, 1000).kind, Kind::kEnd);
}

TEST(GrantTimerTest, RemainingIsShort) {
  EXPECT_EQ(Remaining(45), "45s");
  EXPECT_EQ(Remaining(60), "1m");
  EXPECT_EQ(Remaining(299), "5m");
  EXPECT_EQ(Remaining(3720), "1h2m");
}

class FakeTransport : public Transport {
 public:
  std::map<std::string, Result<std::string>> answers;
  Result<std::string> Call(const std::string& method, const std::string& path,
                           const std::string&) override {
    auto it = answers.find(method + " " + path);
    if (it == answers.end()) return Error::Unavailable("down");
    return it->second;
  }
};

TEST(GrantWatcherTest, PollingFollowsTheEndAndTheState) {
  FakeTransport t;
  GrantState state;
  EXPECT_EQ(GrantWatcher::PollOnce(t, "req_1", state).error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(state.ends_at(), 0);
  t.answers.emplace("GET /v1/requests/req_1",
                    std::string(R"({"state":"active","ends_at":"2027-01-15T08:00:00Z"})"));
  EXPECT_EQ(*GrantWatcher::PollOnce(t, "req_1", state), "active");
  EXPECT_EQ(state.ends_at(), 1800000000);
  EXPECT_FALSE(state.ended().has_value());
  t.answers.erase("GET /v1/requests/req_1");
  t.answers.emplace("GET /v1/requests/req_1",
                    std::string(R"({"state":"revoked","ends_at":"2027-01-15T07:30:00Z"})"));
  EXPECT_EQ(*GrantWatcher::PollOnce(t, "req_1", state), "revoked");
  EXPECT_EQ(state.ended(), "revoked");
  EXPECT_EQ(state.ends_at(), 1800000000 - 1800);
  t.answers.erase("GET /v1/requests/req_1");
  t.answers.emplace("GET /v1/requests/req_1", std::string(R"({"nope":1})"));
  EXPECT_FALSE(GrantWatcher::PollOnce(t, "req_1", state).has_value());
}

}  // namespace
}  // namespace bg::session
