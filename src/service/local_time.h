// Wall-clock time in a named IANA time zone, for the working-hours risk signal. The core gets
// the result; it never sees a time zone database.
#pragma once

#include <string>

#include "util/result.h"
#include "util/time.h"

namespace bg::service {

struct LocalTime {
  int weekday = 0;  // 0 = Sunday
  int minute = 0;   // since local midnight
};

// The calendar fields of a moment in a zone (drill schedules, core/cron.h).
struct CivilTime {
  int minute = 0;   // 0-59
  int hour = 0;     // 0-23
  int mday = 1;     // 1-31
  int month = 1;    // 1-12
  int weekday = 0;  // 0 = Sunday
};

// InvalidArgument("timezone") if the zone is not in the system's zoneinfo database.
Status CheckTimeZone(const std::string& zone);
LocalTime ToLocalTime(Timestamp t, const std::string& zone);
CivilTime ToCivilTime(Timestamp t, const std::string& zone);

}  // namespace bg::service
