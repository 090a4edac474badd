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

// InvalidArgument("timezone") if the zone is not in the system's zoneinfo database.
Status CheckTimeZone(const std::string& zone);
LocalTime ToLocalTime(Timestamp t, const std::string& zone);

}  // namespace bg::service
