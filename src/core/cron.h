// Cron-like schedules for drills ([[drills]] schedule = "30 3 * * mon"): five fields, minute
// (0-59), hour (0-23), day of month (1-31), month (1-12) and day of week (0-7, 0 and 7 are
// Sunday, or sun..sat), each `*`, a number, a range `a-b`, a list `a,b` and a step `*/n` or
// `a-b/n`; or one of @hourly, @daily, @weekly, @monthly. As in cron, when both the day of
// month and the day of week are restricted a day matching either one matches.
//
// Pure: the shell turns a time into local calendar fields (service/local_time.h).
#pragma once

#include <bitset>
#include <string>
#include <string_view>

#include "util/result.h"

namespace bg::core {

// One local minute, in the calendar of the policy's time zone.
struct CivilMinute {
  int minute = 0;   // 0-59
  int hour = 0;     // 0-23
  int mday = 1;     // 1-31
  int month = 1;    // 1-12
  int weekday = 0;  // 0 = Sunday
};

struct CronSchedule {
  std::bitset<60> minutes;
  std::bitset<24> hours;
  std::bitset<32> mdays;
  std::bitset<13> months;
  std::bitset<7> weekdays;
  bool any_mday = true;
  bool any_weekday = true;

  bool Matches(const CivilMinute& m) const;
};

// InvalidArgument (field "schedule") naming the field and the problem.
Result<CronSchedule> ParseCron(std::string_view text);

}  // namespace bg::core
