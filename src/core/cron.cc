#include "core/cron.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <optional>
#include <vector>

namespace bg::core {
namespace {

struct Field {
  std::string_view name;
  int min;
  int max;
};
constexpr std::array<Field, 5> kFields = {{{"minute", 0, 59},
                                           {"hour", 0, 23},
                                           {"day of month", 1, 31},
                                           {"month", 1, 12},
                                           {"day of week", 0, 7}}};
constexpr std::array<std::string_view, 7> kDays = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

std::vector<std::string_view> Split(std::string_view s, char sep, bool skip_empty) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    std::string_view part = s.substr(start, end - start);
    if (!part.empty() || !skip_empty) out.push_back(part);
    start = end + 1;
  }
  return out;
}

std::optional<int> Number(std::string_view s, const Field& f) {
  if (f.name == "day of week") {
    for (size_t i = 0; i < kDays.size(); ++i) {
      if (s == kDays[i]) return static_cast<int>(i);
    }
  }
  if (s.empty() || s.size() > 3) return std::nullopt;
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

Error Bad(const Field& f, std::string_view item, std::string_view why) {
  return Error::InvalidArgument(
      "schedule", fmt::format("the {} field's '{}' {}", f.name, item, why));
}

// Sets the values `spec` (one comma-separated field) names in `out`, indexed by value.
template <size_t N>
Result<bool> ParseField(std::string_view spec, const Field& f, std::bitset<N>& out) {
  bool any = spec == "*";
  for (std::string_view item : Split(spec, ',', false)) {
    if (item.empty()) return Bad(f, spec, "has an empty list entry");
    std::string_view range = item;
    int step = 1;
    if (size_t slash = item.find('/'); slash != std::string_view::npos) {
      range = item.substr(0, slash);
      std::optional<int> s = Number(item.substr(slash + 1), Field{"step", 1, 1000});
      if (!s || *s < 1 || *s > f.max) return Bad(f, item, "has a step that is not 1 to the maximum");
      step = *s;
    }
    int lo = f.min;
    int hi = f.max == 7 ? 6 : f.max;
    if (range != "*") {
      size_t dash = range.find('-');
      std::optional<int> a = Number(range.substr(0, dash), f);
      std::optional<int> b = dash == std::string_view::npos ? a : Number(range.substr(dash + 1), f);
      if (!a || !b) return Bad(f, item, "is not a number, a range or *");
      if (*a < f.min || *a > f.max || *b < f.min || *b > f.max) {
        return Bad(f, item, fmt::format("is outside {}-{}", f.min, f.max));
      }
      if (*a > *b) return Bad(f, item, "is a range whose start is after its end");
      lo = *a;
      hi = *b;
      if (dash == std::string_view::npos && step != 1) hi = f.max == 7 ? 6 : f.max;
    }
    for (int v = lo; v <= hi; v += step) out.set(static_cast<size_t>(f.max == 7 && v == 7 ? 0 : v));
  }
  return any;
}

}  // namespace

bool CronSchedule::Matches(const CivilMinute& m) const {
  if (m.minute < 0 || m.minute > 59 || m.hour < 0 || m.hour > 23 || m.mday < 1 || m.mday > 31 ||
      m.month < 1 || m.month > 12 || m.weekday < 0 || m.weekday > 6) {
    return false;
  }
  if (!minutes.test(static_cast<size_t>(m.minute)) || !hours.test(static_cast<size_t>(m.hour)) ||
      !months.test(static_cast<size_t>(m.month))) {
    return false;
  }
  bool mday_ok = mdays.test(static_cast<size_t>(m.mday));
  bool wday_ok = weekdays.test(static_cast<size_t>(m.weekday));
  if (!any_mday && !any_weekday) return mday_ok || wday_ok;
  return mday_ok && wday_ok;
}

Result<CronSchedule> ParseCron(std::string_view text) {
  std::string_view spec = text;
  if (text == "@hourly") spec = "0 * * * *";
  if (text == "@daily") spec = "0 0 * * *";
  if (text == "@weekly") spec = "0 0 * * 0";
  if (text == "@monthly") spec = "0 0 1 * *";
  std::vector<std::string_view> parts = Split(spec, ' ', true);
  if (parts.size() != 5) {
    return Error::InvalidArgument(
        "schedule", fmt::format("'{}' must have five fields (minute hour day-of-month month "
                                "day-of-week) or be @hourly, @daily, @weekly or @monthly",
                                text));
  }
  CronSchedule c;
  BG_TRY(ParseField(parts[0], kFields[0], c.minutes));
  BG_TRY(ParseField(parts[1], kFields[1], c.hours));
  BG_ASSIGN_OR_RETURN(c.any_mday, ParseField(parts[2], kFields[2], c.mdays));
  BG_TRY(ParseField(parts[3], kFields[3], c.months));
  BG_ASSIGN_OR_RETURN(c.any_weekday, ParseField(parts[4], kFields[4], c.weekdays));
  return c;
}

}  // namespace bg::core
