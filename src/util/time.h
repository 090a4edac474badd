// Time in breakglass: bg::Timestamp is UTC with one-second resolution (std::chrono::sys_seconds).
// Seconds are what every rule needs (grant windows, TOTP steps, approval windows) and what
// RFC 3339 output shows; sub-second figures (latency, expiry lag) are measured by the shell
// with Clock::NowMicros and never enter the core.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/result.h"

namespace bg {

using Timestamp = std::chrono::sys_seconds;
using Seconds = std::chrono::seconds;

// "2026-11-24T21:43:43Z".
std::string FormatRfc3339(Timestamp t);
// Accepts "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)"; the fraction is dropped. Refuses a
// time outside the years 0000..9999 in UTC (which FormatRfc3339 could not write back).
Result<Timestamp> ParseRfc3339(std::string_view text, std::string_view field = "time");

// Durations are written "90s", "45m", "1h30m" (any mix of h, m, s, each at most once, in that
// order) or as a plain number of seconds. Negative values and overflow are refused.
Result<Seconds> ParseDuration(std::string_view text, std::string_view field = "duration");
// The shortest "1h30m" form; "0s" for zero.
std::string FormatDuration(Seconds d);

inline int64_t ToUnixSeconds(Timestamp t) { return t.time_since_epoch().count(); }
inline Timestamp FromUnixSeconds(int64_t s) { return Timestamp(Seconds(s)); }

// The seam for time (LevelDB's Env style): the shell reads the clock, the core is given `now`.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp Now() const = 0;
  // Microseconds since the epoch, for latency and lag measurements.
  virtual int64_t NowMicros() const = 0;
};

class SystemClock final : public Clock {
 public:
  Timestamp Now() const override;
  int64_t NowMicros() const override;
  static const SystemClock& Get();
};

}  // namespace bg
