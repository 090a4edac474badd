#include "util/time.h"

#include <fmt/format.h>

#include <cctype>
#include <limits>

namespace bg {
namespace {

bool ParseDigits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

std::string FormatRfc3339(Timestamp t) {
  auto days = std::chrono::floor<std::chrono::days>(t);
  std::chrono::year_month_day ymd{days};
  std::chrono::hh_mm_ss hms{t - days};
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     hms.hours().count(), hms.minutes().count(),
                     static_cast<int>(hms.seconds().count()));
}

Result<Timestamp> ParseRfc3339(std::string_view s, std::string_view field) {
  auto bad = [&] {
    return Error::InvalidArgument(std::string(field),
                                  "must be an RFC 3339 time such as 2026-01-31T12:00:00Z");
  };
  int y, mo, d, h, mi, se;
  if (s.size() < 20 || !ParseDigits(s, 0, 4, &y) || s[4] != '-' || !ParseDigits(s, 5, 2, &mo) ||
      s[7] != '-' || !ParseDigits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
      !ParseDigits(s, 11, 2, &h) || s[13] != ':' || !ParseDigits(s, 14, 2, &mi) || s[16] != ':' ||
      !ParseDigits(s, 17, 2, &se)) {
    return bad();
  }
  size_t pos = 19;
  if (s[pos] == '.') {
    ++pos;
    size_t start = pos;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) ++pos;
    if (pos == start) return bad();
  }
  int offset_sec = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!ParseDigits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !ParseDigits(s, pos + 4, 2, &om) || oh > 23 || om > 59) {
      return bad();
    }
    offset_sec = (oh * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return bad();
  }
  if (pos != s.size()) return bad();
  std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(mo),
                                  std::chrono::day(d)};
  if (!ymd.ok() || h > 23 || mi > 59 || se > 60) return bad();
  Timestamp t = std::chrono::sys_days(ymd) + std::chrono::hours(h) + std::chrono::minutes(mi) +
                Seconds(se) - Seconds(offset_sec);
  // Only what FormatRfc3339 can write back: years 0000..9999 in UTC.
  const int utc_year = static_cast<int>(
      std::chrono::year_month_day{std::chrono::floor<std::chrono::days>(t)}.year());
  if (utc_year < 0 || utc_year > 9999) return bad();
  return t;
}

Result<Seconds> ParseDuration(std::string_view text, std::string_view field) {
  auto bad = [&](std::string why) { return Error::InvalidArgument(std::string(field), why); };
  if (text.empty()) return bad("must not be empty; write e.g. \"45m\", \"1h30m\" or 900");
  constexpr int64_t kMax = int64_t{10} * 365 * 24 * 3600;  // ten years: nothing sane is longer
  bool all_digits = true;
  for (char c : text) all_digits = all_digits && std::isdigit(static_cast<unsigned char>(c));
  if (all_digits) {
    if (text.size() > 12) return bad("is too long");
    int64_t v = 0;
    for (char c : text) v = v * 10 + (c - '0');
    if (v > kMax) return bad("is too long");
    return Seconds(v);
  }
  int64_t total = 0;
  int last_unit = -1;  // 0 = h, 1 = m, 2 = s: units must appear once each, in that order
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    int64_t v = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      if (i - start >= 12) return bad("is too long");
      v = v * 10 + (text[i] - '0');
      ++i;
    }
    if (i == start || i == text.size()) {
      return bad("must be a number of seconds or a mix of h, m and s such as \"1h30m\"");
    }
    int unit;
    int64_t mult;
    switch (text[i]) {
      case 'h': unit = 0; mult = 3600; break;
      case 'm': unit = 1; mult = 60; break;
      case 's': unit = 2; mult = 1; break;
      default: return bad(fmt::format("has an unknown unit '{}'; use h, m or s", text[i]));
    }
    if (unit <= last_unit) return bad("must give h, m and s at most once each, in that order");
    last_unit = unit;
    total += v * mult;
    if (total > kMax) return bad("is too long");
    ++i;
  }
  return Seconds(total);
}

std::string FormatDuration(Seconds d) {
  int64_t s = d.count();
  if (s == 0) return "0s";
  std::string out;
  if (s < 0) {
    out = "-";
    s = -s;
  }
  if (s >= 3600) out += fmt::format("{}h", s / 3600);
  if (s % 3600 >= 60) out += fmt::format("{}m", (s % 3600) / 60);
  if (s % 60 != 0) out += fmt::format("{}s", s % 60);
  return out;
}

Timestamp SystemClock::Now() const {
  return std::chrono::floor<Seconds>(std::chrono::system_clock::now());
}

int64_t SystemClock::NowMicros() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const SystemClock& SystemClock::Get() {
  static const SystemClock clock;
  return clock;
}

}  // namespace bg
