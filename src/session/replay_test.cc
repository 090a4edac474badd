#include "session/replay.h"

#include <gtest/gtest.h>

namespace bg::session {
namespace {

std::vector<Event> Events() {
  return {{1'000'000, 'o', "a"}, {1'500'000, 'i', "x"}, {2'000'000, 'o', "b"},
          {2'000'000, 'r', "80x24"}, {12'000'000, 'o', "c"}};
}

TEST(ReplayTest, ScheduleKeepsTimingScalesItAndCutsIdlePauses) {
  struct Case {
    PlayOptions o;
    std::vector<int64_t> want;
  };
  const std::vector<Case> cases = {
      {{1.0, 0.0}, {1'000'000, 1'000'000, 10'000'000}},
      {{2.0, 0.0}, {500'000, 500'000, 5'000'000}},
      {{1.0, 2.0}, {1'000'000, 1'000'000, 2'000'000}},
      {{4.0, 2.0}, {250'000, 250'000, 500'000}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Schedule(Events(), c.o), c.want) << c.o.speed << " " << c.o.idle_limit;
  }
}

TEST(ReplayTest, PlayWritesOutputInOrderAfterEachWait) {
  Cast cast;
  cast.events = Events();
  std::string log;
  ASSERT_TRUE(Play(cast, {1.0, 3.0}, [&](std::string_view s) { log += std::string(s); },
                   [&](int64_t us) { log += "<" + std::to_string(us) + ">"; })
                  .has_value());
  EXPECT_EQ(log, "<1000000>a<1000000>b<3000000>c");
  EXPECT_EQ(CatText(cast), "abc");
}

TEST(ReplayTest, BadOptionsAreRefused) {
  Cast cast;
  for (PlayOptions o : {PlayOptions{0, 0}, PlayOptions{-1, 0}, PlayOptions{1, -1}}) {
    EXPECT_EQ(Play(cast, o, [](std::string_view) {}, [](int64_t) {}).error().code(),
              ErrorCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace bg::session
