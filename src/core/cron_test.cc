#include "core/cron.h"

#include <gtest/gtest.h>

namespace bg::core {
namespace {

CivilMinute At(int minute, int hour, int mday, int month, int weekday) {
  return CivilMinute{minute, hour, mday, month, weekday};
}

TEST(CronTest, MatchesTheMinutesItNames) {
  struct Case {
    const char* spec;
    CivilMinute at;
    bool matches;
  };
  const Case cases[] = {
      {"* * * * *", At(0, 0, 1, 1, 4), true},
      {"30 3 * * *", At(30, 3, 17, 6, 2), true},
      {"30 3 * * *", At(31, 3, 17, 6, 2), false},
      {"30 3 * * *", At(30, 4, 17, 6, 2), false},
      {"*/15 * * * *", At(45, 9, 1, 1, 0), true},
      {"*/15 * * * *", At(46, 9, 1, 1, 0), false},
      {"5/20 * * * *", At(45, 9, 1, 1, 0), true},
      {"5/20 * * * *", At(40, 9, 1, 1, 0), false},
      {"0 22-23,0-5 * * *", At(0, 23, 1, 1, 0), true},
      {"0 22-23,0-5 * * *", At(0, 12, 1, 1, 0), false},
      {"0 2 * * mon-fri", At(0, 2, 7, 12, 1), true},
      {"0 2 * * mon-fri", At(0, 2, 6, 12, 0), false},
      {"0 2 * * 7", At(0, 2, 6, 12, 0), true},   // 7 is Sunday too
      {"0 2 * * 0", At(0, 2, 6, 12, 0), true},
      {"0 0 1 * *", At(0, 0, 1, 3, 3), true},
      {"0 0 1 * *", At(0, 0, 2, 3, 4), false},
      // Both day fields restricted: either matches (cron's rule).
      {"0 0 13 * fri", At(0, 0, 13, 3, 2), true},
      {"0 0 13 * fri", At(0, 0, 14, 3, 5), true},
      {"0 0 13 * fri", At(0, 0, 14, 3, 6), false},
      {"0 0 * 2 *", At(0, 0, 14, 2, 6), true},
      {"0 0 * 2 *", At(0, 0, 14, 3, 6), false},
      {"@hourly", At(0, 7, 1, 1, 0), true},
      {"@hourly", At(1, 7, 1, 1, 0), false},
      {"@daily", At(0, 0, 9, 9, 3), true},
      {"@weekly", At(0, 0, 9, 9, 0), true},
      {"@weekly", At(0, 0, 9, 9, 1), false},
      {"@monthly", At(0, 0, 1, 9, 1), true},
      {"  0   3  *  * * ", At(0, 3, 1, 1, 0), true},  // extra spaces
  };
  for (const Case& c : cases) {
    Result<CronSchedule> s = ParseCron(c.spec);
    ASSERT_TRUE(s.has_value()) << c.spec << ": " << s.error().message();
    EXPECT_EQ(s->Matches(c.at), c.matches)
        << c.spec << " at " << c.at.minute << " " << c.at.hour << " " << c.at.mday << " "
        << c.at.month << " " << c.at.weekday;
  }
}

TEST(CronTest, RefusesMalformedSchedulesNamingTheField) {
  struct Case {
    const char* spec;
    const char* says;
  };
  const Case cases[] = {
      {"", "five fields"},
      {"* * * *", "five fields"},
      {"* * * * * *", "five fields"},
      {"60 * * * *", "minute field"},
      {"* 24 * * *", "hour field"},
      {"* * 0 * *", "day of month"},
      {"* * 32 * *", "day of month"},
      {"* * * 13 *", "month field"},
      {"* * * * 8", "day of week"},
      {"* * * * funday", "day of week"},
      {"5-1 * * * *", "start is after its end"},
      {"*/0 * * * *", "step"},
      {"*/61 * * * *", "step"},
      {"1,,2 * * * *", "empty list entry"},
      {"a * * * *", "not a number"},
      {"-1 * * * *", "not a number"},
      {"@yearly", "five fields"},
      {"99999999999 * * * *", "not a number"},
  };
  for (const Case& c : cases) {
    Result<CronSchedule> s = ParseCron(c.spec);
    ASSERT_FALSE(s.has_value()) << c.spec;
    EXPECT_EQ(s.error().field(), "schedule");
    EXPECT_NE(s.error().message().find(c.says), std::string::npos)
        << c.spec << ": " << s.error().message();
  }
}

TEST(CronTest, OutOfRangeMinutesNeverMatch) {
  CronSchedule s = *ParseCron("* * * * *");
  EXPECT_FALSE(s.Matches(At(60, 0, 1, 1, 0)));
  EXPECT_FALSE(s.Matches(At(0, 0, 1, 1, 7)));
  EXPECT_FALSE(s.Matches(At(0, 0, 0, 1, 0)));
}

}  // namespace
}  // namespace bg::core
