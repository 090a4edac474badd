#include "service/local_time.h"

#include <sys/stat.h>

#include <cstdlib>
#include <ctime>
#include <mutex>

namespace bg::service {
namespace {
std::mutex tz_mu;  // TZ is process-wide state: one conversion at a time
}

Status CheckTimeZone(const std::string& zone) {
  if (zone == "UTC") return Ok();
  struct stat st {};
  if (zone.empty() || zone.find("..") != std::string::npos || zone.front() == '/' ||
      stat(("/usr/share/zoneinfo/" + zone).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Error::InvalidArgument(
        "timezone", "'" + zone + "' is not a time zone known to this system (install tzdata?)");
  }
  return Ok();
}

CivilTime ToCivilTime(Timestamp t, const std::string& zone) {
  std::time_t secs = static_cast<std::time_t>(ToUnixSeconds(t));
  std::tm tm{};
  {
    std::lock_guard lock(tz_mu);
    const char* old = std::getenv("TZ");
    std::string saved = old ? old : "";
    setenv("TZ", zone.c_str(), 1);
    tzset();
    localtime_r(&secs, &tm);
    if (old) {
      setenv("TZ", saved.c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }
  return CivilTime{tm.tm_min, tm.tm_hour, tm.tm_mday, tm.tm_mon + 1, tm.tm_wday};
}

LocalTime ToLocalTime(Timestamp t, const std::string& zone) {
  CivilTime c = ToCivilTime(t, zone);
  return LocalTime{c.weekday, c.hour * 60 + c.minute};
}

}  // namespace bg::service
